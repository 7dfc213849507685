//! HTTPS on the loop-native server: real rustls clients against a self-signed certificate
//! made with rcgen for the test.

use crate::support;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: CertificateDer<'static>,
}

pub fn write_cert(tag: &str, expired: bool) -> Files {
    write_cert_until(tag, expired.then_some((2021, 1, 1)))
}

/// A certificate valid until `not_after` (year, month, day; rcgen's default, years ahead,
/// when None).
pub fn write_cert_until(tag: &str, not_after: Option<(i32, u8, u8)>) -> Files {
    let dir = support::temp_dir(tag);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
    if let Some((y, m, d)) = not_after {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    Files {
        cert: c,
        key: k,
        der: cert.der().clone(),
    }
}

pub fn env(f: &Files) -> Vec<(&'static str, String)> {
    vec![
        ("HTTPS_ENABLED", "true".into()),
        ("TLS_CERT_FILE", f.cert.display().to_string()),
        ("TLS_KEY_FILE", f.key.display().to_string()),
    ]
}

pub fn start(f: &Files) -> support::TestServer {
    let e = env(f);
    let pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::TestServer::start(&pairs)
}

/// A TLS client trusting exactly `der`.
pub fn client(der: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

fn https_get(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>, n: usize) -> Vec<String> {
    let conn =
        rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut out = Vec::new();
    // Several requests on one connection: keep-alive over TLS.
    for i in 0..n {
        let last = i + 1 == n;
        let close = if last { "Connection: close\r\n" } else { "" };
        write!(
            tls,
            "GET /api/health HTTP/1.1\r\nHost: localhost\r\n{close}\r\n"
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let r = complete(&buf);
            if r {
                break;
            }
            match tls.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        }
        assert_eq!(
            tls.conn.alpn_protocol(),
            Some(&b"http/1.1"[..]),
            "ALPN http/1.1"
        );
        out.push(String::from_utf8_lossy(&buf).into_owned());
    }
    out
}

#[test]
fn https_health_keep_alive_hsts_and_plain_http_gets_400() {
    let f = write_cert("tls-ok", false);
    let srv = start(&f);
    let answers = https_get(srv.addr, &client(&f.der), 3);
    assert_eq!(answers.len(), 3);
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
        assert!(a.contains("Strict-Transport-Security: max-age="), "{a}");
    }
    // Plain HTTP on the TLS port: a short 400 at once, not a hang.
    let t0 = std::time::Instant::now();
    let plain = support::raw_request(srv.addr, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(plain.status, 400);
    assert!(plain.text().contains("https://"), "{}", plain.text());
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn bad_missing_mismatched_and_expired_files_stop_start_up_naming_the_variable() {
    let good = write_cert("tls-good", false);
    let other = write_cert("tls-other", false);
    let expired = write_cert("tls-expired", true);
    let garbage = support::temp_dir("tls-bad").join("cert.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let cases: Vec<(PathBuf, PathBuf, &str)> = vec![
        (
            PathBuf::from("/nonexistent/cert.pem"),
            good.key.clone(),
            "TLS_CERT_FILE",
        ),
        (
            good.cert.clone(),
            PathBuf::from("/nonexistent/key.pem"),
            "TLS_KEY_FILE",
        ),
        (garbage, good.key.clone(), "TLS_CERT_FILE"),
        (good.cert.clone(), other.key.clone(), "does not match"),
        (expired.cert.clone(), expired.key.clone(), "expired"),
    ];
    for (cert, key, want) in cases {
        let data = support::temp_dir("tls-srv");
        let vars = vec![
            ("PULSE_DATA_DIR".to_string(), data.display().to_string()),
            ("FRONTEND_PORT".into(), "0".into()),
            ("PULSE_BIND_ADDRESS".into(), "127.0.0.1".into()),
            ("HTTPS_ENABLED".into(), "true".into()),
            ("TLS_CERT_FILE".into(), cert.display().to_string()),
            ("TLS_KEY_FILE".into(), key.display().to_string()),
        ];
        let cfg = pulse::env::RuntimeConfig::load(pulse::env::EnvVars::from_pairs(vars)).unwrap();
        let err = match pulse::start_with(cfg, Vec::new()) {
            Ok(_) => panic!("{want}: start-up should fail"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "want {want}: {err}");
    }
}

/// A whole response with a Content-Length body is in `buf`.
pub fn complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= end + 4 + len
}

pub fn tls_stream(
    addr: SocketAddr,
    cfg: &Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn =
        rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// One request over a fresh TLS connection (closed after the answer).
pub fn https_req(
    addr: SocketAddr,
    cfg: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> support::Response {
    let mut tls = tls_stream(addr, cfg);
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    tls.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf);
    support::parse_response(&buf)
}

#[test]
fn login_over_https_sets_secure_cookies_and_csrf_still_applies() {
    use support::auth;
    let f = write_cert("tls-login", false);
    let e = env(&f);
    let pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = auth::start_with_admin(&pairs);
    let cfg = client(&f.der);
    let json = [("Content-Type", "application/json")];
    let body = auth::login_body(auth::USER, auth::PASSWORD);
    let r = https_req(srv.addr, &cfg, "POST", "/api/login", &json, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies = auth::set_cookies(&r);
    assert!(cookies.iter().any(|c| c.starts_with("pulse_session=")));
    for c in &cookies {
        assert!(
            c.contains("; Secure"),
            "cookie without Secure over HTTPS: {c}"
        );
    }
    let session = auth::cookie(&r, "pulse_session").unwrap();
    let csrf = auth::cookie(&r, "pulse_csrf").unwrap();
    let cookie = format!("pulse_session={session}; pulse_csrf={csrf}");
    let mint = r#"{"name":"t"}"#;
    let without = [
        ("Content-Type", "application/json"),
        ("Cookie", cookie.as_str()),
    ];
    let r = https_req(
        srv.addr,
        &cfg,
        "POST",
        "/api/security/tokens",
        &without,
        mint,
    );
    assert_eq!(r.status, 403, "no CSRF token: {}", r.text());
    // A CSRF failure rotates the token (the new cookie is Secure too).
    let csrf = auth::cookie(&r, "pulse_csrf").expect("rotated csrf");
    assert!(auth::set_cookies(&r).iter().all(|c| c.contains("; Secure")));
    let cookie = format!("pulse_session={session}; pulse_csrf={csrf}");
    let with = [
        ("Content-Type", "application/json"),
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = https_req(srv.addr, &cfg, "POST", "/api/security/tokens", &with, mint);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn wss_feed_gets_welcome_initial_state_and_broadcasts() {
    use tungstenite::client::IntoClientRequest;
    let f = write_cert("tls-wss", false);
    let srv = start(&f);
    srv.apply(|app| app.publish_state(br#"{"nodes":[{"id":"pve-a"}],"vms":[]}"#.to_vec()));
    let tls = tls_stream(srv.addr, &client(&f.der));
    let req = format!("wss://localhost:{}/ws", srv.addr.port())
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tungstenite::client(req, tls)
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let next = |ws: &mut tungstenite::WebSocket<_>| loop {
        if let tungstenite::Message::Text(t) = ws.read().expect("wss read") {
            return serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap();
        }
    };
    assert_eq!(next(&mut ws)["type"], "welcome");
    let second = next(&mut ws);
    assert_eq!(second["type"], "initialState");
    assert_eq!(second["data"]["nodes"][0]["id"], "pve-a");
    // A large broadcast crosses many TLS records and must arrive whole.
    let big: Vec<serde_json::Value> = (0..3000)
        .map(|i| serde_json::json!({"id": format!("vm-{i}"), "name": "x".repeat(40)}))
        .collect();
    let state = serde_json::json!({"nodes": [{"id": "pve-b"}], "vms": big}).to_string();
    srv.apply(move |app| app.publish_state(state.into_bytes()));
    let third = next(&mut ws);
    assert_eq!(third["type"], "rawData");
    assert_eq!(third["data"]["vms"].as_array().unwrap().len(), 3000);
}

#[test]
fn silent_and_stalled_handshakes_are_closed_after_the_head_timeout() {
    let f = write_cert("tls-slow", false);
    let e = env(&f);
    let mut pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("PULSE_HTTP_HEAD_TIMEOUT_MS", "600"));
    let srv = support::TestServer::start(&pairs);
    let silent = TcpStream::connect(srv.addr).unwrap();
    let mut stalled = TcpStream::connect(srv.addr).unwrap();
    // The start of a ClientHello record that never completes.
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let t0 = std::time::Instant::now();
    let ok = https_get(srv.addr, &client(&f.der), 1);
    assert!(
        ok[0].starts_with("HTTP/1.1 200"),
        "health answers meanwhile"
    );
    for mut s in [silent, stalled] {
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
    }
    let took = t0.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "closed after {took:?}"
    );
}

#[test]
fn certificate_replaced_on_disk_is_served_to_the_next_new_connection() {
    let f = write_cert("tls-reload-a", false);
    let srv = start(&f);
    let old_cfg = client(&f.der);
    // An open connection made with the old certificate keeps working after the swap.
    let mut open = tls_stream(srv.addr, &old_cfg);
    open.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // The whole answer, not one read's worth: a read may end between TLS records, and what
    // was left unread would be taken for the second answer below.
    let first = read_response(&mut open);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let mut buf = vec![0u8; 4096];

    let g = write_cert("tls-reload-b", false);
    std::fs::copy(&g.cert, &f.cert).unwrap();
    std::fs::copy(&g.key, &f.key).unwrap();
    let new_cfg = client(&g.der);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let mut tls = tls_stream(srv.addr, &new_cfg);
        let ok = tls
            .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .is_ok()
            && tls.read(&mut buf).is_ok_and(|n| n > 0);
        if ok {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new certificate never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    open.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let second = read_response(&mut open);
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "in-flight connection unaffected: {second:?}"
    );
}

/// Reads one whole response (Content-Length framed) from a TLS stream.
pub fn read_response<S: Read>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !complete(&buf) {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn a_certificate_near_expiry_is_flagged_in_diagnostics() {
    // 10 days ahead: inside the 14-day warning.
    let soon = pulse::util::time::format_rfc3339(pulse::util::time::unix_now() + 10 * 86_400, 0);
    let ymd: Vec<i32> = soon[..10].split('-').map(|p| p.parse().unwrap()).collect();
    let until = (ymd[0], ymd[1] as u8, ymd[2] as u8);
    for (tag, not_after, flagged) in [("tls-soon", Some(until), true), ("tls-far", None, false)] {
        let f = write_cert_until(tag, not_after);
        let srv = start(&f);
        let r = https_req(
            srv.addr,
            &client(&f.der),
            "GET",
            "/api/diagnostics",
            &[],
            "",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["tls"]["enabled"], true);
        assert_eq!(v["tls"]["expiresSoon"], flagged, "{tag}: {}", v["tls"]);
        let errors = v["errors"].to_string();
        assert_eq!(
            errors.contains("TLS certificate"),
            flagged,
            "{tag}: {errors}"
        );
        if flagged {
            assert!(v["tls"]["daysLeft"].as_i64().unwrap() <= 10);
        }
    }
    let plain = support::TestServer::start(&[]);
    assert_eq!(
        plain.get("/api/diagnostics").json()["tls"]["enabled"],
        false
    );
}
