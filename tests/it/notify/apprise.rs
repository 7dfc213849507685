//! Apprise in API mode (a local HTTP receiver as the Apprise server) and CLI mode (a stand-in
//! `apprise` program that records its arguments), the key masked in answers; the test
//! endpoint (`/api/notifications/test`), the overview and
//! token scopes.

use super::*;
use pulse::alerts::alert::Level;
use pulse::alerts::engine::EventKind;
use serde_json::json;

#[test]
fn api_mode_posts_to_the_apprise_server_with_its_key() {
    let rx = Receiver::start();
    let s = server(&[]);
    let cfg = json!({"enabled": true, "mode": "http", "serverUrl": rx.url("/"), "configKey": "pulse",
                     "apiKey": "APPRISE-KEY-SECRET", "targets": ["tgram://BOTTOKEN/123", " tgram://BOTTOKEN/123 "]});
    let r = send(&s, "PUT", "/api/notifications/apprise", &cfg);
    assert_eq!(r.status, 200, "{}", r.text());
    let view = s.get("/api/notifications/apprise").json();
    assert_eq!(view["apiKey"], "********");
    assert_eq!(
        view["targets"],
        json!(["tgram://BOTTOKEN/********"]),
        "deduplicated, masked"
    );
    assert_eq!(view["timeoutSeconds"], 15);
    assert!(!s
        .get("/api/notifications/")
        .text()
        .contains("APPRISE-KEY-SECRET"));
    // Saving the view back keeps the key and the targets.
    assert_eq!(
        send(&s, "PUT", "/api/notifications/apprise", &view).status,
        200
    );

    fire(&s, vec![event(EventKind::Fired, "ap1", Level::Critical)]);
    let got = rx.next(10);
    assert_eq!(got.path, "/notify/pulse");
    assert_eq!(got.header("X-API-KEY"), Some("APPRISE-KEY-SECRET"));
    let v = got.json();
    assert_eq!(v["title"], "Pulse alert: vm-ap1");
    assert_eq!(v["type"], "failure");
    assert_eq!(v["urls"], "tgram://BOTTOKEN/123");
    assert!(v["body"].as_str().unwrap().contains("[CRITICAL] vm-ap1"));
    fire(&s, vec![event(EventKind::Resolved, "ap1", Level::Critical)]);
    assert_eq!(rx.next(10).json()["title"], "Pulse resolved: vm-ap1");
    let h = wait_json(&s, "/api/notifications/history?channel=apprise", 10, |h| {
        h.as_array().unwrap().len() == 2
    });
    assert!(
        h.as_array().unwrap().iter().all(|e| e["success"] == true),
        "{h}"
    );
}

#[test]
fn cli_mode_runs_the_apprise_program() {
    let dir = support::temp_dir("apprise-cli");
    let out = dir.join("args.txt");
    let script = dir.join("apprise");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = server(&[]);
    let cfg = json!({"enabled": true, "mode": "cli", "cliPath": script.display().to_string(),
                     "targets": ["mailto://user:pw@example.com"]});
    assert_eq!(
        send(&s, "PUT", "/api/notifications/apprise", &cfg).status,
        200
    );
    let r = send(
        &s,
        "POST",
        "/api/notifications/test",
        &json!({"method": "apprise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let args = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines[0], "-t");
    assert_eq!(lines[1], "Pulse alert: Test VM");
    assert_eq!(lines[2], "-b");
    assert_eq!(*lines.last().unwrap(), "mailto://user:pw@example.com");

    // CLI mode without targets cannot work: saved disabled, as Pulse does.
    let r = send(
        &s,
        "PUT",
        "/api/notifications/apprise",
        &json!({"enabled": true, "mode": "cli"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["enabled"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_endpoints_overview_and_validation() {
    let rx = Receiver::start();
    let s = server(&[]);
    // Nothing configured: a clear 400.
    let r = send(&s, "POST", "/api/notifications/test", &json!({}));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("no notification channel"));
    let r = send(
        &s,
        "POST",
        "/api/notifications/webhooks",
        &json!({"name": "w", "url": rx.url("/w"), "service": "gotify"}),
    );
    assert_eq!(r.status, 200);
    for path in ["/api/notifications/test", "/api/notifications/test"] {
        let r = send(&s, "POST", path, &json!({"type": "webhook"}));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.json()["status"], "success");
        let got = rx.next(10).json();
        assert_eq!(got["title"], "Pulse Warning: Test VM");
        assert_eq!(got["priority"], 5);
    }
    let o = s.get("/api/notifications/").json();
    assert_eq!(o["webhooks"][0]["name"], "w");
    assert_eq!(o["email"]["enabled"], false);
    let p = s.get("/api/notifications/email-providers").json();
    assert_eq!(p.as_array().unwrap().len(), 11);
    assert_eq!(p[0]["smtpHost"], "smtp.gmail.com");
    // POST /api/notifications/ updates email settings.
    let r = send(
        &s,
        "POST",
        "/api/notifications/",
        &json!({"email": {"enabled": false, "server": "smtp.example.com", "port": 587, "from": "a@example.com"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.get("/api/notifications/email").json()["server"],
        "smtp.example.com"
    );
    let r = send(
        &s,
        "PUT",
        "/api/notifications/email",
        &json!({"enabled": true, "server": "", "from": "a@example.com"}),
    );
    assert_eq!(r.status, 400);
    let r = send(
        &s,
        "PUT",
        "/api/notifications/email",
        &json!({"enabled": false, "to": ["not an address"]}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn token_scopes_guard_reads_and_writes() {
    let s = support::auth::start_with_admin(&[("PULSE_WEBHOOK_ALLOWED_CIDRS", "127.0.0.0/8")]);
    let b = support::auth::login(&s);
    let (read, _) = support::auth::mint(&s, &b, "r", Some(&["settings:read"]));
    let (write, _) = support::auth::mint(&s, &b, "w", Some(&["settings:write"]));
    let get = |t: &str| {
        s.req(
            "GET",
            "/api/notifications/webhooks",
            &[("X-API-Token", t)],
            None,
        )
        .status
    };
    let put = |t: &str| {
        s.req(
            "PUT",
            "/api/notifications/email",
            &[("X-API-Token", t), JSON],
            Some(br#"{"enabled":false}"#),
        )
        .status
    };
    assert_eq!(get(&read), 200);
    assert_eq!(put(&read), 403);
    assert_eq!(put(&write), 200);
    assert_eq!(s.get("/api/notifications/webhooks").status, 401);
}
