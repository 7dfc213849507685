//! The front door under attack (issue #19): each case runs the real `pulse` binary, attacks it
//! from 127.0.0.1 (or other loopback addresses), and asserts
//! 1. `/api/health` from another address (127.0.0.2) keeps answering within 2 s,
//! 2. the process neither dies nor leaks (RSS and threads back near the baseline after),
//! 3. the exact status of the front-door contract (every error is JSON `{"error"}` with an
//!    `X-Request-ID`, and the connection is closed after it).
//!
//! The limits are shrunk through their environment variables (1 s head/body/write timeouts)
//! so the suite stays fast; every loop is bounded in count and in time.

use crate::support;
use crate::support::raw_client;

use raw_client::*;
use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// RSS may grow this much over the baseline (KiB) and still count as "back".
const RSS_MARGIN_KB: u64 = 16 * 1024;
const THREAD_MARGIN: u64 = 4;
const ANSWER: Duration = Duration::from_secs(10);

const SHRUNK: [(&str, &str); 4] = [
    ("PULSE_HTTP_HEAD_TIMEOUT_MS", "1000"),
    ("PULSE_HTTP_BODY_TIMEOUT_MS", "1000"),
    ("PULSE_HTTP_IDLE_TIMEOUT_MS", "2000"),
    ("PULSE_HTTP_WRITE_TIMEOUT_MS", "1000"),
];

const TOKEN: &str = "adversarial-monitoring-token-01";
const PASSWORD: &str = "correct horse battery";

fn start(extra: &[(&str, &str)]) -> Pulse {
    let mut env: Vec<(&str, &str)> = SHRUNK.to_vec();
    for (k, v) in extra {
        env.retain(|(kk, _)| kk != k);
        env.push((k, v));
    }
    let mut p = Pulse::start(&env);
    p.assert_health();
    p
}

/// A server with an admin account (bcrypt cost 4: fast) and an API token.
fn start_with_admin(extra: &[(&str, &str)]) -> Pulse {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let mut env = vec![
        ("PULSE_AUTH_USER", "admin"),
        ("PULSE_AUTH_PASS", hash.as_str()),
        ("API_TOKENS", TOKEN),
    ];
    env.extend_from_slice(extra);
    start(&env)
}

/// Settles, then reads (RSS KiB, threads).
fn baseline(p: &mut Pulse) -> (u64, u64) {
    for _ in 0..3 {
        p.assert_health();
    }
    std::thread::sleep(Duration::from_millis(300));
    p.usage()
}

/// An error answer as the contract wants it: `status`, JSON `{"error": "..."}`, a request id.
fn assert_error(r: &Option<Resp>, status: u16, case: &str) {
    let r = r
        .as_ref()
        .unwrap_or_else(|| panic!("{case}: no answer within {ANSWER:?}"));
    assert_eq!(r.status, status, "{case}: {}", r.head);
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("{case}: body is not JSON: {:?}", r.body));
    assert!(v["error"].is_string(), "{case}: {v}");
    assert!(
        r.header("x-request-id").is_some(),
        "{case}: no X-Request-ID"
    );
}

/// After an error answer the connection is closed, and nothing more is answered on it.
fn assert_closed_quietly(s: &mut TcpStream, case: &str) {
    let rest = rest_until_close(s, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{case}: connection left open after the error answer"));
    assert!(
        !String::from_utf8_lossy(&rest).contains("HTTP/"),
        "{case}: a request after the error was answered: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// Sends each case on its own connection from 127.0.0.1, checks the status and the close, and
/// health from another address after each.
fn run_cases(p: &mut Pulse, cases: Vec<(&str, Vec<u8>, u16)>) {
    for (case, raw, status) in cases {
        let (r, mut s) = send_and_read(p.addr, ATTACKER, raw, ANSWER);
        assert_error(&r, status, case);
        assert_closed_quietly(&mut s, case);
        p.assert_health();
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: pulse\r\n\r\n")
}

/// 100 KB header, 10,000 headers, 1 MB URL, invalid UTF-8, TLS bytes, HTTP/2 prefaces.
#[test]
fn oversized_and_foreign_requests_get_exact_statuses_and_a_close() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let big_header = format!(
        "GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let mut many = String::from("GET /api/health HTTP/1.1\r\nHost: pulse\r\n");
    for i in 0..10_000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    // 101 short headers: under 16 KiB, over the count limit.
    let mut hundred_one = String::from("GET /api/health HTTP/1.1\r\n");
    for i in 0..101 {
        hundred_one.push_str(&format!("X-H{i}: v\r\n"));
    }
    hundred_one.push_str("\r\n");
    let long_url = format!(
        "GET /{} HTTP/1.1\r\nHost: pulse\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let url_9k = format!(
        "GET /{} HTTP/1.1\r\nHost: pulse\r\n\r\n",
        "b".repeat(9 * 1024)
    );
    // The start of a real TLS 1.2 ClientHello (record header, handshake header, version,
    // random...), as a browser sends to https:// on the plain port.
    let mut tls = vec![
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    ];
    tls.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    tls.extend_from_slice(&[0x00, 0x00, 0x20, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e]);
    tls.extend(std::iter::repeat_n(0u8, 140));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("100 KB header", big_header.into_bytes(), 431),
        ("10,000 headers", many.into_bytes(), 431),
        ("101 headers", hundred_one.into_bytes(), 431),
        ("1 MB URL", long_url.into_bytes(), 414),
        ("9 KiB URL", url_9k.into_bytes(), 414),
        (
            "invalid UTF-8 in the target",
            b"GET /api/\xff\xfe\xfd HTTP/1.1\r\nHost: pulse\r\n\r\n".to_vec(),
            400,
        ),
        (
            "invalid UTF-8 in a header value",
            b"GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Name: \xc3\x28\xff\r\n\r\n".to_vec(),
            400,
        ),
        ("TLS ClientHello", tls, 400),
        (
            "binary garbage",
            (0..512u32).map(|i| (i * 7919 % 251) as u8).collect(),
            400,
        ),
        (
            "HTTP/2.0 request line",
            b"GET / HTTP/2.0\r\nHost: pulse\r\n\r\n".to_vec(),
            505,
        ),
        (
            "h2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            505,
        ),
    ];
    run_cases(&mut p, cases);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Request-smuggling shapes: each is a 400, and the request glued after it is never answered.
#[test]
fn smuggling_shapes_are_400_and_the_connection_closes() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let post = |headers: &str, body: &str| -> Vec<u8> {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\n{headers}\r\n{body}{}",
            get("/api/health")
        )
        .into_bytes()
    };
    let chunked = "Transfer-Encoding: chunked\r\n";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "CL + TE",
            post(&format!("Content-Length: 5\r\n{chunked}"), "0\r\n\r\n"),
            400,
        ),
        (
            "TE + CL",
            post(&format!("{chunked}Content-Length: 5\r\n"), "0\r\n\r\n"),
            400,
        ),
        (
            "TE: xchunked",
            post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "TE: chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "TE: identity",
            post("Transfer-Encoding: identity\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "two TE headers",
            post(&format!("{chunked}{chunked}"), "0\r\n\r\n"),
            400,
        ),
        (
            "duplicate CL, equal",
            post("Content-Length: 2\r\nContent-Length: 2\r\n", "{}"),
            400,
        ),
        (
            "duplicate CL, different",
            post("Content-Length: 2\r\nContent-Length: 7\r\n", "{}"),
            400,
        ),
        ("CL: +5", post("Content-Length: +5\r\n", "{\"a\"}"), 400),
        ("CL: -1", post("Content-Length: -1\r\n", ""), 400),
        ("CL: 5,5", post("Content-Length: 5,5\r\n", "{\"a\"}"), 400),
        ("CL: 1 2", post("Content-Length: 1 2\r\n", "{}"), 400),
        ("CL: empty", post("Content-Length: \r\n", ""), 400),
        (
            "CL: 0x10",
            post("Content-Length: 0x10\r\n", "{}{}{}{}{}{}{}{}"),
            400,
        ),
        (
            "obs-fold header",
            post("Content-Length: 2\r\nX-Folded: a\r\n b\r\n", "{}"),
            400,
        ),
        (
            "chunk size with garbage",
            post(chunked, "2x\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "negative chunk size",
            post(chunked, "-2\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "overflowing chunk size",
            post(chunked, "10000000000000002\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk size with a space inside",
            post(chunked, "1 0\r\n{}\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk without its CRLF",
            post(chunked, "2\r\n{}XX0\r\n\r\n"),
            400,
        ),
    ];
    run_cases(&mut p, cases);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// `Content-Length: 1e12` (413 at once, not an allocation), 130 × u64::MAX (413 each), and a
/// length that overflows u64 (400); the process stays up and answering.
#[test]
fn huge_declared_lengths_are_413_and_the_process_survives() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let head = |len: &str| {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
        )
        .into_bytes()
    };
    let (r, mut s) = send_and_read(p.addr, ATTACKER, head("1000000000000"), ANSWER);
    assert_error(&r, 413, "Content-Length 1e12");
    assert_closed_quietly(&mut s, "Content-Length 1e12");
    p.assert_health();

    let addr = p.addr;
    let statuses = during(&mut p, move || {
        let threads: Vec<_> = (0..10)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..13)
                        .map(|_| {
                            let raw = format!(
                                "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Length: {}\r\n\r\n",
                                u64::MAX
                            );
                            let (r, _) = send_and_read(addr, ATTACKER, raw.into_bytes(), ANSWER);
                            r.map(|r| r.status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(statuses.len(), 130);
    assert!(
        statuses.iter().all(|s| *s == Some(413)),
        "every u64::MAX length is a 413: {statuses:?}"
    );
    p.assert_health();

    let (r, mut s) = send_and_read(p.addr, ATTACKER, head("99999999999999999999"), ANSWER);
    assert_error(&r, 400, "Content-Length overflowing u64");
    assert_closed_quietly(&mut s, "Content-Length overflowing u64");
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// 140 connections that declare a body and stall (100 with a Content-Length, 40 chunked):
/// 408 each after the body timeout, health answering all along. Spread over two attacker
/// addresses so the per-address connection cap (128) is not what answers them.
#[test]
fn stalled_bodies_get_408_while_health_answers() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let mut held: Vec<(TcpStream, &str)> = Vec::new();
    for i in 0..140 {
        let from = Ipv4Addr::new(127, 0, 0, 10 + (i % 2) as u8);
        let mut s = open(from, p.addr);
        let (raw, kind) = if i < 100 {
            (
                "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
                "Content-Length body",
            )
        } else {
            (
                "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"use\r\n",
                "chunked body",
            )
        };
        s.write_all(raw.as_bytes()).unwrap();
        held.push((s, kind));
    }
    let t0 = Instant::now();
    // While they are held (and timing out), the bystander is answered.
    while t0.elapsed() < Duration::from_millis(1500) {
        p.assert_health();
        std::thread::sleep(Duration::from_millis(200));
    }
    // One shared deadline: a server that never answers fails in seconds, not 140 × 10 s.
    let deadline = Instant::now() + ANSWER;
    for (s, kind) in held.iter_mut() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let r = read_response(s, &mut Vec::new(), false, left);
        assert_error(&r, 408, kind);
        assert_closed_quietly(s, kind);
    }
    drop(held);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// A head that stops half way gets 408; a connection that never sends a byte is closed with
/// no answer; an idle keep-alive connection is closed after the idle timeout.
#[test]
fn head_and_idle_timeouts() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let mut partial = open(ATTACKER, p.addr);
    partial
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: pul")
        .unwrap();
    let mut silent = open(ATTACKER, p.addr);
    let mut idle = open(ATTACKER, p.addr);
    idle.write_all(get("/api/health").as_bytes()).unwrap();
    let r = read_response(&mut idle, &mut Vec::new(), false, ANSWER).expect("keep-alive answer");
    assert_eq!(r.status, 200);
    p.assert_health();

    let r = read_response(&mut partial, &mut Vec::new(), false, ANSWER);
    assert_error(&r, 408, "partial head");
    assert_closed_quietly(&mut partial, "partial head");
    let rest = rest_until_close(&mut silent, ANSWER).expect("silent connection closed");
    assert!(
        rest.is_empty(),
        "no answer to a connection that sent nothing"
    );
    let rest = rest_until_close(&mut idle, ANSWER).expect("idle keep-alive closed");
    assert!(
        rest.is_empty(),
        "no answer to an idle keep-alive connection"
    );
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// One header line that never ends, on four connections at once: 431 on each once 16 KiB
/// have arrived, and RSS stays bounded (tiny_http buffered 64 MB per connection).
#[test]
fn endless_header_lines_get_431_and_memory_stays_bounded() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(p.pid(), done.clone());
    let conns: Vec<_> = (0..4)
        .map(|_| {
            let mut s = open(ATTACKER, p.addr);
            let mut w = s.try_clone().unwrap();
            w.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
            let writer = std::thread::spawn(move || {
                let mut sent = 0usize;
                let _ = w.write_all(b"GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Endless: ");
                let chunk = vec![b'a'; 64 * 1024];
                // At most 16 MB each: enough to show unbounded buffering, bounded in time.
                while sent < 16 * 1024 * 1024 && w.write_all(&chunk).is_ok() {
                    sent += chunk.len();
                }
                sent
            });
            let r = read_response(&mut s, &mut Vec::new(), false, Duration::from_secs(20));
            (r, s, writer)
        })
        .collect();
    p.assert_health();
    for (r, mut s, writer) in conns {
        assert_error(&r, 431, "endless header line");
        assert_closed_quietly(&mut s, "endless header line");
        // The server may drain input for a moment after the 431 (a lingering close keeps the
        // answer from being lost to a reset); what matters is that it is not buffered.
        let sent = writer.join().unwrap();
        println!("endless header: {sent} bytes taken before the close");
    }
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    assert!(
        peak <= base.0 + RSS_MARGIN_KB,
        "RSS peaked at {peak} KiB, baseline {} KiB",
        base.0
    );
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// 3,000 silent connections from one address: beyond the per-address cap (default 128) they
/// are closed at once, the thread count stays flat, the bystander is answered.
#[test]
fn three_thousand_silent_connections_are_capped_with_flat_threads() {
    let nofile = raise_nofile();
    // The head timeout is long here, so what closes connections during the check is the cap.
    let mut p = start(&[("PULSE_HTTP_HEAD_TIMEOUT_MS", "30000")]);
    let base = baseline(&mut p);
    let want = 3000usize.min(nofile.saturating_sub(600) as usize);
    assert!(want >= 1000, "fd limit too low for this test: {nofile}");
    let mut conns = Vec::with_capacity(want);
    for _ in 0..want {
        match connect_from(ATTACKER, p.addr, Duration::from_secs(5)) {
            Ok(s) => conns.push(s),
            // A full accept queue refusing us is also "closed at once".
            Err(_) => continue,
        }
    }
    p.assert_health();
    let (_, threads) = p.usage();
    assert!(
        threads <= base.1 + THREAD_MARGIN,
        "{threads} threads with {} connections (baseline {})",
        conns.len(),
        base.1
    );
    // Within a few seconds, at most the cap is still open.
    let open_now = |conns: &mut Vec<TcpStream>| {
        conns
            .iter_mut()
            .filter(|s| {
                let mut s: &TcpStream = s;
                s.set_nonblocking(true).unwrap();
                let mut b = [0u8; 512];
                let open = matches!(
                    std::io::Read::read(&mut s, &mut b),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                );
                s.set_nonblocking(false).unwrap();
                open
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut still_open = open_now(&mut conns);
    while still_open > 128 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        still_open = open_now(&mut conns);
    }
    assert!(
        still_open <= 128,
        "{still_open} of {} silent connections from one address still open",
        conns.len()
    );
    assert!(
        still_open > 0,
        "the first connections up to the cap are kept"
    );
    p.assert_health();
    drop(conns);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

fn ws_client(from: Ipv4Addr, p: &Pulse) -> support::WsClient {
    let s = open(from, p.addr);
    support::ws_connect_on(s, p.addr, "/ws", &[("X-API-Token", TOKEN)]).expect("ws handshake")
}

/// 500 authenticated WebSocket clients (2,000 in `make bench`): no thread per client, and the
/// memory comes back after they leave.
#[test]
fn five_hundred_websocket_clients_keep_threads_flat_and_memory_comes_back() {
    raise_nofile();
    let mut p = start_with_admin(&[]);
    let base = baseline(&mut p);
    let mut clients = Vec::new();
    for i in 0..500 {
        // A few addresses (authenticated handshakes must not be rate-limited away anyway).
        clients.push(ws_client(Ipv4Addr::new(127, 0, 0, 20 + (i % 5) as u8), &p));
    }
    p.assert_health();
    let (rss, threads) = p.usage();
    assert!(
        threads <= base.1 + THREAD_MARGIN,
        "{threads} threads with 500 clients (baseline {})",
        base.1
    );
    // Each client gets its initial state: they are live, not parked.
    for c in clients.iter_mut().step_by(50) {
        let v = support::ws_next(c);
        assert!(v["type"].is_string(), "{v}");
    }
    println!("500 WebSocket clients: {rss} KiB RSS, {threads} threads");
    drop(clients);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// An authenticated WebSocket client floods pings and never reads (its receive window is
/// tiny): it is dropped, and RSS stays bounded (tiny_http queued every pong: 511 MB).
#[test]
fn ping_flood_without_reading_is_dropped() {
    let mut p = start_with_admin(&[]);
    let base = baseline(&mut p);
    let stream = support::tiny_window_stream(p.addr);
    let mut ws = support::ws_connect_on(stream, p.addr, "/ws", &[("X-API-Token", TOKEN)])
        .expect("ws handshake");
    let raw = ws.get_mut();
    raw.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    // A masked client ping with a 125-byte payload, 512 to a write.
    let mut ping = vec![0x89, 0x80 | 125, 1, 2, 3, 4];
    ping.extend((0..125u8).map(|i| i ^ [1, 2, 3, 4][(i % 4) as usize]));
    let batch: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 512)
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(p.pid(), done.clone());
    let t0 = Instant::now();
    let mut sent = 0usize;
    let mut last_health = Instant::now();
    let dropped = loop {
        match raw.write_all(&batch) {
            Ok(()) => sent += batch.len(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // The server stopped reading: it must now close the connection.
                break rest_until_close(raw, ANSWER).is_some();
            }
            Err(_) => break true,
        }
        if sent > 256 * 1024 * 1024 || t0.elapsed() > Duration::from_secs(30) {
            break false;
        }
        if last_health.elapsed() > Duration::from_millis(500) {
            p.assert_health();
            last_health = Instant::now();
        }
    };
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    assert!(
        dropped,
        "a client that floods pings and never reads was not dropped ({sent} bytes sent)"
    );
    assert!(
        peak <= base.0 + RSS_MARGIN_KB,
        "RSS peaked at {peak} KiB (baseline {} KiB) during the ping flood",
        base.0
    );
    drop(ws);
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Five wrong passwords for `admin` from 127.0.0.3 lock that address only: the real admin
/// from 127.0.0.4 logs in.
#[test]
fn five_wrong_passwords_do_not_lock_the_admin_out_elsewhere() {
    let mut p = start_with_admin(&[]);
    let base = baseline(&mut p);
    let addr = p.addr;
    let login = |from: Ipv4Addr, password: &str| {
        let body = serde_json::json!({"username": "admin", "password": password}).to_string();
        let raw = format!(
            "POST /api/login HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        exchange(addr, from, raw.as_bytes(), ANSWER).expect("login answer")
    };
    let guesser = Ipv4Addr::new(127, 0, 0, 3);
    for n in 1..=5 {
        let r = login(guesser, "wrong");
        assert_eq!(r.status, 401, "attempt {n}");
    }
    p.assert_health();
    assert_eq!(
        login(guesser, PASSWORD).status,
        403,
        "the guesser is locked"
    );
    let r = login(Ipv4Addr::new(127, 0, 0, 4), PASSWORD);
    assert_eq!(r.status, 200, "the admin elsewhere logs in: {:?}", r.json());
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Three requests in one write are answered in order on the same connection.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let mut s = open(ATTACKER, p.addr);
    let raw = format!(
        "{}{}GET /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n",
        get("/api/health"),
        get("/api/no-such-endpoint")
    );
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let statuses: Vec<(u16, serde_json::Value)> = (0..3)
        .map(|_| {
            let r = read_response(&mut s, &mut buf, false, ANSWER).expect("pipelined answer");
            (r.status, r.json())
        })
        .collect();
    assert_eq!(statuses[0].0, 200);
    assert_eq!(statuses[1].0, 404);
    assert_eq!(statuses[2].0, 200);
    assert!(statuses[2].1["version"].is_string(), "{:?}", statuses[2].1);
    assert!(rest_until_close(&mut s, ANSWER).is_some_and(|r| r.is_empty() && buf.is_empty()));
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// `Expect: 100-continue`: 100 then the answer; 413 without a 100 for an oversized length;
/// 417 for an unknown expectation.
#[test]
fn expect_100_continue() {
    let mut p = start_with_admin(&[]);
    let base = baseline(&mut p);
    let body = serde_json::json!({"username": "admin", "password": "wrong"}).to_string();
    let mut s = open(ATTACKER, p.addr);
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut s, &mut buf, true, ANSWER).expect("interim answer");
    assert_eq!(r.status, 100, "{}", r.head);
    s.write_all(body.as_bytes()).unwrap();
    let r = read_response(&mut s, &mut buf, false, ANSWER).expect("final answer");
    assert_eq!(r.status, 401, "the body was read after the 100");
    assert_eq!(r.json()["error"], "invalid_credentials");

    let raw = "POST /api/login HTTP/1.1\r\nHost: pulse\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n";
    let (r, mut s) = send_and_read(p.addr, ATTACKER, raw.as_bytes().to_vec(), ANSWER);
    assert_error(&r, 413, "oversized length with Expect (no 100 first)");
    assert_closed_quietly(&mut s, "oversized length with Expect");

    let raw =
        "POST /api/login HTTP/1.1\r\nHost: pulse\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}";
    let (r, mut s) = send_and_read(p.addr, ATTACKER, raw.as_bytes().to_vec(), ANSWER);
    assert_error(&r, 417, "unknown expectation");
    assert_closed_quietly(&mut s, "unknown expectation");
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// HEAD carries GET's headers, Content-Length included, and no body.
#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let mut p = start(&[]);
    let base = baseline(&mut p);
    let r = exchange(
        p.addr,
        ATTACKER,
        b"GET /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n",
        ANSWER,
    )
    .expect("GET answer");
    assert_eq!(r.status, 200);
    let len = r
        .header("content-length")
        .expect("GET has a length")
        .to_string();
    assert_eq!(len, r.body.len().to_string());

    let mut s = open(ATTACKER, p.addr);
    s.write_all(b"HEAD /api/version HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut s, &mut buf, true, ANSWER).expect("HEAD answer");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(len.as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let rest = rest_until_close(&mut s, ANSWER).expect("closed after HEAD");
    assert!(
        buf.is_empty() && rest.is_empty(),
        "HEAD sent a body: {:?}",
        String::from_utf8_lossy(&rest)
    );
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// A client that asks for a lot (40 pipelined `/api/state` of the demo estate) with a tiny
/// receive window and never reads: dropped after the write timeout, health unaffected.
#[test]
fn a_slow_response_reader_is_dropped_after_the_write_timeout() {
    let mut p = start(&[("PULSE_MOCK_MODE", "true")]);
    // Wait for the demo state, and learn its size.
    let deadline = Instant::now() + Duration::from_secs(30);
    let size = loop {
        let r = exchange(
            p.addr,
            BYSTANDER,
            b"GET /api/state HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n",
            ANSWER,
        )
        .expect("state answer");
        if r.status == 200 && r.body.len() > 50_000 {
            break r.body.len();
        }
        assert!(Instant::now() < deadline, "demo state never appeared");
        std::thread::sleep(Duration::from_millis(250));
    };
    let base = baseline(&mut p);
    let mut s = support::tiny_window_stream(p.addr);
    let raw = get("/api/state").repeat(40);
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(raw.as_bytes());
    // Not reading for longer than the write timeout (1 s), health checked meanwhile.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        p.assert_health();
        std::thread::sleep(Duration::from_millis(250));
    }
    let rest = rest_until_close(&mut s, Duration::from_secs(20))
        .expect("the slow reader's connection was closed");
    assert!(
        rest.len() < 40 * size,
        "all {} bytes arrived: the slow reader was not dropped",
        rest.len()
    );
    p.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}
