//! Discovery against real TLS listeners on 127.0.0.1 (never any other range): Proxmox-like
//! servers are found and typed, other TLS services and closed ports are not.

use pulse::config::model::nodes::NodeType;
use pulse::discovery::scan::{scan, ScanOptions};
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn tls_config(org: &str) -> Arc<ServerConfig> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::OrganizationName, org);
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    Arc::new(config)
}

/// A TLS server answering every request with `response`; returns its port.
fn serve(org: &str, response: impl Into<String>) -> u16 {
    let response: Arc<str> = response.into().into();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tls_config(org);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let config = config.clone();
            let response = response.clone();
            thread::spawn(move || {
                let conn = ServerConnection::new(config).unwrap();
                let mut tls = StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(response.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

fn options(ports: Vec<u16>) -> ScanOptions {
    ScanOptions {
        targets: vec![Ipv4Addr::LOCALHOST],
        ports,
        max_concurrent: 4,
        dial_timeout: Duration::from_millis(500),
        http_timeout: Duration::from_secs(3),
    }
}

#[test]
fn finds_and_types_proxmox_servers_on_loopback() {
    let pve = serve(
        "Proxmox",
        "HTTP/1.1 401 No ticket\r\nServer: pve-api-daemon/3.0\r\nContent-Length: 0\r\n\r\n",
    );
    let pmg = serve(
        "Proxmox",
        "HTTP/1.1 401 No ticket\r\nServer: pmg-api-daemon/3.0\r\nContent-Length: 0\r\n\r\n",
    );
    let body = r#"{"data":{"version":"3.2.7","release":"3","repoid":"abc"}}"#;
    let pbs = serve(
        "Proxmox Backup Server",
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    let web = serve(
        "Acme",
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\n\r\nhello",
    );
    // A port that was just open and is now closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let result = scan(&options(vec![pve, pmg, pbs, web, closed]));
    let found: Vec<(u16, NodeType, &str)> = result
        .servers
        .iter()
        .map(|s| (s.port, s.node_type, s.version.as_str()))
        .collect();
    let mut expected = vec![
        (pve, NodeType::Pve, "Unknown"),
        (pmg, NodeType::Pmg, "Unknown"),
        (pbs, NodeType::Pbs, "3.2.7"),
    ];
    expected.sort();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    assert_eq!(found_sorted, expected, "errors: {:?}", result.errors);
    assert!(result.servers.iter().all(|s| s.ip == "127.0.0.1"));
    assert!(result.errors.is_empty(), "{:?}", result.errors);
}

#[test]
fn a_silent_port_times_out_as_an_error_not_a_hang() {
    // Accepts TCP but never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let _held: Vec<_> = listener.incoming().take(2).collect();
        thread::sleep(Duration::from_secs(5));
    });
    let mut opts = options(vec![port]);
    opts.http_timeout = Duration::from_millis(300);
    let result = scan(&opts);
    assert!(result.servers.is_empty());
    assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
    assert!(result.errors[0].starts_with(&format!("127.0.0.1:{port}:")));
}

#[test]
fn identifies_the_simulators_pve_pbs_and_pmg() {
    use pulse::proxmox::Product;
    use pulse::sim::{SimConfig, Simulator};
    let sim = Simulator::start(SimConfig {
        nodes: 1,
        guests: 2,
        ..SimConfig::default()
    })
    .unwrap();
    let port = |p: Product| -> u16 {
        sim.https_url(p)
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (pve, pbs, pmg) = (port(Product::Pve), port(Product::Pbs), port(Product::Pmg));
    let result = scan(&options(vec![pve, pbs, pmg]));
    let mut found: Vec<(u16, NodeType)> = result
        .servers
        .iter()
        .map(|s| (s.port, s.node_type))
        .collect();
    found.sort();
    let mut expected = vec![
        (pve, NodeType::Pve),
        (pbs, NodeType::Pbs),
        (pmg, NodeType::Pmg),
    ];
    expected.sort();
    assert_eq!(found, expected, "errors: {:?}", result.errors);
}
