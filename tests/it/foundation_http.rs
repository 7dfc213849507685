//! The request pipeline over real TCP: health/version, request ids, security headers, JSON
//! errors (404/405/413/400), gzip, static files and SPA fallback, and the loop staying
//! responsive while a handler waits on slow worker work.

use crate::support;

use pulse::core::app::App;
use pulse::core::outcome::Outcome;
use pulse::http::reply::Reply;
use pulse::http::request::Method;
use pulse::http::router::{Access, Csrf, Ctx, Route};
use std::io::Read;
use std::time::{Duration, Instant};
use support::TestServer;

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    (
        "Permissions-Policy",
        "geolocation=(), microphone=(), camera=()",
    ),
];

fn assert_security_headers(r: &support::Response) {
    for (k, v) in SECURITY_HEADERS {
        assert_eq!(r.header(k), Some(*v), "header {k} on {r:?}");
    }
    let csp = r.header("Content-Security-Policy").expect("CSP");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
}

#[test]
fn health_has_documented_fields() {
    let s = TestServer::start(&[]);
    let r = s.get("/api/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["status"], "healthy");
    let now = pulse::util::time::unix_now();
    assert!((j["timestamp"].as_i64().unwrap() - now).abs() <= 2);
    let uptime = j["uptime"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&uptime));
    assert_security_headers(&r);
}

#[test]
fn version_reports_rust_runtime() {
    let s = TestServer::start(&[]);
    let j = s.get("/api/version").json();
    assert_eq!(j["version"], pulse::VERSION);
    assert_eq!(j["runtime"], "rust");
    assert!(j["rustVersion"].as_str().unwrap().starts_with("1."));
    assert!(j.get("goVersion").is_none());
    assert!(["systemd", "docker", "lxc", "manual"].contains(&j["deploymentType"].as_str().unwrap()));
    for key in [
        "build",
        "buildTime",
        "channel",
        "isDocker",
        "isDevelopment",
        "updateAvailable",
        "latestVersion",
    ] {
        assert!(j.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn request_id_is_echoed_when_sane_and_generated_otherwise() {
    let s = TestServer::start(&[]);
    let r = s.req(
        "GET",
        "/api/health",
        &[("X-Request-ID", "trace-42.a")],
        None,
    );
    assert_eq!(r.header("X-Request-ID"), Some("trace-42.a"));
    let r = s.req(
        "GET",
        "/api/health",
        &[("X-Request-ID", "evil\" level=error")],
        None,
    );
    let id = r.header("X-Request-ID").unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    let a = s
        .get("/api/health")
        .header("X-Request-ID")
        .unwrap()
        .to_string();
    let b = s
        .get("/api/health")
        .header("X-Request-ID")
        .unwrap()
        .to_string();
    assert_ne!(a, b);
}

#[test]
fn errors_are_json_with_right_status() {
    let s = TestServer::start(&[]);
    let r = s.get("/api/does-not-exist");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "Not found");
    assert_security_headers(&r);

    let r = s.req("DELETE", "/api/health", &[], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert!(r.json()["error"].as_str().unwrap().contains("DELETE"));

    let r = s.get("/api/../etc/passwd");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "Invalid path");
}

#[test]
fn oversized_bodies_get_413_declared_or_streamed() {
    let s = TestServer::start(&[]);
    let big = vec![b'x'; 1024 * 1024 + 10];
    let r = s.req(
        "POST",
        "/api/health",
        &[("Content-Type", "application/json")],
        Some(&big),
    );
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("too large"));

    // Chunked: no Content-Length to reject up front, so the limit applies while reading.
    let mut raw = b"POST /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..17 {
        let chunk = vec![b'y'; 65536];
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = support::raw_request(s.addr, &raw);
    assert_eq!(r.status, 413);
}

#[test]
fn gzip_is_negotiated() {
    let s = TestServer::start(&[]);
    let plain = s.get("/");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("Content-Encoding"), None);
    let gz = s.req("GET", "/", &[("Accept-Encoding", "gzip, deflate")], None);
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gz.header("Vary"), Some("Accept-Encoding"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain.body);
    let refused = s.req("GET", "/", &[("Accept-Encoding", "gzip;q=0")], None);
    assert_eq!(refused.header("Content-Encoding"), None);
}

#[test]
fn static_files_and_spa_fallback() {
    let s = TestServer::start(&[]);
    let index = s.get("/");
    assert_eq!(
        index.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("Cache-Control"), Some("no-cache"));
    assert!(index.text().contains("<title>Pulse</title>"));
    assert_security_headers(&index);

    let logo = s.get("/logo.svg");
    assert_eq!(logo.status, 200);
    assert_eq!(logo.header("Content-Type"), Some("image/svg+xml"));

    // Client-side routes get index.html; API paths never do.
    let spa = s.get("/proxmox/overview");
    assert_eq!(spa.status, 200);
    assert_eq!(spa.body, index.body);
    assert_eq!(s.get("/api/proxmox/overview").status, 404);
    assert_eq!(
        s.req("POST", "/proxmox/overview", &[], Some(b"{}")).status,
        405
    );
}

fn slow(_: &mut App, _: &Ctx) -> Outcome {
    Outcome::defer(
        || {
            std::thread::sleep(Duration::from_millis(1500));
            "slow done"
        },
        |_, msg| Reply::json(200, &serde_json::json!({ "result": msg })),
    )
}

#[test]
fn slow_worker_job_does_not_delay_health() {
    let probe = Route {
        methods: &[Method::Get],
        pattern: "/api/test/slow",
        access: Access::Public,
        csrf: Csrf::Required,
        handler: slow,
    };
    let s = TestServer::start_with(&[], vec![probe]);
    let addr = s.addr;
    let slow_thread = std::thread::spawn(move || {
        let t = Instant::now();
        let r = support::request(addr, "GET", "/api/test/slow", &[], None);
        (r, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    // While the slow job runs, health answers stay fast. (Loose bound: this is a behaviour
    // check, not a benchmark; without deferral each answer would wait ~1.4 s.)
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(s.get("/api/health").status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "health took {:?}",
            t.elapsed()
        );
    }
    let (r, took) = slow_thread.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"], "slow done");
    assert!(took >= Duration::from_millis(1400));
}

#[test]
fn head_requests_get_headers_only() {
    let s = TestServer::start(&[]);
    let r = s.req("HEAD", "/api/health", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

#[test]
fn large_bodies_carry_content_length_not_chunking() {
    let s = TestServer::start(&[]);
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100_000)).into_bytes();
    s.apply(move |app| app.publish_state(big));
    let r = s.get("/api/state");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
    assert!(r.body.len() > 100_000);
}
