//! ZFS pools end to end: the real server polls the simulator, the storage entry carries the
//! degraded pool with its faulted device, the pool's alerts fire into `/api/alerts/active` and
//! resolve when the simulator heals it; `PULSE_DISABLE_ZFS_MONITORING` turns it all off; and
//! through the state machine, the checks are switched off by `disableAllStorage` and an
//! override like the storage's other alerts.

use crate::support;

use pulse::alerts::alert::{Level, Observation, Presence, ResourceKind};
use pulse::alerts::checks_zfs;
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, EventKind};
use pulse::alerts::threshold::ThresholdConfig;
use pulse::alerts::tz::Zone;
use pulse::monitor::poll_pve::SlowReads;
use pulse::monitor::task_key::InstanceKind;
use pulse::proxmox::Product;
use pulse::sim::{SimConfig, SimHandle, Simulator};
use pulse::state::zfs::{ZfsDevice, ZfsPool};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::TestServer;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const STORAGE: &str = "lab-pve1-local-zfs";
const FAULTED: &str = "nvme1n1-part3";

fn wait_json(s: &TestServer, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
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

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn zfs_storage(state: &Value) -> Option<&Value> {
    state["storage"]
        .as_array()?
        .iter()
        .find(|s| s["id"] == STORAGE)
}

/// A one-node simulator polled every second as `lab`, its slow reads every second too.
fn polled_sim(s: &TestServer, slow: SlowReads) -> SimHandle {
    // Before the instance is added: it takes the slow reads in force then.
    s.apply(move |app| app.polling.core.set_slow_reads(slow));
    crate::support::sim::polled_sim(s, 4)
}

#[test]
fn a_degraded_pool_shows_alerts_and_resolves_when_healed() {
    let dir = support::temp_dir("alerts-zfs");
    let dir_s = dir.display().to_string();
    let s = TestServer::start(&[("PULSE_DATA_DIR", dir_s.as_str())]);
    let no_grace = json!({"timeThresholds": {"storage": 0}});
    let r = s.req(
        "PUT",
        "/api/alerts/config",
        &[JSON],
        Some(no_grace.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let fast = SlowReads {
        zfs: true,
        interval_ms: 1000,
    };
    let sim = polled_sim(&s, fast);

    // Healthy first: the pool is there, ONLINE, with nothing to list, and no ZFS alert.
    let st = wait_json(&s, "/api/state", 30, |st| {
        zfs_storage(st).is_some_and(|z| z["zfsPool"]["state"] == "ONLINE")
    });
    let pool = &zfs_storage(&st).unwrap()["zfsPool"];
    assert_eq!(pool["name"], "rpool");
    assert_eq!(pool["devices"], json!([]));
    assert!(pool["scan"].as_str().unwrap().contains("scrub"), "{pool}");
    let active = s.get("/api/alerts/active").json();
    assert!(
        !ids(&active).iter().any(|i| i.starts_with("zfs-")),
        "{active}"
    );

    assert!(sim.set_zfs_degraded("pve1", Some(true)));
    let st = wait_json(&s, "/api/state", 30, |st| {
        zfs_storage(st).is_some_and(|z| z["zfsPool"]["state"] == "DEGRADED")
    });
    let pool = &zfs_storage(&st).unwrap()["zfsPool"];
    assert_eq!(pool["readErrors"], 3, "{pool}");
    assert_eq!(
        (pool["writeErrors"].clone(), pool["checksumErrors"].clone()),
        (json!(0), json!(0))
    );
    assert!(
        pool["status"].as_str().unwrap().contains("faulted"),
        "{pool}"
    );
    let devices = pool["devices"].as_array().expect("devices");
    let faulted = devices
        .iter()
        .find(|d| d["name"] == FAULTED)
        .unwrap_or_else(|| panic!("the faulted leg is listed: {pool}"));
    assert_eq!(faulted["type"], "disk");
    assert_eq!(faulted["state"], "FAULTED");
    assert_eq!(faulted["readErrors"], 3);
    assert_eq!(faulted["message"], "too many errors");
    assert!(
        devices.iter().all(|d| d["name"] != "nvme0n1-part3"),
        "the healthy leg is not listed: {pool}"
    );
    assert!(devices
        .iter()
        .any(|d| d["name"] == "mirror-0" && d["type"] == "mirror"));

    let state_id = format!("zfs-pool-state-{STORAGE}");
    let errors_id = format!("zfs-pool-errors-{STORAGE}");
    let device_id = format!("zfs-device-{STORAGE}-{FAULTED}");
    let active = wait_json(&s, "/api/alerts/active", 30, |a| {
        let ids = ids(a);
        [&state_id, &errors_id, &device_id]
            .iter()
            .all(|id| ids.contains(id))
    });
    let alert = |id: &str| {
        active
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap()
    };
    let pool_alert = alert(&state_id);
    assert_eq!(pool_alert["type"], "zfs-pool-state");
    assert_eq!(pool_alert["level"], "warning", "DEGRADED is a warning");
    assert_eq!(pool_alert["resourceId"], STORAGE);
    assert_eq!(pool_alert["metadata"]["resourceType"], "Storage");
    assert_eq!(pool_alert["message"], "ZFS pool 'rpool' is DEGRADED");
    assert_eq!(alert(&errors_id)["level"], "warning");
    assert_eq!(alert(&errors_id)["value"], 3.0);
    let dev = alert(&device_id);
    assert_eq!(dev["level"], "critical", "a FAULTED device is critical");
    assert!(
        dev["message"].as_str().unwrap().contains("too many errors"),
        "{dev}"
    );
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).contains(&device_id)
    });

    // Healed: the pool is ONLINE again, its alerts resolve into the history.
    assert!(sim.set_zfs_degraded("pve1", Some(false)));
    wait_json(&s, "/api/alerts/active", 30, |a| {
        !ids(a).iter().any(|i| i.starts_with("zfs-"))
    });
    let st = s.get("/api/state").json();
    let pool = &zfs_storage(&st).unwrap()["zfsPool"];
    assert_eq!(pool["state"], "ONLINE");
    assert_eq!(pool["devices"], json!([]));
    let history = s.get("/api/alerts/history").json();
    for id in [&state_id, &errors_id, &device_id] {
        let entry = history
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} in the history: {history}"));
        assert!(entry["resolvedTime"].is_string(), "{entry}");
    }
    drop(sim);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zfs_monitoring_can_be_switched_off() {
    let dir = support::temp_dir("alerts-zfs-off");
    let dir_s = dir.display().to_string();
    let s = TestServer::start(&[
        ("PULSE_DATA_DIR", dir_s.as_str()),
        ("PULSE_DISABLE_ZFS_MONITORING", "true"),
    ]);
    let sim = Simulator::start(SimConfig {
        nodes: 1,
        guests: 2,
        ..SimConfig::default()
    })
    .expect("simulator");
    assert!(sim.set_zfs_degraded("pve1", Some(true)));
    let body = json!({
        "type": "pve",
        "name": "lab",
        "host": sim.https_url(Product::Pve),
        "tokenName": pulse::sim::TOKEN_ID,
        "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(),
    });
    sim.reset_request_counts();
    let r = s.req(
        "POST",
        "/api/config/nodes",
        &[JSON],
        Some(body.to_string().as_bytes()),
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    s.apply(|app| {
        app.polling
            .core
            .scheduler_mut()
            .set_interval_ms(InstanceKind::Pve, 1000);
    });
    // Several polls with the storage listed: no zfsPool, no ZFS request, no ZFS alert.
    // (ZFS would be read on the very first poll: see `poll_pve_zfs::poll`.)
    wait_json(&s, "/api/state", 30, |st| zfs_storage(st).is_some());
    std::thread::sleep(Duration::from_millis(2500));
    let st = s.get("/api/state").json();
    assert!(zfs_storage(&st).unwrap().get("zfsPool").is_none(), "{st}");
    let zfs_requests: u64 = sim
        .request_counts()
        .iter()
        .filter(|(k, _)| k.contains("/disks/zfs"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(zfs_requests, 0);
    let active = s.get("/api/alerts/active").json();
    assert!(
        !ids(&active).iter().any(|i| i.starts_with("zfs-")),
        "{active}"
    );
    drop(sim);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn degraded_pool() -> ZfsPool {
    ZfsPool {
        name: "rpool".into(),
        state: "FAULTED".into(),
        read_errors: 5,
        devices: vec![ZfsDevice {
            name: "sdb".into(),
            kind: "disk".into(),
            state: "UNAVAIL".into(),
            read_errors: 5,
            ..ZfsDevice::default()
        }],
        ..ZfsPool::default()
    }
}

fn storage_obs(pool: Option<&ZfsPool>, now: i64) -> Observation<'static> {
    Observation {
        id: STORAGE,
        name: "local-zfs",
        kind: ResourceKind::Storage,
        node: "pve1",
        instance: "lab",
        vmid: None,
        tags: &[],
        presence: Presence::Up,
        template: false,
        stale: false,
        sample_ms: now,
        metrics: Vec::new(),
        conditions: pool.map_or_else(Vec::new, |p| checks_zfs::zfs_pool(STORAGE, p)),
    }
}

#[test]
fn pool_checks_follow_grace_and_are_switched_off_like_other_storage_alerts() {
    const T0: i64 = 1_767_000_000_000;
    let zone = Zone::utc();
    let cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    let pool = degraded_pool();
    let mut e = Engine::new();
    // The storage grace period applies, then all three fire: a FAULTED pool is critical.
    assert!(e
        .evaluate(&cfg, &zone, &[storage_obs(Some(&pool), T0)], T0)
        .is_empty());
    let later = T0 + 60_000;
    let ev = e.evaluate(&cfg, &zone, &[storage_obs(Some(&pool), later)], later);
    let mut fired: Vec<(String, Level)> = ev
        .iter()
        .filter(|e| e.kind == EventKind::Fired)
        .map(|e| (e.alert.id.clone(), e.alert.level))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        vec![
            (format!("zfs-device-{STORAGE}-sdb"), Level::Critical),
            (format!("zfs-pool-errors-{STORAGE}"), Level::Warning),
            (format!("zfs-pool-state-{STORAGE}"), Level::Critical),
        ]
    );
    // Disabling the storage's alerts resolves them at once.
    let mut off = cfg.clone();
    off.disable_all_storage = true;
    let t = later + 10_000;
    let ev = e.evaluate(&off, &zone, &[storage_obs(Some(&pool), t)], t);
    assert_eq!(
        ev.iter().filter(|e| e.kind == EventKind::Resolved).count(),
        3
    );

    let mut one_off = cfg.clone();
    one_off.overrides.insert(
        STORAGE.into(),
        ThresholdConfig {
            disabled: true,
            ..Default::default()
        },
    );
    for c in [off, one_off] {
        let mut e = Engine::new();
        for secs in [0, 60, 120] {
            let now = T0 + secs * 1000;
            assert!(e
                .evaluate(&c, &zone, &[storage_obs(Some(&pool), now)], now)
                .is_empty());
        }
    }
}

#[test]
fn a_restored_pool_alert_waits_for_the_pool_to_be_read_again() {
    const T0: i64 = 1_767_000_000_000;
    let zone = Zone::utc();
    let cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    let pool = degraded_pool();
    let mut before = Engine::new();
    for now in [T0, T0 + 60_000] {
        before.evaluate(&cfg, &zone, &[storage_obs(Some(&pool), now)], now);
    }
    let active: Vec<_> = before.active().cloned().collect();
    assert_eq!(active.len(), 3);

    // After a restart the storage reports every poll, but its pool is read minutes later:
    // until then the restored alerts hold (no resolve now and no second "fired" later).
    let restart = T0 + 3_600_000;
    let mut e = Engine::new();
    e.restore(active, restart);
    for i in 0..20 {
        let now = restart + i * 10_000;
        let ev = e.evaluate(&cfg, &zone, &[storage_obs(None, now)], now);
        assert!(ev.is_empty(), "cycle {i}: {ev:?}");
    }
    let read = restart + 200_000;
    let ev = e.evaluate(&cfg, &zone, &[storage_obs(Some(&pool), read)], read);
    // (A reminder may be due: the alerts are an hour old.)
    assert!(
        ev.iter()
            .all(|e| e.kind != EventKind::Fired && e.kind != EventKind::Resolved),
        "read again, still degraded: not fired anew {ev:?}"
    );
    assert_eq!(e.active().count(), 3);

    // A pool that is never read again (monitoring switched off) resolves after the hold.
    let mut e = Engine::new();
    e.restore(before.active().cloned().collect(), restart);
    let late = restart + pulse::alerts::engine::RESTORE_HOLD_MS + 10_000;
    let ev = e.evaluate(&cfg, &zone, &[storage_obs(None, late)], late);
    assert_eq!(
        ev.iter().filter(|e| e.kind == EventKind::Resolved).count(),
        3
    );
}
