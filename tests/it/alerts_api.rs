//! Alerts through the real server: the simulator pushes a VM over its CPU threshold and back,
//! the alert shows in `/api/alerts/active`, the state and on the WebSocket, resolves into the
//! history, which survives a restart; acknowledge / unacknowledge / clear and the bulk forms;
//! configuration refused with the field named and nothing changed; history filters; scopes.

use crate::support;

use pulse::monitor::task_key::InstanceKind;
use pulse::sim::SimHandle;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{ws_connect, ws_next, TestServer, WsClient};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn put(s: &TestServer, path: &str, body: &Value) -> support::Response {
    s.req("PUT", path, &[JSON], Some(body.to_string().as_bytes()))
}

fn post(s: &TestServer, path: &str, body: &Value) -> support::Response {
    s.req("POST", path, &[JSON], Some(body.to_string().as_bytes()))
}

/// Polls `path` until `pred` holds (or fails after `secs`).
pub(crate) fn wait_json(
    s: &TestServer,
    path: &str,
    secs: u64,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = s.get(path).json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never matched: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads WebSocket messages until one of type `kind` satisfies `pred`.
fn ws_wait(ws: &mut WsClient, kind: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        assert!(Instant::now() < deadline, "no {kind} message arrived");
        let msg = ws_next(ws);
        if msg["type"] == kind && pred(&msg["data"]) {
            return msg["data"].clone();
        }
    }
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A one-node simulator, polled every second by `s` as instance `lab`.
fn polled_sim(s: &TestServer) -> SimHandle {
    crate::support::sim::polled_sim(s, 6)
}

/// No grace period: an alert fires on the first poll over its trigger.
fn no_grace() -> Value {
    json!({"timeThresholds": {"guest": 0, "node": 0, "storage": 0, "pbs": 0}})
}

#[test]
fn a_vm_over_its_threshold_fires_resolves_and_stays_in_the_history() {
    let dir = support::temp_dir("alerts-flow");
    let dir_s = dir.display().to_string();
    let env = [("PULSE_DATA_DIR", dir_s.as_str())];
    let s = TestServer::start(&env);
    assert_eq!(put(&s, "/api/alerts/config", &no_grace()).status, 200);
    let sim = polled_sim(&s);
    // VM 100 of the simulator (index 0: a running VM).
    let state = wait_json(&s, "/api/state", 30, |st| {
        st["vms"]
            .as_array()
            .is_some_and(|v| v.iter().any(|g| g["vmid"] == 100))
    });
    let vm_id = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == 100)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alert_id = format!("{vm_id}-cpu");
    assert!(!ids(&s.get("/api/alerts/active").json()).contains(&alert_id));

    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "welcome");
    assert_eq!(ws_next(&mut ws)["type"], "initialState");

    assert!(sim.set_guest_cpu(100, Some(0.95)));
    let active = wait_json(&s, "/api/alerts/active", 30, |a| ids(a).contains(&alert_id));
    let alert = active
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id.as_str())
        .unwrap();
    assert_eq!(alert["type"], "cpu");
    assert_eq!(alert["level"], "critical", "95 % is past trigger + 10");
    assert_eq!(alert["resourceId"], vm_id.as_str());
    assert_eq!(alert["threshold"], 80.0);
    assert_eq!(alert["metadata"]["resourceType"], "VM");
    assert_eq!(alert["metadata"]["clearThreshold"], 75.0);
    assert!((alert["value"].as_f64().unwrap() - 95.0).abs() < 0.01);
    let pushed = ws_wait(&mut ws, "alert", 20, |d| d["id"] == alert_id.as_str());
    assert_eq!(pushed["level"], "critical");
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).contains(&alert_id)
    });

    // Between clear (75) and trigger (80): hysteresis keeps it.
    assert!(sim.set_guest_cpu(100, Some(0.78)));
    wait_json(&s, "/api/alerts/active", 10, |a| {
        a.as_array().unwrap().iter().any(|x| {
            x["id"] == alert_id.as_str() && (x["value"].as_f64().unwrap() - 78.0).abs() < 0.01
        })
    });

    assert!(sim.set_guest_cpu(100, Some(0.40)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        !ids(a).contains(&alert_id)
    });
    ws_wait(&mut ws, "alertResolved", 20, |d| {
        d["alertId"] == alert_id.as_str()
    });
    let st = wait_json(&s, "/api/state", 10, |st| {
        ids(&st["recentlyResolved"]).contains(&alert_id)
    });
    assert!(!ids(&st["activeAlerts"]).contains(&alert_id));
    let history = s.get("/api/alerts/history").json();
    let entry = history
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id.as_str())
        .expect("in the history")
        .clone();
    assert!(entry["resolvedTime"].is_string(), "{entry}");
    assert_eq!(entry["level"], "critical");
    drop(ws);
    s.stop();

    // Same data dir, no simulator: the history and the configuration are still there.
    let again = TestServer::start(&env);
    let history = again.get("/api/alerts/history").json();
    let kept = history
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id.as_str())
        .expect("history survives a restart");
    assert_eq!(kept["resolvedTime"], entry["resolvedTime"]);
    assert_eq!(
        again.get("/api/alerts/config").json()["timeThresholds"]["guest"],
        0
    );
    let active = again.get("/api/alerts/active").json();
    assert!(!ids(&active).contains(&alert_id), "{active}");
    again.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Evaluations rewrite `active-alerts.json` at most every few seconds (here: once an hour);
/// what changed since is saved at shutdown, so a restart neither loses an alert that fired
/// nor brings back one that resolved.
#[test]
fn a_restart_restores_exactly_the_alerts_active_at_shutdown() {
    let dir = support::temp_dir("alerts-restart");
    let dir_s = dir.display().to_string();
    let env = [("PULSE_DATA_DIR", dir_s.as_str())];
    let s = TestServer::start(&env);
    assert_eq!(put(&s, "/api/alerts/config", &no_grace()).status, 200);
    s.apply(|app| app.alerts.set_active_save_interval(3_600_000));
    let sim = polled_sim(&s);
    let state = wait_json(&s, "/api/state", 30, |st| {
        st["vms"]
            .as_array()
            .is_some_and(|v| v.iter().filter(|g| g["status"] == "running").count() >= 2)
    });
    let running: Vec<(u32, String)> = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "running")
        .map(|g| {
            (
                g["vmid"].as_u64().unwrap() as u32,
                format!("{}-cpu", g["id"].as_str().unwrap()),
            )
        })
        .collect();
    let ((vm_a, alert_a), (vm_b, alert_b)) = (running[0].clone(), running[1].clone());
    let file = dir.join("active-alerts.json");
    let on_disk = || std::fs::read_to_string(&file).unwrap_or_default();

    // An acknowledgement is saved at once (the answer waits for the write).
    assert!(sim.set_guest_cpu(vm_a, Some(0.95)));
    wait_json(&s, "/api/alerts/active", 30, |a| ids(a).contains(&alert_a));
    let r = post(
        &s,
        &format!("/api/alerts/{alert_a}/acknowledge"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(on_disk().contains(&alert_a), "acknowledged alert saved");
    // A resolves and B fires within the interval: the file still says A only.
    assert!(sim.set_guest_cpu(vm_a, Some(0.10)));
    assert!(sim.set_guest_cpu(vm_b, Some(0.95)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        ids(a).contains(&alert_b) && !ids(a).contains(&alert_a)
    });
    std::thread::sleep(Duration::from_millis(300));
    let before = on_disk();
    assert!(
        before.contains(&alert_a) && !before.contains(&alert_b),
        "{before}"
    );
    s.stop();
    drop(sim);

    // No simulator now: B is restored (held until its instance answers), A stays resolved.
    let after = on_disk();
    assert!(
        after.contains(&alert_b) && !after.contains(&alert_a),
        "{after}"
    );
    let again = TestServer::start(&env);
    let active = ids(&again.get("/api/alerts/active").json());
    assert!(active.contains(&alert_b), "{active:?}");
    assert!(!active.contains(&alert_a), "{active:?}");
    again.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An alert as `active-alerts.json` holds it: restored at start-up; its instance (`agent`)
/// never reports, so it is held as it is.
pub(crate) fn stored_alert(id: &str, level: &str) -> Value {
    let now = pulse::util::time::UtcTime::now().to_rfc3339();
    json!({
        "id": id, "type": "cpu", "level": level, "resourceId": id, "resourceName": id,
        "node": "n1", "instance": "agent", "message": "Host cpu at 91.0%", "value": 91.0,
        "threshold": 80.0, "startTime": now, "lastSeen": now, "acknowledged": false,
        "metadata": {"resourceType": "Host", "clearThreshold": 75.0, "monitorOnly": false}
    })
}

fn start_with_active(alerts: &[Value]) -> (TestServer, std::path::PathBuf) {
    let dir = support::temp_dir("alerts-ops");
    std::fs::write(
        dir.join("active-alerts.json"),
        serde_json::to_vec(alerts).unwrap(),
    )
    .unwrap();
    let dir_s = dir.display().to_string();
    (
        TestServer::start(&[("PULSE_DATA_DIR", dir_s.as_str())]),
        dir,
    )
}

pub(crate) fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or(&Value::Null)
}

#[test]
fn acknowledge_unacknowledge_clear_and_bulk_with_encoded_ids() {
    let odd = "docker:host1/web:8080-cpu";
    let (s, dir) = start_with_active(&[
        stored_alert(odd, "warning"),
        stored_alert("a-cpu", "critical"),
        stored_alert("b-cpu", "warning"),
    ]);
    // Restored alerts are published into the state at start-up.
    let st = wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).len() == 3
    });
    assert!(ids(&st["activeAlerts"]).contains(&odd.to_string()));

    let enc = "docker%3Ahost1%2Fweb%3A8080-cpu";
    let r = post(
        &s,
        &format!("/api/alerts/{enc}/acknowledge"),
        &json!({"user": "ops"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    let a = find(&s.get("/api/alerts/active").json(), odd).clone();
    assert_eq!(a["acknowledged"], true);
    assert_eq!(a["ackUser"], "ops");
    assert!(a["ackTime"].is_string());
    wait_json(&s, "/api/state", 10, |st| {
        find(&st["activeAlerts"], odd)["acknowledged"] == true
    });
    // The acknowledgement is on disk before the answer.
    let file = std::fs::read_to_string(dir.join("active-alerts.json")).unwrap();
    assert!(file.contains("\"ackUser\":\"ops\""), "{file}");

    let r = s.req(
        "POST",
        &format!("/api/alerts/{enc}/unacknowledge"),
        &[],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let a = find(&s.get("/api/alerts/active").json(), odd).clone();
    assert_eq!(a["acknowledged"], false);
    assert!(a["ackUser"].is_null());

    // Unknown ids: 404 JSON naming the decoded id; unknown actions 404; GET is 405.
    let r = s.req("POST", "/api/alerts/nope%2Fx/acknowledge", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "Alert not found: nope/x");
    assert_eq!(
        s.req("POST", "/api/alerts/a-cpu/explode", &[], None).status,
        404
    );
    assert_eq!(s.get("/api/alerts/a-cpu/acknowledge").status, 405);

    let r = s.req("POST", &format!("/api/alerts/{enc}/clear"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!ids(&s.get("/api/alerts/active").json()).contains(&odd.to_string()));
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["recentlyResolved"]).contains(&odd.to_string())
    });
    assert_eq!(
        s.req("POST", &format!("/api/alerts/{enc}/clear"), &[], None)
            .status,
        404
    );

    let r = post(
        &s,
        "/api/alerts/bulk/acknowledge",
        &json!({"alertIds": ["a-cpu", "b-cpu", "gone"], "user": "night-shift"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].clone();
    assert_eq!(results[0], json!({"alertId": "a-cpu", "success": true}));
    assert_eq!(results[2]["success"], false);
    assert!(results[2]["error"].is_string());
    let active = s.get("/api/alerts/active").json();
    assert!(active
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["acknowledged"] == true));
    assert!(active
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["ackUser"] == "night-shift"));
    let r = post(
        &s,
        "/api/alerts/bulk/unacknowledge",
        &json!({"alertIds": ["b-cpu"]}),
    );
    assert_eq!(r.json()["results"][0]["success"], true);
    assert_eq!(
        find(&s.get("/api/alerts/active").json(), "b-cpu")["acknowledged"],
        false
    );

    assert_eq!(
        post(&s, "/api/alerts/bulk/clear", &json!({"alertIds": []})).status,
        400
    );
    assert_eq!(
        s.req("POST", "/api/alerts/bulk/clear", &[JSON], Some(b"{"))
            .status,
        400
    );
    let r = post(
        &s,
        "/api/alerts/bulk/clear",
        &json!({"alertIds": ["a-cpu", "b-cpu"]}),
    );
    assert_eq!(r.status, 200);
    assert!(ids(&s.get("/api/alerts/active").json()).is_empty());
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).is_empty()
    });
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.join("active-alerts.json")).unwrap()).unwrap();
    assert_eq!(file, json!([]));
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_configuration_is_refused_with_the_field_named_and_nothing_changes() {
    let dir = support::temp_dir("alerts-config");
    let dir_s = dir.display().to_string();
    let s = TestServer::start(&[("PULSE_DATA_DIR", dir_s.as_str())]);
    let defaults = s.get("/api/alerts/config").json();
    assert_eq!(defaults["activationState"], "pending_review");
    assert_eq!(
        defaults["guestDefaults"]["cpu"],
        json!({"trigger": 80.0, "clear": 75.0})
    );

    let mut good = defaults.clone();
    good["guestDefaults"]["memory"] = json!({"trigger": 92.5, "clear": 88});
    assert_eq!(put(&s, "/api/alerts/config", &good).status, 200);
    let stored = s.get("/api/alerts/config").json();
    assert_eq!(stored["guestDefaults"]["memory"]["trigger"], 92.5);
    let on_disk = std::fs::read(dir.join("alerts.json")).expect("saved before the answer");

    for (body, field) in [
        (
            json!({"guestDefaults": {"cpu": {"trigger": 70, "clear": 90}}}),
            "guestDefaults.cpu.clear",
        ),
        (
            json!({"timeThresholds": {"guest": -30}}),
            "timeThresholds.guest",
        ),
        (
            json!({"metricTimeThresholds": {"node": {"cpu": -1}}}),
            "metricTimeThresholds.node.cpu",
        ),
        (
            json!({"schedule": {"cooldown": "soon"}}),
            "schedule.cooldown",
        ),
        (json!({"schedule": {"cooldown": -5}}), "schedule.cooldown"),
        (
            json!({"overrides": {"lab-pve1-100": {"cpu": "hot"}}}),
            "overrides.lab-pve1-100.cpu",
        ),
        (
            json!({"storageDefault": {"trigger": 150, "clear": 10}}),
            "storageDefault.trigger",
        ),
        (json!({"activationState": "sometimes"}), "activationState"),
        (json!([1, 2]), "JSON object"),
    ] {
        let r = put(&s, "/api/alerts/config", &body);
        assert_eq!(r.status, 400, "{body} was accepted");
        let err = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(err.contains(field), "{body}: {err:?} does not name {field}");
        assert_eq!(
            s.get("/api/alerts/config").json(),
            stored,
            "{body} changed the config"
        );
        assert_eq!(std::fs::read(dir.join("alerts.json")).unwrap(), on_disk);
    }
    let r = s.req(
        "PUT",
        "/api/alerts/config",
        &[JSON],
        Some(b"{\"enabled\": tru"),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("invalid JSON"));

    // Activation, and a later save without `activationState` keeps it.
    let r = s.req("POST", "/api/alerts/activate", &[], None);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        (v["success"].clone(), v["state"].clone()),
        (json!(true), json!("active"))
    );
    assert!(v["activationTime"].is_string());
    assert_eq!(
        s.req("POST", "/api/alerts/activate", &[], None).json()["message"],
        "Alerts already activated"
    );
    let r = put(
        &s,
        "/api/alerts/config",
        &json!({"guestDefaults": {"cpu": 90}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cfg = s.get("/api/alerts/config").json();
    assert_eq!(cfg["activationState"], "active");
    assert_eq!(cfg["activationTime"], v["activationTime"]);
    assert_eq!(
        cfg["guestDefaults"]["cpu"],
        json!({"trigger": 90.0, "clear": 85.0})
    );
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_filters_pages_and_clears() {
    let dir = support::temp_dir("alerts-history");
    let now = pulse::util::time::now_ms();
    let mut lines = String::new();
    for i in 0..6i64 {
        let mut a = stored_alert(
            &format!("h{i}-cpu"),
            if i % 2 == 0 { "warning" } else { "critical" },
        );
        let t = pulse::util::time::UtcTime::from_unix_ms(now - (6 - i) * 3_600_000);
        a["startTime"] = json!(t);
        a["resourceId"] = json!(if i < 3 { "vm-a" } else { "vm-b" });
        lines.push_str(&format!("{a}\n"));
    }
    std::fs::write(dir.join("alert-history.jsonl"), lines).unwrap();
    let dir_s = dir.display().to_string();
    let env = [("PULSE_DATA_DIR", dir_s.as_str())];
    let s = TestServer::start(&env);

    let all = s.get("/api/alerts/history");
    assert_eq!(all.header("X-Total-Count"), Some("6"));
    assert_eq!(ids(&all.json())[0], "h5-cpu", "newest first");
    let page = s.get("/api/alerts/history?limit=2&offset=1").json();
    assert_eq!(ids(&page), ["h4-cpu", "h3-cpu"]);
    let crit = s
        .get("/api/alerts/history?severity=critical&limit=0")
        .json();
    assert_eq!(ids(&crit), ["h5-cpu", "h3-cpu", "h1-cpu"]);
    let since = pulse::util::time::UtcTime::from_unix_ms(now - 2 * 3_600_000 - 60_000);
    let recent = s
        .get(&format!(
            "/api/alerts/history?startTime={}",
            since.to_rfc3339()
        ))
        .json();
    assert_eq!(ids(&recent), ["h5-cpu", "h4-cpu"]);
    assert_eq!(
        ids(&s.get("/api/alerts/history?resourceId=vm-a").json()).len(),
        3
    );
    assert_eq!(s.get("/api/alerts/history?limit=many").status, 400);
    assert!(
        s.get("/api/alerts/history?startTime=yesterday").json()["error"]
            .as_str()
            .unwrap()
            .contains("startTime")
    );
    assert_eq!(s.get("/api/alerts/history?severity=meh").status, 400);
    assert_eq!(
        s.get("/api/alerts/history?resourceId=none").json(),
        json!([])
    );

    let r = s.req("DELETE", "/api/alerts/history", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "success");
    assert_eq!(s.get("/api/alerts/history").json(), json!([]));
    s.stop();
    let again = TestServer::start(&env);
    assert_eq!(
        again.get("/api/alerts/history").json(),
        json!([]),
        "cleared on disk"
    );
    again.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reads_need_monitoring_read_and_changes_monitoring_write() {
    use support::auth;
    let s = auth::start_with_admin(&[]);
    let browser = auth::login(&s);
    let (reader, _) = auth::mint(&s, &browser, "reader", Some(&["monitoring:read"]));
    let as_reader = [("X-API-Token", reader.as_str()), JSON];
    assert_eq!(
        s.req("GET", "/api/alerts/config", &as_reader, None).status,
        200
    );
    assert_eq!(
        s.req("GET", "/api/alerts/active", &as_reader, None).status,
        200
    );
    assert_eq!(
        s.req("GET", "/api/alerts/history", &as_reader, None).status,
        200
    );
    for (method, path) in [
        ("PUT", "/api/alerts/config"),
        ("POST", "/api/alerts/activate"),
        ("DELETE", "/api/alerts/history"),
        ("POST", "/api/alerts/x/acknowledge"),
        ("POST", "/api/alerts/bulk/clear"),
    ] {
        let r = s.req(method, path, &as_reader, Some(b"{}"));
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(r.json()["requiredScope"], "monitoring:write");
    }
    // Anonymous: refused; a browser session without the CSRF token: refused.
    assert_eq!(s.get("/api/alerts/active").status, 401);
    let cookie = browser.cookie_header();
    let r = s.req(
        "POST",
        "/api/alerts/activate",
        &[("Cookie", cookie.as_str())],
        None,
    );
    assert_eq!(r.status, 403);
    let browser = auth::login(&s);
    let r = browser.send(&s, "POST", "/api/alerts/activate", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = browser.send(&s, "POST", "/api/alerts/x%2Fy/acknowledge", Some("{}"));
    assert_eq!(r.status, 404);
}

#[test]
fn demo_mode_shows_real_alerts() {
    let s = TestServer::start(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "1"),
        ("PULSE_MOCK_VMS_PER_NODE", "3"),
        ("PULSE_MOCK_LXCS_PER_NODE", "3"),
    ]);
    assert_eq!(
        s.get("/api/alerts/config").json()["activationState"],
        "active"
    );
    s.apply(|app| {
        app.polling
            .core
            .scheduler_mut()
            .set_interval_ms(InstanceKind::Pve, 1000);
    });
    let active = wait_json(&s, "/api/alerts/active", 40, |a| {
        a.as_array()
            .is_some_and(|l| l.iter().any(|x| x["level"] == "critical") && l.len() >= 3)
    });
    let hot: Vec<&Value> = active
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "cpu")
        .collect();
    assert!(hot.len() >= 3, "{active}");
    assert!(hot
        .iter()
        .any(|a| a["metadata"]["resourceType"] == "Container"));
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).len() >= 3
    });
}
