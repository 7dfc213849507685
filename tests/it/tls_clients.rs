//! HTTPS with other clients and other certificate shapes: TLS 1.2, session resumption, the
//! `openssl s_client` and `curl` command-line clients, RSA (PKCS#1) and EC (SEC1) keys made by
//! openssl, a chain with an intermediate, and what goes on the wire for a small answer.

use crate::support;
use crate::tls_https::{client, read_response, start, write_cert, Files};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const HEALTH: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// A TCP stream that keeps a copy of every byte it reads (the raw TLS records).
struct Tap {
    tcp: TcpStream,
    seen: Vec<u8>,
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

fn only_tls12(der: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

fn connect(
    addr: SocketAddr,
    cfg: &Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, Tap> {
    let conn =
        rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut s = rustls::StreamOwned::new(
        conn,
        Tap {
            tcp,
            seen: Vec::new(),
        },
    );
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    s
}

/// TLS record types in `raw` (a stream of whole records).
fn record_types(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 5 <= raw.len() {
        out.push(raw[at]);
        at += 5 + u16::from_be_bytes([raw[at + 3], raw[at + 4]]) as usize;
    }
    out
}

#[test]
fn tls12_works_and_a_small_answer_is_one_record() {
    let f = write_cert("tls12", false);
    let srv = start(&f);
    let mut s = connect(srv.addr, &only_tls12(&f.der));
    assert_eq!(
        s.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    // TLS 1.2 sends nothing after its handshake, so every record from here on is the answer.
    for _ in 0..2 {
        s.sock.seen.clear();
        s.write_all(HEALTH).unwrap();
        let answer = read_response(&mut s);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // Head and body in one record: a client reading once gets the whole answer (the
        // head alone, with the body in a second record, left a keep-alive reader out of step).
        assert_eq!(
            record_types(&s.sock.seen),
            vec![0x17],
            "one application record"
        );
    }
}

#[test]
fn sessions_resume_over_tls13_and_tls12() {
    let f = write_cert("tls-resume", false);
    let srv = start(&f);
    for (label, cfg) in [("TLS 1.3", client(&f.der)), ("TLS 1.2", only_tls12(&f.der))] {
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let mut s = connect(srv.addr, &cfg);
            // The answer is read in full, so TLS 1.3 tickets (sent after the handshake) are in.
            s.write_all(HEALTH).unwrap();
            assert!(read_response(&mut s).starts_with("HTTP/1.1 200"));
            kinds.push(s.conn.handshake_kind());
        }
        assert_eq!(
            kinds,
            vec![
                Some(rustls::HandshakeKind::Full),
                Some(rustls::HandshakeKind::Resumed)
            ],
            "{label}"
        );
    }
}

fn run(cmd: &mut Command, stdin: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openssl_s_client_and_curl_get_health_over_https() {
    let f = write_cert("tls-cli", false);
    let srv = start(&f);
    let port = srv.addr.port();
    let ca = f.cert.display().to_string();
    for version in ["-tls1_3", "-tls1_2"] {
        let out = run(
            Command::new("openssl").args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "localhost",
                "-verify_hostname",
                "localhost",
                "-verify_return_error",
                "-CAfile",
                &ca,
                "-alpn",
                "http/1.1",
                "-ign_eof",
                version,
            ]),
            b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
        assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
        assert!(out.contains("HTTP/1.1 200"), "{version}: {out}");
    }
    let url = format!("https://localhost:{port}/api/health");
    let resolve = format!("localhost:{port}:127.0.0.1");
    for max in ["1.3", "1.2"] {
        let out = run(
            Command::new("curl").args([
                "-sS",
                "-i",
                "--http1.1",
                "--tls-max",
                max,
                "--cacert",
                &ca,
                "--resolve",
                &resolve,
                &url,
            ]),
            b"",
        );
        assert!(out.starts_with("HTTP/1.1 200"), "curl TLS {max}: {out}");
        assert!(out.contains("Strict-Transport-Security:"), "{out}");
        assert!(out.contains("\"healthy\""), "{out}");
    }
    // curl speaking plain HTTP to the TLS port gets the short 400, not a hang.
    let out = run(
        Command::new("curl").args([
            "-sS",
            "-i",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{port}/api/health"),
        ]),
        b"",
    );
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("https://"), "{out}");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn der_of(pem_file: &Path) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(pem_file).unwrap()
}

/// GET /api/health over a fresh TLS connection trusting `root`.
fn health_with(addr: SocketAddr, root: &CertificateDer<'static>) -> String {
    let mut s = connect(addr, &client(root));
    s.write_all(HEALTH).unwrap();
    read_response(&mut s)
}

#[test]
fn rsa_pkcs1_and_ec_sec1_keys_from_openssl_are_served() {
    let dir = support::temp_dir("tls-keys");
    // A leaf, not a CA (openssl's `req -x509` default), or clients refuse it as an end entity.
    let subj = [
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
    ];
    // RSA, written in the traditional PKCS#1 form ("BEGIN RSA PRIVATE KEY").
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa8.pem",
            "-out",
            "rsa-cert.pem",
            "-days",
            "30",
            subj[0],
            subj[1],
            subj[2],
            subj[3],
            subj[4],
            subj[5],
        ],
    );
    openssl(
        &dir,
        &[
            "rsa",
            "-in",
            "rsa8.pem",
            "-traditional",
            "-out",
            "rsa-key.pem",
        ],
    );
    // EC P-256 in its SEC1 form ("BEGIN EC PRIVATE KEY").
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec-key.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ec-key.pem",
            "-out",
            "ec-cert.pem",
            "-days",
            "30",
            subj[0],
            subj[1],
            subj[2],
            subj[3],
            subj[4],
            subj[5],
        ],
    );
    for (kind, header) in [
        ("rsa", "BEGIN RSA PRIVATE KEY"),
        ("ec", "BEGIN EC PRIVATE KEY"),
    ] {
        let key = dir.join(format!("{kind}-key.pem"));
        assert!(std::fs::read_to_string(&key).unwrap().contains(header));
        let files = Files {
            cert: dir.join(format!("{kind}-cert.pem")),
            key,
            der: der_of(&dir.join(format!("{kind}-cert.pem"))),
        };
        let srv = start(&files);
        let answer = health_with(srv.addr, &files.der);
        assert!(answer.starts_with("HTTP/1.1 200"), "{kind}: {answer}");
    }
}

#[test]
fn a_chain_with_an_intermediate_is_served_whole() {
    let dir = support::temp_dir("tls-chain");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = ca.self_signed(&ca_key).unwrap();
    let mid_key = KeyPair::generate().unwrap();
    let mut mid = CertificateParams::new(Vec::<String>::new()).unwrap();
    mid.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mid_cert = mid.signed_by(&mid_key, &Issuer::new(ca, &ca_key)).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&leaf_key, &Issuer::new(mid, &mid_key))
        .unwrap();
    let files = Files {
        cert: dir.join("chain.pem"),
        key: dir.join("key.pem"),
        der: root.der().clone(),
    };
    // Leaf first, then the intermediate: the client knows only the root.
    std::fs::write(&files.cert, format!("{}{}", leaf.pem(), mid_cert.pem())).unwrap();
    std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
    let srv = start(&files);
    let answer = health_with(srv.addr, &files.der);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let s = connect(srv.addr, &client(&files.der));
    assert_eq!(s.conn.peer_certificates().map(|c| c.len()), Some(2));
}

#[test]
fn behind_a_tls_terminating_proxy_cookies_are_secure() {
    use support::auth;
    let srv = auth::start_with_admin(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32")]);
    let body = auth::login_body(auth::USER, auth::PASSWORD);
    let r = srv.req(
        "POST",
        "/api/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cookies = auth::set_cookies(&r);
    assert!(cookies.iter().any(|c| c.starts_with("pulse_session=")));
    for c in &cookies {
        assert!(
            c.contains("; Secure"),
            "proxied HTTPS, cookie without Secure: {c}"
        );
    }
}

/// Overwrites `f`'s files with a new certificate and key of the same sizes and puts the old
/// modification times back: only an explicit reload can notice the change.
fn replace_unnoticeably(f: &Files) -> CertificateDer<'static> {
    let old = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.modified().unwrap(), m.len())
    };
    let (cert_old, key_old) = (old(&f.cert), old(&f.key));
    for _ in 0..50 {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (cert.pem(), key.serialize_pem());
        if c.len() as u64 != cert_old.1 || k.len() as u64 != key_old.1 {
            continue;
        }
        for (path, text, mtime) in [(&f.cert, &c, cert_old.0), (&f.key, &k, key_old.0)] {
            std::fs::write(path, text).unwrap();
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(mtime).unwrap();
        }
        return cert.der().clone();
    }
    panic!("no certificate of the same length in 50 tries");
}

fn new_cert_served(addr: SocketAddr, der: &CertificateDer<'static>) -> bool {
    let conn =
        rustls::ClientConnection::new(client(der), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    tls.write_all(HEALTH).is_ok() && read_response(&mut tls).starts_with("HTTP/1.1 200")
}

#[test]
fn sighup_reloads_the_certificate_and_does_not_stop_pulse() {
    use crate::foundation_process::{pulse, sigterm, spawn_server};
    let f = write_cert("tls-hup", false);
    let data = support::temp_dir("tls-hup-data");
    let mut cmd = pulse();
    cmd.env("PULSE_DATA_DIR", &data)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1")
        .env("HTTPS_ENABLED", "true")
        .env("TLS_CERT_FILE", &f.cert)
        .env("TLS_KEY_FILE", &f.key);
    let (mut child, port, _log) = spawn_server(&mut cmd);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(new_cert_served(addr, &f.der));
    let fresh = replace_unnoticeably(&f);
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "SIGHUP ended the process"
        );
        if new_cert_served(addr, &fresh) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "certificate not reloaded on SIGHUP"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

fn redirect_addr(srv: &support::TestServer) -> Option<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    srv.apply(move |app| {
        let _ = tx.send(app.redirect_addr());
    });
    rx.recv().unwrap()
}

#[test]
fn the_redirect_port_sends_plain_http_to_https() {
    let f = write_cert("tls-redirect", false);
    let mut e = crate::tls_https::env(&f);
    e.push(("PULSE_HTTP_REDIRECT_PORT", "0".into()));
    let pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = support::TestServer::start(&pairs);
    let plain = redirect_addr(&srv).expect("redirect listener");
    let tls_port = srv.addr.port();
    let r = support::raw_request(
        plain,
        format!(
            "GET /api/health?x=1 HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            plain.port()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://localhost:{tls_port}/api/health?x=1")
    );
    // Not an app answer: no API is served in clear, whatever the path.
    let r = support::raw_request(
        plain,
        b"POST /api/login HTTP/1.1\r\nHost: pulse.lan\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://pulse.lan:{tls_port}/api/login")
    );
    // curl follows it to the HTTPS port.
    let out = run(
        Command::new("curl").args([
            "-sS",
            "-L",
            "--cacert",
            &f.cert.display().to_string(),
            "--resolve",
            &format!("localhost:{}:127.0.0.1", plain.port()),
            "--resolve",
            &format!("localhost:{tls_port}:127.0.0.1"),
            &format!("http://localhost:{}/api/health", plain.port()),
        ]),
        b"",
    );
    assert!(out.contains("\"healthy\""), "{out}");
    // Without HTTPS there is nothing to redirect to: no listener.
    let srv = support::TestServer::start(&[("PULSE_HTTP_REDIRECT_PORT", "0")]);
    assert_eq!(redirect_addr(&srv), None);
}

#[test]
fn setup_and_agent_install_scripts_point_at_https() {
    use crate::tls_https::https_req;
    let f = write_cert("tls-scripts", false);
    let srv = start(&f);
    let cfg = client(&f.der);
    let json = [("Content-Type", "application/json")];
    let r = https_req(
        srv.addr,
        &cfg,
        "POST",
        "/api/setup-script-url",
        &json,
        r#"{"type":"pve","host":"https://10.0.0.1:8006"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://localhost/api/setup-script?"),
        "{url}"
    );
    assert!(url.contains("pulse_url=https%3A%2F%2Flocalhost"), "{url}");
    let r = https_req(srv.addr, &cfg, "GET", "/api/setup-script?type=pve", &[], "");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("https://localhost"),
        "setup script calls back over HTTPS"
    );
    for script in ["/install-docker-agent.sh", "/install-host-agent.sh"] {
        let r = https_req(srv.addr, &cfg, "GET", script, &[], "");
        assert!(
            r.text().contains("urls=(\"https://localhost\")"),
            "{script}: default URL over HTTPS"
        );
    }
}
