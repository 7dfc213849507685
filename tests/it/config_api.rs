//! The configuration API over real TCP: node CRUD, system settings, guest metadata,
//! export/import between two servers, and the setup-code → script → auto-register flow (the
//! served script is executed against stub Proxmox CLIs and calls back into the server).

use crate::support;

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{temp_dir, Response, TestServer};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn post(s: &TestServer, path: &str, body: Value) -> Response {
    s.req("POST", path, &[JSON], Some(body.to_string().as_bytes()))
}

fn put(s: &TestServer, path: &str, body: Value) -> Response {
    s.req("PUT", path, &[JSON], Some(body.to_string().as_bytes()))
}

fn server_on(dir: &Path, extra: &[(&str, &str)]) -> TestServer {
    let d = dir.display().to_string();
    let mut env = vec![("PULSE_DATA_DIR", d.as_str())];
    env.extend_from_slice(extra);
    TestServer::start(&env)
}

/// Hosts in these tests are loopback ports nobody listens on: adding a PVE node starts cluster
/// detection against its host, and tests never leave the machine.
fn pve(name: &str, host: &str) -> Value {
    json!({"type":"pve","name":name,"host":host,"user":"root@pam","password":"s3cret-pw"})
}

#[test]
fn node_crud_with_validation_stable_ids_and_no_secrets() {
    let dir = temp_dir("api-nodes");
    let s = server_on(&dir, &[]);
    let r = post(&s, "/api/config/nodes", pve("one", "127.0.0.1:9"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["id"], "pve-0");
    assert_eq!(
        post(&s, "/api/config/nodes", pve("two", "127.0.0.2:9")).json()["id"],
        "pve-1"
    );

    let dup = post(&s, "/api/config/nodes", pve("one", "127.0.0.3:9"));
    assert_eq!(
        (dup.status, dup.json()["error"].as_str()),
        (409, Some("A node with this name already exists"))
    );
    let bad = post(&s, "/api/config/nodes", pve("three", "10.0.0.3:99999"));
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("port"));
    let nocred = post(
        &s,
        "/api/config/nodes",
        json!({"type":"pve","name":"x","host":"h"}),
    );
    assert!(nocred.json()["error"]
        .as_str()
        .unwrap()
        .contains("credentials"));
    let malformed = s.req("POST", "/api/config/nodes", &[JSON], Some(b"{not json"));
    assert_eq!(malformed.status, 400);

    let r = put(&s, "/api/config/nodes/pve-1", json!({"monitorVMs": false}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(put(&s, "/api/config/nodes/pve-9", json!({})).status, 404);
    assert_eq!(
        s.req("DELETE", "/api/config/nodes/pve-0", &[], None).status,
        200
    );

    let list = s.get("/api/config/nodes");
    assert_eq!(list.status, 200);
    assert!(
        !list.text().contains("s3cret-pw"),
        "credentials must never be returned"
    );
    let v = list.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], "pve-1", "ids do not shift after a delete");
    assert_eq!(v[0]["hasPassword"], true);
    assert!(v[0].get("monitorVMs").is_none());
    assert_eq!(v[0]["host"], "https://127.0.0.2:9");
    s.stop();

    // Persisted: a restarted server sees the same nodes and ids.
    let s = server_on(&dir, &[]);
    let v = s.get("/api/config/nodes").json();
    assert_eq!(
        (v[0]["id"].as_str(), v[0]["name"].as_str()),
        (Some("pve-1"), Some("two"))
    );
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn system_settings_partial_update_validation_and_env_overrides() {
    let dir = temp_dir("api-system");
    let s = server_on(&dir, &[("DISCOVERY_ENABLED", "false")]);
    let v = s.get("/api/system/settings").json();
    assert_eq!(v["pbsPollingInterval"], 60);
    assert_eq!(v["envOverrides"]["discoveryEnabled"], true);
    let r = post(
        &s,
        "/api/system/settings/update",
        json!({"theme":"dark","pmgPollingInterval":120}),
    );
    assert_eq!((r.status, r.json()["success"].as_bool()), (200, Some(true)));
    let bad = post(
        &s,
        "/api/system/settings/update",
        json!({"theme":"light","pbsPollingInterval":1}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"]
        .as_str()
        .unwrap()
        .contains("pbsPollingInterval"));
    let v = s.get("/api/config/system").json();
    assert_eq!(
        (v["theme"].as_str(), v["pmgPollingInterval"].as_i64()),
        (Some("dark"), Some(120))
    );
    assert!(v.get("envOverrides").is_none());
    assert!(
        v["connectionTimeout"].as_i64().unwrap() > 0,
        "runtime value filled in"
    );
    assert_eq!(s.get("/api/settings").json()["theme"], "dark");
    let c = s.get("/api/config").json();
    assert_eq!(
        (
            c["autoUpdateEnabled"].as_bool(),
            c["updateChannel"].as_str()
        ),
        (Some(false), Some("stable"))
    );
    // CSRF is enforced, and the answer says so.
    assert_eq!(c["csrfProtection"], true);
    // The document's `PUT /api/config/system` updates the same settings, with the same checks.
    assert_eq!(
        put(&s, "/api/config/system", json!({"pmgPollingInterval": 300})).status,
        200
    );
    assert_eq!(
        s.get("/api/config/system").json()["pmgPollingInterval"],
        300
    );
    let bad = put(&s, "/api/config/system", json!({"pmgPollingInterval": 1}));
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"]
        .as_str()
        .unwrap()
        .contains("pmgPollingInterval"));
    s.stop();
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(dir.join("system.json")).unwrap()).unwrap();
    assert_eq!(on_disk["theme"], "dark");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn guest_metadata_by_id_and_node_vmid() {
    let s = TestServer::start(&[]);
    let r = put(
        &s,
        "/api/guests/metadata/pve1/100",
        json!({"customUrl":"https://vm100.lan"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "pve1-100");
    let r = post(
        &s,
        "/api/guests/metadata/lab-pve2-200",
        json!({"description":"db","tags":["prod"]}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        put(
            &s,
            "/api/guests/metadata/x",
            json!({"customUrl":"javascript:alert(1)"})
        )
        .status,
        400
    );
    let all = s.get("/api/guests/metadata").json();
    assert_eq!(all["pve1-100"]["customUrl"], "https://vm100.lan");
    assert_eq!(all["lab-pve2-200"]["tags"][0], "prod");
    assert_eq!(
        s.get("/api/guests/metadata/pve1-100").json()["customUrl"],
        "https://vm100.lan"
    );
    assert_eq!(
        s.get("/api/guests/metadata/unknown").json(),
        json!({"id":"unknown"})
    );
    assert_eq!(
        s.req("DELETE", "/api/guests/metadata/pve1/100", &[], None)
            .status,
        204
    );
    assert!(s
        .get("/api/guests/metadata")
        .json()
        .get("pve1-100")
        .is_none());
}

#[test]
fn export_then_import_into_a_fresh_server() {
    let a = TestServer::start(&[]);
    post(&a, "/api/config/nodes", pve("alpha", "127.0.1.1:9"));
    post(
        &a,
        "/api/config/nodes",
        json!({"type":"pbs","name":"store","host":"10.1.0.9","tokenName":"p@pbs!t","tokenValue":"tv"}),
    );
    post(&a, "/api/system/settings/update", json!({"theme":"dark"}));
    put(
        &a,
        "/api/guests/metadata/alpha-100",
        json!({"customUrl":"https://a.lan"}),
    );
    assert_eq!(
        post(&a, "/api/config/export", json!({"passphrase":"short"})).status,
        400
    );
    let exp = post(
        &a,
        "/api/config/export",
        json!({"passphrase":"twelve chars ok"}),
    );
    assert_eq!(exp.status, 200, "{}", exp.text());
    let blob = exp.json()["data"].as_str().unwrap().to_string();

    let b = TestServer::start(&[]);
    post(&b, "/api/config/nodes", pve("keepme", "127.0.2.1:9"));
    let before = b.get("/api/config/nodes").json();
    let wrong = post(
        &b,
        "/api/config/import",
        json!({"data": blob, "passphrase":"not the passphrase"}),
    );
    assert_eq!(wrong.status, 400);
    assert!(wrong.json()["error"]
        .as_str()
        .unwrap()
        .contains("wrong passphrase"));
    assert_eq!(
        b.get("/api/config/nodes").json(),
        before,
        "a failed import changes nothing"
    );

    let ok = post(
        &b,
        "/api/config/import",
        json!({"data": blob, "passphrase":"twelve chars ok"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        b.get("/api/config/nodes").json(),
        a.get("/api/config/nodes").json()
    );
    assert_eq!(b.get("/api/system/settings").json()["theme"], "dark");
    assert_eq!(
        b.get("/api/guests/metadata/alpha-100").json()["customUrl"],
        "https://a.lan"
    );
}

fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn setup_code_script_and_auto_register_end_to_end() {
    let s = TestServer::start(&[]);
    let r = post(
        &s,
        "/api/setup-script-url",
        json!({"type":"pve","host":"https://127.0.5.5:9"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let code = v["setupToken"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6);
    let url = v["url"].as_str().unwrap();
    assert!(v["command"]
        .as_str()
        .unwrap()
        .contains(&format!("PULSE_SETUP_TOKEN={code}")));
    let path = &url[url.find("/api/").unwrap()..];
    let script = s.get(path);
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        s.get("/api/setup-script?pulse_url=http://x").status,
        400,
        "type is required"
    );
    let derived = s.get("/api/setup-script?type=pbs").text();
    assert!(
        derived.contains(&format!("PULSE_URL='http://{}'", s.addr)),
        "pulse_url defaults to the request's host"
    );

    // Run the served script on a "node" whose pveum is a stub; it registers back over HTTP.
    let dir = temp_dir("api-setup");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    stub(&bin, "id", "echo 0");
    stub(&bin, "hostname", "echo pve5.lan");
    stub(
        &bin,
        "pveum",
        "case \"$*\" in *token*) echo '{\"value\":\"aaaa-bbbb-cccc\"}';; esac",
    );
    std::fs::write(dir.join("setup.sh"), script.body).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(dir.join("setup.sh"))
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("PULSE_SETUP_TOKEN", &code)
        .stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe; a new session has no tty for the code prompt.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let nodes = s.get("/api/config/nodes").json();
    let n = &nodes[0];
    assert_eq!(
        (n["name"].as_str(), n["host"].as_str()),
        (Some("pve5.lan"), Some("https://127.0.5.5:9"))
    );
    assert_eq!(
        (n["hasToken"].as_bool(), n["status"].as_str()),
        (Some(true), Some("connected"))
    );
    assert!(n["tokenName"]
        .as_str()
        .unwrap()
        .starts_with("pulse-monitor@pam!pulse-"));
    assert!(!nodes.to_string().contains("aaaa-bbbb-cccc"));

    // The code was single-use; other codes are bound to their type.
    let again = json!({"type":"pve","host":"https://127.0.5.5:9","tokenId":"a@pam!b","tokenValue":"v","authToken":code});
    assert_eq!(post(&s, "/api/auto-register", again).status, 401);
    let pbs_code = post(&s, "/api/setup-script-url", json!({"type":"pbs"})).json()["setupToken"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong_type = json!({"type":"pve","host":"10.5.0.6","tokenId":"a@pam!b","tokenValue":"v","authToken":pbs_code});
    assert_eq!(post(&s, "/api/auto-register", wrong_type).status, 401);
    let none = json!({"type":"pve","host":"10.5.0.6","tokenId":"a@pam!b","tokenValue":"v"});
    assert_eq!(
        post(&s, "/api/auto-register", none).json()["error"],
        "Pulse requires authentication"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn discover_reports_cache_and_scans_loopback_on_request() {
    let s = TestServer::start(&[]);
    let v = s.get("/api/discover").json();
    assert_eq!(
        (v["cached"].as_bool(), v["servers"].as_array().map(Vec::len)),
        (Some(false), Some(0))
    );
    assert_eq!(
        post(&s, "/api/discover", json!({"subnet":"10.0.0.0/40"})).status,
        400
    );
    // A huge list is refused up front instead of being expanded on the event loop.
    let many = vec!["169.254.0.0/16"; 100].join(",");
    assert_eq!(
        post(&s, "/api/discover", json!({ "subnet": many })).status,
        400
    );
    let r = post(&s, "/api/discover", json!({"subnet":"127.0.0.1/32"}));
    assert_eq!(r.status, 202, "{}", r.text());
    let mut done = false;
    for _ in 0..100 {
        let v = s.get("/api/discover").json();
        if v["cached"] == true && v["scanning"] == false {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(done, "the loopback scan must finish and be cached");
}
