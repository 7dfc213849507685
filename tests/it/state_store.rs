//! The live-state store and the `/api/state` document: key presence, units, sorting,
//! replace-per-instance, the offline grace period, failures and shared storage.

use pulse::monitor::{InstanceKind, PollError};
use pulse::state::{
    guest_id, node_id, storage_id, ContainerFrontend, Disk, LiveState, Memory, NodeFrontend,
    PveSnapshot, StorageFrontend, VMFrontend,
};
use serde_json::Value;

const T0: i64 = 1_700_000_000_000;

fn node(instance: &str, name: &str, status: &str) -> NodeFrontend {
    NodeFrontend {
        id: node_id(instance, name),
        name: name.into(),
        instance: instance.into(),
        status: status.into(),
        kind: "node".into(),
        cpu: 0.25,
        memory: Memory::from_used(16 << 30, 4 << 30),
        disk: Disk::from_used(100 << 30, 25 << 30),
        uptime: if status == "online" { 3600 } else { 0 },
        connection_health: "healthy".into(),
        ..NodeFrontend::default()
    }
}

fn vm(instance: &str, node: &str, vmid: u32) -> VMFrontend {
    VMFrontend {
        id: guest_id(instance, node, vmid),
        vmid,
        name: format!("vm{vmid}"),
        node: node.into(),
        instance: instance.into(),
        status: "running".into(),
        kind: "qemu".into(),
        cpu: 0.5,
        memory: Memory::from_used(2 << 30, 1 << 30),
        network_in: 100,
        ..VMFrontend::default()
    }
}

fn ct(instance: &str, node: &str, vmid: u32) -> ContainerFrontend {
    ContainerFrontend {
        id: guest_id(instance, node, vmid),
        vmid,
        node: node.into(),
        instance: instance.into(),
        status: "running".into(),
        kind: "lxc".into(),
        ..ContainerFrontend::default()
    }
}

fn storage(instance: &str, node: &str, name: &str, shared: bool, used: i64) -> StorageFrontend {
    StorageFrontend {
        id: storage_id(instance, node, name),
        storage: name.into(),
        name: name.into(),
        node: node.into(),
        instance: instance.into(),
        kind: "dir".into(),
        status: "available".into(),
        total: 1000,
        used,
        shared,
        ..StorageFrontend::default()
    }
}

fn snapshot(instance: &str, nodes: &[(&str, &str)]) -> PveSnapshot {
    PveSnapshot {
        nodes: nodes.iter().map(|(n, s)| node(instance, n, s)).collect(),
        connection_healthy: true,
        storage_nodes: nodes.iter().map(|(n, _)| n.to_string()).collect(),
        ..PveSnapshot::default()
    }
}

fn json(state: &LiveState) -> Value {
    serde_json::from_slice(&state.to_frontend_json()).expect("valid JSON")
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["id"].as_str().map(String::from))
        .collect()
}

#[test]
fn empty_state_has_every_key_and_no_nulls() {
    let v = json(&LiveState::new());
    let keys = [
        "nodes",
        "vms",
        "containers",
        "dockerHosts",
        "removedDockerHosts",
        "hosts",
        "storage",
        "cephClusters",
        "physicalDisks",
        "pbs",
        "pmg",
        "pbsBackups",
        "pmgBackups",
        "replicationJobs",
        "activeAlerts",
        "recentlyResolved",
        "forecasts",
    ];
    for k in keys {
        assert_eq!(v[k], serde_json::json!([]), "{k}");
    }
    assert_eq!(
        v["backups"],
        serde_json::json!({"pve": {"backupTasks": [], "storageBackups": [], "guestSnapshots": []}, "pbs": [], "pmg": []})
    );
    assert_eq!(v["pveBackups"], v["backups"]["pve"]);
    for k in ["metrics", "performance", "stats", "connectionHealth"] {
        assert_eq!(v[k], serde_json::json!({}), "{k}");
    }
    assert_eq!(v["lastUpdate"], 0);
    assert_eq!(v["temperatureMonitoringEnabled"], false);
    assert_eq!(v.as_object().map(|o| o.len()), Some(25));
}

#[test]
fn nodes_and_guests_keep_ids_units_aliases_and_sort_order() {
    let mut st = LiveState::new();
    let mut snap = snapshot("lab", &[("pve2", "online"), ("pve1", "online")]);
    snap.vms = vec![vm("lab", "pve2", 300), vm("lab", "pve1", 101)];
    snap.containers = vec![ct("lab", "pve1", 200)];
    st.replace_pve_instance("lab", snap, T0);
    let mut solo = snapshot("solo", &[("solo", "online")]);
    solo.vms = vec![vm("solo", "solo", 100)];
    st.replace_pve_instance("solo", solo, T0 + 5);

    let v = json(&st);
    assert_eq!(ids(&v, "nodes"), ["lab-pve1", "lab-pve2", "solo-solo"]);
    assert_eq!(ids(&v, "vms"), ["solo-100", "lab-pve1-101", "lab-pve2-300"]);
    let n = &v["nodes"][0];
    assert_eq!(n["node"], "pve1");
    assert_eq!(n["displayName"], "pve1");
    assert_eq!(n["cpu"], 0.25);
    assert_eq!(n["memory"]["usage"], 25.0);
    assert_eq!(n["mem"], n["memory"]["used"]);
    assert_eq!(n["maxmem"], n["memory"]["total"]);
    assert_eq!(n["maxdisk"], n["disk"]["total"]);
    assert_eq!(n["loadAverage"], serde_json::json!([]));
    let g = &v["vms"][1];
    assert_eq!(g["mem"], 1i64 << 30);
    assert_eq!(g["memory"]["usage"], 50.0);
    assert!(g.get("disk").is_none(), "disk omitted when total is 0");
    assert!(g.get("tags").is_none() && g.get("disks").is_none() && g.get("lock").is_none());
    assert_eq!(v["containers"][0]["type"], "lxc");
    assert_eq!(
        v["connectionHealth"],
        serde_json::json!({"lab": true, "solo": true})
    );
    assert_eq!(v["lastUpdate"], T0 + 5);

    // A new poll replaces only that instance's items.
    st.replace_pve_instance("lab", snapshot("lab", &[("pve1", "online")]), T0 + 10_000);
    let v = json(&st);
    assert_eq!(ids(&v, "nodes"), ["lab-pve1", "solo-solo"]);
    assert_eq!(ids(&v, "vms"), ["solo-100"]);
}

#[test]
fn offline_nodes_keep_guests_within_grace_then_mark_them_unknown() {
    let mut st = LiveState::new();
    let mut snap = snapshot("c", &[("a", "online"), ("b", "online")]);
    snap.vms = vec![vm("c", "a", 100), vm("c", "b", 200)];
    st.replace_pve_instance("c", snap, T0);

    // b drops out for 30 s: still online, guests untouched.
    let mut snap = snapshot("c", &[("a", "online"), ("b", "offline")]);
    snap.vms = vec![vm("c", "a", 100)];
    st.replace_pve_instance("c", snap, T0 + 30_000);
    let v = json(&st);
    assert_eq!(v["nodes"][1]["status"], "online");
    assert_eq!(ids(&v, "vms"), ["c-a-100", "c-b-200"]);
    assert_eq!(v["vms"][1]["status"], "running");

    // After the grace period: node offline, its last known guests stay, marked unknown.
    let mut snap = snapshot("c", &[("a", "online"), ("b", "offline")]);
    snap.vms = vec![vm("c", "a", 100)];
    st.replace_pve_instance("c", snap, T0 + 90_000);
    let v = json(&st);
    assert_eq!(v["nodes"][1]["status"], "offline");
    assert_eq!(ids(&v, "vms"), ["c-a-100", "c-b-200"]);
    assert_eq!(v["vms"][1]["status"], "unknown");
    assert_eq!(v["vms"][1]["cpu"], 0.0);
    assert_eq!(v["vms"][1]["networkIn"], 0);
    assert_eq!(v["vms"][0]["status"], "running");
}

#[test]
fn failures_mark_offline_after_grace_and_auth_failures_leave_a_placeholder() {
    let mut st = LiveState::new();
    let mut snap = snapshot("lab", &[("pve1", "online")]);
    snap.vms = vec![vm("lab", "pve1", 100)];
    st.replace_pve_instance("lab", snap, T0);
    let err = PollError::transient("connection refused");
    st.mark_instance_failed(
        InstanceKind::Pve,
        "lab",
        "https://lab:8006",
        &err,
        1,
        T0 + 10_000,
    );
    let v = json(&st);
    assert_eq!(v["connectionHealth"]["lab"], false);
    assert_eq!(v["nodes"][0]["status"], "online", "within grace");

    st.mark_instance_failed(
        InstanceKind::Pve,
        "lab",
        "https://lab:8006",
        &err,
        7,
        T0 + 120_000,
    );
    let v = json(&st);
    assert_eq!(v["nodes"][0]["status"], "offline");
    assert_eq!(v["nodes"][0]["connectionHealth"], "error");
    assert_eq!(v["nodes"][0]["uptime"], 0);
    assert_eq!(v["vms"][0]["status"], "unknown");

    let auth = PollError::permanent("authentication error: 401");
    st.mark_instance_failed(
        InstanceKind::Pve,
        "lab",
        "https://lab:8006",
        &auth,
        5,
        T0 + 130_000,
    );
    let v = json(&st);
    assert_eq!(ids(&v, "nodes"), ["lab-failed"]);
    assert_eq!(v["vms"], serde_json::json!([]));

    st.remove_instance(InstanceKind::Pve, "lab");
    let v = json(&st);
    assert_eq!(v["nodes"], serde_json::json!([]));
    assert_eq!(v["connectionHealth"], serde_json::json!({}));
}

#[test]
fn shared_storage_once_per_cluster_and_unlisted_nodes_keep_theirs() {
    let mut st = LiveState::new();
    let mut snap = snapshot("c", &[("a", "online"), ("b", "online")]);
    snap.storage = vec![
        storage("c", "a", "local", false, 10),
        storage("c", "b", "local", false, 20),
        storage("c", "a", "nfs", true, 500),
        storage("c", "b", "nfs", true, 500),
    ];
    st.replace_pve_instance("c", snap, T0);
    let v = json(&st);
    assert_eq!(ids(&v, "storage"), ["c-a-local", "c-b-local", "c-a-nfs"]);
    let nfs = &v["storage"][2];
    assert_eq!(nfs["node"], "cluster");
    assert_eq!(nfs["nodes"], serde_json::json!(["a", "b"]));
    assert_eq!(nfs["nodeIds"], serde_json::json!(["c-a", "c-b"]));
    assert_eq!(nfs["nodeCount"], 2);
    assert!(
        v["storage"][0].get("nodes").is_none(),
        "non-shared entries carry no node list"
    );
    assert!(st.storage_by_id("c-b-local").is_some());

    // b's storage listing failed: its previous entry stays.
    let mut snap = snapshot("c", &[("a", "online"), ("b", "online")]);
    snap.storage = vec![
        storage("c", "a", "local", false, 11),
        storage("c", "a", "nfs", true, 600),
    ];
    snap.storage_nodes = ["a".to_string()].into_iter().collect();
    st.replace_pve_instance("c", snap, T0 + 10_000);
    let v = json(&st);
    assert_eq!(ids(&v, "storage"), ["c-a-local", "c-b-local", "c-a-nfs"]);
    assert_eq!(v["storage"][2]["used"], 600);
    assert_eq!(v["storage"][2]["nodeCount"], 2);
}

#[test]
fn guests_moved_off_an_offline_node_show_only_where_they_run() {
    let mut st = LiveState::new();
    let mut snap = snapshot("c", &[("a", "online"), ("b", "online")]);
    snap.vms = vec![vm("c", "b", 200), vm("c", "b", 201)];
    st.replace_pve_instance("c", snap, T0);
    // b dies; after the grace period HA has restarted 200 on a; PVE lists 201 as unknown on b.
    let mut snap = snapshot("c", &[("a", "online"), ("b", "offline")]);
    let mut unknown = vm("c", "b", 201);
    unknown.status = "unknown".into();
    unknown.memory = Memory::default();
    snap.vms = vec![vm("c", "a", 200), unknown];
    st.replace_pve_instance("c", snap, T0 + 120_000);
    let v = json(&st);
    assert_eq!(ids(&v, "vms"), ["c-a-200", "c-b-201"]);
    let kept = &v["vms"][1];
    assert_eq!(kept["status"], "unknown");
    assert_eq!(
        kept["memory"]["total"],
        2i64 << 30,
        "last known figures, not PVE's empty row"
    );
}

#[test]
fn every_change_bumps_the_revision() {
    let mut st = LiveState::new();
    let r0 = st.revision();
    st.replace_pve_instance("c", snapshot("c", &[("a", "online")]), T0);
    let r1 = st.revision();
    assert_ne!(r0, r1);
    let _ = st.to_frontend_json();
    assert_eq!(st.revision(), r1, "reading does not change it");
    st.remove_instance(InstanceKind::Pve, "c");
    assert_ne!(st.revision(), r1);
}
