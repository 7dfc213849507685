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

/// PBS in demo mode (the simulator's backup server): sync, verify, prune and GC jobs with their
/// last run state and next run, GC status per datastore, verification state per snapshot; the
/// same instances under `/api/backups/pbs`.
#[test]
fn pbs_jobs_gc_and_verification_state() {
    let s = TestServer::start(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "1"),
        ("PULSE_MOCK_VMS_PER_NODE", "3"),
        ("PULSE_MOCK_LXCS_PER_NODE", "2"),
    ]);
    let v = wait_state(&s, "PBS jobs and backups", |v| {
        v["pbs"][0]["verifyJobs"]
            .as_array()
            .is_some_and(|j| !j.is_empty())
            && v["pbsBackups"].as_array().is_some_and(|b| !b.is_empty())
    });
    let pbs = &v["pbs"][0];
    let rfc3339 = |x: &Value| {
        x.as_str()
            .and_then(pulse::util::time::UtcTime::parse)
            .is_some()
    };
    for (kind, last) in [
        ("syncJobs", "lastSync"),
        ("verifyJobs", "lastVerify"),
        ("pruneJobs", "lastPrune"),
        ("garbageJobs", "lastGarbage"),
    ] {
        let jobs = pbs[kind].as_array().unwrap();
        assert!(!jobs.is_empty(), "{kind}: {pbs}");
        for j in jobs {
            let st = j["status"].as_str().unwrap();
            assert!(rfc3339(&j["nextRun"]), "{kind}: {j}");
            assert_eq!(st != "never", rfc3339(&j[last]), "{kind}: {j}");
            assert!(!j["store"].as_str().unwrap().is_empty());
            assert!(["ok", "error", "never"].contains(&st), "{j}");
            assert_eq!(st == "error", j.get("error").is_some(), "{j}");
        }
    }
    let sync = &pbs["syncJobs"][0];
    assert_eq!(
        (sync["status"].as_str(), sync["remote"].as_str()),
        (Some("error"), Some("offsite"))
    );
    assert!(sync["error"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    assert!(pbs["verifyJobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["status"] == "error"
            && j["error"].as_str().unwrap().contains("verification failed")));
    let gcs: Vec<&Value> = pbs["datastores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ds| &ds["garbageCollection"])
        .collect();
    assert_eq!(gcs[0]["status"], "ok", "{pbs}");
    assert!(rfc3339(&gcs[0]["lastRun"]) && rfc3339(&gcs[0]["nextRun"]));
    assert!(gcs[0]["pendingBytes"].as_i64().unwrap() > 0);
    assert!(
        pbs["datastores"][0]["deduplicationFactor"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    assert!(pbs["datastores"][0]["namespaces"].as_array().unwrap().len() >= 2);
    assert_eq!(
        gcs[1]["status"], "never",
        "a datastore whose GC never ran: {pbs}"
    );
    assert!(gcs[1].get("lastRun").is_none());
    let states: std::collections::BTreeSet<&str> = v["pbsBackups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["verification"].as_str().unwrap())
        .collect();
    for want in ["ok", "failed", "none"] {
        assert!(states.contains(want), "{want} in {states:?}");
    }
    for b in v["pbsBackups"].as_array().unwrap() {
        assert_eq!(b["verified"] == true, b["verification"] == "ok", "{b}");
    }
    let listed = s.get("/api/backups/pbs").json();
    assert_eq!(listed["instances"][0]["syncJobs"], pbs["syncJobs"]);
}

/// PMG in demo mode: every field of the document's `pmg` snippet is present with the right type
/// (the simulator sends several counters as numeric strings, as real gateways do).
#[test]
fn pmg_has_every_documented_field() {
    let s = TestServer::start(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "1"),
        ("PULSE_MOCK_VMS_PER_NODE", "1"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
    ]);
    let v = wait_state(&s, "PMG", |v| v["pmg"][0]["mailStats"].is_object());
    let pmg = &v["pmg"][0];
    for k in [
        "id",
        "name",
        "host",
        "status",
        "version",
        "connectionHealth",
        "lastSeen",
        "lastUpdated",
    ] {
        assert!(pmg[k].is_string(), "{k}: {pmg}");
    }
    assert_eq!(
        (pmg["status"].as_str(), pmg["connectionHealth"].as_str()),
        (Some("online"), Some("healthy"))
    );
    let node = &pmg["nodes"][0];
    for k in ["name", "status", "role"] {
        assert!(node[k].is_string(), "nodes[].{k}: {pmg}");
    }
    let ms = &pmg["mailStats"];
    assert!(
        ms["timeframe"].is_string() && ms["updatedAt"].is_string(),
        "{ms}"
    );
    for k in [
        "countTotal",
        "countIn",
        "countOut",
        "spamIn",
        "spamOut",
        "virusIn",
        "virusOut",
        "rblRejects",
        "pregreetRejects",
        "greylistCount",
        "averageProcessTimeMs",
    ] {
        assert!(ms[k].is_number(), "mailStats.{k}: {ms}");
    }
    assert!(ms["countTotal"].as_f64().unwrap() > 0.0, "{ms}");
    let point = &pmg["mailCount"][0];
    assert!(
        point["timestamp"].is_string() && point["timeframe"].is_string(),
        "{point}"
    );
    for k in [
        "count",
        "countIn",
        "countOut",
        "spamIn",
        "spamOut",
        "virusIn",
        "virusOut",
        "rblRejects",
        "pregreet",
        "greylist",
        "index",
    ] {
        assert!(point[k].is_number(), "mailCount[].{k}: {point}");
    }
    let bucket = &pmg["spamDistribution"][0];
    assert!(
        bucket["score"].is_string() && bucket["count"].is_number(),
        "{pmg}"
    );
    assert!(
        pmg["quarantine"]["spam"].is_number() && pmg["quarantine"]["virus"].is_number(),
        "{pmg}"
    );
}
