//! The documented alert routes beyond `/api/alerts/config` (`GET|POST /api/alerts/`), a
//! corrupt `alerts.json` set aside at start-up, and a check that is not a CPU threshold going
//! through the real server: the simulator's worn SSD raises a disk-wearout alert.

use crate::support;

use pulse::monitor::task_key::{InstanceKind, TaskKey};
use pulse::proxmox::Product;
use pulse::sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::TestServer;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn post(s: &TestServer, path: &str, body: &Value) -> support::Response {
    s.req("POST", path, &[JSON], Some(body.to_string().as_bytes()))
}

fn wait_json(s: &TestServer, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = s.get(path).json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never matched: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_documented_root_routes_show_status_and_merge_partial_settings() {
    let dir = support::temp_dir("alerts-root");
    let dir_s = dir.display().to_string();
    let s = TestServer::start(&[("PULSE_DATA_DIR", dir_s.as_str())]);
    for path in ["/api/alerts/", "/api/alerts"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let v = r.json();
        assert_eq!(v["config"], s.get("/api/alerts/config").json(), "{path}");
        assert_eq!(v["status"]["activationState"], "pending_review");
        assert_eq!(v["status"]["notifying"], false);
        assert_eq!(v["status"]["active"], 0);
        assert_eq!(v["status"]["history"], 0);
    }

    // POST changes only what it names (PUT would reset the rest to defaults).
    let r = post(
        &s,
        "/api/alerts/",
        &json!({"guestDefaults": {"cpu": {"trigger": 91, "clear": 86}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    let r = post(
        &s,
        "/api/alerts/",
        &json!({"guestDefaults": {"memory": {"trigger": 95, "clear": 90}},
                "schedule": {"quietHours": {"enabled": true, "timezone": "CET-1CEST,M3.5.0,M10.5.0/3"}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cfg = s.get("/api/alerts/config").json();
    assert_eq!(
        cfg["guestDefaults"]["cpu"],
        json!({"trigger": 91.0, "clear": 86.0})
    );
    assert_eq!(
        cfg["guestDefaults"]["memory"],
        json!({"trigger": 95.0, "clear": 90.0})
    );
    assert_eq!(cfg["guestDefaults"]["disk"]["trigger"], 90.0, "untouched");
    assert_eq!(cfg["schedule"]["quietHours"]["start"], "22:00", "untouched");
    assert_eq!(
        cfg["schedule"]["quietHours"]["timezone"],
        "CET-1CEST,M3.5.0,M10.5.0/3"
    );
    assert_eq!(cfg["schedule"]["cooldown"], 5);
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(dir.join("alerts.json")).unwrap()).unwrap();
    assert_eq!(on_disk["guestDefaults"]["cpu"]["trigger"], 91.0);

    // Refused with the field named, nothing changed; `null` removes a key (a metric without
    // a threshold is not checked).
    for (body, field) in [
        (
            json!({"guestDefaults": {"cpu": {"clear": 95}}}),
            "guestDefaults.cpu.clear",
        ),
        (
            json!({"schedule": {"maxAlertsHour": -1}}),
            "schedule.maxAlertsHour",
        ),
        (
            json!({"schedule": {"quietHours": {"timezone": "Mars/Olympus"}}}),
            "schedule.quietHours.timezone",
        ),
        (json!([1]), "JSON object"),
    ] {
        let r = post(&s, "/api/alerts/", &body);
        assert_eq!(r.status, 400, "{body}");
        let err = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(err.contains(field), "{body}: {err}");
        assert_eq!(s.get("/api/alerts/config").json(), cfg, "{body}");
    }
    let r = s.req(
        "POST",
        "/api/alerts/",
        &[JSON],
        Some(b"{\"guestDefaults\":"),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("invalid JSON"));
    let r = post(&s, "/api/alerts", &json!({"guestDefaults": {"cpu": null}}));
    assert_eq!(r.status, 200, "{}", r.text());
    let cfg = s.get("/api/alerts/config").json();
    assert!(cfg["guestDefaults"]["cpu"].is_null(), "reset: {cfg}");
    assert_eq!(cfg["guestDefaults"]["memory"]["trigger"], 95.0);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_alerts_json_is_set_aside_and_defaults_used() {
    let dir = support::temp_dir("alerts-corrupt");
    std::fs::write(dir.join("alerts.json"), b"{\"guestDefaults\": {\"cpu\": ").unwrap();
    let dir_s = dir.display().to_string();
    let s = TestServer::start(&[("PULSE_DATA_DIR", dir_s.as_str())]);
    let cfg = s.get("/api/alerts/config").json();
    assert_eq!(cfg["guestDefaults"]["cpu"]["trigger"], 80.0);
    let aside: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("alerts.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "set aside, not deleted");
    assert_eq!(
        std::fs::read(dir.join(&aside[0])).unwrap(),
        b"{\"guestDefaults\": {\"cpu\": "
    );
    assert!(!dir.join("alerts.json").exists());
    // A save writes a fresh file.
    assert_eq!(
        post(&s, "/api/alerts/", &json!({"enabled": true})).status,
        200
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join("alerts.json")).unwrap()).unwrap();
    assert_eq!(saved["guestDefaults"]["cpu"]["trigger"], 80.0);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Node index 2 of the simulator has an SSD with 8 % life left: its disk list is read from
/// the second poll on, and the alert is in `/api/alerts/active` and the state.
#[test]
fn the_simulators_worn_ssd_raises_a_disk_wearout_alert() {
    let s = TestServer::start(&[]);
    let r = s.req(
        "PUT",
        "/api/alerts/config",
        &[JSON],
        Some(br#"{"timeThresholds": {"storage": 0}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sim = Simulator::start(SimConfig {
        nodes: 3,
        guests: 3,
        ..SimConfig::default()
    })
    .expect("simulator");
    let body = json!({
        "type": "pve", "name": "lab", "host": sim.https_url(Product::Pve),
        "tokenName": pulse::sim::TOKEN_ID, "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(),
    });
    let r = post(&s, "/api/config/nodes", &body);
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    s.apply(|app| {
        let sched = app.polling.core.scheduler_mut();
        sched.set_interval_ms(InstanceKind::Pve, 1000);
        sched.retry_now(
            &TaskKey::new(InstanceKind::Pve, "lab"),
            pulse::util::time::now_ms(),
        );
    });
    let active = wait_json(&s, "/api/alerts/active", 40, |a| {
        a.as_array()
            .is_some_and(|l| l.iter().any(|x| x["type"] == "disk-wearout"))
    });
    let worn: Vec<&Value> = active
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "disk-wearout")
        .collect();
    assert_eq!(worn.len(), 1, "{active}");
    let a = worn[0];
    assert!(
        a["id"].as_str().unwrap().starts_with("disk-wearout-lab-"),
        "{a}"
    );
    assert_eq!(a["value"], 8.0);
    assert_eq!(a["level"], "warning");
    assert_eq!(a["metadata"]["resourceType"], "Disk");
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["type"] != "disk-health"),
        "SMART says PASSED/OK everywhere: {active}"
    );
    wait_json(&s, "/api/state", 10, |st| {
        st["activeAlerts"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["id"] == a["id"]))
    });
    drop(sim);
    s.stop();
}

#[test]
fn the_root_routes_need_monitoring_read_and_write() {
    use support::auth;
    let s = auth::start_with_admin(&[]);
    let browser = auth::login(&s);
    let (reader, _) = auth::mint(&s, &browser, "reader", Some(&["monitoring:read"]));
    let (writer, _) = auth::mint(&s, &browser, "writer", Some(&["monitoring:write"]));
    let as_reader = [("X-API-Token", reader.as_str()), JSON];
    let as_writer = [("X-API-Token", writer.as_str()), JSON];
    assert_eq!(s.req("GET", "/api/alerts/", &as_reader, None).status, 200);
    let r = s.req("POST", "/api/alerts/", &as_reader, Some(b"{}"));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["requiredScope"], "monitoring:write");
    let r = s.req(
        "POST",
        "/api/alerts/",
        &as_writer,
        Some(b"{\"enabled\": true}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.get("/api/alerts/").status, 401);
}
