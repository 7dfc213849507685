//! One HTTP connection's state machine: reading a head, reading a body, waiting for the
//! loop's answer, writing it, then keep-alive idle (or a lingering close). Every state that
//! waits on the peer has a deadline; the server keeps those in its timer heap.
//!
//! Generic over the stream so the machine can be tested without sockets. Nothing here blocks:
//! reads and writes stop at `WouldBlock`, and the server calls back on readiness or deadline.

use crate::http::headers;
use crate::http::limits::{Limits, MAX_HEAD};
use crate::http::parse::{self, BodyKind, ChunkedDecoder, Head};
use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};
use crate::http::write::{self, Outgoing, Progress, ReplyMeta};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bytes buffered ahead of the parser at most: a whole head (16 KiB) plus room for a
/// pipelined request or a slice of body. Beyond it we stop reading until it drains.
pub const READ_CAP: usize = MAX_HEAD + 16 * 1024;
/// After the final answer of a closing connection, how long unread input is drained before
/// the socket is closed (closing with unread data would reset the connection and could
/// destroy the answer before the client reads it).
pub const LINGER: Duration = Duration::from_secs(2);
const INTERIM_CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
}

enum State {
    /// Waiting for (the rest of) a request head; `first_byte` is when its first byte came.
    Head {
        first_byte: Option<Instant>,
    },
    /// Reading the body of `head`.
    Body {
        head: Box<Head>,
        body: Vec<u8>,
        framing: BodyState,
    },
    /// The request is with the app; its answer has not come yet.
    Waiting,
    /// Writing `out`.
    Writing,
    /// A 101 is queued: the socket now belongs to the WebSocket hub.
    Upgraded,
    /// Final answer written and our side shut: draining input until EOF or `until`.
    Lingering {
        until: Instant,
    },
    Closed,
}

/// What the server should do after driving a connection.
#[derive(Debug)]
pub enum Step {
    /// Nothing until the next readiness event or deadline.
    Idle,
    /// A complete request for the app. The connection waits for `respond`.
    Request(Box<ApiRequest>),
    /// The 101 is queued; hand the socket over (see `Conn::into_upgrade`).
    Upgrade,
    /// Close and forget the connection.
    Close,
}

pub struct Conn<S> {
    pub stream: S,
    pub peer: SocketAddr,
    limits: Limits,
    state: State,
    inbuf: Vec<u8>,
    out: VecDeque<Outgoing>,
    /// The request being answered.
    meta: Option<ReplyMeta>,
    /// What the access log says about it (never the query: it may carry secrets).
    log: Option<(Method, String, Instant)>,
    upgrade: Option<crate::ws::WsUpgrade>,
    /// Close once `out` is written.
    close_after: bool,
    /// The peer closed its side (we may still answer what it sent).
    peer_eof: bool,
    /// Input stopped at `READ_CAP`: read again once it drains (no new edge will come).
    read_paused: bool,
    /// An answer finished with the next request's bytes already buffered: they have not been
    /// looked at yet (a partial head that has been looked at waits for the next read event).
    unparsed: bool,
    opened: Instant,
    /// When the last answer finished (keep-alive idle time and eviction order).
    pub idle_since: Instant,
    /// Last progress of a body read or a response write.
    last_progress: Instant,
    pub served: u64,
    /// The deadline the server's heap currently holds for us.
    pub scheduled: Option<Instant>,
    /// No new keep-alive: every answer closes (server shutting down).
    pub draining: bool,
    /// Accepted on the redirect-only listener: every request is answered with a redirect to
    /// HTTPS by the server, never handed to the app.
    pub redirect_only: bool,
}

/// Closing our sending side while still reading (the lingering close).
pub trait HalfClose {
    fn shutdown_write(&mut self);
    /// The connection is HTTPS (cookies `Secure`, HSTS).
    fn is_tls(&self) -> bool {
        false
    }
}

impl<S: Read + Write + HalfClose> Conn<S> {
    pub fn new(stream: S, peer: SocketAddr, limits: Limits, now: Instant) -> Conn<S> {
        Conn {
            stream,
            peer,
            limits,
            state: State::Head { first_byte: None },
            inbuf: Vec::new(),
            out: VecDeque::new(),
            meta: None,
            log: None,
            upgrade: None,
            close_after: false,
            peer_eof: false,
            read_paused: false,
            unparsed: false,
            opened: now,
            idle_since: now,
            last_progress: now,
            served: 0,
            scheduled: None,
            draining: false,
            redirect_only: false,
        }
    }

    /// Idle between requests with nothing buffered: may be closed to make room.
    pub fn is_idle_keep_alive(&self) -> bool {
        matches!(self.state, State::Head { first_byte: None })
            && self.inbuf.is_empty()
            && self.served > 0
    }

    /// Waiting for nothing from the peer but owing it an answer (shutdown drains these).
    pub fn is_busy(&self) -> bool {
        matches!(
            self.state,
            State::Body { .. } | State::Waiting | State::Writing
        )
    }

    /// The request being answered accepts gzip.
    pub fn gzip_ok(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.gzip_ok)
    }

    pub fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting)
    }

    /// Input is buffered that no readiness event will announce again.
    pub fn wants_again(&self) -> bool {
        match self.state {
            State::Head { .. } => self.unparsed || self.read_paused,
            State::Body { .. } | State::Lingering { .. } => self.read_paused,
            _ => false,
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        let l = &self.limits;
        match &self.state {
            State::Head {
                first_byte: Some(t),
            } => Some(*t + l.head_timeout),
            State::Head { first_byte: None } if self.served == 0 => {
                Some(self.opened + l.head_timeout)
            }
            State::Head { first_byte: None } => Some(self.idle_since + l.idle_timeout),
            State::Body { .. } => Some(self.last_progress + l.body_timeout),
            State::Writing => Some(self.last_progress + l.write_timeout),
            State::Lingering { until } => Some(*until),
            State::Waiting | State::Upgraded | State::Closed => None,
        }
    }

    /// A deadline passed (the server checks `deadline()` first).
    pub fn on_deadline(&mut self, now: Instant) -> Step {
        if self.deadline().is_none_or(|d| d > now) {
            return Step::Idle;
        }
        match self.state {
            State::Head {
                first_byte: Some(_),
            } => {
                self.fail(408, "Request head not received in time", now);
                self.drive(now)
            }
            State::Body { .. } => {
                self.fail(408, "Request body stalled", now);
                self.drive(now)
            }
            // Silent peer, idle keep-alive, stalled reader, finished linger: just close.
            _ => {
                self.state = State::Closed;
                Step::Close
            }
        }
    }

    /// Reads what the socket has (up to `READ_CAP` buffered). False when the peer is gone.
    fn fill(&mut self) -> bool {
        if self.peer_eof {
            return true;
        }
        let mut chunk = [0u8; 8192];
        self.read_paused = false;
        let mut discarded = 0;
        loop {
            if self.inbuf.len() >= READ_CAP {
                self.read_paused = true;
                return true;
            }
            let room = (READ_CAP - self.inbuf.len()).min(chunk.len());
            match self.stream.read(&mut chunk[..room]) {
                Ok(0) => {
                    self.peer_eof = true;
                    return true;
                }
                Ok(n) => {
                    if matches!(self.state, State::Lingering { .. } | State::Upgraded) {
                        // Discarded; a peer that keeps sending takes turns with the others.
                        discarded += n;
                        if discarded >= READ_CAP {
                            self.read_paused = true;
                            return true;
                        }
                        continue;
                    }
                    self.inbuf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Refuses the current request: JSON error, then close.
    fn fail(&mut self, status: u16, message: &str, now: Instant) {
        let id = self
            .meta
            .take()
            .map(|m| m.request_id)
            .unwrap_or_else(headers::new_id);
        // An interim 100 not yet started is dropped; a started one must finish first.
        self.out.retain(|o| o.is_started());
        self.out
            .push_back(write::error_response(status, message, &id));
        self.close_after = true;
        self.inbuf.clear();
        self.state = State::Writing;
        self.last_progress = now;
    }

    /// Advances the machine as far as it goes without waiting.
    pub fn drive(&mut self, now: Instant) -> Step {
        self.unparsed = false;
        if !matches!(self.state, State::Upgraded | State::Closed) && !self.fill() {
            self.state = State::Closed;
            return Step::Close;
        }
        loop {
            match &mut self.state {
                State::Head { first_byte } => {
                    if self.inbuf.is_empty() {
                        return if self.peer_eof {
                            self.state = State::Closed;
                            Step::Close
                        } else {
                            Step::Idle
                        };
                    }
                    first_byte.get_or_insert(now);
                    match parse::parse_head(&self.inbuf) {
                        Ok(None) if self.peer_eof => {
                            self.state = State::Closed;
                            return Step::Close;
                        }
                        Ok(None) => return Step::Idle,
                        Err(e) => self.fail(e.status, e.message, now),
                        Ok(Some(head)) => {
                            self.inbuf.drain(..head.len);
                            let framing = match head.body {
                                BodyKind::None => return self.complete(head, Vec::new()),
                                BodyKind::Length(n) => BodyState::Length(n),
                                BodyKind::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
                            };
                            // Never a 100 to an HTTP/1.0 client (RFC 9110 §10.1.1).
                            if head.expect_continue && head.minor == 1 {
                                self.out.push_back(Outgoing::raw(INTERIM_CONTINUE.to_vec()));
                            }
                            self.last_progress = now;
                            self.state = State::Body {
                                head: Box::new(head),
                                body: Vec::new(),
                                framing,
                            };
                        }
                    }
                }
                State::Body {
                    body,
                    framing,
                    head,
                } => {
                    let done = match framing {
                        BodyState::Length(left) => {
                            let n = (*left as usize).min(self.inbuf.len());
                            body.extend(self.inbuf.drain(..n));
                            *left -= n as u64;
                            if n > 0 {
                                self.last_progress = now;
                            }
                            *left == 0
                        }
                        BodyState::Chunked(dec) => match dec.feed(&self.inbuf, body) {
                            Ok(used) => {
                                if used > 0 {
                                    self.last_progress = now;
                                }
                                self.inbuf.drain(..used);
                                dec.is_done()
                            }
                            Err(e) => {
                                self.fail(e.status, e.message, now);
                                continue;
                            }
                        },
                    };
                    if done {
                        let head = std::mem::replace(head, Box::new(empty_head()));
                        let body = std::mem::take(body);
                        return self.complete(*head, body);
                    }
                    // The interim 100 Continue goes out while we wait for the body.
                    if self.flush_out(now).is_err() || self.peer_eof {
                        self.state = State::Closed;
                        return Step::Close;
                    }
                    return Step::Idle;
                }
                State::Waiting | State::Upgraded => {
                    return if matches!(self.state, State::Upgraded) {
                        Step::Upgrade
                    } else {
                        Step::Idle
                    };
                }
                State::Writing => match self.flush_out(now) {
                    Err(_) => {
                        self.state = State::Closed;
                        return Step::Close;
                    }
                    Ok(Progress::Blocked { .. }) => return Step::Idle,
                    Ok(Progress::Done) => {
                        self.served += 1;
                        self.idle_since = now;
                        self.meta = None;
                        if self.close_after || self.draining {
                            self.start_linger(now);
                        } else {
                            self.state = State::Head { first_byte: None };
                            // Pipelined bytes already here wait for the next turn (fairness):
                            // the server drives us again when `wants_again`.
                            self.unparsed = !self.inbuf.is_empty();
                            return Step::Idle;
                        }
                    }
                },
                State::Lingering { .. } => {
                    self.inbuf.clear();
                    if self.peer_eof {
                        self.state = State::Closed;
                        return Step::Close;
                    }
                    return Step::Idle;
                }
                State::Closed => return Step::Close,
            }
        }
    }

    fn start_linger(&mut self, now: Instant) {
        self.stream.shutdown_write();
        self.inbuf.clear();
        self.state = State::Lingering {
            until: now + LINGER,
        };
    }

    fn flush_out(&mut self, now: Instant) -> io::Result<Progress> {
        while let Some(o) = self.out.front_mut() {
            match o.write_to(&mut self.stream)? {
                Progress::Done => {
                    self.out.pop_front();
                    self.last_progress = now;
                }
                Progress::Blocked { wrote } => {
                    if wrote {
                        self.last_progress = now;
                    }
                    return Ok(Progress::Blocked { wrote });
                }
            }
        }
        // TLS records rustls could not hand to the kernel yet: still writing.
        match self.stream.flush() {
            Ok(()) => Ok(Progress::Done),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Ok(Progress::Blocked { wrote: false })
            }
            Err(e) => Err(e),
        }
    }

    /// A request is complete: build what handlers see and wait for the answer.
    fn complete(&mut self, head: Head, body: Vec<u8>) -> Step {
        let request_id = headers::request_id(head.header("x-request-id"));
        let (path, query) = match head.target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (head.target.clone(), String::new()),
        };
        let method = Method::parse(&head.method);
        self.log = Some((method, path.clone(), Instant::now()));
        let req = ApiRequest {
            method,
            path,
            query,
            headers: head.headers,
            body,
            peer: self.peer.ip(),
            request_id: request_id.clone(),
            is_https: self.stream.is_tls(),
        };
        self.meta = Some(ReplyMeta {
            request_id,
            gzip_ok: req.accepts_gzip(),
            head_only: method == Method::Head,
            keep_alive: head.keep_alive && !self.draining,
            http10: head.minor == 0,
            tls: self.stream.is_tls(),
        });
        self.state = State::Waiting;
        Step::Request(Box::new(req))
    }

    /// The app's answer to the request we are waiting on. Ignored in any other state (the
    /// connection already gave up on it).
    pub fn respond(&mut self, reply: Reply, now: Instant) -> Step {
        if !matches!(self.state, State::Waiting) {
            return Step::Idle;
        }
        let Some(mut meta) = self.meta.clone() else {
            return Step::Idle;
        };
        if self.draining || self.peer_eof {
            meta.keep_alive = false;
        }
        self.log_answer(reply.status, &meta.request_id);
        let mut reply = reply;
        if reply.status == 101 {
            if let Some(info) = reply.upgrade.take() {
                self.out.push_back(write::serialize(reply, &meta));
                self.upgrade = Some(info);
                self.state = State::Upgraded;
                return Step::Upgrade;
            }
            // A 101 without an upgrade decision cannot be honoured.
            reply = Reply::error(500, "internal error: upgrade without a socket decision");
        }
        self.close_after = !meta.keep_alive;
        self.out.push_back(write::serialize(reply, &meta));
        self.state = State::Writing;
        self.last_progress = now;
        self.drive(now)
    }

    fn log_answer(&mut self, status: u16, request_id: &str) {
        if let Some((method, path, started)) = self.log.take() {
            crate::log_debug!(
                "http request",
                method = method.as_str(),
                path = path,
                status = status,
                ms = format!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
                request_id = request_id,
            );
        }
    }

    /// After `Step::Upgrade`: the bytes still owed to the client (the 101), the bytes the
    /// client already sent past the handshake, and the gate's decision.
    pub fn take_upgrade(&mut self) -> Option<(Vec<u8>, Vec<u8>, crate::ws::WsUpgrade)> {
        let info = self.upgrade.take()?;
        let mut owed = Vec::new();
        for o in self.out.drain(..) {
            owed.extend(o.remaining());
        }
        Some((owed, std::mem::take(&mut self.inbuf), info))
    }

    /// Shutdown: an idle connection closes now; a busy one closes after its answer.
    pub fn drain(&mut self) -> bool {
        self.draining = true;
        if let Some(m) = self.meta.as_mut() {
            m.keep_alive = false;
        }
        matches!(self.state, State::Head { first_byte: None }) && self.inbuf.is_empty()
    }
}

fn empty_head() -> Head {
    Head {
        method: String::new(),
        target: String::new(),
        minor: 1,
        headers: Vec::new(),
        body: BodyKind::None,
        expect_continue: false,
        keep_alive: false,
        len: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted socket: `input` is what the peer sent (then WouldBlock, or EOF when
    /// `eof`), `out` what we wrote; `room` bytes may be written before WouldBlock.
    #[derive(Default)]
    struct Mock {
        input: Vec<u8>,
        eof: bool,
        out: Vec<u8>,
        room: usize,
        shut: bool,
    }

    impl Read for Mock {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
    }

    impl Write for Mock {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.out.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl HalfClose for Mock {
        fn shutdown_write(&mut self) {
            self.shut = true;
        }
    }

    fn limits() -> Limits {
        Limits {
            head_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(3),
            write_timeout: Duration::from_secs(4),
            ..Limits::default()
        }
    }

    fn conn(input: &[u8]) -> (Conn<Mock>, Instant) {
        let now = Instant::now();
        let mock = Mock {
            input: input.to_vec(),
            room: usize::MAX,
            ..Mock::default()
        };
        let peer: SocketAddr = "192.0.2.9:5000".parse().unwrap();
        (Conn::new(mock, peer, limits(), now), now)
    }

    fn request(step: Step) -> ApiRequest {
        match step {
            Step::Request(r) => *r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn written(c: &mut Conn<Mock>) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut c.stream.out)).into_owned()
    }

    #[test]
    fn pipelined_requests_one_at_a_time_in_order() {
        let (mut c, now) = conn(b"GET /a HTTP/1.1\r\n\r\nGET /b?x=1 HTTP/1.1\r\n\r\n");
        let a = request(c.drive(now));
        assert_eq!(a.path, "/a");
        assert_eq!(a.peer.to_string(), "192.0.2.9");
        // Waiting for the answer: the next request is not parsed.
        assert!(matches!(c.drive(now), Step::Idle));
        assert!(c.is_waiting());
        assert!(matches!(c.respond(Reply::new(200), now), Step::Idle));
        assert!(written(&mut c).starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(
            c.wants_again(),
            "the buffered request waits for the next turn"
        );
        let b = request(c.drive(now));
        assert_eq!((b.path.as_str(), b.query.as_str()), ("/b", "x=1"));
        // An answer for a connection that is not waiting is ignored.
        c.respond(Reply::new(200), now);
        c.respond(Reply::new(500), now);
        let out = written(&mut c);
        assert_eq!(out.matches("HTTP/1.1").count(), 1, "{out}");
        assert_eq!(c.served, 2);
    }

    #[test]
    fn a_partial_head_waits_for_input_instead_of_spinning() {
        let (mut c, now) = conn(b"GET / HTTP/1.1\r\nHost: x");
        assert!(matches!(c.drive(now), Step::Idle));
        assert!(
            !c.wants_again(),
            "nothing new to look at until the next read event"
        );
    }

    #[test]
    fn body_by_length_and_continue_before_it() {
        let (mut c, now) =
            conn(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        assert!(matches!(c.drive(now), Step::Idle));
        assert_eq!(written(&mut c), "HTTP/1.1 100 Continue\r\n\r\n");
        c.stream.input.extend_from_slice(b"hel");
        assert!(matches!(c.drive(now), Step::Idle));
        c.stream.input.extend_from_slice(b"loGET");
        let r = request(c.drive(now));
        assert_eq!(r.body, b"hello");
        assert_eq!(c.inbuf, b"GET", "the next request's bytes stay buffered");
    }

    #[test]
    fn oversized_declared_body_is_refused_before_reading_and_closed() {
        let (mut c, now) =
            conn(b"POST /x HTTP/1.1\r\nContent-Length: 1048577\r\nExpect: 100-continue\r\n\r\nabc");
        assert!(matches!(c.drive(now), Step::Idle), "lingering");
        let out = written(&mut c);
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        assert!(!out.contains("100 Continue"));
        assert!(out.contains("Connection: close"));
        assert!(c.stream.shut, "our side is shut after the answer");
        c.stream.eof = true;
        assert!(matches!(c.drive(now), Step::Close));
    }

    #[test]
    fn head_deadline_408_only_when_bytes_came() {
        let (mut c, now) = conn(b"");
        assert!(matches!(c.drive(now), Step::Idle));
        assert_eq!(c.deadline(), Some(now + Duration::from_secs(1)));
        assert!(matches!(
            c.on_deadline(now + Duration::from_millis(500)),
            Step::Idle
        ));
        assert!(matches!(
            c.on_deadline(now + Duration::from_secs(1)),
            Step::Close
        ));
        assert_eq!(written(&mut c), "", "silent close");

        let (mut c, now) = conn(b"GET / HTTP/1.1\r\n");
        let later = now + Duration::from_millis(300);
        assert!(matches!(c.drive(later), Step::Idle));
        assert_eq!(c.deadline(), Some(later + Duration::from_secs(1)));
        c.on_deadline(later + Duration::from_secs(1));
        let out = written(&mut c);
        assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
        assert!(out.contains("X-Request-ID: "));
    }

    #[test]
    fn body_stall_is_408_and_progress_extends_the_deadline() {
        let (mut c, now) = conn(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
        c.drive(now);
        assert_eq!(c.deadline(), Some(now + Duration::from_secs(2)));
        let t1 = now + Duration::from_millis(1500);
        c.stream.input.extend_from_slice(b"cd");
        c.drive(t1);
        assert_eq!(c.deadline(), Some(t1 + Duration::from_secs(2)));
        c.on_deadline(t1 + Duration::from_secs(2));
        assert!(written(&mut c).starts_with("HTTP/1.1 408 "));
    }

    #[test]
    fn idle_keep_alive_and_write_deadlines() {
        let (mut c, now) = conn(b"GET / HTTP/1.1\r\n\r\n");
        request(c.drive(now));
        assert_eq!(c.deadline(), None, "no deadline while the app works");
        c.stream.room = 10;
        let t1 = now + Duration::from_millis(100);
        c.respond(Reply::json(200, &serde_json::json!({"k": "v"})), t1);
        assert_eq!(
            c.deadline(),
            Some(t1 + Duration::from_secs(4)),
            "write timeout"
        );
        assert!(matches!(
            c.on_deadline(t1 + Duration::from_secs(4)),
            Step::Close
        ));

        let (mut c, now) = conn(b"GET / HTTP/1.1\r\n\r\n");
        request(c.drive(now));
        c.respond(Reply::new(204), now);
        assert!(c.is_idle_keep_alive());
        assert_eq!(
            c.deadline(),
            Some(now + Duration::from_secs(3)),
            "idle timeout"
        );
        // The first byte of the next request switches to the head timeout.
        c.stream.input.extend_from_slice(b"GE");
        let t2 = now + Duration::from_millis(2500);
        c.drive(t2);
        assert_eq!(c.deadline(), Some(t2 + Duration::from_secs(1)));
    }

    #[test]
    fn peer_half_close_still_gets_its_answer_then_closes() {
        let (mut c, now) = conn(b"GET / HTTP/1.1\r\n\r\n");
        c.stream.eof = true;
        request(c.drive(now));
        c.drive(now);
        c.respond(Reply::new(200), now);
        assert!(written(&mut c).contains("Connection: close"));
    }

    #[test]
    fn upgrade_hands_over_the_owed_101_and_early_frames() {
        let (mut c, now) = conn(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x00");
        request(c.drive(now));
        let mut r = Reply::new(101).header("Sec-WebSocket-Accept", "abc");
        r.upgrade = Some(crate::ws::WsUpgrade {
            peer: c.peer.ip(),
            authorized: true,
        });
        assert!(matches!(c.respond(r, now), Step::Upgrade));
        let (owed, leftover, info) = c.take_upgrade().unwrap();
        let owed = String::from_utf8(owed).unwrap();
        assert!(owed.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(owed.contains("Sec-WebSocket-Accept: abc\r\n"));
        assert!(owed.contains("Upgrade: websocket\r\n"));
        assert_eq!(leftover, b"\x81\x00");
        assert!(info.authorized);
    }

    #[test]
    fn draining_closes_after_the_answer() {
        let (mut c, now) = conn(b"GET / HTTP/1.1\r\n\r\n");
        request(c.drive(now));
        assert!(!c.drain(), "busy: not closed at once");
        c.respond(Reply::new(200), now);
        assert!(written(&mut c).contains("Connection: close"));
        let (mut idle, _) = conn(b"");
        assert!(idle.drain(), "idle: closed at once");
    }
}
