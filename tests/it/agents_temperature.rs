//! Node temperatures from a host agent on the same machine, through the real server: a PVE
//! node polled from the simulator (`pve1`) gets the `temperature` object of the host agent
//! whose short hostname is its name (any case), in the documented shape; an agent on another
//! machine does not count; the node `temperature` thresholds raise and resolve its alert;
//! `temperatureMonitoringEnabled` off (system-wide, then for the node's instance) hides it.

use crate::support::{self, TestServer};
use pulse::sim::SimHandle;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const NODE: &str = "lab-pve1";

fn send(s: &TestServer, method: &str, path: &str, body: &Value) -> support::Response {
    s.req(method, path, &[JSON], Some(body.to_string().as_bytes()))
}

fn wait_json(s: &TestServer, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = s.get(path).json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node(state: &Value) -> Option<&Value> {
    state["nodes"].as_array()?.iter().find(|n| n["id"] == NODE)
}

/// A one-node simulator polled every second as instance `lab`; its node is `pve1`.
fn polled_sim(s: &TestServer) -> SimHandle {
    support::sim::polled_sim(s, 2)
}

/// A host agent report from `hostname` at second `sec` with these sensor readings.
fn report(s: &TestServer, agent: &str, hostname: &str, sec: u32, temps: Value) {
    let r = json!({
        "agent": {"id": agent, "version": "1.0.0", "intervalSeconds": 30},
        "host": {"hostname": hostname, "platform": "linux", "cpuCount": 4},
        "metrics": {"cpuUsagePercent": 5.0,
                    "memory": {"totalBytes": 8_000_000_000i64, "usedBytes": 1_000_000_000i64}},
        "disks": [{"mountpoint": "/", "totalBytes": 100, "usedBytes": 10}],
        "sensors": {"temperatureCelsius": temps},
        "timestamp": format!("2026-12-04T10:{:02}:{:02}Z", sec / 60, sec % 60),
    });
    let res = send(s, "POST", "/api/agents/host/report", &r);
    assert_eq!(res.status, 200, "{}", res.text());
}

fn package(v: f64) -> Value {
    json!({"coretemp Package id 0": v, "coretemp Core 0": v - 4.0, "coretemp Core 1": v - 1.0,
           "nvme Composite": 40.0, "acpitz temp1": 27.8})
}

#[test]
fn a_host_agent_on_a_node_fills_its_temperature_and_alerts() {
    let s = TestServer::start(&[]);
    let cfg = json!({"timeThresholds": {"node": 0}, "activationState": "active"});
    assert_eq!(send(&s, "PUT", "/api/alerts/config", &cfg).status, 200);
    let _sim = polled_sim(&s);
    let state = wait_json(&s, "/api/state", "node polled", |st| node(st).is_some());
    assert!(node(&state).unwrap().get("temperature").is_none());
    assert_eq!(state["temperatureMonitoringEnabled"], true, "the default");

    // An agent on another machine (`pve10`) changes nothing; the one on `PVE1.lab.example`
    // is the node's.
    report(&s, "other", "pve10", 1, package(99.0));
    report(&s, "on-node", "PVE1.lab.example", 1, package(62.0));
    let state = wait_json(&s, "/api/state", "temperature shown", |st| {
        node(st).is_some_and(|n| n["temperature"]["cpuPackage"] == 62.0)
    });
    let t = &node(&state).unwrap()["temperature"];
    assert_eq!(t["available"], true, "{t}");
    assert_eq!(t["hasCPU"], true);
    assert_eq!(t["hasNVMe"], true);
    assert_eq!(t["hasGPU"], false);
    assert_eq!(t["cpuMax"], 61.0, "the hottest core");
    assert_eq!(t["cpuMin"], 58.0);
    assert_eq!(
        t["cores"],
        json!([{"core": 0, "temp": 58.0}, {"core": 1, "temp": 61.0}])
    );
    assert_eq!(t["nvme"], json!([{"device": "nvme", "temp": 40.0}]));
    let last = t["lastUpdate"].as_str().expect("RFC 3339 time");
    let age =
        pulse::util::time::now_ms() - pulse::util::time::UtcTime::parse(last).unwrap().unix_ms();
    assert!((0..60_000).contains(&age), "{last}");
    assert!(t["minRecorded"].is_string() && t["maxRecorded"].is_string());

    // The node `temperature` thresholds (80 / 75, critical at 90): hot, then cool again.
    report(&s, "on-node", "pve1", 2, package(91.0));
    let active = wait_json(&s, "/api/alerts/active", "temperature alert", |a| {
        a.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "lab-pve1-temperature")
    });
    let alert = active
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "lab-pve1-temperature")
        .unwrap();
    assert_eq!(alert["level"], "critical", "{alert}");
    assert_eq!(alert["value"], 91.0);
    assert_eq!(alert["threshold"], 80.0);
    assert_eq!(alert["metadata"]["resourceType"], "Node");
    report(&s, "on-node", "pve1", 3, package(76.0));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        s.get("/api/alerts/active")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "lab-pve1-temperature"),
        "between clear and trigger: held"
    );
    report(&s, "on-node", "pve1", 4, package(70.0));
    wait_json(&s, "/api/alerts/active", "temperature resolved", |a| {
        !a.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "lab-pve1-temperature")
    });

    // Monitoring off system-wide: no temperature, the state says so.
    let off = json!({"temperatureMonitoringEnabled": false});
    assert_eq!(send(&s, "PUT", "/api/config/system", &off).status, 200);
    let state = wait_json(&s, "/api/state", "hidden when off", |st| {
        node(st).is_some_and(|n| n.get("temperature").is_none())
    });
    assert_eq!(state["temperatureMonitoringEnabled"], false);
    // On again, but off for the node's instance.
    let on = json!({"temperatureMonitoringEnabled": true});
    assert_eq!(send(&s, "PUT", "/api/config/system", &on).status, 200);
    wait_json(&s, "/api/state", "shown again", |st| {
        node(st).is_some_and(|n| n["temperature"]["available"] == true)
    });
    let nodes = s.get("/api/config/nodes").json();
    let id = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "lab")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(&s, "PUT", &format!("/api/config/nodes/{id}"), &off);
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    let state = wait_json(&s, "/api/state", "hidden for the instance", |st| {
        node(st).is_some_and(|n| {
            n.get("temperature").is_none() && n["temperatureMonitoringEnabled"] == false
        })
    });
    assert_eq!(state["temperatureMonitoringEnabled"], true);
}
