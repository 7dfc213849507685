//! End to end through the real server: the simulator pins a VM's CPU over its threshold →
//! exactly one webhook delivery and one email; it recovers → one resolution each; an
//! acknowledged alert is not re-notified while an unacknowledged one gets its reminder.

use super::*;
use pulse::sim::SimHandle;
use serde_json::json;

fn polled_sim(s: &TestServer) -> SimHandle {
    crate::support::sim::polled_sim(s, 6)
}

/// Alerts on at once, no grace period, no grouping delay.
fn alerts_on(s: &TestServer, cooldown: u32) {
    let cfg = json!({
        "timeThresholds": {"guest": 0, "node": 0, "storage": 0, "pbs": 0},
        "schedule": {"cooldown": cooldown, "groupingWindow": 0, "grouping": {"enabled": false, "window": 0},
                     "maxAlertsHour": 100},
    });
    let r = send(s, "PUT", "/api/alerts/config", &cfg);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        send(s, "POST", "/api/alerts/activate", &json!({})).status,
        200
    );
}

fn vm_id(s: &TestServer, vmid: u64) -> (String, String) {
    let st = wait_json(s, "/api/state", 30, |st| {
        st["vms"]
            .as_array()
            .is_some_and(|v| v.iter().any(|g| g["vmid"] == vmid))
    });
    let vm = st["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == vmid)
        .unwrap()
        .clone();
    (
        vm["id"].as_str().unwrap().to_string(),
        vm["name"].as_str().unwrap().to_string(),
    )
}

/// Webhook requests about `alert_id` within `ms` (generic payload: one alert or grouped).
fn hooks_for(rx: &Receiver, alert_id: &str, ms: u64) -> Vec<Value> {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Some(got) = rx.none_within(left.as_millis() as u64) else {
            break;
        };
        let v = got.json();
        let mentions = v["alert"]["id"] == alert_id
            || v["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["id"] == alert_id));
        if mentions {
            out.push(v);
        }
    }
    out
}

/// Mails about `needle` ("vm-100 CPU": the simulator's guests may cross other thresholds, such
/// as memory, on their own).
fn mails_for(sink: &Sink, needle: &str, ms: u64) -> Vec<Value> {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Some(m) = sink.none_within(left.as_millis() as u64) else {
            break;
        };
        if m["data"].as_str().unwrap_or("").contains(needle) {
            out.push(m);
        }
    }
    out
}

fn setup_channels(s: &TestServer, rx: &Receiver, sink: &Sink) {
    let r = send(
        s,
        "POST",
        "/api/notifications/webhooks",
        &json!({"name": "ops", "url": rx.url("/hook"), "service": "generic", "enabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        s,
        "PUT",
        "/api/notifications/email",
        &json!({
        "enabled": true, "server": "127.0.0.1", "port": sink.port, "from": "pulse@example.com",
        "to": ["ops@example.com"], "tls": false, "startTLS": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_vm_over_its_threshold_notifies_once_and_its_recovery_once() {
    let rx = Receiver::start();
    let sink = Sink::start(&[]);
    let s = server(&[]);
    alerts_on(&s, 5);
    setup_channels(&s, &rx, &sink);
    let sim = polled_sim(&s);
    let (vm, name) = vm_id(&s, 100);
    let alert_id = format!("{vm}-cpu");

    assert!(sim.set_guest_cpu(100, Some(0.95)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        a.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == alert_id.as_str())
    });
    // Several polls (1 s apart) while it stays hot: still exactly one of each.
    let hooks = hooks_for(&rx, &alert_id, 5000);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let h = &hooks[0];
    let alert = if h["alert"].is_object() {
        &h["alert"]
    } else {
        &h["alerts"][0]
    };
    assert_eq!(h["event"], "alert");
    assert_eq!(alert["level"], "critical");
    assert_eq!(alert["resourceName"], name.as_str());
    let mails = mails_for(&sink, &format!("{name} CPU"), 1000);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]["data"]
        .as_str()
        .unwrap()
        .contains("Subject: [Pulse Alert]"));

    assert!(sim.set_guest_cpu(100, Some(0.40)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        !a.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == alert_id.as_str())
    });
    let hooks = hooks_for(&rx, &alert_id, 4000);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["event"], "resolved");
    let mails = mails_for(&sink, &format!("{name} CPU"), 1000);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0]["data"]
        .as_str()
        .unwrap()
        .contains("Subject: [Pulse Resolved]"));

    let h = s.get("/api/notifications/history").json();
    let about: Vec<&Value> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["alertIds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i == alert_id.as_str())
        })
        .collect();
    assert_eq!(about.len(), 4, "webhook + email, alert + resolution: {h}");
    assert!(about.iter().all(|e| e["success"] == true));
}

/// Cooldown is in minutes, so this waits a little over one.
#[test]
fn an_acknowledged_alert_is_not_renotified() {
    let rx = Receiver::start();
    let sink = Sink::start(&[]);
    let s = server(&[]);
    alerts_on(&s, 1);
    setup_channels(&s, &rx, &sink);
    let sim = polled_sim(&s);
    let (a, _) = vm_id(&s, 100);
    let (b, _) = vm_id(&s, 101);
    let (ida, idb) = (format!("{a}-cpu"), format!("{b}-cpu"));
    assert!(sim.set_guest_cpu(100, Some(0.95)));
    assert!(sim.set_guest_cpu(101, Some(0.95)));
    wait_json(&s, "/api/alerts/active", 30, |v| {
        let ids: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        ids.contains(&ida.as_str()) && ids.contains(&idb.as_str())
    });
    let enc = |id: &str| id.replace('/', "%2F").replace(':', "%3A");
    let r = s.req(
        "POST",
        &format!("/api/alerts/{}/acknowledge", enc(&ida)),
        &[JSON],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Over the 1-minute cooldown: B (not acknowledged) is reminded, A is not.
    let until = Instant::now() + Duration::from_secs(75);
    let (mut na, mut nb) = (0, 0);
    while Instant::now() < until && nb < 2 {
        let Some(got) = rx.none_within(1000) else {
            continue;
        };
        let v = got.json();
        let ids: Vec<String> = if v["alert"].is_object() {
            vec![v["alert"]["id"].as_str().unwrap().to_string()]
        } else {
            v["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect()
        };
        na += ids.iter().filter(|i| **i == ida).count();
        nb += ids.iter().filter(|i| **i == idb).count();
    }
    assert_eq!(nb, 2, "the unacknowledged alert fired and was reminded");
    assert_eq!(na, 1, "the acknowledged alert notified once only");
}

/// The alert `id` in a generic payload (one alert, or several grouped).
fn in_hook<'a>(hook: &'a Value, id: &str) -> &'a Value {
    if hook["alert"].is_object() {
        &hook["alert"]
    } else {
        hook["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == id))
            .unwrap_or(&Value::Null)
    }
}

fn active_alert(s: &TestServer, id: &str) -> Value {
    s.get("/api/alerts/active")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Acknowledging stops re-notification until the alert escalates: warning → acknowledged →
/// silence → critical → one more webhook and one more email, and it is no longer acknowledged.
#[test]
fn an_acknowledged_alert_that_escalates_notifies_again() {
    let rx = Receiver::start();
    let sink = Sink::start(&[]);
    let s = server(&[]);
    alerts_on(&s, 60); // an hour's cooldown: no reminder can explain a second notification
    setup_channels(&s, &rx, &sink);
    let sim = polled_sim(&s);
    let (vm, name) = vm_id(&s, 100);
    let id = format!("{vm}-cpu");
    let needle = format!("{name} CPU");

    // 85 %: over the trigger (80), under the critical margin (90).
    assert!(sim.set_guest_cpu(100, Some(0.85)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        a.as_array().unwrap().iter().any(|x| x["id"] == id.as_str())
    });
    let hooks = hooks_for(&rx, &id, 3000);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(in_hook(&hooks[0], &id)["level"], "warning", "{}", hooks[0]);
    assert_eq!(mails_for(&sink, &needle, 1000).len(), 1);

    let enc = id.replace('/', "%2F").replace(':', "%3A");
    let r = s.req(
        "POST",
        &format!("/api/alerts/{enc}/acknowledge"),
        &[JSON],
        Some(b"{}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(active_alert(&s, &id)["acknowledged"], true);
    assert!(
        hooks_for(&rx, &id, 2500).is_empty(),
        "acknowledged: quiet while it stays at warning"
    );

    assert!(sim.set_guest_cpu(100, Some(0.95)));
    let hooks = hooks_for(&rx, &id, 4000);
    assert_eq!(hooks.len(), 1, "the escalation notifies once: {hooks:?}");
    assert_eq!(hooks[0]["event"], "alert");
    assert_eq!(in_hook(&hooks[0], &id)["level"], "critical", "{}", hooks[0]);
    let mails = mails_for(&sink, &needle, 1500);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let a = active_alert(&s, &id);
    assert_eq!(a["level"], "critical");
    assert_eq!(
        a["acknowledged"], false,
        "a worse level needs attention again"
    );
}
