//! The WebSocket hub: every connected client, broadcasts (serialised once, shared by all),
//! keep-alive pings and dead-peer detection. Owned by the event loop.

use crate::ws::client::{Client, Frame, FrameKind, Health, Inbound};
use mio::{Interest, Registry, Token};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;

/// Connected clients at most (each costs a socket and a few KB of buffers).
pub const MAX_CLIENTS: usize = 2000;
/// JSON `ping` messages and protocol pings go out this often.
pub const PING_EVERY: Duration = Duration::from_secs(30);
/// A client silent for this long (not even a pong) is gone.
pub const DEAD_AFTER: Duration = Duration::from_secs(90);
/// `rawData` is re-sent at least this often even when nothing changed.
pub const STATE_EVERY: Duration = Duration::from_secs(10);

/// Tokens below this belong to the loop itself (the waker).
const FIRST_TOKEN: usize = 16;

pub struct Hub {
    clients: HashMap<Token, Client>,
    /// Clients that still had data to read when their per-turn budget ran out.
    more_to_read: Vec<Token>,
    next_token: usize,
    last_ping: Instant,
    pub last_state_broadcast: Instant,
    pub dropped_total: u64,
    /// Most clients since memory was last handed back to the OS.
    high_water: usize,
}

/// After this many clients have left, freed heap is handed back to the OS.
const TRIM_AFTER_LEAVING: usize = 256;

/// Returns freed heap pages to the OS. glibc keeps them otherwise (RSS would stay at the
/// peak after thousands of clients left); musl's allocator already unmaps them.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(Instant::now())
    }
}

impl Hub {
    pub fn new(now: Instant) -> Hub {
        Hub {
            clients: HashMap::new(),
            more_to_read: Vec::new(),
            next_token: FIRST_TOKEN,
            last_ping: now,
            last_state_broadcast: now,
            dropped_total: 0,
            high_water: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn owns(&self, token: Token) -> bool {
        self.clients.contains_key(&token)
    }

    /// Registers a client and sends it `welcome` + `initialState`.
    pub fn add(
        &mut self,
        registry: &Registry,
        mut client: Client,
        initial: Frame,
        now: Instant,
    ) -> Result<(), String> {
        if self.clients.len() >= MAX_CLIENTS {
            client.close(CloseCode::Again, "Too many WebSocket clients");
            return Err("too many clients".into());
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        registry
            .register(
                client.stream_mut(),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        let welcome = frame(
            FrameKind::Other,
            "welcome",
            &serde_json::json!({"message": "Connected to Pulse WebSocket"}),
        );
        let ok = matches!(client.enqueue(welcome, now), Health::Ok)
            && matches!(client.enqueue(initial, now), Health::Ok);
        if !ok {
            let _ = registry.deregister(client.stream_mut());
            return Err("client failed during welcome".into());
        }
        crate::log_debug!(
            "websocket client connected",
            peer = client.peer,
            clients = self.clients.len() + 1
        );
        self.clients.insert(token, client);
        self.high_water = self.high_water.max(self.clients.len());
        Ok(())
    }

    /// Sends one frame to every client; clients that cannot keep up are dropped.
    pub fn broadcast(&mut self, registry: &Registry, frame: &Frame, now: Instant) {
        if frame.kind == FrameKind::State {
            self.last_state_broadcast = now;
        }
        let drops: Vec<(Token, &'static str)> = self
            .clients
            .iter_mut()
            .filter_map(|(t, c)| match c.enqueue(frame.clone(), now) {
                Health::Ok => None,
                Health::Drop(why) => Some((*t, why)),
            })
            .collect();
        for (t, why) in drops {
            self.drop_client(registry, t, why);
        }
    }

    /// Socket readiness from the loop. Returns what the client asked for.
    pub fn on_event(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        now: Instant,
    ) -> Vec<Inbound> {
        let Some(client) = self.clients.get_mut(&token) else {
            return Vec::new();
        };
        let mut inbound = Vec::new();
        if readable {
            match client.read_all(now) {
                Ok((i, more)) => {
                    inbound = i;
                    if more && !self.more_to_read.contains(&token) {
                        self.more_to_read.push(token);
                    }
                    // One snapshot per burst, and at most one a second per client.
                    let mut wanted = false;
                    inbound.retain(|m| match m {
                        Inbound::RequestData => !std::mem::replace(&mut wanted, true),
                        Inbound::Ping => true,
                    });
                    if wanted && !client.allow_request_data(now) {
                        inbound.retain(|m| *m != Inbound::RequestData);
                    }
                }
                Err(why) => {
                    self.drop_client(registry, token, why);
                    return Vec::new();
                }
            }
        }
        if writable || readable {
            if let Health::Drop(why) = client.pump(now) {
                self.drop_client(registry, token, why);
                return Vec::new();
            }
        }
        inbound
    }

    /// True when some client has unread input left over (the loop must not sleep).
    pub fn has_more_to_read(&self) -> bool {
        !self.more_to_read.is_empty()
    }

    /// Clients whose reading was cut short last turn; the caller feeds them to `on_event`.
    pub fn take_more_to_read(&mut self) -> Vec<Token> {
        std::mem::take(&mut self.more_to_read)
    }

    /// Answers one client (pong, requested data).
    pub fn send_to(&mut self, registry: &Registry, token: Token, frame: Frame, now: Instant) {
        if let Some(c) = self.clients.get_mut(&token) {
            if let Health::Drop(why) = c.enqueue(frame, now) {
                self.drop_client(registry, token, why);
            }
        }
    }

    /// Once a second: keep-alive pings, stalled and silent clients.
    pub fn tick(&mut self, registry: &Registry, now: Instant) {
        let ping_due = now.duration_since(self.last_ping) >= PING_EVERY;
        if ping_due {
            self.last_ping = now;
            let ping = frame(
                FrameKind::Other,
                "ping",
                &serde_json::json!({"timestamp": crate::util::time::unix_now()}),
            );
            self.broadcast(registry, &ping, now);
        }
        let mut drops = Vec::new();
        for (t, c) in self.clients.iter_mut() {
            if ping_due {
                if let Health::Drop(why) = c.send_protocol_ping(now) {
                    drops.push((*t, why));
                    continue;
                }
            }
            // Belt and braces against a missed writable edge: retry clients holding data.
            let (queued, blocked) = c.pending();
            let health = if queued > 0 || blocked {
                c.pump(now)
            } else {
                Health::Ok
            };
            if let Health::Drop(why) = health {
                drops.push((*t, why));
                continue;
            }
            if let Health::Drop(why) = c.check(now, DEAD_AFTER) {
                drops.push((*t, why));
            }
        }
        for (t, why) in drops {
            self.drop_client(registry, t, why);
        }
        if self.clients.len() + TRIM_AFTER_LEAVING <= self.high_water {
            self.high_water = self.clients.len();
            trim_heap();
        }
    }

    fn drop_client(&mut self, registry: &Registry, token: Token, why: &'static str) {
        self.more_to_read.retain(|t| *t != token);
        if let Some(mut c) = self.clients.remove(&token) {
            let _ = registry.deregister(c.stream_mut());
            let benign = matches!(why, "client closed" | "connection closed");
            if benign {
                crate::log_debug!("websocket client left", peer = c.peer, reason = why);
            } else {
                self.dropped_total += 1;
                c.close(CloseCode::Policy, why);
                crate::log_warn!(
                    "websocket client dropped",
                    peer = c.peer,
                    reason = why,
                    clients = self.clients.len()
                );
            }
        }
    }

    /// Closes every client (shutdown).
    pub fn close_all(&mut self, registry: &Registry) {
        for (_, mut c) in self.clients.drain() {
            c.close(CloseCode::Away, "Pulse is shutting down");
            let _ = registry.deregister(c.stream_mut());
        }
    }

    pub fn peers(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.clients.values().map(|c| c.peer)
    }
}

/// `{"type": kind, "data": data}` as a shareable frame.
pub fn frame(kind: FrameKind, msg_type: &str, data: &serde_json::Value) -> Frame {
    let text = serde_json::json!({ "type": msg_type, "data": data }).to_string();
    Frame {
        kind,
        text: text.into(),
    }
}

/// A `{"type": <msg_type>, "data": ...}` frame whose data `write` appends (JSON), and that
/// data as a view into the frame's own bytes: one buffer serves both the WebSocket frame and
/// the HTTP body. `capacity`: the data's expected size.
pub fn frame_around(
    kind: FrameKind,
    msg_type: &str,
    capacity: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> (Frame, bytes::Bytes) {
    let mut buf = Vec::with_capacity(capacity + msg_type.len() + 24);
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(msg_type.as_bytes());
    buf.extend_from_slice(b"\",\"data\":");
    let start = buf.len();
    write(&mut buf);
    let end = buf.len();
    buf.push(b'}');
    // serde_json writes UTF-8; should that ever fail, the frame says `null` rather than
    // carry invalid text.
    let (text, range) = match String::from_utf8(buf) {
        Ok(text) => (text, start..end),
        Err(_) => (
            format!("{{\"type\":\"{msg_type}\",\"data\":null}}"),
            start..start + 4,
        ),
    };
    let text: tungstenite::Utf8Bytes = text.into();
    let data = AsRef::<bytes::Bytes>::as_ref(&text).slice(range);
    (Frame { kind, text }, data)
}

/// `{"type": msg_type, "data": <pre-serialised JSON>}` without re-parsing the payload.
pub fn frame_raw(kind: FrameKind, msg_type: &str, data_json: &[u8]) -> Frame {
    let mut s = String::with_capacity(data_json.len() + 32);
    s.push_str("{\"type\":\"");
    s.push_str(msg_type);
    s.push_str("\",\"data\":");
    s.push_str(std::str::from_utf8(data_json).unwrap_or("null"));
    s.push('}');
    Frame {
        kind,
        text: s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state body is the frame's `data`, byte for byte, and lives inside the frame's own
    /// buffer (no second copy of a 5 MB document).
    #[test]
    fn frame_around_shares_one_buffer_with_its_data() {
        let (frame, data) = frame_around(FrameKind::State, "rawData", 4, |out| {
            out.extend_from_slice(br#"{"nodes":[1,2]}"#)
        });
        assert_eq!(
            frame.text.as_str(),
            r#"{"type":"rawData","data":{"nodes":[1,2]}}"#
        );
        assert_eq!(&data[..], br#"{"nodes":[1,2]}"#);
        let whole = frame.text.as_str().as_bytes().as_ptr_range();
        let part = data.as_ptr_range();
        assert!(
            whole.start < part.start && part.end < whole.end,
            "a view, not a copy"
        );
        let parsed: serde_json::Value = serde_json::from_str(frame.text.as_str()).unwrap();
        assert_eq!(parsed["data"]["nodes"][1], 2);
        // Equal to the frame built from a copy, as before.
        assert_eq!(
            frame_raw(FrameKind::State, "rawData", &data).text.as_str(),
            frame.text.as_str()
        );
    }
}
