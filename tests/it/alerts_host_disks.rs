//! Per-filesystem disk alerts of host agents (`host:<hostId>/disk:<label>`): the observer and
//! the state machine with an injected clock (thresholds, overrides, hysteresis, an offline
//! host, a disk that is no longer reported), then through the real server with agent reports.

use pulse::alerts::alert::Level;
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, Event, EventKind};
use pulse::alerts::observe::{observe, Scratch};
use pulse::alerts::threshold::ThresholdConfig;
use pulse::alerts::tz::Zone;
use pulse::state::store::{ExtraArea, LiveState};
use serde_json::{json, Value};

const T0: i64 = 1_767_000_000_000;
const VAR: &str = "host:h1/disk:var-lib-docker-disk";
const ROOT: &str = "host:h1/disk:root-disk";

fn cfg() -> AlertConfig {
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    cfg.time_threshold = 0;
    cfg.time_thresholds.clear();
    cfg
}

/// A `hosts` entry of the state with the given (mount point, usage) disks.
fn host(status: &str, disks: &[(&str, f64)]) -> Value {
    json!({
        "id": "h1", "hostname": "db1", "displayName": "db1", "status": status,
        "cpuUsage": 5.0, "memory": {"total": 100, "used": 10, "free": 90, "usage": 10.0},
        "disks": disks.iter().map(|(m, u)| json!({"mountpoint": m, "device": "/dev/sda1",
            "total": 1000, "used": (*u * 10.0) as i64, "usage": u})).collect::<Vec<_>>(),
    })
}

struct Run {
    engine: Engine,
    scratch: Scratch,
    cfg: AlertConfig,
}

impl Run {
    fn new(cfg: AlertConfig) -> Run {
        Run {
            engine: Engine::new(),
            scratch: Scratch::new(),
            cfg,
        }
    }

    fn at(&mut self, secs: i64, h: Value) -> Vec<(EventKind, String)> {
        let mut state = LiveState::new();
        state.set_extra(ExtraArea::Hosts, vec![h]);
        let now = T0 + secs * 1000;
        let obs = observe(&state, &mut self.scratch, &self.cfg, now);
        let ev: Vec<Event> = self.engine.evaluate(&self.cfg, &Zone::utc(), &obs, now);
        let mut v: Vec<_> = ev.iter().map(|e| (e.kind, e.alert.id.clone())).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }
}

#[test]
fn each_disk_is_its_own_resource_with_hysteresis_and_expiry() {
    let mut r = Run::new(cfg()); // host disk 90/85
    let ev = r.at(0, host("online", &[("/", 40.0), ("/var/lib/docker", 93.0)]));
    assert_eq!(ev, vec![(EventKind::Fired, VAR.into())]);
    let a = r.engine.get(VAR).unwrap();
    assert_eq!(a.resource_id, "host:h1/disk:var-lib-docker");
    assert_eq!(a.resource_name, "db1 (/var/lib/docker)");
    assert_eq!(a.metadata.resource_type, "Host Disk");
    assert_eq!(a.kind, "disk");
    assert_eq!(a.level, Level::Warning);
    assert_eq!(a.threshold, 90.0);
    assert_eq!(a.message, "Host Disk disk at 93.0%");
    assert_eq!(a.node, "db1");
    // The emptier root disk does not hide it, and it does not make the root disk alert.
    assert!(r.engine.get(ROOT).is_none());
    // Critical at trigger + 10.
    let ev = r.at(
        10,
        host("online", &[("/", 40.0), ("/var/lib/docker", 100.0)]),
    );
    assert_eq!(ev, vec![(EventKind::Escalated, VAR.into())]);
    // Between clear and trigger: held; at clear: resolved.
    assert!(r
        .at(
            20,
            host("online", &[("/", 40.0), ("/var/lib/docker", 86.0)])
        )
        .is_empty());
    assert!(r.engine.get(VAR).is_some());
    let ev = r.at(
        30,
        host("online", &[("/", 40.0), ("/var/lib/docker", 85.0)]),
    );
    assert_eq!(ev, vec![(EventKind::Resolved, VAR.into())]);

    // Fires again; an offline host holds it (its last report is not news) ...
    r.at(
        40,
        host("online", &[("/", 95.0), ("/var/lib/docker", 95.0)]),
    );
    assert_eq!(r.engine.active().count(), 2);
    let ev = r.at(
        50,
        host("offline", &[("/", 10.0), ("/var/lib/docker", 10.0)]),
    );
    assert_eq!(ev, vec![(EventKind::Fired, "host-offline-h1".into())]);
    assert!(r.engine.get(VAR).unwrap().metadata.stale);
    assert!(r.engine.get(ROOT).is_some());
    // ... and a disk that is no longer reported resolves with the next evaluation.
    let ev = r.at(60, host("online", &[("/", 95.0)]));
    assert_eq!(
        ev,
        vec![
            (EventKind::Resolved, "host-offline-h1".into()),
            (EventKind::Resolved, VAR.into()),
        ]
    );
    assert!(r.engine.get(ROOT).is_some());
}

#[test]
fn host_and_disk_overrides_and_switches() {
    let th = |s: &str| -> ThresholdConfig { serde_json::from_str(s).unwrap() };
    let disks = [("/", 93.0), ("/var/lib/docker", 93.0), ("/srv", 93.0)];

    // The host's override applies to all its disks, a disk's own override wins for it.
    let mut c = cfg();
    c.overrides.insert(
        "host:h1".into(),
        th(r#"{"disk": {"trigger": 95, "clear": 90}}"#),
    );
    c.overrides.insert(
        "host:h1/disk:srv".into(),
        th(r#"{"disk": {"trigger": 92, "clear": 91}}"#),
    );
    c.overrides
        .insert("host:h1/disk:root".into(), th(r#"{"disk": -1}"#));
    let mut r = Run::new(c);
    assert_eq!(
        r.at(0, host("online", &disks)),
        vec![(EventKind::Fired, "host:h1/disk:srv-disk".into())]
    );
    assert_eq!(
        r.at(
            10,
            host("online", &[("/", 99.0), ("/var/lib/docker", 96.0)])
        ),
        vec![
            (EventKind::Resolved, "host:h1/disk:srv-disk".into()),
            (EventKind::Fired, VAR.into()),
        ]
    );

    // The host defaults' disk threshold is what a disk uses without overrides.
    let mut c = cfg();
    c.host_defaults.disk = Some(pulse::alerts::threshold::Threshold::new(95.0, 90.0));
    let mut r = Run::new(c);
    assert!(r.at(0, host("online", &disks)).is_empty());

    // A disabled host, or every host, raises nothing for its disks.
    let mut c = cfg();
    c.overrides
        .insert("host:h1".into(), th(r#"{"disabled": true}"#));
    assert!(Run::new(c).at(0, host("online", &disks)).is_empty());
    let mut c = cfg();
    c.disable_all_hosts = true;
    assert!(Run::new(c).at(0, host("online", &disks)).is_empty());
}

/// Through the real server: a host agent report with a full `/srv` raises
/// `host:<id>/disk:srv-disk` in `/api/alerts/active` and the state; a report at the clear
/// level resolves it (into the history); a report without the disk ends its alert.
#[test]
fn host_disk_alerts_through_the_server() {
    use crate::agents_ingest::{host_report, Agents};
    let a = Agents::start();
    let cfg =
        json!({"timeThresholds": {"all": 0}, "timeThreshold": 0, "activationState": "active"});
    let r = a
        .admin
        .send(&a.srv, "PUT", "/api/alerts/config", Some(&cfg.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = a.token(&["host-agent:report"]);
    let mut second = 0;
    let mut report = |srv_used: Option<i64>| {
        second += 1;
        let mut rep = host_report("srv-1", "srv1", &format!("2026-12-04T10:00:{second:02}Z"));
        let mut disks = vec![
            json!({"mountpoint": "/", "device": "/dev/sda1", "type": "ext4",
                                    "totalBytes": 1000, "usedBytes": 400}),
        ];
        if let Some(used) = srv_used {
            disks.push(
                json!({"mountpoint": "/srv", "device": "/dev/sdb1", "type": "xfs",
                              "totalBytes": 1000, "usedBytes": used}),
            );
        }
        rep["disks"] = json!(disks);
        let res = a.post("/api/agents/host/report", &t, rep.to_string().as_bytes());
        assert_eq!(res.status, 200, "{}", res.text());
    };
    let active = || -> Vec<Value> {
        let r = a.admin.send(&a.srv, "GET", "/api/alerts/active", None);
        assert_eq!(r.status, 200);
        r.json().as_array().cloned().unwrap_or_default()
    };
    let wait = |what: &str, pred: &dyn Fn(&[Value]) -> bool| -> Vec<Value> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = active();
            if pred(&now) {
                return now;
            }
            assert!(std::time::Instant::now() < until, "{what}: {now:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    const ID: &str = "host:srv-1/disk:srv-disk";
    let has = |v: &[Value]| v.iter().any(|x| x["id"] == ID);

    report(Some(950));
    let now = wait("raised", &has);
    let alert = now.iter().find(|x| x["id"] == ID).unwrap();
    assert_eq!(alert["resourceId"], "host:srv-1/disk:srv", "{alert}");
    assert_eq!(alert["resourceName"], "srv1 (/srv)", "{alert}");
    assert_eq!(alert["type"], "disk");
    assert_eq!(alert["level"], "warning");
    assert_eq!(alert["value"], 95.0);
    assert_eq!(alert["metadata"]["resourceType"], "Host Disk");
    assert!(
        !now.iter().any(|x| x["id"] == "host:srv-1/disk:root-disk"),
        "{now:?}"
    );
    let state = a.state();
    assert!(
        state["activeAlerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == ID),
        "{}",
        state["activeAlerts"]
    );

    // 87 %: between clear (85) and trigger (90), held; 85 %: resolved, in the history.
    report(Some(870));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(has(&active()), "held between clear and trigger");
    report(Some(850));
    wait("resolved at clear", &|v| !has(v));
    let h = a
        .admin
        .send(&a.srv, "GET", "/api/alerts/history?limit=10", None);
    assert_eq!(h.status, 200);
    assert!(
        h.json().as_array().unwrap().iter().any(|x| x["id"] == ID),
        "{}",
        h.text()
    );

    // Raised again, then the disk is gone from the reports (unmounted): its alert ends.
    report(Some(1000));
    let now = wait("raised again, critical", &|v| {
        v.iter().any(|x| x["id"] == ID && x["level"] == "critical")
    });
    assert!(has(&now));
    report(None);
    wait("expired with the disk", &|v| !has(v));
}
