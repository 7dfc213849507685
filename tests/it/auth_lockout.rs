//! The lockout over real HTTP, from several loopback addresses (127.0.0.3 guesses, 127.0.0.4
//! is the real admin elsewhere): a lock is per (address, user); failures from many addresses
//! only delay answers (held on a loop timer, never a sleeping worker) and never refuse the
//! right password; `reset-lockout` clears both; locks live in memory only.

use crate::support;
use crate::support::auth as auth_common;
use crate::support::raw_client;

use auth_common::{hash, login_body, PASSWORD, USER};
use raw_client::{exchange, Resp};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use support::TestServer;

const TOKEN: &str = "lockout-reset-token-0001";

fn start(dir: Option<&str>) -> TestServer {
    let h = hash(PASSWORD);
    let mut env = vec![
        ("PULSE_AUTH_USER", USER),
        ("PULSE_AUTH_PASS", h.as_str()),
        ("API_TOKENS", TOKEN),
    ];
    if let Some(d) = dir {
        env.push(("PULSE_DATA_DIR", d));
    }
    TestServer::start(&env)
}

fn post(addr: SocketAddr, from: Ipv4Addr, path: &str, body: &str, extra: &str) -> Resp {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, from, raw.as_bytes(), Duration::from_secs(30)).expect("an answer")
}

fn login_from(addr: SocketAddr, from: Ipv4Addr, password: &str) -> Resp {
    post(addr, from, "/api/login", &login_body(USER, password), "")
}

fn reset(addr: SocketAddr, identifier: &str) -> Resp {
    let body = serde_json::json!({ "identifier": identifier }).to_string();
    let extra = format!("X-API-Token: {TOKEN}\r\n");
    post(
        addr,
        Ipv4Addr::LOCALHOST,
        "/api/security/reset-lockout",
        &body,
        &extra,
    )
}

const GUESSER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const ADMIN_ELSEWHERE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

#[test]
fn five_wrong_passwords_lock_that_address_only_and_reset_by_address_unlocks() {
    let srv = start(None);
    for n in 1..5 {
        let r = login_from(srv.addr, GUESSER, "wrong");
        assert_eq!(r.status, 401);
        let v = r.json();
        assert_eq!(
            (v["attempts"].as_u64(), v["remaining"].as_u64()),
            (Some(n), Some(5 - n))
        );
        assert_eq!(v["maxAttempts"], 5);
    }
    let r = login_from(srv.addr, GUESSER, "wrong");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["locked"], true);
    assert_eq!(r.json()["lockoutDuration"], "15 minutes");

    // The guessing address is locked, right password or not …
    let r = login_from(srv.addr, GUESSER, PASSWORD);
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(v["error"], "account_locked");
    assert_eq!(v["remainingMinutes"], 15);
    assert!(v["lockedUntil"].as_str().is_some_and(|s| s.ends_with('Z')));

    // … while the real admin from another address logs in.
    let r = login_from(srv.addr, ADMIN_ELSEWHERE, PASSWORD);
    assert_eq!(r.status, 200, "{:?}", r);
    assert!(r.header("set-cookie").is_some());

    // Still locked for the guesser (the admin's success cleared only the admin's pair).
    assert_eq!(login_from(srv.addr, GUESSER, PASSWORD).status, 403);
    let r = reset(srv.addr, "127.0.0.3");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Lockout reset for 127.0.0.3");
    assert_eq!(login_from(srv.addr, GUESSER, PASSWORD).status, 200);
    // Audit lines reach the disk through the writer thread, a moment after the answer.
    let mut audit = String::new();
    for _ in 0..100 {
        audit = std::fs::read_to_string(srv.data_dir.join("audit.log")).unwrap_or_default();
        if audit.contains("\"event\":\"lockout_reset\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(audit.contains("\"event\":\"lockout\""), "{audit}");
    assert!(audit.contains("\"event\":\"lockout_reset\""), "{audit}");
}

#[test]
fn a_spray_from_many_addresses_slows_answers_but_never_refuses_the_password() {
    let srv = start(None);
    // Sequential first: the delay grows with each failure past the fifth.
    let mut took = Vec::new();
    for i in 0..7u8 {
        let t0 = Instant::now();
        let r = login_from(srv.addr, Ipv4Addr::new(127, 0, 1, 10 + i), "guess");
        assert_eq!(r.status, 401, "never a lock: each address tried once");
        took.push(t0.elapsed());
    }
    // Failures 0-4 are free, then 1 s, 2 s (generous lower bounds only: CI is slow, not fast).
    assert!(took[5] >= Duration::from_millis(950), "{took:?}");
    assert!(took[6] >= Duration::from_millis(1950), "{took:?}");
    assert!(took[6] > took[5], "{took:?}");

    // Seven failures: the next answer is held 4 s. The right password from four fresh
    // addresses at the same time: all get in. Each attempt counts as a failure until its
    // bcrypt says otherwise, so they are held 4, 8, 8 and 8 s. Had the delay slept on the 2
    // bcrypt workers, the last two would wait for the first two: up to 16 s.
    let t0 = Instant::now();
    let ok: Vec<_> = (0..4u8)
        .map(|i| {
            let addr = srv.addr;
            std::thread::spawn(move || login_from(addr, Ipv4Addr::new(127, 0, 2, i), PASSWORD))
        })
        .collect();
    for t in ok {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200, "the right password is never refused: {r:?}");
    }
    let all = t0.elapsed();
    assert!(
        all >= Duration::from_millis(7900),
        "held for the delay: {all:?}"
    );
    assert!(
        all < Duration::from_millis(12500),
        "no worker slept: {all:?}"
    );

    // A success cleared the guard: the next attempt is answered at once.
    let t0 = Instant::now();
    assert_eq!(login_from(srv.addr, ADMIN_ELSEWHERE, PASSWORD).status, 200);
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[test]
fn reset_by_username_clears_every_lock_and_the_delay() {
    let srv = start(None);
    // One address locks itself out; two more failures elsewhere earn the account a 4 s delay.
    for _ in 0..5 {
        assert_eq!(login_from(srv.addr, GUESSER, "wrong").status, 401);
    }
    assert_eq!(login_from(srv.addr, GUESSER, PASSWORD).status, 403);
    let other = Ipv4Addr::new(127, 0, 0, 5);
    for _ in 0..2 {
        assert_eq!(login_from(srv.addr, other, "wrong").status, 401);
    }
    let r = reset(srv.addr, USER);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], format!("Lockout reset for {USER}"));
    for from in [GUESSER, other] {
        let t0 = Instant::now();
        assert_eq!(login_from(srv.addr, from, PASSWORD).status, 200);
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    }
}

#[test]
fn locks_live_in_memory_only_like_pulse() {
    let dir = support::temp_dir("lockout-restart");
    let dir_s = dir.display().to_string();
    let srv = start(Some(&dir_s));
    for _ in 0..5 {
        login_from(srv.addr, GUESSER, "wrong");
    }
    assert_eq!(login_from(srv.addr, GUESSER, PASSWORD).status, 403);
    srv.stop();
    // A restart forgets locks (and delays), as documented: nothing about them is on disk.
    let srv = start(Some(&dir_s));
    assert_eq!(login_from(srv.addr, GUESSER, PASSWORD).status, 200);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
