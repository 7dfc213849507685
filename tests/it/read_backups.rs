//! `GET /api/backups*` and `/api/snapshots` through the real server, filled by demo mode (the
//! in-process simulator polled over HTTPS with a pinned fingerprint): shapes, values, filters,
//! paging, 400 for bad parameters and 404 for an unknown backup server.

use crate::support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::TestServer;

const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "2"),
    ("PULSE_MOCK_LXCS_PER_NODE", "2"),
];

fn wait(s: &TestServer, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        let v = r.json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never matched: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn non_empty(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

fn times(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn backups_and_snapshots_are_listed_filtered_and_paged() {
    let s = TestServer::start(DEMO);
    let all = wait(&s, "/api/backups", 60, |v| {
        non_empty(&v["storageBackups"]) && non_empty(&v["pbsBackups"])
    });
    for key in [
        "backupTasks",
        "storageBackups",
        "guestSnapshots",
        "pbsBackups",
        "pmgBackups",
    ] {
        assert!(all[key].is_array(), "{key}: {all}");
    }
    assert_eq!(
        all["backups"]["pve"]["storageBackups"],
        all["storageBackups"]
    );
    assert_eq!(all["pveBackups"]["storageBackups"], all["storageBackups"]);
    assert_eq!(all["backups"]["pbs"], all["pbsBackups"]);
    // Same data as the state document, which the polls fill.
    let state = s.get("/api/state").json();
    assert_eq!(
        state["pveBackups"]["storageBackups"]
            .as_array()
            .unwrap()
            .len(),
        all["storageBackups"].as_array().unwrap().len()
    );
    // `/api/backups/<other>` is the same listing.
    assert!(s.get("/api/backups/").json()["storageBackups"].is_array());

    // /api/backups/pve: StorageBackups, newest first, with the documented fields.
    let pve = s.get("/api/backups/pve").json();
    let list = pve["backups"].as_array().unwrap();
    assert_eq!(pve["total"].as_u64().unwrap() as usize, list.len());
    let b = &list[0];
    for key in [
        "id", "storage", "node", "instance", "type", "vmid", "time", "ctime", "size", "volid",
        "isPBS",
    ] {
        assert!(!b[key].is_null(), "{key} missing: {b}");
    }
    assert_eq!(b["instance"], "mock-cluster");
    let ctimes: Vec<i64> = list.iter().map(|b| b["ctime"].as_i64().unwrap()).collect();
    assert!(
        ctimes.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ctimes:?}"
    );

    // Filters: one guest's backups only, of its type.
    let vmid = b["vmid"].as_i64().unwrap();
    let kind = b["type"].as_str().unwrap().to_string();
    let one = s
        .get(&format!("/api/backups/pve?vmid={vmid}&type={kind}"))
        .json();
    let rows = one["backups"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r["vmid"] == vmid && r["type"] == kind.as_str()));
    let other_instance = s.get("/api/backups/pve?instance=nope").json();
    assert_eq!(other_instance["backups"], serde_json::json!([]));
    // Time range: nothing after the newest backup.
    let newest = ctimes[0];
    let later = s
        .get(&format!("/api/backups/pve?since={}", newest + 1))
        .json();
    assert_eq!(later["total"], 0);
    let upto = s.get(&format!("/api/backups/pve?until={newest}")).json();
    assert_eq!(upto["total"].as_u64().unwrap() as usize, list.len());
    // Paging: limit and offset walk the same order.
    if list.len() >= 2 {
        let p = s.get("/api/backups/pve?limit=1&offset=1").json();
        assert_eq!(p["backups"].as_array().unwrap().len(), 1);
        assert_eq!(p["backups"][0]["id"], list[1]["id"]);
        assert_eq!(p["total"].as_u64().unwrap() as usize, list.len());
    }

    // /api/backups/unified: PVE files and PBS snapshots in one list, newest first, and the
    // newest backup per guest.
    let u = s.get("/api/backups/unified").json();
    let rows = u["backups"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["source"] == "pbs"), "{u}");
    assert!(rows
        .iter()
        .all(|r| ["vm", "ct", "host"].contains(&r["type"].as_str().unwrap())));
    let t = times(&u["backups"], "time");
    assert!(t.windows(2).all(|w| w[0] >= w[1]), "newest first: {t:?}");
    let last = u["lastBackups"].as_array().unwrap();
    assert!(!last.is_empty());
    for l in last {
        let newest = rows
            .iter()
            .filter(|r| r["vmid"] == l["vmid"] && r["type"] == l["type"])
            .map(|r| r["time"].as_str().unwrap())
            .max()
            .unwrap();
        assert_eq!(l["time"].as_str().unwrap(), newest, "{l}");
    }
    let vm_only = s.get("/api/backups/unified?type=vm").json();
    assert!(vm_only["backups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["type"] == "vm"));

    // /api/backups/pbs: the backup servers, and one by name.
    let pbs = s.get("/api/backups/pbs").json();
    let inst = &pbs["instances"][0];
    assert!(inst["datastores"].is_array(), "{pbs}");
    let name = inst["name"].as_str().unwrap().to_string();
    let by_name = s.get(&format!("/api/backups/pbs?instance={name}")).json();
    assert_eq!(by_name["instances"][0]["name"], name.as_str());
    let missing = s.get("/api/backups/pbs?instance=nope");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("not found"));

    // /api/snapshots: guest snapshots (the detail cadence reads them), same filters.
    let snaps = wait(&s, "/api/snapshots", 60, |v| non_empty(&v["snapshots"]));
    let first = &snaps["snapshots"][0];
    for key in [
        "id", "name", "node", "instance", "type", "vmid", "time", "vmstate",
    ] {
        assert!(!first[key].is_null(), "{key} missing: {first}");
    }
    let node = first["node"].as_str().unwrap().to_string();
    let on_node = s.get(&format!("/api/snapshots?node={node}")).json();
    assert!(on_node["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["node"] == node.as_str()));
}

#[test]
fn bad_parameters_answer_400_naming_the_parameter() {
    let s = TestServer::start(&[]);
    for path in [
        "/api/backups?vmid=abc",
        "/api/backups/unified?type=disk",
        "/api/backups/pve?since=yesterday",
        "/api/backups/pbs?limit=0",
        "/api/snapshots?offset=-3",
        "/api/snapshots?since=200&until=100",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 400, "{path}");
        let v = r.json();
        let param = v["parameter"].as_str().unwrap().to_string();
        assert!(path.contains(&param), "{path}: {v}");
        assert!(v["error"].as_str().unwrap().contains(&param), "{path}: {v}");
    }
    // Without polling everything is an empty list, never null.
    let v = s.get("/api/backups").json();
    assert_eq!(v["storageBackups"], serde_json::json!([]));
    assert_eq!(
        s.get("/api/snapshots").json()["snapshots"],
        serde_json::json!([])
    );
    assert_eq!(
        s.get("/api/backups/pbs").json()["instances"],
        serde_json::json!([])
    );
}
