//! The front door's hostile-client cases (`http_adversarial.rs`) again over HTTPS: the real
//! `pulse` binary with a certificate and shrunk timeouts, attacked through TLS from 127.0.0.1
//! while `/api/health` over TLS from another address (127.0.0.2) must keep answering within
//! 2 s, each refusal must be the exact status followed by a close, and threads and memory must
//! come back after.

use crate::support::raw_client::{self, Pulse, ATTACKER, BYSTANDER};
use crate::tls_https::{client, complete, write_cert, Files};
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

const RSS_MARGIN_KB: u64 = 16 * 1024;
const THREAD_MARGIN: u64 = 4;

struct Target {
    p: Pulse,
    cfg: Arc<rustls::ClientConfig>,
    _files: Files,
}

fn start() -> Target {
    raw_client::raise_nofile();
    let f = write_cert("tls-hostile", false);
    let (cert, key) = (f.cert.display().to_string(), f.key.display().to_string());
    let p = Pulse::start(&[
        ("HTTPS_ENABLED", "true"),
        ("TLS_CERT_FILE", &cert),
        ("TLS_KEY_FILE", &key),
        ("PULSE_HTTP_HEAD_TIMEOUT_MS", "1000"),
        ("PULSE_HTTP_BODY_TIMEOUT_MS", "1000"),
        ("PULSE_HTTP_IDLE_TIMEOUT_MS", "2000"),
        ("PULSE_HTTP_WRITE_TIMEOUT_MS", "1000"),
    ]);
    let mut t = Target {
        p,
        cfg: client(&f.der),
        _files: f,
    };
    t.assert_health();
    t
}

impl Target {
    /// A TLS connection from `from`, handshake done.
    fn tls(&self, from: Ipv4Addr, limit: Duration) -> Option<Tls> {
        let tcp = raw_client::connect_from(from, self.p.addr, limit).ok()?;
        tcp.set_read_timeout(Some(limit)).ok()?;
        let conn = rustls::ClientConnection::new(
            self.cfg.clone(),
            ServerName::try_from("localhost").unwrap(),
        )
        .ok()?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).ok()?;
        }
        Some(s)
    }

    /// `/api/health` over TLS from [`BYSTANDER`] answers 200 within 2 s.
    fn assert_health(&mut self) {
        self.p.assert_alive();
        let t0 = Instant::now();
        let limit = Duration::from_secs(2);
        let answer = self.tls(BYSTANDER, limit).map(|mut s| {
            let _ = s.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
            read_until(&mut s, limit, complete).0
        });
        let text = String::from_utf8_lossy(answer.as_deref().unwrap_or_default()).into_owned();
        assert!(
            text.starts_with("HTTP/1.1 200"),
            "/api/health over TLS from another address, after {:?}: {text:?}",
            t0.elapsed()
        );
    }

    /// RSS and threads back near `base` (bounded wait), then health over TLS.
    fn assert_back_to(&mut self, base: (u64, u64)) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut now = self.p.usage();
        while Instant::now() < deadline
            && (now.0 > base.0 + RSS_MARGIN_KB || now.1 > base.1 + THREAD_MARGIN)
        {
            std::thread::sleep(Duration::from_millis(200));
            now = self.p.usage();
        }
        assert!(
            now.0 <= base.0 + RSS_MARGIN_KB,
            "RSS {} KiB, baseline {}",
            now.0,
            base.0
        );
        assert!(
            now.1 <= base.1 + THREAD_MARGIN,
            "{} threads, baseline {}",
            now.1,
            base.1
        );
        self.assert_health();
    }

    fn baseline(&mut self) -> (u64, u64) {
        std::thread::sleep(Duration::from_millis(300));
        self.p.usage()
    }
}

/// Reads until `done(buf)`, EOF, an error or `limit`; returns what came and whether the
/// server closed the connection.
fn read_until(s: &mut Tls, limit: Duration, done: fn(&[u8]) -> bool) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !done(&buf) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.sock.set_read_timeout(Some(left)).is_err() {
            return (buf, false);
        }
        match s.read(&mut chunk) {
            Ok(0) => return (buf, true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                let timed_out = matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
                return (buf, !timed_out);
            }
        }
    }
    (buf, false)
}

fn never(_: &[u8]) -> bool {
    false
}

fn status(buf: &[u8]) -> Option<u16> {
    String::from_utf8_lossy(buf)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Sends `raw` over TLS, then reads to the close: the status, and the close within 5 s.
fn attack(t: &mut Target, case: &str, raw: &[u8], want: u16) {
    let mut s = t
        .tls(ATTACKER, Duration::from_secs(5))
        .expect("TLS connect");
    // The server may answer and close before everything is written.
    let _ = s.write_all(raw);
    let (buf, closed) = read_until(&mut s, Duration::from_secs(5), never);
    assert_eq!(
        status(&buf),
        Some(want),
        "{case}: {:?}",
        String::from_utf8_lossy(&buf)
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("X-Request-ID:"), "{case}: {text}");
    assert!(closed, "{case}: connection left open after the error");
    t.assert_health();
}

#[test]
fn oversized_foreign_and_smuggling_requests_over_tls_get_exact_statuses_and_a_close() {
    let mut t = start();
    let base = t.baseline();
    let big_header = format!(
        "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let mut many = String::from("GET /api/health HTTP/1.1\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let long_url = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("100 KB header", big_header.into_bytes(), 431),
        ("101 headers", many.into_bytes(), 431),
        ("1 MB URL", long_url.into_bytes(), 414),
        (
            "invalid UTF-8 in the target",
            b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "HTTP/2.0 request line",
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(),
            505,
        ),
        (
            "Content-Length with Transfer-Encoding",
            b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two Content-Lengths",
            b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            400,
        ),
        (
            "bad chunk size",
            b"POST /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            400,
        ),
        (
            "10 GB declared body",
            b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n".to_vec(),
            413,
        ),
    ];
    for (case, raw, want) in cases {
        attack(&mut t, case, &raw, want);
    }
    t.assert_back_to(base);
}

#[test]
fn stalled_bodies_silent_and_idle_tls_connections_time_out_while_health_answers() {
    let mut t = start();
    // A body that stops: 408 after the body timeout (1 s).
    let mut stalled = t.tls(ATTACKER, Duration::from_secs(5)).unwrap();
    stalled
        .write_all(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    // Handshake done, then nothing: closed after the head timeout (1 s), no answer.
    let mut silent = t.tls(ATTACKER, Duration::from_secs(5)).unwrap();
    // One answer, then idle: closed after the idle timeout (2 s).
    let mut idle = t.tls(ATTACKER, Duration::from_secs(5)).unwrap();
    idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (first, _) = read_until(&mut idle, Duration::from_secs(5), complete);
    assert_eq!(status(&first), Some(200));
    let t0 = Instant::now();
    t.assert_health();
    let (buf, closed) = read_until(&mut stalled, Duration::from_secs(5), never);
    assert_eq!(
        status(&buf),
        Some(408),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    assert!(closed);
    let (buf, closed) = read_until(&mut silent, Duration::from_secs(5), never);
    assert!(buf.is_empty() && closed, "silent: {buf:?} closed {closed}");
    let (buf, closed) = read_until(&mut idle, Duration::from_secs(6), never);
    assert!(buf.is_empty() && closed, "idle: {buf:?} closed {closed}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    t.assert_health();
}

#[test]
fn hundreds_of_silent_and_half_done_handshakes_keep_threads_flat() {
    let mut t = start();
    let base = t.baseline();
    let mut held = Vec::new();
    for i in 0..400u32 {
        // Spread over several source addresses, under the per-address cap.
        let from = Ipv4Addr::new(127, 0, 1, (i % 8 + 1) as u8);
        let mut s = raw_client::open(from, t.p.addr);
        if i % 4 == 0 {
            // The start of a ClientHello that never completes.
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]);
        }
        held.push(s);
    }
    t.assert_health();
    let (_, threads) = t.p.usage();
    assert!(
        threads <= base.1 + THREAD_MARGIN,
        "{threads} threads with 400 pending handshakes, baseline {}",
        base.1
    );
    // All closed after the head timeout (1 s), none answered.
    let deadline = Instant::now() + Duration::from_secs(6);
    for s in &mut held {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            raw_client::closed_within(s, left),
            "a pending handshake outlived the timeout"
        );
    }
    drop(held);
    t.assert_back_to(base);
}

/// The whole answers at the start of `buf` (Content-Length framed).
fn answers(mut buf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + len {
            break;
        }
        out.push(head);
        buf = &buf[end + 4 + len..];
    }
    out
}

fn three_answers(buf: &[u8]) -> bool {
    answers(buf).len() >= 3
}

#[test]
fn pipelined_requests_over_tls_are_answered_in_order() {
    let mut t = start();
    let mut s = t.tls(ATTACKER, Duration::from_secs(5)).unwrap();
    let ids = ["first", "second", "third"];
    let mut raw = Vec::new();
    for id in ids {
        raw.extend_from_slice(
            format!("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Request-ID: {id}\r\n\r\n").as_bytes(),
        );
    }
    s.write_all(&raw).unwrap();
    let (buf, _) = read_until(&mut s, Duration::from_secs(5), three_answers);
    let got = answers(&buf);
    assert_eq!(got.len(), 3, "{:?}", String::from_utf8_lossy(&buf));
    for (head, id) in got.iter().zip(ids) {
        assert!(head.starts_with("HTTP/1.1 200"), "{id}: {head}");
        assert!(
            head.contains(&format!("X-Request-ID: {id}")),
            "{id}: {head}"
        );
    }
    t.assert_health();
}
