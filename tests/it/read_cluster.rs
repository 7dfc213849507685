//! Replication and Ceph through the real server against the simulator: replication jobs carry
//! their state from `/nodes/{source}/replication` (last and next sync, duration, fail count,
//! error), so they no longer read "Never"; a Ceph cluster with a node down reads degraded with its
//! health message.

use crate::support;

use pulse::proxmox::Product;
use pulse::sim::{SimConfig, Simulator};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::TestServer;

fn wait_state(s: &TestServer, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = s.get("/api/state").json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never showed: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn replication_state_and_degraded_ceph_from_the_simulator() {
    let sim = Simulator::start(SimConfig {
        nodes: 3,
        guests: 30,
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
    assert_eq!(r.status, 201, "{}", r.text());

    let v = wait_state(&s, "replication state", |v| {
        v["replicationJobs"]
            .as_array()
            .is_some_and(|jobs| !jobs.is_empty() && jobs.iter().all(|j| j["lastSyncTime"].is_i64()))
    });
    let jobs = v["replicationJobs"].as_array().unwrap();
    for j in jobs {
        let (last, next) = (
            j["lastSyncTime"].as_i64().unwrap(),
            j["nextSyncTime"].as_i64().unwrap(),
        );
        assert_eq!(next - last, 900_000, "every 15 minutes: {j}");
        assert!(j["durationSeconds"].as_i64().unwrap() >= 2, "{j}");
        assert!(!j["sourceNode"].as_str().unwrap().is_empty());
    }
    let failing = jobs
        .iter()
        .find(|j| j["failCount"] == 2)
        .unwrap_or_else(|| panic!("the simulator's failing job: {jobs:?}"));
    assert!(failing["error"].as_str().unwrap().contains("zfs snapshot"));
    assert!(jobs
        .iter()
        .any(|j| j.get("failCount").is_none() && j.get("error").is_none()));

    // Healthy Ceph first, then a node goes down: degraded, with the checks' message.
    let v = wait_state(&s, "ceph", |v| v["cephClusters"][0]["health"].is_string());
    assert_eq!(
        v["cephClusters"][0]["health"], "HEALTH_OK",
        "{}",
        v["cephClusters"]
    );
    let down = sim.node_names().pop().unwrap();
    assert!(sim.set_node_online(&down, false));
    let v = wait_state(&s, "degraded ceph", |v| {
        v["cephClusters"][0]["health"] == "HEALTH_WARN"
    });
    let ceph = &v["cephClusters"][0];
    assert!(
        ceph["healthMessage"]
            .as_str()
            .unwrap()
            .contains("osds down"),
        "{ceph}"
    );
    assert!(
        ceph["numOsdsUp"].as_i64() < ceph["numOsds"].as_i64(),
        "{ceph}"
    );
}
