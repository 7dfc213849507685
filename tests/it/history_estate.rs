//! The rest of the estate in the history, the charts and `/metrics`: Docker hosts and their
//! containers, host-agent hosts, Ceph pools and PMG queues of the demo estate (fed through the
//! same ingestion as real agents and polls). `/metrics` values equal `/api/state`'s, with the
//! documented label sets, and promtool accepts the text.

use crate::history_metrics::{parse, promtool_check, value_of, Sample};
use crate::support::auth::{login, mint, start_with_admin};
use serde_json::Value;
use std::time::{Duration, Instant};

fn labels_of(samples: &[Sample], fam: &str) -> Vec<Vec<String>> {
    samples
        .iter()
        .filter(|s| s.0 == fam)
        .map(|s| s.1.keys().cloned().collect())
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Every agent, Ceph pool and PMG queue figure of `state` equals its `/metrics` sample.
fn mismatches(state: &Value, m: &[Sample]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: String, got: Option<f64>, want: f64| {
        if got != Some(want) {
            bad.push(format!("{what}: metrics {got:?}, state {want}"));
        }
    };
    for h in state["dockerHosts"].as_array().unwrap() {
        let id = h["id"].as_str().unwrap();
        let l = [("host_id", id)];
        let cpu = value_of(m, "pulse_docker_host_cpu_usage_ratio", &l);
        eq(format!("{id} cpu"), cpu, num(&h["cpuUsagePercent"]) / 100.0);
        let used = value_of(m, "pulse_docker_host_memory_used_bytes", &l);
        eq(format!("{id} memory"), used, num(&h["memory"]["used"]));
        for c in h["containers"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let l = [("host_id", id), ("container", name)];
            let cpu = value_of(m, "pulse_docker_container_cpu_usage_ratio", &l);
            eq(format!("{name} cpu"), cpu, num(&c["cpuPercent"]) / 100.0);
            let used = value_of(m, "pulse_docker_container_memory_used_bytes", &l);
            eq(format!("{name} memory"), used, num(&c["memoryUsageBytes"]));
            let up = value_of(m, "pulse_docker_container_up", &l);
            eq(format!("{name} up"), up, f64::from(c["state"] == "running"));
        }
    }
    for h in state["hosts"].as_array().unwrap() {
        let id = h["id"].as_str().unwrap();
        let l = [("host_id", id)];
        let cpu = value_of(m, "pulse_host_cpu_usage_ratio", &l);
        eq(format!("{id} cpu"), cpu, num(&h["cpuUsage"]) / 100.0);
        let total = value_of(m, "pulse_host_memory_total_bytes", &l);
        eq(format!("{id} memory"), total, num(&h["memory"]["total"]));
        for d in h["disks"].as_array().unwrap() {
            let mp = d["mountpoint"].as_str().unwrap();
            let l = [("host_id", id), ("mountpoint", mp)];
            let used = value_of(m, "pulse_host_disk_used_bytes", &l);
            eq(format!("{id} {mp}"), used, num(&d["used"]));
        }
    }
    for c in state["cephClusters"].as_array().unwrap() {
        for p in c["pools"].as_array().unwrap() {
            let pool = p["name"].as_str().unwrap();
            let l = [("cluster", c["name"].as_str().unwrap()), ("pool", pool)];
            let stored = value_of(m, "pulse_ceph_pool_stored_bytes", &l);
            eq(format!("pool {pool}"), stored, num(&p["storedBytes"]));
        }
    }
    for p in state["pmg"].as_array().unwrap() {
        for n in p["nodes"].as_array().unwrap() {
            let Some(q) = n.get("queueStatus").filter(|q| !q.is_null()) else {
                continue;
            };
            let node = n["name"].as_str().unwrap();
            for queue in ["active", "deferred", "hold", "incoming"] {
                let l = [("node", node), ("queue", queue)];
                let got = value_of(m, "pulse_pmg_queue_messages", &l);
                eq(format!("{node} {queue}"), got, num(&q[queue]));
            }
        }
    }
    bad
}

#[test]
fn agents_ceph_pools_and_pmg_are_in_the_metrics_and_the_charts() {
    let s = start_with_admin(&[
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "2"),
        ("PULSE_MOCK_VMS_PER_NODE", "1"),
        ("PULSE_MOCK_LXCS_PER_NODE", "1"),
    ]);
    let b = login(&s);
    let (token, _) = mint(&s, &b, "prom", Some(&["monitoring:read"]));
    let get = |path: &str| s.req("GET", path, &[("X-API-Token", token.as_str())], None);
    let until = Instant::now() + Duration::from_secs(60);
    let (state, samples, text) = loop {
        let state = get("/api/state").json();
        let r = get("/metrics");
        assert_eq!(r.status, 200);
        let samples = parse(&r.text());
        let filled = |k: &str| state[k].as_array().is_some_and(|a| !a.is_empty());
        let pools = state["cephClusters"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| !c["pools"].as_array().unwrap().is_empty()));
        let queues = state["pmg"].as_array().is_some_and(|p| {
            p.iter().any(|p| {
                p["nodes"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|n| n["queueStatus"].is_object()))
            })
        });
        let ready = filled("dockerHosts") && filled("hosts") && pools && queues;
        if ready && mismatches(&state, &samples).is_empty() {
            break (state, samples, r.text());
        }
        assert!(
            Instant::now() < until,
            "never matched: ready {ready}, {:?}",
            mismatches(&state, &samples)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    promtool_check(&text);
    for (fam, want) in [
        ("pulse_docker_host_up", &["host", "host_id"][..]),
        (
            "pulse_docker_container_memory_used_bytes",
            &["container", "host", "host_id"],
        ),
        ("pulse_host_cpu_usage_ratio", &["host", "host_id"]),
        (
            "pulse_host_disk_total_bytes",
            &["host", "host_id", "mountpoint"],
        ),
        (
            "pulse_ceph_pool_available_bytes",
            &["cluster", "instance", "pool"],
        ),
        ("pulse_pmg_queue_messages", &["instance", "node", "queue"]),
        ("pulse_pmg_queue_oldest_seconds", &["instance", "node"]),
    ] {
        let sets = labels_of(&samples, fam);
        assert!(!sets.is_empty(), "{fam} has samples");
        for got in sets {
            assert_eq!(got, want, "{fam}");
        }
    }

    // The history holds them too: the charts list each under its prefixed id.
    let docker = state["dockerHosts"][0]["id"].as_str().unwrap().to_string();
    let host = state["hosts"][0]["id"].as_str().unwrap().to_string();
    let pmg = state["pmg"][0]["id"].as_str().unwrap().to_string();
    let running = state["dockerHosts"][0]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "running")
        .expect("a running container");
    let container = format!("docker:{docker}/{}", running["id"].as_str().unwrap());
    let charts = loop {
        let c = get("/api/charts?range=5m").json();
        let has = |area: &str, id: &str, metric: &str| {
            c[area][id][metric]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        };
        if has("dockerData", &format!("docker:{docker}"), "cpu")
            && has("dockerData", &container, "memory")
            && has("hostData", &format!("host:{host}"), "disk")
            && has("pmgData", &format!("pmg:{pmg}"), "queue")
            && c["cephPoolData"]
                .as_object()
                .is_some_and(|o| o.keys().any(|k| k.starts_with("ceph:")))
        {
            break c;
        }
        assert!(Instant::now() < until, "charts never filled: {c}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Narrowed to one container: only it.
    let one = get(&format!("/api/charts?range=5m&id={container}")).json();
    assert_eq!(one["dockerData"].as_object().unwrap().len(), 1, "{one}");
    assert!(one["hostData"].as_object().unwrap().is_empty());
    // A container has no disk or rate series (nothing measured): none listed.
    assert!(charts["dockerData"][&container].get("diskread").is_none());
    s.stop();
}
