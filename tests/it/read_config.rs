//! The configuration read/write API as the document describes it, through the real server:
//! settings updates that refuse unknown, read-only and env-pinned keys (400 naming the key,
//! nothing applied); `GET /api/config` with the whole configuration; guest metadata with the
//! document's fields and one id per guest; `GET /api/storage/<node-id>`; the demo estate in
//! `/api/config/nodes`; and a configuration import that restores API tokens in the running server.

use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::auth::{login, mint, start_with_admin, Browser};
use support::{Response, TestServer};

const JSON: (&str, &str) = ("Content-Type", "application/json");

const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "2"),
    ("PULSE_MOCK_LXCS_PER_NODE", "1"),
];

fn send(s: &TestServer, method: &str, path: &str, body: Value) -> Response {
    s.req(method, path, &[JSON], Some(body.to_string().as_bytes()))
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

fn wait(s: &TestServer, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = s.get(path).json();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never matched: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn settings_updates_refuse_unknown_read_only_and_env_pinned_keys() {
    let s = TestServer::start(&[("DISCOVERY_ENABLED", "false")]);
    for path in ["/api/system/settings/update", "/api/settings/update"] {
        // The example: a key Pulse does not have, next to a valid one.
        let r = send(
            &s,
            "POST",
            path,
            json!({"theme": "dark", "pvePollingInterval": 30}),
        );
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(error_of(&r).contains("pvePollingInterval"), "{}", r.text());
    }
    let r = send(
        &s,
        "PUT",
        "/api/config/system",
        json!({"pbsPollingInterval": 30, "bogus": true}),
    );
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("bogus"));
    // Nothing of a refused patch was applied.
    let v = s.get("/api/system/settings").json();
    assert_eq!(
        (v["theme"].as_str(), v["pbsPollingInterval"].as_i64()),
        (None, Some(60))
    );

    // Wrong type: 400 naming the key.
    let r = send(
        &s,
        "PUT",
        "/api/config/system",
        json!({"allowEmbedding": "yes"}),
    );
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("allowEmbedding"));

    // A read-only key sent back as read is fine (GET → PUT round trip) ...
    let shown = s.get("/api/config/system").json();
    let r = send(&s, "PUT", "/api/config/system", shown.clone());
    assert_eq!(
        r.status,
        200,
        "round trip of GET /api/config/system: {}",
        r.text()
    );
    let shown = s.get("/api/system/settings").json();
    let r = send(&s, "POST", "/api/system/settings/update", shown);
    assert_eq!(
        r.status,
        200,
        "round trip of GET /api/system/settings: {}",
        r.text()
    );
    // ... a new value is refused.
    let r = send(&s, "PUT", "/api/config/system", json!({"frontendPort": 1}));
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("frontendPort"), "{}", r.text());

    // envOverrides honoured: DISCOVERY_ENABLED pins discoveryEnabled.
    let r = send(
        &s,
        "PUT",
        "/api/config/system",
        json!({"discoveryEnabled": true, "theme": "dark"}),
    );
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("discoveryEnabled"), "{}", r.text());
    assert!(s.get("/api/system/settings").json().get("theme").is_none());
    // A writable key alone still works, and is applied.
    let r = send(&s, "PUT", "/api/config/system", json!({"theme": "dark"}));
    assert_eq!((r.status, r.json()["success"].as_bool()), (200, Some(true)));
    assert_eq!(s.get("/api/config/system").json()["theme"], "dark");
}

#[test]
fn get_config_returns_the_whole_configuration_to_settings_readers() {
    let s = start_with_admin(&[("DISCOVERY_ENABLED", "false")]);
    let b = login(&s);
    let r = b.send(
        &s,
        "POST",
        "/api/config/nodes",
        Some(
            &json!({"type":"pbs","name":"store","host":"127.0.0.1:9","tokenName":"p@pbs!t","tokenValue":"secret-value-1"})
                .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = b.send(&s, "GET", "/api/config", None).json();
    assert_eq!(v["csrfProtection"], true);
    assert_eq!(v["updateChannel"], "stable");
    assert_eq!(v["nodes"][0]["name"], "store");
    assert_eq!(v["nodes"][0]["type"], "pbs");
    assert_eq!(v["nodes"][0]["hasToken"], true);
    assert!(!v.to_string().contains("secret-value-1"), "no secrets: {v}");
    assert_eq!(v["system"]["pbsPollingInterval"], 60);
    assert!(
        v["system"]["connectionTimeout"].as_i64().unwrap() > 0,
        "runtime values: {v}"
    );
    assert_eq!(v["envOverrides"]["discoveryEnabled"], true);
    assert_eq!(v["guestMetadataCount"], 0);
    assert_eq!(v["demoMode"], false);

    // A monitoring-only token reads the header values, not the configuration.
    let (reader, _) = mint(&s, &b, "reader", Some(&["monitoring:read"]));
    let v = s
        .req(
            "GET",
            "/api/config",
            &[("X-API-Token", reader.as_str())],
            None,
        )
        .json();
    assert_eq!(v["csrfProtection"], true);
    assert!(v.get("nodes").is_none() && v.get("system").is_none(), "{v}");
}

#[test]
fn guest_metadata_takes_the_documents_fields_under_the_states_guest_id() {
    let s = TestServer::start(DEMO);
    let state = wait(&s, "/api/state", |v| {
        v["vms"].as_array().is_some_and(|a| !a.is_empty())
    });
    let vm = &state["vms"][0];
    let (id, node, vmid) = (
        vm["id"].as_str().unwrap().to_string(),
        vm["node"].as_str().unwrap().to_string(),
        vm["vmid"].as_u64().unwrap(),
    );
    assert_ne!(id, format!("{node}-{vmid}"), "a cluster guest id: {id}");

    // The document's own example body, on the document's `<node>/<vmid>` path.
    let path = format!("/api/guests/metadata/{node}/{vmid}");
    let r = send(
        &s,
        "PUT",
        &path,
        json!({"consoleUrl": "https://custom-console.example.com/vm/100", "notes": "Production database server"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = r.json();
    assert_eq!(rec["id"], id, "stored under the id /api/state uses");
    assert_eq!(
        rec["consoleUrl"],
        "https://custom-console.example.com/vm/100"
    );
    assert_eq!(rec["customUrl"], rec["consoleUrl"]);
    assert_eq!(rec["notes"], "Production database server");
    assert_eq!(rec["description"], rec["notes"]);
    // Every form reads the same record.
    assert_eq!(s.get(&format!("/api/guests/metadata/{id}")).json(), rec);
    assert_eq!(s.get(&path).json(), rec);
    assert_eq!(s.get("/api/guests/metadata").json()[&id], rec);
    // The original's names update the same record; sending a record back is fine.
    let r = send(
        &s,
        "POST",
        &format!("/api/guests/metadata/{id}"),
        json!({"description": "db", "tags": ["prod"]}),
    );
    assert_eq!(r.status, 200);
    let back = r.json();
    assert_eq!(
        (back["notes"].as_str(), back["tags"][0].as_str()),
        (Some("db"), Some("prod"))
    );
    assert_eq!(send(&s, "PUT", &path, back.clone()).status, 200);

    // Unknown field and bad URLs: 400 naming the problem, nothing stored.
    let r = send(&s, "PUT", &path, json!({"consoleURL": "https://x.example"}));
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("consoleURL"), "{}", r.text());
    for bad in ["javascript:alert(1)", "ftp://host/x", "https://"] {
        let r = send(&s, "PUT", &path, json!({"consoleUrl": bad}));
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(s.get(&path).json(), back);
    // Deleting by `<node>/<vmid>` removes the state-id record.
    assert_eq!(s.req("DELETE", &path, &[], None).status, 204);
    assert!(s.get("/api/guests/metadata").json().get(&id).is_none());
}

#[test]
fn storage_by_node_id_and_demo_nodes_in_the_node_list() {
    let s = TestServer::start(DEMO);
    let state = wait(&s, "/api/state", |v| {
        v["nodes"].as_array().is_some_and(|a| a.len() == 2)
            && v["storage"].as_array().is_some_and(|a| !a.is_empty())
    });
    let node = &state["nodes"][0];
    let node_id = node["id"].as_str().unwrap();
    let name = node["name"].as_str().unwrap();
    let r = s.get(&format!("/api/storage/{node_id}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["node"], node_id);
    let list = v["data"].as_array().unwrap();
    assert!(!list.is_empty(), "{v}");
    for st in list {
        let seen_by = st["node"] == name
            || st["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n == name));
        assert!(seen_by, "{st} is not seen by {name}");
    }
    // Pulse's form (a storage id) still answers that one entry; unknown ids are 404.
    let sid = list[0]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/api/storage/{sid}")).json()["data"]["id"],
        sid
    );
    let r = s.get("/api/storage/no-such-thing");
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("storage_not_found"))
    );

    // The demo estate is listed, read-only, with the cluster's members.
    let nodes = wait(&s, "/api/config/nodes", |v| {
        v.as_array()
            .is_some_and(|a| a.iter().all(|n| n["status"] == "connected"))
    });
    let nodes = nodes.as_array().unwrap();
    let types: Vec<&str> = nodes.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["pve", "pbs", "pmg"]);
    assert!(nodes
        .iter()
        .all(|n| n["readOnly"] == true && n["demo"] == true));
    assert_eq!(nodes[0]["name"], "mock-cluster");
    assert_eq!(nodes[0]["isCluster"], true);
    assert_eq!(nodes[0]["clusterEndpoints"].as_array().unwrap().len(), 2);
    assert!(
        nodes
            .iter()
            .all(|n| !n["host"].as_str().unwrap().is_empty()),
        "{nodes:?}"
    );
    // GET /api/config shows the same list.
    let c = s.get("/api/config").json();
    assert_eq!(c["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(c["demoMode"], true);
}

fn tokens_file_has(dir: &std::path::Path, id: &str) -> bool {
    std::fs::read_to_string(dir.join("api_tokens.json")).is_ok_and(|t| t.contains(id))
}

fn wait_file(dir: &std::path::Path, id: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokens_file_has(dir, id) != present {
        assert!(
            Instant::now() < deadline,
            "api_tokens.json never settled for {id}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state_with(s: &TestServer, token: &str) -> u16 {
    s.req("GET", "/api/state", &[("X-API-Token", token)], None)
        .status
}

fn admin_on(dir: &std::path::Path) -> TestServer {
    let d = dir.display().to_string();
    start_with_admin(&[("PULSE_DATA_DIR", d.as_str())])
}

fn post_as(s: &TestServer, b: &Browser, path: &str, body: Value) -> Response {
    b.send(s, "POST", path, Some(&body.to_string()))
}

#[test]
fn import_restores_api_tokens_in_the_running_server_and_after_restart() {
    let dir_a = support::temp_dir("import-tokens-a");
    let a = admin_on(&dir_a);
    let ba = login(&a);
    let (token_a, id_a) = mint(&a, &ba, "from-backup", None);
    wait_file(&dir_a, &id_a, true);
    let exp = post_as(
        &a,
        &ba,
        "/api/config/export",
        json!({"passphrase": "twelve chars ok"}),
    );
    assert_eq!(exp.status, 200, "{}", exp.text());
    let blob = exp.json()["data"].as_str().unwrap().to_string();

    let dir_b = support::temp_dir("import-tokens-b");
    let b = admin_on(&dir_b);
    let bb = login(&b);
    let (token_b, id_b) = mint(&b, &bb, "dropped-by-backup", None);
    wait_file(&dir_b, &id_b, true);
    assert_eq!(
        (state_with(&b, &token_a), state_with(&b, &token_b)),
        (401, 200)
    );

    let r = post_as(
        &b,
        &bb,
        "/api/config/import",
        json!({"data": blob, "passphrase": "twelve chars ok"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // At once, in the running server: the backup's token works, the dropped one does not.
    assert_eq!(
        (state_with(&b, &token_a), state_with(&b, &token_b)),
        (200, 401)
    );
    // The running server does not write its old list back over the restored file.
    std::thread::sleep(Duration::from_millis(300));
    assert!(tokens_file_has(&dir_b, &id_a) && !tokens_file_has(&dir_b, &id_b));
    b.stop();

    // And after a restart.
    let b = admin_on(&dir_b);
    assert_eq!(
        (state_with(&b, &token_a), state_with(&b, &token_b)),
        (200, 401)
    );
    b.stop();
    a.stop();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}

#[test]
fn import_takes_up_the_alert_configuration_in_the_running_server() {
    let a = TestServer::start(&[]);
    let mut cfg = a.get("/api/alerts/config").json();
    cfg["guestDefaults"]["memory"] = json!({"trigger": 91.5, "clear": 87});
    assert_eq!(send(&a, "PUT", "/api/alerts/config", cfg).status, 200);
    let pass = "twelve chars ok";
    let exp = send(
        &a,
        "POST",
        "/api/config/export",
        json!({ "passphrase": pass }),
    );
    assert_eq!(exp.status, 200, "{}", exp.text());
    let blob = exp.json()["data"].as_str().unwrap().to_string();
    a.stop();

    let b = TestServer::start(&[]);
    let before = b.get("/api/alerts/config").json();
    assert_ne!(before["guestDefaults"]["memory"]["trigger"], 91.5);
    let r = send(
        &b,
        "POST",
        "/api/config/import",
        json!({ "data": blob, "passphrase": pass }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // At once, without a restart: the engine took the imported file up.
    let after = b.get("/api/alerts/config").json();
    assert_eq!(after["guestDefaults"]["memory"]["trigger"], 91.5, "{after}");
    assert_eq!(after["guestDefaults"]["memory"]["clear"], 87.0);
    b.stop();
}
