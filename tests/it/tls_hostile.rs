//! The hostile clients that only exist over TLS. Every case of the front door's hostile-client
//! suite (`http_adversarial`) already runs over TLS as well as plain HTTP; what is left here
//! happens before or instead of a TLS session: TCP connections that never send a ClientHello,
//! handshakes that stop half way, and plain HTTP sent to the TLS port. As in the shared suite,
//! `/api/health` over TLS from another address (127.0.0.2) must keep answering within 2 s, and
//! threads and memory must come back after.

use crate::http_adversarial::wire::{Server, Transport};
use crate::support::raw_client::{self, ATTACKER};
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const RSS_MARGIN_KB: u64 = 16 * 1024;
const THREAD_MARGIN: u64 = 4;

fn start(head_timeout_ms: &str) -> Server {
    let mut t = Server::start(
        Transport::Tls,
        &[
            ("PULSE_HTTP_HEAD_TIMEOUT_MS", head_timeout_ms),
            ("PULSE_HTTP_BODY_TIMEOUT_MS", "1000"),
            ("PULSE_HTTP_IDLE_TIMEOUT_MS", "2000"),
            ("PULSE_HTTP_WRITE_TIMEOUT_MS", "1000"),
        ],
    );
    t.assert_health();
    t
}

fn baseline(t: &mut Server) -> (u64, u64) {
    t.assert_health();
    std::thread::sleep(Duration::from_millis(300));
    t.p.usage()
}

/// 400 TCP connections that never send a ClientHello, or stop after its first bytes: threads
/// stay flat, health answers, and each is closed after the head timeout with nothing sent.
#[test]
fn hundreds_of_silent_and_half_done_handshakes_keep_threads_flat() {
    let mut t = start("1000");
    let base = baseline(&mut t);
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
        let rest = raw_client::rest_until_close(s, left);
        assert_eq!(
            rest.as_deref(),
            Some(&[][..]),
            "a pending handshake outlived the timeout, or was answered"
        );
    }
    drop(held);
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}

/// Plain HTTP on the TLS port, as a browser sends to `http://`: a complete request, a head cut
/// short, and a request with a 100 KB header each get the short 400 naming `https://` at once
/// (the head timeout here is 10 s, so an answer that waited for it fails the 2 s bound), and
/// the connection is closed; health over TLS keeps answering.
#[test]
fn plain_http_to_the_tls_port_gets_the_400_at_once_and_a_close() {
    let mut t = start("10000");
    let base = baseline(&mut t);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a whole request",
            b"GET /api/health HTTP/1.1\r\nHost: pulse\r\n\r\n".to_vec(),
        ),
        ("a head cut short", b"GET /api/heal".to_vec()),
        (
            "a 100 KB header",
            format!(
                "GET /api/health HTTP/1.1\r\nHost: pulse\r\nX-Big: {}\r\n\r\n",
                "a".repeat(100 * 1024)
            )
            .into_bytes(),
        ),
    ];
    for (case, raw) in cases {
        let t0 = Instant::now();
        let (r, mut s) = raw_client::send_and_read(t.p.addr, ATTACKER, raw, Duration::from_secs(2));
        let r = r.unwrap_or_else(|| panic!("{case}: no answer within 2 s"));
        assert_eq!(r.status, 400, "{case}: {}", r.head);
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains("https://"), "{case}: {body}");
        assert!(
            raw_client::closed_within(&mut s, Duration::from_secs(2)),
            "{case}: left open after the 400"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "{case}: {:?}",
            t0.elapsed()
        );
        t.assert_health();
    }
    t.assert_back_to(base, RSS_MARGIN_KB, THREAD_MARGIN);
}
