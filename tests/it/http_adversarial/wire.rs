//! The two transports the hostile-client suite runs over: plain TCP, or TLS (a rustls client
//! over TCP) to a Pulse started with `HTTPS_ENABLED` and a self-signed certificate. A case
//! opens [`Wire`]s through a [`Connector`] and sends the same bytes either way; only what
//! carries them differs.
//!
//! The TLS client is full duplex ([`TlsWire`]): while a write waits for the server to take
//! more, it keeps reading, so a case can write a megabyte the server refuses after 16 KiB and
//! still read the refusal (the plain client does this with a writer thread on a cloned
//! socket, which a TLS session cannot be split into).

use crate::support::raw_client::{self, Pulse, Resp, Timed, BYSTANDER};
use crate::tls_https::{client, write_cert, Files};
use rustls::pki_types::ServerName;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

/// A client connection over either transport.
pub enum Wire {
    Plain(TcpStream),
    Tls(Box<TlsWire>),
}

impl Wire {
    pub fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.set_write_timeout(t),
            Wire::Tls(s) => {
                s.write_timeout = t;
                Ok(())
            }
        }
    }

    /// TLS only: whether a blocked write keeps reading meanwhile (on by default). Off for a
    /// client that must look like it never reads (its receive window fills up).
    pub fn set_duplex(&mut self, on: bool) {
        if let Wire::Tls(s) = self {
            s.duplex = on;
        }
    }

    /// Closes the client's sending side and keeps reading: a TCP FIN, preceded over TLS by a
    /// close_notify (a clean end of what the client sends, not a truncation).
    pub fn shutdown_write(&mut self) {
        match self {
            Wire::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            Wire::Tls(s) => {
                s.conn.send_close_notify();
                let _ = s.flush_until(Some(Instant::now() + Duration::from_secs(5)));
                let _ = s.sock.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    /// TLS only: the server's close (or a failure) has been seen while writing.
    pub fn peer_closed(&self) -> bool {
        match self {
            Wire::Plain(_) => false,
            Wire::Tls(s) => s.eof || s.read_err.is_some(),
        }
    }

    /// Without waiting: the server has not closed the connection (no EOF, no error yet).
    /// Whatever it sent meanwhile (TLS session tickets) is read and dropped.
    pub fn is_open(&mut self) -> bool {
        match self {
            Wire::Plain(s) => {
                let _ = s.set_nonblocking(true);
                let mut b = [0u8; 512];
                let open = loop {
                    match s.read(&mut b) {
                        Ok(0) => break false,
                        Ok(_) => continue,
                        Err(e) => break e.kind() == ErrorKind::WouldBlock,
                    }
                };
                let _ = s.set_nonblocking(false);
                open
            }
            Wire::Tls(s) => {
                s.turn(Some(Instant::now()), true);
                s.plain_in.clear();
                !s.eof && s.read_err.is_none()
            }
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
        }
    }
}

impl Timed for Wire {
    fn set_read_limit(&mut self, limit: Option<Duration>) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.set_read_timeout(limit),
            Wire::Tls(s) => {
                s.read_timeout = limit;
                Ok(())
            }
        }
    }
}

/// A rustls client session over a non-blocking socket, driven with `poll`, that behaves like
/// a blocking stream with read and write timeouts.
pub struct TlsWire {
    conn: rustls::ClientConnection,
    sock: TcpStream,
    /// Decrypted bytes not yet read by the caller.
    plain_in: Vec<u8>,
    /// The server closed (close_notify or TCP EOF).
    eof: bool,
    /// Reading failed (reset, TLS error): nothing more will come.
    read_err: Option<ErrorKind>,
    /// Writing failed (reset, broken pipe); what was already received may still be read.
    write_err: Option<ErrorKind>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    duplex: bool,
}

impl TlsWire {
    /// The handshake over `tcp`, done within `limit`.
    pub fn handshake(
        tcp: TcpStream,
        cfg: Arc<rustls::ClientConfig>,
        limit: Duration,
    ) -> io::Result<TlsWire> {
        tcp.set_nonblocking(true)?;
        let conn = rustls::ClientConnection::new(cfg, ServerName::try_from("localhost").unwrap())
            .map_err(io::Error::other)?;
        let mut w = TlsWire {
            conn,
            sock: tcp,
            plain_in: Vec::new(),
            eof: false,
            read_err: None,
            write_err: None,
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            duplex: true,
        };
        let deadline = Instant::now() + limit;
        while w.conn.is_handshaking() {
            if let Some(k) = w.read_err.or(w.write_err) {
                return Err(k.into());
            }
            if w.eof {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            if !w.turn(Some(deadline), true) {
                return Err(ErrorKind::TimedOut.into());
            }
        }
        w.flush_until(Some(deadline))?;
        Ok(w)
    }

    /// One wait on the socket (until `deadline`) for what can move, then moves it: records out
    /// while rustls has some, records in when `read` (and the server has not closed). False
    /// when the deadline passed with nothing to do.
    fn turn(&mut self, deadline: Option<Instant>, read: bool) -> bool {
        let read = read && !self.eof && self.read_err.is_none();
        let write = self.conn.wants_write() && self.write_err.is_none();
        if !read && !write {
            return true;
        }
        let mut events = 0;
        if read {
            events |= libc::POLLIN;
        }
        if write {
            events |= libc::POLLOUT;
        }
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: poll on one descriptor this struct owns.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n == 0 {
            return false;
        }
        if n < 0 {
            return true; // EINTR: the caller's loop tries again
        }
        let closing = pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0;
        if read && (pfd.revents & libc::POLLIN != 0 || closing) {
            self.read_records();
        }
        if write && (pfd.revents & libc::POLLOUT != 0 || closing) {
            self.write_records();
        }
        true
    }

    fn read_records(&mut self) {
        loop {
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(_) => {
                    let processed = self.conn.process_new_packets();
                    // What came before a bad record is still the server's answer.
                    let mut chunk = [0u8; 16 * 1024];
                    loop {
                        match self.conn.reader().read(&mut chunk) {
                            Ok(0) => {
                                self.eof = true;
                                return;
                            }
                            Ok(n) => self.plain_in.extend_from_slice(&chunk[..n]),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(_) => {
                                self.eof = true;
                                return;
                            }
                        }
                    }
                    if processed.is_err() {
                        // Plain bytes where records belong (e.g. a refusal written before
                        // any handshake), or a fatal alert: the session is over.
                        self.read_err = Some(ErrorKind::InvalidData);
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.read_err = Some(e.kind());
                    return;
                }
            }
        }
    }

    fn write_records(&mut self) {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.write_err = Some(e.kind());
                    return;
                }
            }
        }
    }

    /// Until rustls has handed every record to the kernel (or `deadline`: `TimedOut`).
    fn flush_until(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            if let Some(k) = self.write_err {
                return Err(k.into());
            }
            if !self.conn.wants_write() {
                return Ok(());
            }
            if !self.turn(deadline, self.duplex) {
                return Err(ErrorKind::TimedOut.into());
            }
        }
    }

    fn deadline(t: Option<Duration>) -> Option<Instant> {
        t.map(|t| Instant::now() + t)
    }
}

impl Read for TlsWire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Self::deadline(self.read_timeout);
        loop {
            if !self.plain_in.is_empty() {
                let n = buf.len().min(self.plain_in.len());
                buf[..n].copy_from_slice(&self.plain_in[..n]);
                self.plain_in.drain(..n);
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            if let Some(k) = self.read_err {
                return Err(k.into());
            }
            if !self.turn(deadline, true) {
                // What a socket read timeout gives on Linux.
                return Err(ErrorKind::WouldBlock.into());
            }
        }
    }
}

impl Write for TlsWire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = Self::deadline(self.write_timeout);
        // At most one buffer's worth ahead of the kernel, as a socket would.
        self.flush_until(deadline)?;
        let n = self.conn.writer().write(&buf[..buf.len().min(64 * 1024)])?;
        self.flush_until(deadline)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_until(Self::deadline(self.write_timeout))
    }
}

/// Opens connections to one server over one transport; cheap to clone into attack threads.
#[derive(Clone)]
pub struct Connector {
    pub addr: SocketAddr,
    pub transport: Transport,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Connector {
    /// A connection from `from`: TCP connected and, over TLS, the handshake done, within
    /// `limit`.
    pub fn connect(&self, from: Ipv4Addr, limit: Duration) -> io::Result<Wire> {
        let tcp = raw_client::connect_from(from, self.addr, limit)?;
        self.wrap(tcp, limit)
    }

    /// `tcp` as this transport's connection (the TLS handshake done within `limit`).
    pub fn wrap(&self, tcp: TcpStream, limit: Duration) -> io::Result<Wire> {
        match &self.tls {
            None => Ok(Wire::Plain(tcp)),
            Some(cfg) => {
                TlsWire::handshake(tcp, cfg.clone(), limit).map(|t| Wire::Tls(Box::new(t)))
            }
        }
    }

    pub fn open(&self, from: Ipv4Addr) -> Wire {
        self.connect(from, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect over {:?}: {e}", self.transport))
    }

    /// Sends `raw` on a fresh connection from `from` and reads one response within `limit`.
    /// Writing may fail half way (the server answers and closes early): not an error.
    pub fn exchange(&self, from: Ipv4Addr, raw: &[u8], limit: Duration) -> Option<Resp> {
        let mut s = self.connect(from, limit).ok()?;
        let _ = s.write_all(raw);
        raw_client::read_response(&mut s, &mut Vec::new(), false, limit)
    }

    /// Sends `raw` from `from` while reading (the server may answer and close before taking
    /// it all) and reads one response within `limit`; returns it and the connection.
    pub fn send_and_read(
        &self,
        from: Ipv4Addr,
        raw: Vec<u8>,
        limit: Duration,
    ) -> (Option<Resp>, Wire) {
        if self.tls.is_none() {
            let (r, s) = raw_client::send_and_read(self.addr, from, raw, limit);
            return (r, Wire::Plain(s));
        }
        // The TLS client reads while its writes wait: one thread does both.
        let mut s = self.open(from);
        let _ = s.set_write_timeout(Some(limit));
        for piece in raw.chunks(64 * 1024) {
            // Once the server has answered and shut its side, the rest would only feed its
            // lingering close (2 s at most): a plain socket takes that in at memory speed,
            // rustls in a debug build does not, and the answer is already here.
            if s.write_all(piece).is_err() || s.peer_closed() {
                break;
            }
        }
        let r = raw_client::read_response(&mut s, &mut Vec::new(), false, limit);
        (r, s)
    }

    /// `GET /api/health` on a fresh connection from `from`: the status, if it came in `limit`.
    pub fn health_from(&self, from: Ipv4Addr, limit: Duration) -> Option<u16> {
        let raw = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        self.exchange(from, raw, limit).map(|r| r.status)
    }

    /// A WebSocket client (tungstenite) on `wire` (`ws://` or `wss://`).
    pub fn ws(
        &self,
        wire: Wire,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<tungstenite::WebSocket<Wire>, tungstenite::Error> {
        use tungstenite::client::IntoClientRequest;
        let scheme = match self.transport {
            Transport::Plain => "ws",
            Transport::Tls => "wss",
        };
        let mut req =
            format!("{scheme}://localhost:{}{path}", self.addr.port()).into_client_request()?;
        for (k, v) in headers {
            req.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                tungstenite::http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut wire = wire;
        wire.set_read_limit(Some(Duration::from_secs(20)))?;
        tungstenite::client(req, wire)
            .map(|(ws, _)| ws)
            .map_err(|e| match e {
                tungstenite::HandshakeError::Failure(e) => e,
                tungstenite::HandshakeError::Interrupted(_) => tungstenite::Error::ConnectionClosed,
            })
    }
}

/// A `pulse` process serving one transport, and a [`Connector`] for it.
pub struct Server {
    pub p: Pulse,
    pub c: Connector,
    _files: Option<Files>,
}

impl Server {
    /// Starts the binary with `env`; over TLS with `HTTPS_ENABLED` and a fresh self-signed
    /// certificate for `localhost`.
    pub fn start(transport: Transport, env: &[(&str, &str)]) -> Server {
        raw_client::raise_nofile();
        let files = (transport == Transport::Tls).then(|| write_cert("hostile", false));
        let mut vars: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(f) = &files {
            vars.push(("HTTPS_ENABLED".into(), "true".into()));
            vars.push(("TLS_CERT_FILE".into(), f.cert.display().to_string()));
            vars.push(("TLS_KEY_FILE".into(), f.key.display().to_string()));
        }
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = Pulse::start(&pairs);
        let c = Connector {
            addr: p.addr,
            transport,
            tls: files.as_ref().map(|f| client(&f.der)),
        };
        Server {
            p,
            c,
            _files: files,
        }
    }

    /// `/api/health` over this transport from [`BYSTANDER`] answers 200 within 2 s (the
    /// generous liveness bound; `make bench` measures the real figure).
    pub fn assert_health(&mut self) {
        self.p.assert_alive();
        let t0 = Instant::now();
        let status = self.c.health_from(BYSTANDER, Duration::from_secs(2));
        assert_eq!(
            status,
            Some(200),
            "/api/health over {:?} from another address did not answer 200 within 2 s (took {:?})",
            self.c.transport,
            t0.elapsed()
        );
    }

    /// RSS and threads back near `baseline` (bounded wait), then health.
    pub fn assert_back_to(&mut self, baseline: (u64, u64), rss_margin_kb: u64, threads: u64) {
        self.p.assert_settled(baseline, rss_margin_kb, threads);
        self.assert_health();
    }

    /// Runs `attack` on a thread while this thread checks health every 200 ms until the
    /// attack is over; returns the attack's result.
    pub fn during<T: Send + 'static>(&mut self, attack: impl FnOnce() -> T + Send + 'static) -> T {
        let h = std::thread::spawn(attack);
        while !h.is_finished() {
            self.assert_health();
            std::thread::sleep(Duration::from_millis(200));
        }
        h.join().expect("attack thread")
    }
}
