//! One WebSocket client, driven by the event loop over a non-blocking socket.
//!
//! Back-pressure: at most one message is inside tungstenite's write buffer at a time; the rest
//! wait in a short queue of shared (reference-counted) frames. A newer `rawData` replaces an
//! older one still waiting, so a slow reader gets fewer snapshots rather than an ever-growing
//! backlog. A client whose queue overflows, or whose socket accepts nothing for
//! `STALL_TIMEOUT`, is dropped.

use mio::net::TcpStream;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

pub const MAX_QUEUED: usize = 32;
/// Messages read per readiness event; the rest wait for the next loop turn, so one chatty
/// client cannot keep the loop to itself.
pub const MAX_READS_PER_TURN: usize = 64;
/// A client may ask for a full snapshot (`requestData`) at most this often.
pub const REQUEST_DATA_EVERY: Duration = Duration::from_secs(1);
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

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
    ws: WebSocket<TcpStream>,
    pub peer: IpAddr,
    queue: VecDeque<Frame>,
    /// tungstenite holds an unflushed frame (the socket said WouldBlock).
    blocked_since: Option<Instant>,
    pub last_heard: Instant,
    last_request_data: Option<Instant>,
    /// The upgraded stream tiny_http gave us; dropping it shuts the socket down, so it lives
    /// exactly as long as the client.
    _keep: Box<dyn tiny_http::ReadWrite + Send>,
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
    pub fn new(
        stream: TcpStream,
        peer: IpAddr,
        keep: Box<dyn tiny_http::ReadWrite + Send>,
        now: Instant,
    ) -> Client {
        Client {
            ws: WebSocket::from_raw_socket(stream, Role::Server, Some(ws_config())),
            peer,
            queue: VecDeque::new(),
            blocked_since: None,
            last_heard: now,
            last_request_data: None,
            _keep: keep,
        }
    }

    /// Frames waiting (queued, or one held by tungstenite while the socket is full).
    pub fn pending(&self) -> (usize, bool) {
        (self.queue.len(), self.blocked_since.is_some())
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        self.ws.get_mut()
    }

    /// Queues a frame and tries to send. `Drop` when the client cannot keep up.
    pub fn enqueue(&mut self, frame: Frame, now: Instant) -> Health {
        if frame.kind == FrameKind::State {
            self.queue.retain(|f| f.kind != FrameKind::State);
        }
        if self.queue.len() >= MAX_QUEUED {
            return Health::Drop("send queue full (client not reading)");
        }
        self.queue.push_back(frame);
        self.pump(now)
    }

    /// Moves queued frames into the socket until it would block.
    pub fn pump(&mut self, now: Instant) -> Health {
        if self.blocked_since.is_some() {
            match self.ws.flush() {
                Ok(()) => self.blocked_since = None,
                Err(e) => return self.io_health(e, now),
            }
        }
        while let Some(frame) = self.queue.pop_front() {
            let result = self
                .ws
                .write(Message::Text(frame.text))
                .and_then(|_| self.ws.flush());
            if let Err(e) = result {
                return self.io_health(e, now);
            }
        }
        Health::Ok
    }

    fn io_health(&mut self, e: tungstenite::Error, now: Instant) -> Health {
        match e {
            tungstenite::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                self.blocked_since.get_or_insert(now);
                Health::Ok
            }
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                Health::Drop("closed")
            }
            tungstenite::Error::WriteBufferFull(_) => Health::Drop("write buffer full"),
            _ => Health::Drop("write error"),
        }
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
        match self
            .ws
            .write(Message::Ping(Default::default()))
            .and_then(|_| self.ws.flush())
        {
            Ok(()) => Health::Ok,
            Err(e) => self.io_health(e, now),
        }
    }

    /// Best-effort close with a code (1008 = policy violation, e.g. not authenticated).
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        }));
        let _ = self.ws.flush();
    }
}
