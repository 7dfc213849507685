//! Connection tests and PVE cluster detection through the real HTTP server against the
//! in-process Proxmox simulator over HTTPS: success for PVE/PBS/PMG, each failure kind with
//! its own message, saved-node tests, and cluster members stored after an add.

use crate::support;

use pulse::config::persist::store::ConfigStore;
use pulse::proxmox::Product;
use pulse::sim::{Fault, SimConfig, SimHandle, Simulator, LIMITED_TOKEN_ID, TOKEN_ID};
use pulse::util::time::UtcTime;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{temp_dir, Response, TestServer};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn sim() -> SimHandle {
    Simulator::start(SimConfig::default()).unwrap_or_else(|e| panic!("simulator: {e}"))
}

fn post(s: &TestServer, path: &str, body: &Value) -> Response {
    s.req("POST", path, &[JSON], Some(body.to_string().as_bytes()))
}

/// A node request for `product` on the simulator: full token, pinned certificate.
fn node(s: &SimHandle, product: Product, name: &str) -> Value {
    json!({
        "type": product.as_str(),
        "name": name,
        "host": s.https_url(product),
        "tokenName": TOKEN_ID,
        "tokenValue": s.token_secret(),
        "fingerprint": s.fingerprint(),
    })
}

/// POSTs to test-connection and returns (status, body).
fn test_connection(srv: &TestServer, body: &Value) -> (u16, Value) {
    let r = post(srv, "/api/config/nodes/test-connection", body);
    (r.status, r.json())
}

/// Asserts a 400 failure with `code`, returning the message.
fn failure(srv: &TestServer, body: &Value, code: &str) -> String {
    let (status, v) = test_connection(srv, body);
    assert_eq!((status, v["code"].as_str()), (400, Some(code)), "{v}");
    assert_eq!(v["status"], "error");
    let msg = v["error"].as_str().unwrap_or_default().to_string();
    assert_eq!(v["message"].as_str(), Some(msg.as_str()));
    msg
}

/// A plain-HTTP web server (as on a wrong port): answers one connection with a 400 page.
fn plain_web_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n<h1>x</h1>",
            );
        }
    });
    port
}

#[test]
fn test_connection_succeeds_for_each_product() {
    let s = sim();
    let srv = TestServer::start(&[]);
    let (status, v) = test_connection(&srv, &node(&s, Product::Pve, "pve"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (
            v["status"].as_str(),
            v["isCluster"].as_bool(),
            v["nodeCount"].as_u64()
        ),
        (Some("success"), Some(true), Some(3))
    );
    assert_eq!(v["message"], "Successfully connected to 3 node(s)");

    let (status, v) = test_connection(&srv, &node(&s, Product::Pbs, "pbs"));
    assert_eq!(
        (status, v["datastoreCount"].as_u64()),
        (200, Some(2)),
        "{v}"
    );

    // PMG with user + password (it has no API tokens), and no name: the docs' example omits it.
    let pmg = json!({"type":"pmg","host":s.https_url(Product::Pmg),"user":s.user(),
                     "password":s.password(),"fingerprint":s.fingerprint()});
    let (status, v) = test_connection(&srv, &pmg);
    assert_eq!(status, 200, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Connected to PMG instance"));

    // test-config is the same test for an unsaved configuration, here with password auth.
    let mut pve = node(&s, Product::Pve, "pw");
    pve["tokenName"] = json!(null);
    pve["tokenValue"] = json!(null);
    pve["user"] = json!(s.user());
    pve["password"] = json!(s.password());
    let r = post(&srv, "/api/config/nodes/test-config", &pve);
    assert_eq!((r.status, r.json()["nodeCount"].as_u64()), (200, Some(3)));
    // Nothing was saved by testing.
    assert_eq!(srv.get("/api/config/nodes").json(), json!([]));
}

#[test]
fn test_connection_names_each_failure_kind() {
    let s = sim();
    let srv = TestServer::start(&[]);

    let mut bad_secret = node(&s, Product::Pve, "a");
    bad_secret["tokenValue"] = json!("00000000-0000-0000-0000-000000000000");
    let m = failure(&srv, &bad_secret, "auth_failed");
    assert!(m.contains("Authentication failed (HTTP 401)"), "{m}");

    let mut limited = node(&s, Product::Pve, "a");
    limited["tokenName"] = json!(LIMITED_TOKEN_ID);
    limited["tokenValue"] = json!(s.limited_token_secret());
    let m = failure(&srv, &limited, "permission_denied");
    assert!(m.contains("HTTP 403"), "{m}");

    let mut pinned_wrong = node(&s, Product::Pbs, "a");
    pinned_wrong["fingerprint"] = json!(s.wrong_fingerprint());
    let m = failure(&srv, &pinned_wrong, "fingerprint_mismatch");
    assert!(m.contains("fingerprint mismatch"), "{m}");
    // The answer names the certificate the host does present, for "trust this one?".
    let (_, v) = test_connection(&srv, &pinned_wrong);
    assert_eq!(v["certificateFingerprint"], json!(s.fingerprint()));

    let mut untrusted = node(&s, Product::Pve, "a");
    untrusted["fingerprint"] = json!("");
    untrusted["verifySSL"] = json!(true);
    let m = failure(&srv, &untrusted, "tls_error");
    assert!(m.contains("not trusted"), "{m}");
    let (_, v) = test_connection(&srv, &untrusted);
    assert_eq!(v["certificateFingerprint"], json!(s.fingerprint()));
    // Other failures do not probe the certificate.
    assert!(test_connection(&srv, &limited)
        .1
        .get("certificateFingerprint")
        .is_none());

    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut refused = node(&s, Product::Pve, "a");
    refused["host"] = json!(format!("https://127.0.0.1:{port}"));
    let m = failure(&srv, &refused, "connection_refused");
    assert!(m.contains("Connection refused"), "{m}");

    // An HTML page where the API should be, and HTTPS spoken to a plain-HTTP port.
    s.set_fault("/nodes", Fault::HtmlPage);
    let m = failure(&srv, &node(&s, Product::Pve, "a"), "not_proxmox");
    assert!(m.contains("not a Proxmox VE API"), "{m}");
    s.clear_faults();
    let mut wrong_port = node(&s, Product::Pve, "a");
    wrong_port["host"] = json!(format!("https://127.0.0.1:{}", plain_web_server()));
    let m = failure(&srv, &wrong_port, "not_proxmox");
    assert!(m.contains("did not answer with TLS"), "{m}");
    // A server that hangs up on the TLS handshake (the simulator's plain-HTTP listener).
    let mut hangs_up = node(&s, Product::Pve, "a");
    hangs_up["host"] = json!(s.http_url(Product::Pve).replace("http://", "https://"));
    let m = failure(&srv, &hangs_up, "unreachable");
    assert!(m.contains("closed the connection without answering"), "{m}");

    // Invalid input never reaches the network.
    let r = post(
        &srv,
        "/api/config/nodes/test-connection",
        &json!({"type":"pve"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "Host is required");
    let r = post(
        &srv,
        "/api/config/nodes/test-connection",
        &json!({"type":"xyz","host":"h"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn test_connection_times_out_within_the_configured_budget() {
    let s = sim();
    s.set_fault("/nodes", Fault::Hang);
    let srv = TestServer::start(&[("CONNECTION_TIMEOUT", "1")]);
    let m = failure(&srv, &node(&s, Product::Pve, "a"), "timeout");
    assert!(m.contains("Timed out after 1 s"), "{m}");
    // The loop kept serving while the worker waited.
    assert_eq!(srv.get("/api/health").status, 200);
}

#[test]
fn saved_node_test_reports_latency_or_the_error() {
    let s = sim();
    let srv = TestServer::start(&[("CONNECTION_TIMEOUT", "2")]);
    let r = post(&srv, "/api/config/nodes", &node(&s, Product::Pbs, "store"));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/config/nodes/{id}/test");

    let v = post(&srv, &path, &json!({})).json();
    assert_eq!(
        (v["status"].as_str(), v["message"].as_str()),
        (Some("success"), Some("Connection successful"))
    );
    assert!(v["latency"].is_u64(), "{v}");

    s.set_fault("/admin", Fault::Status { status: 401 });
    let r = post(&srv, &path, &json!({}));
    let v = r.json();
    assert_eq!(r.status, 200, "Pulse answers a failed test with 200");
    assert_eq!(
        (v["status"].as_str(), v["code"].as_str()),
        (Some("error"), Some("auth_failed")),
        "{v}"
    );
    assert!(v.get("latency").is_none());

    let missing = post(&srv, "/api/config/nodes/pbs-99/test", &json!({}));
    assert_eq!(missing.status, 404);
}

/// Polls the node list until `pred` holds for node `id` (cluster detection runs on a worker).
fn wait_for_node(srv: &TestServer, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = srv.get("/api/config/nodes").json();
        let found = list
            .as_array()
            .and_then(|a| a.iter().find(|n| n["id"] == id).cloned());
        if let Some(n) = found.filter(|n| pred(n)) {
            return n;
        }
        assert!(Instant::now() < deadline, "node {id} never matched: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn adding_a_pve_node_detects_and_stores_its_cluster() {
    let s = sim();
    let dir = temp_dir("connect-cluster");
    let d = dir.display().to_string();
    let srv = TestServer::start(&[("PULSE_DATA_DIR", d.as_str())]);
    let r = post(&srv, "/api/config/nodes", &node(&s, Product::Pve, "lab"));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();

    let n = wait_for_node(&srv, &id, |n| n["isCluster"] == true);
    assert_eq!(n["clusterName"], "sim-cluster");
    let members = n["clusterEndpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = members
        .iter()
        .filter_map(|m| m["NodeName"].as_str())
        .collect();
    assert_eq!(names, s.node_names());
    assert!(members
        .iter()
        .all(|m| m["Online"] == true && m["IP"].as_str().is_some_and(|ip| !ip.is_empty())));
    srv.stop();

    // It was saved: the data dir has it after a restart.
    let store = ConfigStore::open(&dir).expect("store").value;
    let nodes = store.load_nodes(UtcTime::now()).expect("nodes").value;
    let saved = nodes.pve.iter().find(|n| n.id == id).expect("saved node");
    assert!(saved.is_cluster && saved.cluster_name == "sim-cluster");
    assert_eq!(saved.cluster_endpoints.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn moving_a_node_to_a_standalone_host_clears_its_cluster() {
    let cluster = sim();
    let solo = Simulator::start(SimConfig {
        nodes: 1,
        guests: 3,
        ..SimConfig::default()
    })
    .expect("simulator");
    let srv = TestServer::start(&[]);
    let r = post(
        &srv,
        "/api/config/nodes",
        &node(&cluster, Product::Pve, "moved"),
    );
    let id = r.json()["id"].as_str().unwrap().to_string();
    wait_for_node(&srv, &id, |n| n["isCluster"] == true);

    let mut to_solo = node(&solo, Product::Pve, "moved");
    to_solo.as_object_mut().map(|o| o.remove("type"));
    let r = srv.req(
        "PUT",
        &format!("/api/config/nodes/{id}"),
        &[JSON],
        Some(to_solo.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let n = wait_for_node(&srv, &id, |n| n["isCluster"] != true);
    assert!(
        n["clusterEndpoints"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{n}"
    );
    assert!(n["clusterName"].as_str().is_none_or(str::is_empty), "{n}");
}

#[test]
fn a_standalone_host_stays_standalone() {
    let s = Simulator::start(SimConfig {
        nodes: 1,
        guests: 3,
        ..SimConfig::default()
    })
    .expect("simulator");
    let srv = TestServer::start(&[]);
    let (status, v) = test_connection(&srv, &node(&s, Product::Pve, "solo"));
    assert_eq!(
        (status, v["isCluster"].as_bool(), v["nodeCount"].as_u64()),
        (200, Some(false), Some(1))
    );
}
