//! Rate limits over real HTTP: every category's budget, `X-RateLimit-*` on every limited
//! response, 429 with `Retry-After` and the documented JSON body, exempt paths, and client
//! identity through trusted proxies only.

use crate::support;

use support::{Response, TestServer};

/// Sends `n` requests from the client `ip` (via the trusted-proxy header) and returns the last.
fn burst(srv: &TestServer, n: u32, method: &str, path: &str, ip: &str) -> Response {
    let mut last = None;
    for i in 0..n {
        let r = srv.req(method, path, &[("X-Forwarded-For", ip)], Some(b"{}"));
        assert_ne!(
            r.status,
            429,
            "{method} {path}: request {} of {n} limited too early",
            i + 1
        );
        last = Some(r);
    }
    last.unwrap()
}

fn num(r: &Response, h: &str) -> i64 {
    r.header(h)
        .unwrap_or_else(|| panic!("missing {h}"))
        .parse()
        .unwrap()
}

#[test]
fn every_category_has_its_budget_headers_and_429() {
    // Loopback is a trusted proxy, so each case can be its own client.
    let srv = TestServer::start(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1")]);
    let cases: &[(&str, &str, u32, i64)] = &[
        ("POST", "/api/login", 10, 60),
        ("GET", "/api/security/recovery", 3, 600),
        ("POST", "/api/config/export", 5, 300),
        ("POST", "/api/config/nodes", 30, 60),
        ("GET", "/api/updates/check", 20, 60),
        ("GET", "/ws", 5, 60),
        ("GET", "/api/security/tokens", 500, 60),
        ("GET", "/api/health", 1000, 60),
    ];
    for (n, (method, path, limit, window)) in cases.iter().enumerate() {
        let ip = format!("198.51.100.{}", n + 1);
        let before = pulse::util::time::unix_now();
        let last = burst(&srv, *limit, method, path, &ip);
        assert_eq!(num(&last, "x-ratelimit-limit"), i64::from(*limit), "{path}");
        assert_eq!(num(&last, "x-ratelimit-remaining"), 0, "{path}");
        let reset = num(&last, "x-ratelimit-reset");
        assert!(
            (before + window - 2..=before + window + 2).contains(&reset),
            "{path}: reset {reset} vs now {before}"
        );

        let r = srv.req(method, path, &[("X-Forwarded-For", &ip)], Some(b"{}"));
        assert_eq!(r.status, 429, "{path}");
        let retry = num(&r, "retry-after");
        assert!(retry > 0 && retry <= *window, "{path}: Retry-After {retry}");
        assert_eq!(num(&r, "x-ratelimit-remaining"), 0);
        assert_eq!(
            r.json(),
            serde_json::json!({"error": format!("Rate limit exceeded. Please retry after {retry} seconds.")})
        );
        // Another client is unaffected.
        let other = format!("203.0.113.{}", n + 1);
        assert_ne!(
            srv.req(method, path, &[("X-Forwarded-For", &other)], Some(b"{}"))
                .status,
            429
        );
    }
}

#[test]
fn headers_count_down_on_ordinary_responses() {
    let srv = TestServer::start(&[]);
    let a = srv.get("/api/security/status");
    let b = srv.get("/api/security/status");
    assert_eq!(num(&a, "x-ratelimit-limit"), 1000);
    assert_eq!(
        num(&a, "x-ratelimit-remaining") - 1,
        num(&b, "x-ratelimit-remaining")
    );
    // 404s and refusals carry them too.
    assert!(srv.get("/api/nope").header("x-ratelimit-limit").is_some());
}

#[test]
fn exempt_paths_are_never_limited() {
    let srv = TestServer::start(&[]);
    for _ in 0..3 {
        let r = srv.get("/api/state");
        assert!(r.header("x-ratelimit-limit").is_none());
        assert_ne!(r.status, 429);
    }
    assert!(srv
        .get("/api/guests/metadata")
        .header("x-ratelimit-limit")
        .is_none());
    assert!(
        srv.get("/").header("x-ratelimit-limit").is_none(),
        "static UI"
    );
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    // No trusted proxies: X-Forwarded-For cannot buy a fresh budget.
    let srv = TestServer::start(&[]);
    for i in 0..10 {
        let spoof = format!("10.0.0.{i}");
        let r = srv.req(
            "POST",
            "/api/login",
            &[("X-Forwarded-For", &spoof)],
            Some(b"{}"),
        );
        assert_ne!(r.status, 429);
    }
    let r = srv.req(
        "POST",
        "/api/login",
        &[("X-Forwarded-For", "10.9.9.9")],
        Some(b"{}"),
    );
    assert_eq!(r.status, 429, "all counted against the real peer");
    assert_eq!(
        srv.get("/api/security/status").json()["clientIP"],
        "127.0.0.1"
    );

    // Trusted: the forwarded client is who is counted and reported.
    let srv = TestServer::start(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.0/8,::1")]);
    let r = srv.req(
        "GET",
        "/api/security/status",
        &[("X-Forwarded-For", "203.0.113.50")],
        None,
    );
    let v = r.json();
    assert_eq!(v["clientIP"], "203.0.113.50");
    assert_eq!(v["publicAccess"], true);
    let r = srv.req(
        "GET",
        "/api/security/status",
        &[("X-Real-IP", "192.168.5.5")],
        None,
    );
    assert_eq!(r.json()["clientIP"], "192.168.5.5");
}
