//! Webhooks: CRUD with secrets masked and encrypted at rest, SSRF refusals, template
//! validation at save time, every service's payload against golden files, custom templates
//! with hostile values, retries with backoff, 429 + Retry-After, a hung destination that does
//! not delay another, the per-destination rate limit, and the history.

use super::*;
use pulse::alerts::alert::Level;
use pulse::alerts::engine::EventKind;
use serde_json::json;

fn create(s: &TestServer, body: Value) -> support::Response {
    send(s, "POST", "/api/notifications/webhooks", &body)
}

#[test]
fn crud_masks_secrets_and_encrypts_them_at_rest() {
    let s = server(&[]);
    let rx = Receiver::start();
    let url = rx.url("/api/webhooks/123/SECRET-TOKEN-abc");
    let r = create(
        &s,
        json!({"name": "Discord", "url": url, "service": "discord", "enabled": true,
               "headers": {"Authorization": "Bearer HEADER-SECRET"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("webhook-"), "{created}");
    assert_eq!(created["method"], "POST");
    for body in [
        r.text(),
        s.get("/api/notifications/webhooks").text(),
        s.get("/api/notifications/").text(),
    ] {
        assert!(!body.contains("SECRET-TOKEN"), "{body}");
        assert!(!body.contains("HEADER-SECRET"), "{body}");
    }
    let list = s.get("/api/notifications/webhooks").json();
    assert_eq!(list[0]["url"], format!("http://{}/********", rx.addr));
    assert_eq!(list[0]["headers"]["Authorization"], "********");
    let raw = std::fs::read(s.data_dir.join("webhooks.enc")).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("SECRET-TOKEN"));
    assert!(
        !String::from_utf8_lossy(&raw).contains("Discord"),
        "encrypted whole"
    );

    // The masked form sent back keeps the stored secrets; the test goes to the real URL.
    let mut edit = list[0].clone();
    edit["name"] = json!("Discord renamed");
    let r = send(
        &s,
        "PUT",
        &format!("/api/notifications/webhooks/{id}"),
        &edit,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "success");
    let r = send(
        &s,
        "POST",
        "/api/notifications/webhooks/test",
        &json!({"webhookId": id}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = rx.next(10);
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/api/webhooks/123/SECRET-TOKEN-abc");
    assert_eq!(got.header("Authorization"), Some("Bearer HEADER-SECRET"));
    assert_eq!(got.header("User-Agent"), Some("Pulse-Monitoring/2.0"));
    assert_eq!(
        s.get("/api/notifications/webhooks").json()[0]["name"],
        "Discord renamed"
    );

    // History: recorded, masked.
    let h = s.get("/api/notifications/webhook-history").json();
    assert_eq!(h[0]["webhookName"], "Discord renamed");
    assert_eq!(h[0]["success"], true);
    assert_eq!(h[0]["statusCode"], 200);
    assert!(!h.to_string().contains("SECRET-TOKEN"), "{h}");

    assert_eq!(
        s.req(
            "DELETE",
            &format!("/api/notifications/webhooks/{id}"),
            &[],
            None
        )
        .status,
        200
    );
    assert_eq!(
        s.req(
            "DELETE",
            &format!("/api/notifications/webhooks/{id}"),
            &[],
            None
        )
        .status,
        404
    );
    assert_eq!(
        send(&s, "PUT", "/api/notifications/webhooks/nope", &edit).status,
        404
    );
    assert_eq!(s.get("/api/notifications/webhooks").json(), json!([]));
}

#[test]
fn ssrf_targets_are_refused_unless_allowed() {
    let strict = TestServer::start(&[]);
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "file:///etc/passwd",
    ] {
        let r = create(
            &strict,
            json!({"name": "x", "url": url, "service": "generic"}),
        );
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert!(r.json()["error"].is_string());
        let r = send(
            &strict,
            "POST",
            "/api/notifications/webhooks/test",
            &json!({"name": "x", "url": url}),
        );
        assert_eq!(r.status, 400, "{url}");
    }
    // A templated URL is checked after rendering.
    let r = create(
        &strict,
        json!({"name": "x", "url": "http://{{if true}}127.0.0.1{{end}}:9/", "service": "generic"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Allowed CIDRs open loopback, never the metadata service.
    let open = server(&[]);
    let rx = Receiver::start();
    assert_eq!(
        create(
            &open,
            json!({"name": "ok", "url": rx.url("/"), "service": "generic"})
        )
        .status,
        200
    );
    assert_eq!(
        create(
            &open,
            json!({"name": "md", "url": "http://169.254.169.254/", "service": "generic"})
        )
        .status,
        400
    );
    // The system setting adds CIDRs at run time.
    let r = send(
        &strict,
        "POST",
        "/api/system/settings/update",
        &json!({"webhookAllowedCIDRs": "127.0.0.0/8"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        create(
            &strict,
            json!({"name": "ok", "url": rx.url("/"), "service": "generic"})
        )
        .status,
        200
    );
}

#[test]
fn invalid_templates_are_refused_at_save_time() {
    let s = server(&[]);
    let rx = Receiver::start();
    for (tpl, why) in [
        (r#"{"a": "{{.Level}"}"#, "unclosed action"),
        (r#"{"a": {{if .Level}}1}"#, "missing end"),
        (r#"{"a": "{{nosuch .Level}}"}"#, "unknown function"),
        (r#"{"a": {{.Message}}}"#, "not JSON once rendered"),
    ] {
        let r = create(
            &s,
            json!({"name": "t", "url": rx.url("/"), "service": "generic", "template": tpl}),
        );
        assert_eq!(r.status, 400, "{why}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains("template"),
            "{why}: {}",
            r.text()
        );
    }
    assert_eq!(s.get("/api/notifications/webhooks").json(), json!([]));
}

#[test]
fn custom_templates_escape_quotes_newlines_and_unicode() {
    let s = server(&[]);
    let rx = Receiver::start();
    let tpl = r#"{"text": "{{.Level | upper}}: {{.Message}}", "name": "{{.ResourceName}}", "v": {{.Value}}, "t": {{printf "%.0f" .Threshold}}, "all": "{{range .Alerts}}{{.ResourceName}};{{end}}", "f": "{{.CustomFields.team}}"}"#;
    let r = create(
        &s,
        json!({"name": "custom", "url": rx.url("/hook?x={{.Level}}"), "service": "generic", "template": tpl,
               "customFields": {"team": "ops \"blue\""}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut e = event(EventKind::Fired, "q1", Level::Critical);
    e.alert.message = "quote \" backslash \\ newline \n tab \t ünï ✓ 🔥".into();
    e.alert.resource_name = "vm \"7\"".into();
    fire(&s, vec![e.clone()]);
    let got = rx.next(10);
    assert_eq!(got.path, "/hook?x=critical");
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    let v = got.json();
    assert_eq!(v["text"], format!("CRITICAL: {}", e.alert.message));
    assert_eq!(v["name"], "vm \"7\"");
    assert_eq!(v["v"], 85.5);
    assert_eq!(v["t"], 80);
    assert_eq!(v["all"], "vm \"7\";");
    assert_eq!(v["f"], "ops \"blue\"");
}

/// Replaces what changes from run to run (times, durations) so payloads compare.
fn normalise(v: &mut Value) {
    match v {
        Value::String(s) => *s = scrub(s),
        Value::Array(a) => a.iter_mut().for_each(normalise),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "timestamp" && x.is_number() {
                    *x = json!(0);
                } else {
                    normalise(x);
                }
            }
        }
        _ => {}
    }
}

fn scrub(s: &str) -> String {
    // RFC 3339 times → <time>.
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let is_time = b.len() >= i + 20
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 13] == b':';
        if is_time {
            let mut j = i + 19;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            if j < b.len() && b[j] == b'Z' {
                out.push_str("<time>");
                i = j + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[test]
fn every_service_payload_matches_its_golden_file() {
    let s = server(&[]);
    let rx = Receiver::start();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden/notify");
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    for service in [
        "discord",
        "slack",
        "teams",
        "telegram",
        "gotify",
        "ntfy",
        "pushover",
        "pagerduty",
        "generic",
    ] {
        let url = if service == "telegram" {
            rx.url("/botTOKEN/sendMessage?chat_id=-1001234")
        } else {
            rx.url(&format!("/{service}"))
        };
        let body = json!({"name": service, "url": url, "service": service,
                          "customFields": {"routing_key": "RK", "app_token": "APP", "user_token": "USR"}});
        let r = send(&s, "POST", "/api/notifications/webhooks/test", &body);
        assert_eq!(r.status, 200, "{service}: {}", r.text());
        assert_eq!(r.json()["success"], true);
        let got = rx.next(10);
        let (text, ext) = if service == "ntfy" {
            assert_eq!(
                got.header("Content-Type"),
                Some("text/plain; charset=utf-8")
            );
            assert_eq!(got.header("Priority"), Some("4"));
            (scrub(&String::from_utf8(got.body.clone()).unwrap()), "txt")
        } else {
            let mut v = got.json();
            normalise(&mut v);
            (serde_json::to_string_pretty(&v).unwrap() + "\n", "json")
        };
        if service == "telegram" {
            assert_eq!(
                got.path, "/botTOKEN/sendMessage",
                "chat_id moved into the body"
            );
        }
        let path = dir.join(format!("{service}.{ext}"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("golden file {path:?}"));
        assert_eq!(text, want, "{service} payload differs from {path:?}");
    }
}

#[test]
fn failures_are_retried_with_backoff_and_429_retry_after_is_honoured() {
    let s = server(&[]);
    let rx = Receiver::start();
    assert_eq!(
        create(
            &s,
            json!({"name": "flaky", "url": rx.url("/f"), "service": "generic"})
        )
        .status,
        200
    );
    rx.then(Answer::status(500));
    rx.then(Answer::status(503));
    fire(&s, vec![event(EventKind::Fired, "r1", Level::Warning)]);
    let a = rx.next(10);
    let b = rx.next(10);
    let c = rx.next(10);
    // Backoff 200 ms, then 400 ms (PULSE_NOTIFY_BACKOFF_MS=200, doubling).
    assert!(
        b.at - a.at >= Duration::from_millis(190),
        "{:?}",
        b.at - a.at
    );
    assert!(
        c.at - b.at >= Duration::from_millis(390),
        "{:?}",
        c.at - b.at
    );
    let h = wait_json(&s, "/api/notifications/webhook-history", 10, |h| {
        h[0]["alertId"] == "r1"
    });
    assert_eq!(h[0]["success"], true);
    assert_eq!(h[0]["retryAttempts"], 2);
    assert_eq!(h[0]["statusCode"], 200);

    // 429 with Retry-After: 1 → the next attempt waits a second, not 200 ms.
    rx.then(Answer {
        headers: vec![("Retry-After".into(), "1".into())],
        ..Answer::status(429)
    });
    fire(&s, vec![event(EventKind::Fired, "r2", Level::Warning)]);
    let a = rx.next(10);
    let b = rx.next(10);
    assert!(
        b.at - a.at >= Duration::from_millis(950),
        "{:?}",
        b.at - a.at
    );
    let h = wait_json(&s, "/api/notifications/webhook-history", 10, |h| {
        h[0]["alertId"] == "r2"
    });
    assert_eq!(h[0]["retryAttempts"], 1);

    // A 4xx is final: no retry, recorded as failed.
    rx.then(Answer::status(404));
    fire(&s, vec![event(EventKind::Fired, "r3", Level::Warning)]);
    rx.next(10);
    assert!(rx.none_within(800).is_none(), "a 404 is not retried");
    let h = wait_json(&s, "/api/notifications/history", 10, |h| {
        h[0]["alertIds"][0] == "r3"
    });
    assert_eq!(h[0]["success"], false);
    assert_eq!(h[0]["statusCode"], 404);
    assert_eq!(h[0]["retryAttempts"], 0);
    assert_eq!(h[0]["errorMessage"], "HTTP 404");
}

#[test]
fn a_hung_destination_does_not_delay_another() {
    let s = server(&[
        ("PULSE_NOTIFY_TIMEOUT_MS", "4000"),
        ("PULSE_NOTIFY_RETRIES", "0"),
    ]);
    let hung = Receiver::with_default(Answer {
        hang: true,
        ..Answer::status(200)
    });
    let good = Receiver::start();
    assert_eq!(
        create(
            &s,
            json!({"name": "hung", "url": hung.url("/h"), "service": "generic"})
        )
        .status,
        200
    );
    assert_eq!(
        create(
            &s,
            json!({"name": "good", "url": good.url("/g"), "service": "generic"})
        )
        .status,
        200
    );
    let t0 = Instant::now();
    fire(&s, vec![event(EventKind::Fired, "d1", Level::Critical)]);
    hung.next(5);
    good.next(5);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "the good one waited {:?}",
        t0.elapsed()
    );
    // The loop answers meanwhile.
    let t = Instant::now();
    assert_eq!(s.get("/api/health").status, 200);
    assert!(t.elapsed() < Duration::from_millis(500));
    // The hung one ends as a recorded timeout.
    let h = wait_json(&s, "/api/notifications/webhook-history", 15, |h| {
        h.as_array()
            .unwrap()
            .iter()
            .any(|e| e["webhookName"] == "hung")
    });
    let e = h
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["webhookName"] == "hung")
        .unwrap();
    assert_eq!(e["success"], false);
    assert_eq!(e["errorMessage"], "timed out");
}

#[test]
fn each_destination_is_rate_limited() {
    let s = server(&[("PULSE_NOTIFY_RATE_PER_MIN", "2")]);
    let rx = Receiver::start();
    assert_eq!(
        create(
            &s,
            json!({"name": "rl", "url": rx.url("/"), "service": "generic"})
        )
        .status,
        200
    );
    for i in 0..3 {
        fire(
            &s,
            vec![event(EventKind::Fired, &format!("rl{i}"), Level::Warning)],
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    rx.next(5);
    rx.next(5);
    assert!(rx.none_within(700).is_none(), "the third is dropped");
    let h = wait_json(&s, "/api/notifications/history", 10, |h| {
        h.as_array()
            .unwrap()
            .iter()
            .any(|e| e["alertIds"][0] == "rl2")
    });
    let e = h
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["alertIds"][0] == "rl2")
        .unwrap();
    assert_eq!(e["success"], false);
    assert!(
        e["errorMessage"].as_str().unwrap().contains("rate limited"),
        "{e}"
    );
}

#[test]
fn templates_list_and_history_survive_a_restart() {
    let dir = support::temp_dir("notify-hist");
    let d = dir.display().to_string();
    let env = [("PULSE_DATA_DIR", d.as_str())];
    let s = server(&env);
    let t = s.get("/api/notifications/webhook-templates").json();
    let services: Vec<&str> = t
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service"].as_str().unwrap())
        .collect();
    for want in [
        "discord",
        "slack",
        "teams",
        "telegram",
        "gotify",
        "ntfy",
        "pushover",
        "pagerduty",
        "generic",
    ] {
        assert!(services.contains(&want), "{want} in {services:?}");
    }
    assert!(t[0]["payloadTemplate"].as_str().unwrap().contains("{{"));
    let rx = Receiver::start();
    assert_eq!(
        create(
            &s,
            json!({"name": "keep", "url": rx.url("/k"), "service": "slack"})
        )
        .status,
        200
    );
    fire(&s, vec![event(EventKind::Fired, "h1", Level::Warning)]);
    assert!(rx.next(10).json()["blocks"].is_array());
    wait_json(&s, "/api/notifications/history", 10, |h| {
        h[0]["alertIds"][0] == "h1"
    });
    s.stop();
    let again = server(&env);
    let h = again.get("/api/notifications/history").json();
    assert_eq!(h[0]["alertIds"][0], "h1", "{h}");
    assert_eq!(h[0]["service"], "slack");
    assert_eq!(
        again.get("/api/notifications/webhooks").json()[0]["name"],
        "keep"
    );
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_is_encrypted_and_import_takes_webhooks_up_at_once() {
    let src = server(&[]);
    let rx = Receiver::start();
    let r = create(
        &src,
        json!({"name": "moved", "url": rx.url("/moved/TOKEN-XYZ"), "service": "generic"}),
    );
    assert_eq!(r.status, 200);
    let pass = json!({"passphrase": "correct horse battery staple"});
    let r = send(&src, "POST", "/api/config/export", &pass);
    assert_eq!(r.status, 200, "{}", r.text());
    let blob = r.json()["data"].as_str().unwrap().to_string();
    assert!(!r.text().contains("TOKEN-XYZ") && !r.text().contains("moved"));

    let dst = server(&[]);
    let r = send(
        &dst,
        "POST",
        "/api/config/import",
        &json!({"passphrase": "correct horse battery staple", "data": blob}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let list = dst.get("/api/notifications/webhooks").json();
    assert_eq!(list[0]["name"], "moved", "{list}");
    fire(&dst, vec![event(EventKind::Fired, "imp1", Level::Warning)]);
    assert_eq!(rx.next(10).path, "/moved/TOKEN-XYZ");
}

/// The grouping window: alerts fired within it go out as one grouped delivery when it ends;
/// an alert resolved before its firing went out is never sent, nor is its resolution.
#[test]
fn alerts_within_the_grouping_window_go_out_together() {
    let s = server(&[]);
    let rx = Receiver::start();
    assert_eq!(
        create(
            &s,
            json!({"name": "grouped", "url": rx.url("/g"), "service": "generic"})
        )
        .status,
        200
    );
    let window = Duration::from_secs(1);
    let send_events = |events: Vec<pulse::alerts::engine::Event>| {
        s.apply(move |app| {
            assert!(app
                .notify
                .send(pulse::notify::delivery::Cmd::Events(events, window)));
        });
    };
    let t0 = Instant::now();
    send_events(vec![event(EventKind::Fired, "g1", Level::Warning)]);
    std::thread::sleep(Duration::from_millis(300));
    send_events(vec![
        event(EventKind::Fired, "g2", Level::Critical),
        event(EventKind::Fired, "g3", Level::Warning),
    ]);
    std::thread::sleep(Duration::from_millis(100));
    send_events(vec![event(EventKind::Resolved, "g3", Level::Warning)]);
    let got = rx.next(5);
    assert!(
        got.at - t0 >= Duration::from_millis(900),
        "sent before the window ended: {:?}",
        got.at - t0
    );
    let v = got.json();
    assert_eq!(v["grouped"], true, "{v}");
    let ids: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["g1", "g2"], "{v}");
    assert!(
        rx.none_within(1500).is_none(),
        "nothing else: g3 resolved before anyone heard of it"
    );
}
