//! Email against a real SMTP server (aiosmtpd on loopback): plain with AUTH, STARTTLS with
//! AUTH (certificate trusted through `PULSE_SMTP_CA_FILE`), several recipients, one message per
//! alert and per resolution, a grouped digest, a server that refuses (recorded, not retried)
//! and one that hangs (retried, recorded, the loop keeps answering). The password never comes
//! back from the API and is not readable in `email.enc`.

use super::*;
use pulse::alerts::alert::Level;
use pulse::alerts::engine::EventKind;
use serde_json::json;

fn email_config(port: u16, start_tls: bool) -> Value {
    json!({"enabled": true, "provider": "custom", "server": "127.0.0.1", "port": port,
           "username": "pulse", "password": "SMTP-PASS-123", "from": "pulse@example.com",
           "to": ["ops@example.com", "oncall@example.com"], "tls": false, "startTLS": start_tls})
}

/// The decoded text of a (possibly quoted-printable / base64) MIME message, roughly.
fn subject(msg: &Value) -> String {
    msg["data"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn plain_smtp_with_auth_one_message_per_alert_and_resolution_and_a_digest() {
    let sink = Sink::start(&["--auth", "pulse:SMTP-PASS-123"]);
    let s = server(&[]);
    let r = send(
        &s,
        "PUT",
        "/api/notifications/email",
        &email_config(sink.port, false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = s.get("/api/notifications/email").json();
    assert_eq!(got["password"], "", "the password never comes back");
    assert_eq!(got["server"], "127.0.0.1");
    assert!(!s.get("/api/notifications/").text().contains("SMTP-PASS"));
    let raw = std::fs::read(s.data_dir.join("email.enc")).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("SMTP-PASS"));
    // Saving without a password keeps the stored one.
    let mut again = email_config(sink.port, false);
    again["password"] = json!("");
    assert_eq!(
        send(&s, "PUT", "/api/notifications/email", &again).status,
        200
    );

    fire(&s, vec![event(EventKind::Fired, "e1", Level::Critical)]);
    let m = sink.next(15);
    assert_eq!(m["user"], "pulse", "authenticated");
    assert_eq!(m["tls"], false);
    assert_eq!(m["from"], "pulse@example.com");
    assert_eq!(m["to"], json!(["ops@example.com", "oncall@example.com"]));
    assert_eq!(subject(&m), "[Pulse Alert] Critical: CPU on vm-e1");
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain") && data.contains("text/html"));
    assert!(data.contains("@pulse-monitoring>"), "Message-ID");
    assert!(sink.none_within(500).is_none(), "one message per alert");

    fire(&s, vec![event(EventKind::Resolved, "e1", Level::Critical)]);
    assert_eq!(subject(&sink.next(15)), "[Pulse Resolved] CPU on vm-e1");

    fire(
        &s,
        vec![
            event(EventKind::Fired, "g1", Level::Critical),
            event(EventKind::Fired, "g2", Level::Warning),
            event(EventKind::Fired, "g3", Level::Warning),
        ],
    );
    let digest = sink.next(15);
    assert_eq!(
        subject(&digest),
        "[Pulse Alert] 1 Critical, 2 Warning alerts"
    );
    let d = digest["data"].as_str().unwrap();
    assert!(d.contains("vm-g1") && d.contains("vm-g3"));
    assert!(sink.none_within(500).is_none(), "one digest for the batch");

    let h = wait_json(&s, "/api/notifications/history?channel=email", 10, |h| {
        h.as_array().unwrap().len() >= 3
    });
    assert!(
        h.as_array().unwrap().iter().all(|e| e["success"] == true),
        "{h}"
    );
    assert!(!h.to_string().contains("SMTP-PASS"));

    // The test endpoint, for email only.
    let r = send(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "email"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["message"], "Test notification sent");
    assert!(subject(&sink.next(15)).contains("Test VM"));
}

fn tls_files() -> (std::path::PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = support::temp_dir("smtp-tls");
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let ca = dir.join("cert.pem").display().to_string();
    (dir, ca)
}

#[test]
fn starttls_with_auth_and_a_private_ca() {
    let (dir, ca) = tls_files();
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let sink = Sink::start(&[
        "--cert",
        &cert,
        "--key",
        &key,
        "--auth",
        "pulse:SMTP-PASS-123",
    ]);
    let s = server(&[("PULSE_SMTP_CA_FILE", ca.as_str())]);
    assert_eq!(
        send(
            &s,
            "PUT",
            "/api/notifications/email",
            &email_config(sink.port, true)
        )
        .status,
        200
    );
    fire(&s, vec![event(EventKind::Fired, "t1", Level::Warning)]);
    let m = sink.next(15);
    assert_eq!(m["tls"], true, "STARTTLS happened");
    assert_eq!(m["user"], "pulse");
    assert_eq!(subject(&m), "[Pulse Alert] Warning: CPU on vm-t1");

    // Without STARTTLS the server (which requires it) refuses: recorded as a failure.
    assert_eq!(
        send(
            &s,
            "PUT",
            "/api/notifications/email",
            &email_config(sink.port, false)
        )
        .status,
        200
    );
    let r = send(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"type": "email"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("email"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Implicit TLS (SMTPS): `tls` on without `startTLS` on a port other than 25 / 587 speaks TLS
/// from the first byte; a plain client is refused by such a server.
#[test]
fn implicit_tls_with_auth_and_a_private_ca() {
    let (dir, ca) = tls_files();
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let sink = Sink::start(&[
        "--cert",
        &cert,
        "--key",
        &key,
        "--implicit",
        "--auth",
        "pulse:SMTP-PASS-123",
    ]);
    let s = server(&[("PULSE_SMTP_CA_FILE", ca.as_str())]);
    let mut cfg = email_config(sink.port, false);
    cfg["tls"] = json!(true);
    assert_eq!(
        send(&s, "PUT", "/api/notifications/email", &cfg).status,
        200
    );
    fire(&s, vec![event(EventKind::Fired, "i1", Level::Critical)]);
    let m = sink.next(15);
    assert_eq!(m["tls"], true, "TLS from the first byte");
    assert_eq!(m["user"], "pulse");
    assert_eq!(subject(&m), "[Pulse Alert] Critical: CPU on vm-i1");

    cfg["tls"] = json!(false);
    assert_eq!(
        send(&s, "PUT", "/api/notifications/email", &cfg).status,
        200
    );
    let r = send(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"type": "email"}),
    );
    assert_eq!(r.status, 400, "plain SMTP to an SMTPS port: {}", r.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refusing_server_is_recorded_and_a_hung_one_retried_without_blocking_the_loop() {
    let sink = Sink::start(&["--refuse"]);
    let s = server(&[
        ("PULSE_NOTIFY_TIMEOUT_MS", "1500"),
        ("PULSE_NOTIFY_RETRIES", "1"),
    ]);
    let mut cfg = email_config(sink.port, false);
    cfg["username"] = json!("");
    assert_eq!(
        send(&s, "PUT", "/api/notifications/email", &cfg).status,
        200
    );
    fire(&s, vec![event(EventKind::Fired, "x1", Level::Warning)]);
    let h = wait_json(&s, "/api/notifications/history?channel=email", 15, |h| {
        h[0]["alertIds"][0] == "x1"
    });
    assert_eq!(h[0]["success"], false);
    assert_eq!(
        h[0]["retryAttempts"], 0,
        "a permanent refusal is not retried"
    );
    assert!(
        h[0]["errorMessage"].as_str().unwrap().contains("554"),
        "{h}"
    );

    // A server that accepts and never speaks.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hung.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        hung.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            if let Ok((c, _)) = hung.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        conns.len()
    });
    cfg["port"] = json!(port);
    assert_eq!(
        send(&s, "PUT", "/api/notifications/email", &cfg).status,
        200
    );
    fire(&s, vec![event(EventKind::Fired, "x2", Level::Warning)]);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        assert_eq!(s.get("/api/health").status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "the loop answers while SMTP hangs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let h = wait_json(&s, "/api/notifications/history?channel=email", 20, |h| {
        h[0]["alertIds"][0] == "x2"
    });
    assert_eq!(h[0]["success"], false);
    assert_eq!(h[0]["retryAttempts"], 1, "a hang is retried");
    assert!(held.join().unwrap() >= 2, "two connection attempts");
}
