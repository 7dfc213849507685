//! One WebSocket client, driven by the event loop over a non-blocking socket.
//!
//! Writes bypass tungstenite: a broadcast frame is one shared buffer, and each client keeps only
//! a reference and an offset into it, so a thousand clients cost a thousand pointers, not a
//! thousand copies. tungstenite does the reading (and protocol details); whatever it wants to
//! write itself (pong replies, close handshakes) lands in a small outbox that is queued between
//! our frames, never in the middle of one.
//!
//! Back-pressure: at most `MAX_QUEUED` frames wait per client, a newer `rawData` replaces an
//! older one not yet started, and a client whose socket accepts nothing for `STALL_TIMEOUT` is
//! dropped. tungstenite's own output (pongs, close replies) is bounded too: more than
//! `MAX_CONTROL_BYTES` of it unsent (a ping flood from a client that never reads) drops the
//! client instead of growing without end.

use crate::http::tls::Sock;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tungstenite::protocol::{frame::coding::CloseCode, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

/// The socket as tungstenite sees it: reads come from the network, writes go to `outbox`
/// (tungstenite only writes control frames here; data frames are written by `Client`).
pub struct Duplex {
    sock: Sock,
    outbox: Vec<u8>,
    /// tungstenite wrote more than `MAX_CONTROL_BYTES` that could not be sent.
    overflow: bool,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.outbox.len() + buf.len() > MAX_CONTROL_BYTES {
            // Not stored: the client is dropped on the next read (see `read_all`).
            self.overflow = true;
        } else {
            self.outbox.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes on their way to the socket: a frame header and its payload, with progress.
struct Chunk {
    kind: FrameKind,
    /// Must go out even when the client is being closed (the 101 handshake answer).
    pinned: bool,
    header: Vec<u8>,
    payload: Payload,
    sent: usize,
}

enum Payload {
    /// A broadcast frame's text, shared with every other client.
    Shared(Utf8Bytes),
    /// Control frames and tungstenite's own output.
    Owned(Vec<u8>),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Shared(t) => t.as_bytes(),
            Payload::Owned(v) => v,
        }
    }
}

/// RFC 6455 header of an unmasked (server → client) frame with FIN set.
fn frame_header(opcode: u8, len: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(10);
    h.push(0x80 | opcode);
    if len < 126 {
        h.push(len as u8);
    } else if len <= u16::MAX as usize {
        h.push(126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(127);
        h.extend_from_slice(&(len as u64).to_be_bytes());
    }
    h
}

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;

pub const MAX_QUEUED: usize = 32;
/// Messages read per readiness event; the rest wait for the next loop turn, so one chatty
/// client cannot keep the loop to itself.
pub const MAX_READS_PER_TURN: usize = 64;
/// A client may ask for a full snapshot (`requestData`) at most this often.
pub const REQUEST_DATA_EVERY: Duration = Duration::from_secs(1);
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Unsent control frames (pongs, close replies) a client may have queued at most.
pub const MAX_CONTROL_BYTES: usize = 16 * 1024;

/// Kernel send buffer per WebSocket client. Linux would otherwise auto-tune it up to 4 MiB,
/// so a stalled client could pin megabytes of kernel memory; with a fixed size, a client that
/// stops reading blocks early and our own queue limits take over.
pub const SEND_BUFFER: usize = 256 * 1024;

fn bound_send_buffer(stream: &Sock) {
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(stream.tcp(), SEND_BUFFER);
}

/// A frame ready to send, shared between all clients of a broadcast.
#[derive(Clone)]
pub struct Frame {
    pub kind: FrameKind,
    pub text: Utf8Bytes,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameKind {
    /// A full state snapshot: superseded by a newer one.
    State,
    Other,
}

/// What the client asked for (read side), for the hub to act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    Ping,
    RequestData,
}

pub enum Health {
    Ok,
    /// Drop the client; the reason is logged.
    Drop(&'static str),
}

pub struct Client {
    ws: WebSocket<Duplex>,
    pub peer: IpAddr,
    out: VecDeque<Chunk>,
    /// The socket said WouldBlock with data still to send.
    blocked_since: Option<Instant>,
    pub last_heard: Instant,
    last_request_data: Option<Instant>,
}

pub fn ws_config() -> WebSocketConfig {
    // Small buffers: the defaults (128 KiB each way) would cost more than the rest of a client.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 << 20)
        .max_message_size(Some(64 << 10))
        .max_frame_size(Some(64 << 10))
}

impl Client {
    /// A client on an upgraded socket. `owed`: the rest of the 101 answer, sent first;
    /// `leftover`: bytes the client sent after its handshake (already WebSocket frames).
    pub fn new(
        stream: Sock,
        peer: IpAddr,
        owed: Vec<u8>,
        leftover: Vec<u8>,
        now: Instant,
    ) -> Client {
        bound_send_buffer(&stream);
        let duplex = Duplex {
            sock: stream,
            outbox: Vec::new(),
            overflow: false,
        };
        let ws = if leftover.is_empty() {
            WebSocket::from_raw_socket(duplex, Role::Server, Some(ws_config()))
        } else {
            WebSocket::from_partially_read(duplex, leftover, Role::Server, Some(ws_config()))
        };
        let mut out = VecDeque::new();
        if !owed.is_empty() {
            out.push_back(Chunk {
                kind: FrameKind::Other,
                pinned: true,
                header: Vec::new(),
                payload: Payload::Owned(owed),
                sent: 0,
            });
        }
        Client {
            ws,
            peer,
            out,
            blocked_since: None,
            last_heard: now,
            last_request_data: None,
        }
    }

    /// Chunks waiting to be written, and whether the socket is currently full.
    pub fn pending(&self) -> (usize, bool) {
        (self.out.len(), self.blocked_since.is_some())
    }

    pub fn stream_mut(&mut self) -> &mut Sock {
        &mut self.ws.get_mut().sock
    }

    /// Queues a frame and tries to send. `Drop` when the client cannot keep up.
    pub fn enqueue(&mut self, frame: Frame, now: Instant) -> Health {
        if frame.kind == FrameKind::State {
            // A newer snapshot replaces one not yet started (never one half written).
            self.out
                .retain(|c| !(c.kind == FrameKind::State && c.sent == 0));
        }
        if self.out.len() >= MAX_QUEUED {
            return Health::Drop("send queue full (client not reading)");
        }
        let header = frame_header(OP_TEXT, frame.text.len());
        self.out.push_back(Chunk {
            kind: frame.kind,
            pinned: false,
            header,
            payload: Payload::Shared(frame.text),
            sent: 0,
        });
        self.pump(now)
    }

    /// Moves whatever tungstenite wrote (pongs, close replies) into the queue, as whole frames.
    /// False when the client has more of it unsent than `MAX_CONTROL_BYTES`.
    fn take_outbox(&mut self) -> bool {
        let outbox = std::mem::take(&mut self.ws.get_mut().outbox);
        if self.ws.get_ref().overflow {
            return false;
        }
        if outbox.is_empty() {
            return true;
        }
        let queued: usize = self
            .out
            .iter()
            .filter(|c| c.header.is_empty() && !c.pinned)
            .map(|c| c.payload.bytes().len() - c.sent)
            .sum();
        if queued + outbox.len() > MAX_CONTROL_BYTES {
            return false;
        }
        // Appended to a control chunk not yet started rather than queued as another chunk,
        // so a burst of pongs is one entry.
        if let Some(last) = self.out.back_mut() {
            if last.header.is_empty() && !last.pinned && last.sent == 0 {
                if let Payload::Owned(v) = &mut last.payload {
                    v.extend_from_slice(&outbox);
                    return true;
                }
            }
        }
        self.out.push_back(Chunk {
            kind: FrameKind::Other,
            pinned: false,
            header: Vec::new(),
            payload: Payload::Owned(outbox),
            sent: 0,
        });
        true
    }

    fn push_control(&mut self, opcode: u8, payload: Vec<u8>) {
        let header = frame_header(opcode, payload.len());
        self.out.push_back(Chunk {
            kind: FrameKind::Other,
            pinned: false,
            header,
            payload: Payload::Owned(payload),
            sent: 0,
        });
    }

    /// Writes queued bytes until the socket would block.
    pub fn pump(&mut self, now: Instant) -> Health {
        if !self.take_outbox() {
            return Health::Drop("control-frame queue full (client not reading)");
        }
        while let Some(chunk) = self.out.front_mut() {
            let hlen = chunk.header.len();
            let total = hlen + chunk.payload.bytes().len();
            while chunk.sent < total {
                let sock = &mut self.ws.get_mut().sock;
                let result = if chunk.sent < hlen {
                    sock.write(&chunk.header[chunk.sent..])
                } else {
                    sock.write(&chunk.payload.bytes()[chunk.sent - hlen..])
                };
                match result {
                    Ok(0) => return Health::Drop("closed"),
                    Ok(n) => chunk.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.blocked_since.get_or_insert(now);
                        return Health::Ok;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Health::Drop("write error"),
                }
            }
            self.out.pop_front();
        }
        // TLS records rustls could not hand to the kernel yet.
        match self.ws.get_mut().sock.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked_since.get_or_insert(now);
                return Health::Ok;
            }
            Err(_) => return Health::Drop("write error"),
        }
        self.blocked_since = None;
        Health::Ok
    }

    /// Whether a `requestData` may be served now (at most one per `REQUEST_DATA_EVERY`).
    pub fn allow_request_data(&mut self, now: Instant) -> bool {
        let ok = self
            .last_request_data
            .is_none_or(|t| now.duration_since(t) >= REQUEST_DATA_EVERY);
        if ok {
            self.last_request_data = Some(now);
        }
        ok
    }

    /// Reads what is available, at most `MAX_READS_PER_TURN` messages. Returns the requests
    /// for the hub and whether more may be waiting (then the hub reads again next turn:
    /// with edge-triggered readiness no new event would come for data already there).
    pub fn read_all(&mut self, now: Instant) -> Result<(Vec<Inbound>, bool), &'static str> {
        let mut inbound = Vec::new();
        for _ in 0..MAX_READS_PER_TURN {
            if self.ws.get_ref().overflow {
                return Err("control-frame queue full (client not reading)");
            }
            match self.ws.read() {
                Ok(msg) => {
                    self.last_heard = now;
                    match msg {
                        Message::Text(t) => {
                            let v: serde_json::Value =
                                serde_json::from_str(t.as_str()).unwrap_or_default();
                            match v.get("type").and_then(|t| t.as_str()) {
                                Some("ping") => inbound.push(Inbound::Ping),
                                Some("requestData") => inbound.push(Inbound::RequestData),
                                _ => {}
                            }
                        }
                        Message::Close(_) => return Err("client closed"),
                        _ => {} // pings are answered by tungstenite itself; pongs just count as life
                    }
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Ok((inbound, false))
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => return Err("connection closed"),
                // A browser tab closed without a close frame: a normal way to leave.
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                            | std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Err("connection closed")
                }
                Err(tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                )) => return Err("connection closed"),
                Err(tungstenite::Error::Capacity(_)) => return Err("message too large"),
                Err(_) => return Err("read error"),
            }
        }
        Ok((inbound, true))
    }

    /// Periodic check: stalled writer or silent peer.
    pub fn check(&self, now: Instant, dead_after: Duration) -> Health {
        if self
            .blocked_since
            .is_some_and(|t| now.duration_since(t) >= STALL_TIMEOUT)
        {
            return Health::Drop("stalled: socket not accepting data");
        }
        if now.duration_since(self.last_heard) >= dead_after {
            return Health::Drop("no answer to pings");
        }
        Health::Ok
    }

    pub fn send_protocol_ping(&mut self, now: Instant) -> Health {
        if self.out.len() >= MAX_QUEUED {
            return Health::Drop("send queue full (client not reading)");
        }
        self.push_control(OP_PING, Vec::new());
        self.pump(now)
    }

    /// Best-effort close with a code (1008 = policy violation, e.g. not authenticated): one
    /// non-blocking attempt, the client is going away either way.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        let mut payload = u16::from(code).to_be_bytes().to_vec();
        // Control frame payloads are at most 125 bytes.
        let reason: String = reason.chars().take(100).collect();
        payload.extend_from_slice(reason.as_bytes());
        // A half-written frame in front must finish first or the stream is garbage;
        // everything not yet started is dropped in favour of the close (except the 101).
        self.out.retain(|c| c.sent > 0 || c.pinned);
        self.push_control(OP_CLOSE, payload);
        let _ = self.pump(Instant::now());
    }
}
