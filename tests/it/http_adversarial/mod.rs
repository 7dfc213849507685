//! The front door under attack (issue #19), over plain HTTP and over HTTPS (issue #17): each
//! case runs the real `pulse` binary, attacks it from 127.0.0.1 (or other loopback
//! addresses), and asserts
//! 1. `/api/health` from another address (127.0.0.2), over the same transport, keeps
//!    answering within 2 s,
//! 2. the process neither dies nor leaks (RSS and threads back near the baseline after),
//! 3. the exact status of the front-door contract (every error is JSON `{"error"}` with an
//!    `X-Request-ID`, and the connection is closed after it).
//!
//! Every case is one function taking a [`Transport`] and runs as two tests, `plain::<case>`
//! and `tls::<case>`, with the same bytes and the same assertions; where TLS needs a different
//! shape, the case says why. The TLS-only cases (no ClientHello, a stalled handshake) are in
//! `tls_hostile.rs`.
//!
//! The limits are shrunk through their environment variables (1 s head/body/write timeouts)
//! so the suite stays fast; every loop is bounded in count and in time.

mod connections;
mod requests;
pub mod wire;

use crate::support::raw_client::{rest_until_close, Resp, ATTACKER};
use std::time::Duration;
pub use wire::{Server, Transport, Wire};

/// Each listed case (a `fn(Transport)` in scope) as two tests: `plain::<case>` and
/// `tls::<case>`.
macro_rules! over_both_transports {
    ($($case:ident),* $(,)?) => {
        mod plain {
            $(#[test]
            fn $case() {
                super::$case(super::Transport::Plain)
            })*
        }
        mod tls {
            $(#[test]
            fn $case() {
                super::$case(super::Transport::Tls)
            })*
        }
    };
}
use over_both_transports;

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

fn start(tr: Transport, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(&str, &str)> = SHRUNK.to_vec();
    for (k, v) in extra {
        env.retain(|(kk, _)| kk != k);
        env.push((k, v));
    }
    let mut s = Server::start(tr, &env);
    s.assert_health();
    s
}

/// A server with an admin account (bcrypt cost 4: fast) and an API token.
fn start_with_admin(tr: Transport, extra: &[(&str, &str)]) -> Server {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let mut env = vec![
        ("PULSE_AUTH_USER", "admin"),
        ("PULSE_AUTH_PASS", hash.as_str()),
        ("API_TOKENS", TOKEN),
    ];
    env.extend_from_slice(extra);
    start(tr, &env)
}

/// Settles, then reads (RSS KiB, threads).
fn baseline(s: &mut Server) -> (u64, u64) {
    for _ in 0..3 {
        s.assert_health();
    }
    std::thread::sleep(Duration::from_millis(300));
    s.p.usage()
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
fn assert_closed_quietly(s: &mut Wire, case: &str) {
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
fn run_cases(s: &mut Server, cases: Vec<(&str, Vec<u8>, u16)>) {
    for (case, raw, status) in cases {
        let (r, mut w) = s.c.send_and_read(ATTACKER, raw, ANSWER);
        assert_error(&r, status, case);
        assert_closed_quietly(&mut w, case);
        s.assert_health();
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: pulse\r\n\r\n")
}
