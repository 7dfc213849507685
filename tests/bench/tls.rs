//! HTTPS (issue #17): full handshakes per second and server CPU per handshake, and RSS with
//! idle TLS connections, against the release binary with a self-signed rcgen certificate.

use crate::util::{raise_fd_limit, PulseProc};
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

#[test]
#[ignore]
fn tls_handshakes_and_idle_rss() {
    raise_fd_limit();
    let dir = crate::support::temp_dir("bench-tls");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    let (cs, ks) = (c.display().to_string(), k.display().to_string());
    let pulse = PulseProc::start(&[
        ("HTTPS_ENABLED", "true"),
        ("TLS_CERT_FILE", &cs),
        ("TLS_KEY_FILE", &ks),
        ("PULSE_HTTP_MAX_CONNECTIONS", "1100"),
        ("PULSE_HTTP_MAX_CONNECTIONS_PER_IP", "1100"),
    ]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Full handshakes only: no resumption.
    cfg.resumption = rustls::client::Resumption::disabled();
    let cfg = Arc::new(cfg);
    let connect = || {
        let conn =
            rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
                .unwrap();
        rustls::StreamOwned::new(conn, TcpStream::connect(pulse.addr).unwrap())
    };
    let n = 1000;
    let cpu0 = pulse.cpu_secs();
    let t0 = Instant::now();
    for _ in 0..n {
        let mut s = connect();
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(buf.starts_with(b"HTTP/1.1 200"));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = pulse.cpu_secs() - cpu0;
    let rss0 = pulse.status_num("VmRSS");
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut s = connect();
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).unwrap();
        }
        idle.push(s);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rss1 = pulse.status_num("VmRSS");
    println!("| measure | value |\n|---|---|");
    println!(
        "| full TLS handshakes + GET /api/health, 1 client | {:.0}/s |",
        n as f64 / wall
    );
    println!(
        "| server CPU per handshake + request | {:.2} ms |",
        cpu * 1000.0 / n as f64
    );
    println!(
        "| RSS before / with 1,000 idle TLS connections | {} / {} KiB |",
        rss0, rss1
    );
    drop(idle);
}

/// `/api/state` of the demo estate at 64 concurrent clients, new connection per request, over
/// plain HTTP and over HTTPS (client resumption on, as browsers do; the first connection of
/// each client is a full handshake). Same binary, same estate, one process at a time.
#[test]
#[ignore]
fn tls_vs_plain_state_p99_at_64_clients() {
    use crate::util::{load_via, Transport};
    raise_fd_limit();
    let dir = crate::support::temp_dir("bench-tls-state");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    let (cs, ks) = (c.display().to_string(), k.display().to_string());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = Transport::Tls(Arc::new(cfg));
    println!("| transport | body | requests | p50 ms | p99 ms | max ms | req/s | errors | server CPU s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, transport) in [("plain", Transport::Plain), ("TLS", tls)] {
        let mut env = vec![
            crate::TRUST_LOOPBACK,
            ("PULSE_MOCK_MODE", "true"),
            ("PULSE_HTTP_MAX_CONNECTIONS", "1100"),
        ];
        if matches!(transport, Transport::Tls(_)) {
            env.extend([
                ("HTTPS_ENABLED", "true"),
                ("TLS_CERT_FILE", cs.as_str()),
                ("TLS_KEY_FILE", ks.as_str()),
            ]);
        }
        let pulse = PulseProc::start(&env);
        // The demo estate is in the state before measuring.
        let started = Instant::now();
        loop {
            let r = crate::util::http_via(&transport, pulse.addr, "GET", "/api/state", &[], None);
            let nodes = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["nodes"].as_array().map(|a| a.len()))
                .unwrap_or(0);
            if nodes > 0 {
                break;
            }
            assert!(started.elapsed().as_secs() < 60, "demo state never came");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        for (body, headers) in [
            ("identity", vec![]),
            ("gzip", vec![("Accept-Encoding", "gzip")]),
        ] {
            let cpu0 = pulse.cpu_secs();
            let run = load_via(
                &transport,
                pulse.addr,
                "/api/state",
                &headers,
                64,
                30,
                std::time::Duration::from_secs(90),
            );
            let cpu = pulse.cpu_secs() - cpu0;
            println!(
                "| {label} | {body} ({:.0} KiB) | {} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.2} |",
                run.mean_bytes() as f64 / 1024.0,
                run.lat.len(),
                run.p(0.5),
                run.p(0.99),
                run.p(1.0),
                run.rps(),
                run.errors,
                cpu
            );
        }
    }
}
