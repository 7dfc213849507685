//! The loop-native HTTP/1.1 server over real TCP on 127.0.0.1: keep-alive, pipelining in
//! order, HEAD, `Expect: 100-continue`, chunked bodies, deferred answers, big shared bodies to
//! many clients, timeouts (head, body, idle, slow reader), connection caps with eviction,
//! graceful shutdown, and the WebSocket upgrade's rate limit and control-frame bound.

use crate::support;
use crate::support::auth as auth_common;

use pulse::core::app::App;
use pulse::core::outcome::Outcome;
use pulse::http::reply::Reply;
use pulse::http::request::Method;
use pulse::http::router::{Access, Csrf, Ctx, Route};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{ws_connect, ws_next, TestServer};

/// One response read off a keep-alive connection (exactly its bytes, nothing more).
#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one response; `head_only` for answers to HEAD (no body follows).
fn read_resp(s: &mut TcpStream, head_only: bool) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            other => panic!(
                "connection ended inside a head ({other:?}): {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut r = Resp {
        status,
        head,
        body: Vec::new(),
    };
    if !head_only {
        let len: usize = r
            .header("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        r.body = vec![0; len];
        s.read_exact(&mut r.body).unwrap();
    }
    r
}

/// True when the server closed the connection (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn echo(_: &mut App, ctx: &Ctx) -> Outcome {
    Reply::json(
        200,
        &serde_json::json!({ "len": ctx.req.body.len(), "body": String::from_utf8_lossy(&ctx.req.body) }),
    )
    .into()
}

fn slow(_: &mut App, ctx: &Ctx) -> Outcome {
    let ms: u64 = ctx
        .req
        .query_param("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(800);
    Outcome::defer(
        move || {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        },
        |_, ms| Reply::json(200, &serde_json::json!({ "slept": ms })),
    )
}

fn probes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/test/echo",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: echo,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/test/slow",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: slow,
        },
    ]
}

fn server(env: &[(&str, &str)]) -> TestServer {
    TestServer::start_with(env, probes())
}

/// Open HTTP connections as the loop sees them.
fn open_conns(s: &TestServer) -> usize {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| tx.send(app.http_connections()).unwrap());
    rx.recv().unwrap()
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connection from another loopback address (all of 127/8 is local on Linux).
fn connect_from(src: [u8; 4], addr: SocketAddr) -> TcpStream {
    use std::os::unix::io::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let sa = |ip: u32, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: ip.to_be() },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor we create and then hand to TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let local = sa(u32::from(std::net::Ipv4Addr::from(src)), 0);
        let rc = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind source address");
        let remote = sa(u32::from(*v4.ip()), v4.port());
        let rc = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect");
        let s = TcpStream::from_raw_fd(fd);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

#[test]
fn keep_alive_serves_many_requests_then_honours_close() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    for _ in 0..5 {
        c.write_all(get("/api/health").as_bytes()).unwrap();
        let r = read_resp(&mut c, false);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None, "keep-alive is the default");
        assert!(r.header("x-request-id").is_some());
    }
    assert_eq!(open_conns(&s), 1, "one connection served all five");
    c.write_all(b"GET /api/health HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert!(closed_within(&mut c, Duration::from_secs(2)));

    // HTTP/1.0 closes unless asked to keep alive.
    let mut c = connect(s.addr);
    c.write_all(b"GET /api/health HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);
    assert!(closed_within(&mut c, Duration::from_secs(2)));
    let mut c = connect(s.addr);
    c.write_all(b"GET /api/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection").as_deref(), Some("keep-alive"));
    c.write_all(b"GET /api/version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    // A slow deferred answer first: the quick ones behind it must wait their turn.
    let mut burst = String::new();
    for (i, path) in [
        "/api/test/slow?ms=300",
        "/api/health",
        "/api/nope",
        "/api/version",
    ]
    .iter()
    .enumerate()
    {
        burst.push_str(&format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nX-Request-ID: req-{i}\r\n\r\n"
        ));
    }
    burst.push_str(
        "POST /api/test/echo HTTP/1.1\r\nContent-Length: 5\r\nX-Request-ID: req-4\r\n\r\nhello",
    );
    c.write_all(burst.as_bytes()).unwrap();
    let statuses: Vec<(u16, String)> = (0..5)
        .map(|_| {
            let r = read_resp(&mut c, false);
            (r.status, r.header("x-request-id").unwrap())
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (200, "req-0".to_string()),
            (200, "req-1".to_string()),
            (404, "req-2".to_string()),
            (200, "req-3".to_string()),
            (200, "req-4".to_string()),
        ]
    );
}

#[test]
fn head_gets_the_get_headers_and_no_body() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    c.write_all(get("/api/version").as_bytes()).unwrap();
    let full = read_resp(&mut c, false);
    c.write_all(b"HEAD /api/version HTTP/1.1\r\n\r\n").unwrap();
    let head = read_resp(&mut c, true);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(full.body.len().to_string())
    );
    assert_eq!(head.header("content-type"), full.header("content-type"));
    // No body was sent: the next answer starts right where the HEAD answer ended.
    c.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);
}

#[test]
fn expect_100_continue_comes_before_the_body_is_read() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    c.write_all(
        b"POST /api/test/echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = read_resp(&mut c, true);
    assert_eq!(interim.status, 100);
    assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"hello").unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "hello");

    // Too large: 413 at once, no 100, closed.
    let mut c = connect(s.addr);
    c.write_all(
        b"POST /api/test/echo HTTP/1.1\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].is_string());
    assert!(closed_within(&mut c, Duration::from_secs(3)));

    // Any other expectation: 417.
    let mut c = connect(s.addr);
    c.write_all(b"POST /api/test/echo HTTP/1.1\r\nContent-Length: 1\r\nExpect: fancy\r\n\r\nx")
        .unwrap();
    assert_eq!(read_resp(&mut c, false).status, 417);
}

#[test]
fn chunked_bodies_are_decoded_and_counted() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    // Sent in pieces, with an extension and a trailer.
    let parts: [&[u8]; 4] = [
        b"POST /api/test/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"lo\r\n6;ext=1\r\n wor",
        b"ld\r\n0\r\nX-Trailer: yes\r\n",
        b"\r\n",
    ];
    for p in parts {
        c.write_all(p).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "hello world");
    // Still usable afterwards.
    c.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);

    // Past 1 MiB while decoding: 413.
    let mut c = connect(s.addr);
    c.write_all(b"POST /api/test/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 300_000, "a".repeat(300_000));
    let mut status = None;
    for _ in 0..4 {
        if c.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    if let Ok(()) = c.flush() {
        status = Some(read_resp(&mut c, false).status);
    }
    assert_eq!(status, Some(413));

    // A malformed chunk size: 400.
    let mut c = connect(s.addr);
    c.write_all(b"POST /api/test/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        .unwrap();
    assert_eq!(read_resp(&mut c, false).status, 400);
}

#[test]
fn contract_statuses_on_the_wire() {
    let s = server(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    let big_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "b".repeat(17_000));
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (long_line.into_bytes(), 414),
        (big_head.into_bytes(), 431),
        (b"GET / HTTP/2.0\r\n\r\n".to_vec(), 505),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 505),
        (vec![0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00], 400),
        (b"GET /\xff HTTP/1.1\r\n\r\n".to_vec(), 400),
        (
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello".to_vec(),
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n".to_vec(),
            400,
        ),
        (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n".to_vec(), 400),
        (
            b"POST /api/login HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n".to_vec(),
            413,
        ),
    ];
    for (raw, want) in cases {
        let mut c = connect(s.addr);
        let _ = c.write_all(&raw);
        let r = read_resp(&mut c, false);
        assert_eq!(
            r.status,
            want,
            "{:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(40)])
        );
        assert!(r.json()["error"].is_string());
        assert!(r.header("x-request-id").is_some());
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(r.header("connection").as_deref(), Some("close"));
        assert!(
            closed_within(&mut c, Duration::from_secs(3)),
            "{want}: closed after"
        );
    }
    assert_eq!(s.get("/api/health").status, 200, "still serving");
}

#[test]
fn deferred_answers_reach_their_connection_or_are_dropped() {
    let s = server(&[]);
    // A client that leaves before its deferred answer: the answer is simply dropped.
    let mut gone = connect(s.addr);
    gone.write_all(get("/api/test/slow?ms=300").as_bytes())
        .unwrap();
    drop(gone);
    // Deferred answers for live connections arrive, on each one's own connection.
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let ms = 100 + i * 50;
                c.write_all(get(&format!("/api/test/slow?ms={ms}")).as_bytes())
                    .unwrap();
                let r = read_resp(&mut c, false);
                assert_eq!(r.status, 200);
                assert_eq!(r.json()["slept"], ms);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(s.get("/api/health").status, 200);
}

#[test]
fn big_shared_body_goes_to_many_clients() {
    let s = server(&[]);
    let pad: String = (0..600_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let state = format!(r#"{{"pad":"{pad}"}}"#);
    let expected = state.clone().into_bytes();
    s.apply(move |app| app.publish_state(state.into_bytes()));
    // Nothing computes the gzip yet: the first gzip reader has a worker compute it once (never
    // on the loop), and every gzip reader, that one included, gets it compressed.
    let ready = |s: &TestServer| {
        let (tx, rx) = std::sync::mpsc::channel();
        s.apply(move |app| {
            tx.send(app.state_body().gzipped_if_ready().is_some())
                .unwrap()
        });
        rx.recv().unwrap()
    };
    assert!(!ready(&s), "gzip computed before anyone asked");
    let clients: Vec<_> = (0..24)
        .map(|i| {
            let addr = s.addr;
            let expected = expected.clone();
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let gzip = i % 2 == 0;
                let ae = if gzip {
                    "Accept-Encoding: gzip\r\n"
                } else {
                    ""
                };
                for _ in 0..2 {
                    c.write_all(format!("GET /api/state HTTP/1.1\r\n{ae}\r\n").as_bytes())
                        .unwrap();
                    let r = read_resp(&mut c, false);
                    assert_eq!(r.status, 200);
                    let body = if gzip {
                        assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&r.body[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        out
                    } else {
                        r.body
                    };
                    assert!(body == expected, "client {i}: body differs");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert!(ready(&s), "computed once and kept for later readers");
}

#[test]
fn timeouts_head_body_idle_and_slow_reader() {
    let s = server(&[
        ("PULSE_HTTP_HEAD_TIMEOUT_MS", "300"),
        ("PULSE_HTTP_BODY_TIMEOUT_MS", "300"),
        ("PULSE_HTTP_IDLE_TIMEOUT_MS", "300"),
        ("PULSE_HTTP_WRITE_TIMEOUT_MS", "400"),
    ]);
    // Part of a head, then nothing: 408 and close.
    let mut c = connect(s.addr);
    c.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 408);
    assert!(r.json()["error"].is_string());
    assert!(closed_within(&mut c, Duration::from_secs(3)));

    // Nothing at all: closed silently.
    let mut silent = connect(s.addr);
    let mut b = [0u8; 16];
    assert_eq!(silent.read(&mut b).unwrap_or(0), 0, "closed without a byte");

    // A body that stalls: 408.
    let mut c = connect(s.addr);
    c.write_all(b"POST /api/test/echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    assert_eq!(read_resp(&mut c, false).status, 408);

    // Idle keep-alive: closed after the idle timeout.
    let mut c = connect(s.addr);
    c.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);
    let t = Instant::now();
    assert!(closed_within(&mut c, Duration::from_secs(3)));
    assert!(t.elapsed() >= Duration::from_millis(250));

    // A client that asks for a big body and never reads: dropped after the write timeout.
    let pad = "x".repeat(8 << 20);
    s.apply(move |app| app.publish_state(format!(r#"{{"pad":"{pad}"}}"#).into_bytes()));
    let mut stalled = support::tiny_window_stream(s.addr);
    stalled
        .write_all(b"GET /api/state HTTP/1.1\r\n\r\n")
        .unwrap();
    wait_until(
        "the stalled reader to be dropped",
        Duration::from_secs(5),
        || open_conns(&s) == 0,
    );
    assert_eq!(s.get("/api/health").status, 200);
}

#[test]
fn per_address_cap_refuses_and_other_addresses_still_get_answers() {
    let s = server(&[("PULSE_HTTP_MAX_CONNECTIONS_PER_IP", "3")]);
    let held: Vec<TcpStream> = (0..3)
        .map(|_| connect_from([127, 0, 0, 7], s.addr))
        .collect();
    wait_until("three connections", Duration::from_secs(2), || {
        open_conns(&s) == 3
    });
    let mut refused = connect_from([127, 0, 0, 7], s.addr);
    let mut buf = Vec::new();
    let _ = refused.read_to_end(&mut buf);
    assert!(
        buf.is_empty() || buf.starts_with(b"HTTP/1.1 503"),
        "refused: {:?}",
        String::from_utf8_lossy(&buf)
    );
    // Another address is served promptly.
    let t = Instant::now();
    let mut other = connect_from([127, 0, 0, 8], s.addr);
    other.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut other, false).status, 200);
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(held);
    // Room again once they leave.
    wait_until(
        "the held connections to close",
        Duration::from_secs(2),
        || open_conns(&s) <= 1,
    );
    let mut again = connect_from([127, 0, 0, 7], s.addr);
    again.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut again, false).status, 200);
}

#[test]
fn total_cap_evicts_oldest_idle_keep_alive_first() {
    let s = server(&[("PULSE_HTTP_MAX_CONNECTIONS", "3")]);
    // Three idle keep-alive connections, oldest first.
    let mut idle: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = connect(s.addr);
            c.write_all(get("/api/health").as_bytes()).unwrap();
            assert_eq!(read_resp(&mut c, false).status, 200);
            std::thread::sleep(Duration::from_millis(30));
            c
        })
        .collect();
    // A fourth: the oldest idle one is closed to make room, the new one is served.
    let mut fresh = connect(s.addr);
    fresh.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut fresh, false).status, 200);
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(2)),
        "oldest evicted"
    );
    idle[2].write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut idle[2], false).status, 200, "newer kept");

    // With nothing idle to evict (all busy with unfinished heads), new ones are refused.
    let s = server(&[("PULSE_HTTP_MAX_CONNECTIONS", "2")]);
    let busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect(s.addr);
            c.write_all(b"GET /api/health HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    wait_until("two connections", Duration::from_secs(2), || {
        open_conns(&s) == 2
    });
    let mut refused = connect(s.addr);
    let mut buf = Vec::new();
    let _ = refused.read_to_end(&mut buf);
    assert!(buf.is_empty() || buf.starts_with(b"HTTP/1.1 503"));
    drop(busy);
}

#[test]
fn shutdown_finishes_in_flight_answers() {
    let s = server(&[]);
    let addr = s.addr;
    let client = std::thread::spawn(move || {
        let mut c = connect(addr);
        c.write_all(get("/api/test/slow?ms=600").as_bytes())
            .unwrap();
        read_resp(&mut c, false)
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    s.stop();
    let r = client.join().unwrap();
    assert_eq!(r.status, 200, "answered during the drain");
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}

#[test]
fn signed_in_reloads_keep_the_feed_while_anonymous_floods_are_limited() {
    let s = auth_common::start_with_admin(&[]);
    let browser = auth_common::login(&s);
    let cookie = browser.cookie_header();
    for i in 0..12 {
        let mut ws = ws_connect(s.addr, "/ws", &[("Cookie", &cookie)])
            .unwrap_or_else(|e| panic!("reload {i}: {e}"));
        assert_eq!(ws_next(&mut ws)["type"], "welcome", "reload {i}");
        assert_eq!(ws_next(&mut ws)["type"], "initialState");
    }
    // Anonymous handshakes from the same address count: the sixth in a minute is refused.
    for _ in 0..5 {
        assert!(ws_connect(s.addr, "/ws", &[]).is_ok());
    }
    match ws_connect(s.addr, "/ws", &[]) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 429),
        other => panic!("anonymous flood not limited: {:?}", other.map(|_| ())),
    }
}

#[test]
fn ping_flood_from_a_client_that_never_reads_gets_it_dropped() {
    let s = server(&[]);
    let stream = support::tiny_window_stream(s.addr);
    let mut ws = support::ws_connect_on(stream, s.addr, "/ws", &[]).unwrap();
    ws.get_mut()
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let payload = vec![b'p'; 125];
    let t = Instant::now();
    let mut sent = 0;
    // Well inside the hub's 10 s stall timeout: the bounded pong queue is what drops it.
    while t.elapsed() < Duration::from_secs(7) {
        if ws
            .send(tungstenite::Message::Ping(payload.clone().into()))
            .is_err()
        {
            break;
        }
        sent += 1;
        if sent % 1000 == 0 {
            let (tx, rx) = std::sync::mpsc::channel();
            s.apply(move |app| tx.send(app.hub().dropped_total).unwrap());
            if rx.recv().unwrap() > 0 {
                break;
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| tx.send((app.hub().len(), app.hub().dropped_total)).unwrap());
    let (clients, dropped) = rx.recv().unwrap();
    assert_eq!((clients, dropped), (0, 1), "after {sent} pings");
    assert!(t.elapsed() < Duration::from_secs(8));
}

#[test]
fn deferred_work_past_30_s_gets_504_and_the_late_result_is_dropped() {
    let s = server(&[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let t = Instant::now();
    c.write_all(get("/api/test/slow?ms=31500").as_bytes())
        .unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 504);
    assert!(r.json()["error"].is_string());
    assert!(t.elapsed() >= Duration::from_secs(29), "{:?}", t.elapsed());
    // The connection goes on; the worker's late result finds nothing to answer.
    c.write_all(get("/api/health").as_bytes()).unwrap();
    assert_eq!(read_resp(&mut c, false).status, 200);
    std::thread::sleep(Duration::from_secs(2));
    c.write_all(get("/api/version").as_bytes()).unwrap();
    let r = read_resp(&mut c, false);
    assert_eq!(r.status, 200);
    assert!(
        r.json().get("slept").is_none(),
        "not the late deferred answer"
    );
}
