//! Secrets never reach the log: the real `pulse` binary at debug level, its stderr kept, while
//! an SMTP password, a webhook URL token, a header secret and an Apprise key are saved, used,
//! fail and succeed. The saved history holds none of them either.

use super::*;
use serde_json::json;

#[test]
fn secrets_never_appear_in_the_log_or_the_history_file() {
    let dir = support::temp_dir("notify-secrets");
    let log = dir.join("stderr.log");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PULSE_DATA_DIR", &data)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1")
        .env("LOG_LEVEL", "debug")
        .env("PULSE_WEBHOOK_ALLOWED_CIDRS", "127.0.0.0/8")
        .env("PULSE_NOTIFY_TIMEOUT_MS", "2000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text.split("msg=listening addr=").nth(1) {
            break a.split_whitespace().next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "pulse did not start: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let call = |method: &str, path: &str, body: Value| {
        support::request(
            addr,
            method,
            path,
            &[JSON],
            Some(body.to_string().as_bytes()),
        )
    };
    let ok = Receiver::start();
    let bad = Receiver::with_default(Answer::status(500));
    let r = call(
        "POST",
        "/api/notifications/webhooks",
        json!({"name": "good", "service": "discord",
        "url": ok.url("/api/webhooks/1/URL-TOKEN-111"), "headers": {"Authorization": "HEADER-SECRET-222"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = call(
        "POST",
        "/api/notifications/webhooks/test",
        json!({"webhookId": id}),
    );
    assert_eq!(r.status, 200);
    let r = call(
        "POST",
        "/api/notifications/webhooks/test",
        json!({"name": "bad", "url": bad.url("/hook/URL-TOKEN-333")}),
    );
    assert_eq!(r.status, 400);
    assert!(!r.text().contains("URL-TOKEN-333"));
    let r = call(
        "PUT",
        "/api/notifications/email",
        json!({"enabled": true, "server": "127.0.0.1", "port": 9,
        "username": "u", "password": "SMTP-PASS-444", "from": "a@example.com"}),
    );
    assert_eq!(r.status, 200);
    let r = call(
        "PUT",
        "/api/notifications/apprise",
        json!({"enabled": true, "mode": "http",
        "serverUrl": bad.url("/"), "apiKey": "APPRISE-KEY-555"}),
    );
    assert_eq!(r.status, 200);
    let r = call("POST", "/api/notifications/test", json!({}));
    assert_eq!(r.status, 400, "email and apprise fail: {}", r.text());
    for secret in [
        "SMTP-PASS-444",
        "APPRISE-KEY-555",
        "URL-TOKEN",
        "HEADER-SECRET",
    ] {
        assert!(!r.text().contains(secret));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("notification"),
        "the deliveries were logged: {text}"
    );
    let history = std::fs::read_to_string(data.join("notification-history.json")).unwrap();
    assert!(history.contains("good"), "{history}");
    for secret in [
        "URL-TOKEN-111",
        "HEADER-SECRET-222",
        "URL-TOKEN-333",
        "SMTP-PASS-444",
        "APPRISE-KEY-555",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
        assert!(!history.contains(secret), "{secret} in the history file");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The data dir's `email.enc`, `apprise.enc` and `webhooks.enc` and a configuration export
/// hold no secret in clear; the export still carries them (sealed): after an import the SMTP
/// password still authenticates and the Apprise key is still set.
#[test]
fn data_files_and_exports_hold_no_secret_in_clear() {
    let sink = Sink::start(&["--auth", "pulse:SMTP-PASS-EXP-1"]);
    let rx = Receiver::start();
    let src = server(&[]);
    let r = send(
        &src,
        "PUT",
        "/api/notifications/email",
        &json!({"enabled": true, "provider": "custom", "server": "127.0.0.1", "port": sink.port,
                "username": "pulse", "password": "SMTP-PASS-EXP-1", "from": "pulse@example.com",
                "to": ["ops@example.com"], "tls": false, "startTLS": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &src,
        "PUT",
        "/api/notifications/apprise",
        &json!({"enabled": true, "mode": "http", "serverUrl": rx.url("/"),
                "apiKey": "APPRISE-KEY-EXP-2"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &src,
        "POST",
        "/api/notifications/webhooks",
        &json!({"name": "w", "service": "generic", "url": rx.url("/hook/URL-TOKEN-EXP-3"),
                "headers": {"Authorization": "HEADER-SECRET-EXP-4"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let secrets = [
        "SMTP-PASS-EXP-1",
        "APPRISE-KEY-EXP-2",
        "URL-TOKEN-EXP-3",
        "HEADER-SECRET-EXP-4",
    ];
    for file in ["email.enc", "apprise.enc", "webhooks.enc"] {
        let raw = std::fs::read(src.data_dir.join(file)).unwrap();
        let text = String::from_utf8_lossy(&raw);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {file}");
        }
    }
    let pass = json!({"passphrase": "correct horse battery staple"});
    let r = send(&src, "POST", "/api/config/export", &pass);
    assert_eq!(r.status, 200, "{}", r.text());
    for secret in secrets {
        assert!(!r.text().contains(secret), "{secret} in the export");
    }
    let blob = r.json()["data"].as_str().unwrap().to_string();

    let dst = server(&[]);
    let r = send(
        &dst,
        "POST",
        "/api/config/import",
        &json!({"passphrase": "correct horse battery staple", "data": blob}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        dst.get("/api/notifications/apprise").json()["apiKey"],
        "********",
        "the key came along, masked"
    );
    let r = send(
        &dst,
        "POST",
        "/api/notifications/test",
        &json!({"method": "email"}),
    );
    assert_eq!(
        r.status,
        200,
        "the imported password authenticates: {}",
        r.text()
    );
    assert!(sink.next(15)["data"].as_str().unwrap().contains("Test VM"));
    for file in ["email.enc", "apprise.enc"] {
        let raw = std::fs::read(dst.data_dir.join(file)).unwrap();
        let text = String::from_utf8_lossy(&raw);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in the imported {file}");
        }
    }
}
