//! The monitor through the real server: demo mode fills `/api/state` from the in-process
//! simulator, configured nodes are polled and dropped with the config, the storage and
//! scheduler views answer, and a change on the simulator reaches WebSocket clients.

use crate::support;

use pulse::proxmox::Product;
use pulse::sim::{SimConfig, Simulator};
use std::time::{Duration, Instant};
use support::{ws_connect, ws_next, TestServer};

/// Polls `/api/state` until `pred` holds (or fails after `secs`).
fn wait_state(
    s: &TestServer,
    secs: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let state = s.get("/api/state").json();
        if pred(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "state never matched: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "2"),
    ("PULSE_MOCK_LXCS_PER_NODE", "2"),
];

#[test]
fn demo_mode_serves_a_live_estate_through_the_api() {
    let s = TestServer::start(DEMO);
    let state = wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    for key in [
        "nodes",
        "vms",
        "containers",
        "storage",
        "pbs",
        "pmg",
        "dockerHosts",
        "activeAlerts",
        "connectionHealth",
    ] {
        assert!(!state[key].is_null(), "{key} missing");
    }
    let node = &state["nodes"][0];
    assert_eq!(node["instance"], "mock-cluster");
    assert!(node["id"].as_str().unwrap().starts_with("mock-cluster-"));
    let cpu = node["cpu"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&cpu), "cpu is a fraction: {cpu}");
    let mem = &node["memory"];
    assert!(mem["used"].as_i64().unwrap() < mem["total"].as_i64().unwrap());

    let storage = s.get("/api/storage/").json();
    let first = storage["data"][0]["id"]
        .as_str()
        .expect("storage listed")
        .to_string();
    let one = s.get(&format!("/api/storage/{first}"));
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["data"]["id"], first.as_str());
    let missing = s.get("/api/storage/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("not found"));

    let health = s.get("/api/monitoring/scheduler/health").json();
    let keys: Vec<&str> = health["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"pve::mock-cluster"), "{keys:?}");
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], true);

    // The estate moves: a later snapshot differs (counters, CPU) and lastUpdate advances.
    let before = state["lastUpdate"].as_i64().unwrap();
    wait_state(&s, 30, |st| st["lastUpdate"].as_i64().unwrap_or(0) > before);
}

#[test]
fn a_simulator_change_reaches_websocket_clients() {
    let s = TestServer::start(DEMO);
    let state = wait_state(&s, 30, |st| {
        st["vms"]
            .as_array()
            .is_some_and(|v| v.iter().any(|g| g["status"] == "running"))
    });
    let vm = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["status"] == "running")
        .unwrap()
        .clone();
    let vmid = vm["vmid"].as_u64().unwrap() as u32;
    let id = vm["id"].as_str().unwrap().to_string();

    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "welcome");
    assert_eq!(ws_next(&mut ws)["type"], "initialState");
    s.apply(move |app| {
        let demo = app.polling.demo.as_ref().expect("demo running");
        assert!(demo.simulator().set_guest_running(vmid, false));
        // Poll now rather than waiting for the next 10 s cycle.
        let key = pulse::monitor::task_key::TaskKey::new(
            pulse::monitor::task_key::InstanceKind::Pve,
            "mock-cluster",
        );
        app.polling
            .core
            .scheduler_mut()
            .retry_now(&key, pulse::util::time::now_ms());
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "no rawData showed the stopped guest"
        );
        let msg = ws_next(&mut ws);
        if msg["type"] != "rawData" {
            continue;
        }
        let stopped = msg["data"]["vms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == id.as_str() && g["status"] == "stopped");
        if stopped {
            break;
        }
    }
}

#[test]
fn mock_mode_can_be_switched_at_run_time_with_validation() {
    let s = TestServer::start(DEMO);
    wait_state(&s, 30, |st| !st["nodes"].as_array().unwrap().is_empty());
    let bad = s.req(
        "POST",
        "/api/system/mock-mode",
        &[],
        Some(br#"{"enabled":true,"config":{"nodeCount":0}}"#),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("nodeCount"));
    let off = s.req(
        "PUT",
        "/api/system/mock-mode",
        &[],
        Some(br#"{"enabled":false}"#),
    );
    assert_eq!(off.status, 200);
    assert_eq!(off.json()["enabled"], false);
    wait_state(&s, 10, |st| st["nodes"].as_array().unwrap().is_empty());
    let garbage = s.req("POST", "/api/system/mock-mode", &[], Some(b"{not json"));
    assert_eq!(garbage.status, 400);
}

#[test]
fn configured_nodes_are_polled_and_dropped_with_the_config() {
    let sim = Simulator::start(SimConfig {
        nodes: 2,
        guests: 6,
        ..SimConfig::default()
    })
    .unwrap();
    let s = TestServer::start(&[]);
    crate::support::sim::add_pve(&s, &sim);
    let state = wait_state(&s, 30, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    assert!(state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["instance"] == "lab"));
    assert_eq!(state["connectionHealth"]["lab"], true);

    let nodes = s.get("/api/config/nodes").json();
    let id = nodes.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.req("DELETE", &format!("/api/config/nodes/{id}"), &[], None)
            .status,
        200
    );
    wait_state(&s, 10, |st| st["nodes"].as_array().unwrap().is_empty());
}

#[test]
fn one_slow_member_does_not_hold_up_the_whole_poll() {
    use pulse::sim::Fault;
    let sim = Simulator::start(SimConfig {
        nodes: 2,
        guests: 8,
        ..SimConfig::default()
    })
    .unwrap();
    let slow = sim.node_names()[1].clone();
    // Every call about that node answers after 6 s: without the guard a poll would make about
    // ten of them in a row (a minute); with it, the first marks the node slow.
    sim.set_fault(&format!("/nodes/{slow}/"), Fault::Latency { ms: 6000 });
    let s = TestServer::start(&[]);
    let body = serde_json::json!({
        "type": "pve",
        "name": "lab",
        "host": sim.https_url(Product::Pve),
        "tokenName": pulse::sim::TOKEN_ID,
        "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(),
    });
    let r = s.req(
        "POST",
        "/api/config/nodes",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    let started = Instant::now();
    let state = wait_state(&s, 40, |st| {
        st["nodes"].as_array().is_some_and(|n| n.len() == 2)
    });
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "poll took {:?}",
        started.elapsed()
    );
    // The fast member's guests were polled in full; the slow one's come from /cluster/resources.
    assert!(
        !state["vms"].as_array().unwrap().is_empty()
            || !state["containers"].as_array().unwrap().is_empty()
    );
}
