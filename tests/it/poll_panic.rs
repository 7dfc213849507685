//! A poll that panics (a bug, never bad input by design) takes its client down with it; the
//! instance must be rebuilt and polled again, not lost (issue #10): a configured node from its
//! configuration, a demo instance from the running simulator. More panics in a row than the
//! poll workers hold show that a panicked poll also gives its worker slot back.

use crate::support;

use pulse::monitor::task_key::{InstanceKind, TaskKey};
use pulse::proxmox::Product;
use pulse::sim::{SimConfig, Simulator};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use support::TestServer;

/// More than `POLL_THREADS + POLL_QUEUE` (8): a leaked slot per panic would stop all polling.
const PANICS: usize = 10;

fn wait_state(s: &TestServer, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let st = s.get("/api/state").json();
        if pred(&st) {
            return st;
        }
        assert!(Instant::now() < until, "state never matched: {st}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the next `PANICS` polls of `key` panic on their worker; returns how many did.
fn panic_polls_of(s: &TestServer, key: TaskKey) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    s.apply(move |app| {
        let target = key.clone();
        app.polling.poll_hook = Some(Arc::new(move |k: &TaskKey| {
            if *k == target && seen.fetch_add(1, Ordering::SeqCst) < PANICS {
                panic!("injected poll panic");
            }
        }));
        // Poll now rather than at the next 10 s cycle.
        app.polling
            .core
            .scheduler_mut()
            .retry_now(&key, pulse::util::time::now_ms());
    });
    count
}

/// The instance's last successful poll (Unix ms) from the scheduler's health, if any.
fn last_success(s: &TestServer, key: &str) -> Option<String> {
    let health = s.get("/api/monitoring/scheduler/health").json();
    health["instances"]
        .as_array()?
        .iter()
        .find(|i| i["key"] == key)?["pollStatus"]["lastSuccess"]
        .as_str()
        .map(str::to_string)
}

fn wait_rebuilt(s: &TestServer, count: &AtomicUsize, key: &str, before: Option<String>) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let now = last_success(s, key);
        if count.load(Ordering::SeqCst) > PANICS && now.is_some() && now != before {
            return;
        }
        assert!(
            Instant::now() < until,
            "{key} not polled again after {} panics (lastSuccess {now:?})",
            count.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_configured_instance_whose_poll_panics_is_rebuilt_and_polled_again() {
    let sim = Simulator::start(SimConfig {
        nodes: 2,
        guests: 6,
        ..SimConfig::default()
    })
    .unwrap();
    let s = TestServer::start(&[]);
    let body = serde_json::json!({
        "type": "pve", "name": "lab", "host": sim.https_url(Product::Pve),
        "tokenName": pulse::sim::TOKEN_ID, "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(), "verifySSL": true,
    });
    let r = s.req(
        "POST",
        "/api/config/nodes",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    let before = last_success(&s, "pve::lab");

    let count = panic_polls_of(&s, TaskKey::new(InstanceKind::Pve, "lab"));
    wait_rebuilt(&s, &count, "pve::lab", before);
    let st = wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    assert_eq!(st["connectionHealth"]["lab"], true);
    // Still one instance, polled on its schedule, nothing stuck in flight.
    let health = s.get("/api/monitoring/scheduler/health").json();
    let keys: Vec<&Value> = health["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["key"])
        .collect();
    assert_eq!(keys, vec!["pve::lab"]);
}

#[test]
fn a_demo_instance_whose_poll_panics_is_rebuilt_from_the_simulator() {
    let s = TestServer::start(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "2"),
        ("PULSE_MOCK_VMS_PER_NODE", "2"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
    ]);
    wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    let before = last_success(&s, "pve::mock-cluster");
    let count = panic_polls_of(&s, TaskKey::new(InstanceKind::Pve, "mock-cluster"));
    wait_rebuilt(&s, &count, "pve::mock-cluster", before);
    wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    let (tx, rx) = mpsc::channel();
    s.apply(move |app| {
        let key = TaskKey::new(InstanceKind::Pve, "mock-cluster");
        tx.send(app.polling.demo.is_some() && !app.polling.core.poll_in_flight(&key))
            .unwrap()
    });
    assert!(rx.recv().unwrap(), "demo still running, no poll stuck");
}
