//! `GET /api/diagnostics` through the real server: a node polled on the simulator (real HTTPS,
//! pinned fingerprint) reads connected with its cluster members, a node that cannot be reached
//! reads disconnected with its error in `errors`, and `system` describes this process.

use crate::support;

use pulse::proxmox::Product;
use pulse::sim::{SimConfig, Simulator};
use std::time::{Duration, Instant};
use support::TestServer;

fn add_node(s: &TestServer, body: serde_json::Value) {
    let r = s.req(
        "POST",
        "/api/config/nodes",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
}

#[test]
fn diagnostics_reports_nodes_errors_and_this_runtime() {
    let sim = Simulator::start(SimConfig {
        nodes: 2,
        guests: 2,
        ..SimConfig::default()
    })
    .unwrap();
    let s = TestServer::start(&[]);
    add_node(
        &s,
        serde_json::json!({
            "type": "pve", "name": "lab", "host": sim.https_url(Product::Pve),
            "tokenName": pulse::sim::TOKEN_ID, "tokenValue": sim.token_secret(),
            "fingerprint": sim.fingerprint(), "verifySSL": true,
        }),
    );
    // A port nothing listens on: the poll fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    add_node(
        &s,
        serde_json::json!({
            "type": "pve", "name": "gone", "host": format!("https://127.0.0.1:{port}"),
            "user": "root@pam", "password": "pw", "verifySSL": false,
        }),
    );

    // Cluster members come from the poll; the connection tests are live, so the first answer
    // (cached for 45 s) already has them once the state knows the members.
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.get("/api/state").json()["nodes"]
        .as_array()
        .is_none_or(|n| n.iter().filter(|n| n["instance"] == "lab").count() < 2)
    {
        assert!(Instant::now() < deadline, "lab never polled");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (v, cached_at) = loop {
        let r = s.get("/api/diagnostics");
        assert_eq!(r.status, 200);
        let cached_at = r.header("x-diagnostics-cached-at").map(str::to_string);
        let v = r.json();
        let lab_ok = v["nodes"].as_array().unwrap().iter().any(|n| {
            n["name"] == "lab" && n["connected"] == true && n["details"]["node_count"] == 2
        });
        let gone_err = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("gone: "));
        if lab_ok && gone_err {
            break (v, cached_at);
        }
        assert!(Instant::now() < deadline, "diagnostics never matched: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let cached_at = cached_at.expect("X-Diagnostics-Cached-At");
    assert!(
        pulse::util::time::UtcTime::parse(&cached_at).is_some(),
        "{cached_at}"
    );

    let lab = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "lab")
        .unwrap();
    assert_eq!(lab["type"], "pve");
    assert_eq!(lab["authMethod"], "api_token");
    assert_eq!(lab["clusterInfo"]["nodes"].as_array().unwrap().len(), 2);
    assert!(lab.get("error").is_none(), "{lab}");
    let gone = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "gone")
        .unwrap();
    assert_eq!(gone["connected"], false);
    assert_eq!(gone["authMethod"], "username_password");
    assert!(!gone["error"].as_str().unwrap().is_empty());

    assert!(!v["version"].as_str().unwrap().is_empty());
    assert_ne!(v["version"], "Unknown");
    let sys = &v["system"];
    assert_eq!(sys["os"], std::env::consts::OS);
    assert_eq!(sys["arch"], std::env::consts::ARCH);
    assert!(sys["memoryMB"].as_u64().unwrap() > 0, "{sys}");
    assert!(sys["numCPU"].as_u64().unwrap() >= 1);
    assert!(
        sys["numGoroutine"].as_u64().unwrap() >= 2,
        "threads counted: {sys}"
    );
    assert!(v["uptime"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["pbs"], serde_json::json!([]));
}

#[test]
fn simple_stats_is_a_self_contained_page_fed_by_the_live_feed() {
    // With credentials configured the page still loads (it holds no data; /ws authorizes).
    let s = support::auth::start_with_admin(&[]);
    let r = s.get("/simple-stats");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{r:?}"
    );
    let html = String::from_utf8(r.body.clone()).unwrap();
    assert!(html.contains("simple stats"), "not the UI's index.html");
    assert!(html.contains("/ws"), "reads the live feed");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    // Data endpoints next to it stay protected.
    assert_eq!(s.get("/api/diagnostics").status, 401);
}

/// The connection tests are live (a node that stops answering reads disconnected on the next
/// refresh, not when its poll notices), and a refresh is cached for 45 s: a second call inside
/// the window gets the same payload and `X-Diagnostics-Cached-At`, without probing again; a
/// change of the node configuration refreshes at once.
#[test]
fn diagnostics_tests_live_and_caches_for_45_seconds() {
    let sim = Simulator::start(SimConfig {
        nodes: 1,
        guests: 1,
        ..SimConfig::default()
    })
    .unwrap();
    let s = TestServer::start(&[]);
    add_node(
        &s,
        serde_json::json!({
            "type": "pve", "name": "live", "host": sim.https_url(Product::Pve),
            "tokenName": pulse::sim::TOKEN_ID, "tokenValue": sim.token_secret(),
            "fingerprint": sim.fingerprint(), "verifySSL": true,
        }),
    );
    let first = s.get("/api/diagnostics");
    assert_eq!(first.status, 200);
    let at = first.header("x-diagnostics-cached-at").unwrap().to_string();
    let v = first.json();
    let node = &v["nodes"][0];
    assert_eq!(
        (node["name"].as_str(), node["connected"].as_bool()),
        (Some("live"), Some(true)),
        "{v}"
    );
    assert_eq!(node["details"]["node_count"], 1, "from the live test: {v}");
    assert!(node["latencyMs"].is_u64(), "{v}");

    // The host goes away: inside the window the cached answer stands, unchanged.
    drop(sim);
    std::thread::sleep(Duration::from_millis(1100));
    let again = s.get("/api/diagnostics");
    assert_eq!(again.header("x-diagnostics-cached-at"), Some(at.as_str()));
    assert_eq!(again.json(), v);

    // A configuration change refreshes at once, and the live test sees the host gone.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    add_node(
        &s,
        serde_json::json!({
            "type": "pbs", "name": "backup", "host": format!("https://127.0.0.1:{port}"),
            "tokenName": "u@pbs!t", "tokenValue": "x", "verifySSL": false,
        }),
    );
    let fresh = s.get("/api/diagnostics");
    assert_ne!(fresh.header("x-diagnostics-cached-at"), Some(at.as_str()));
    let v = fresh.json();
    assert_eq!(v["nodes"][0]["connected"], false, "{v}");
    assert!(v["nodes"][0]["error"].as_str().is_some(), "{v}");
    assert_eq!(v["pbs"][0]["name"], "backup");
    assert_eq!(v["pbs"][0]["connected"], false);
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(errors.iter().any(|e| e.starts_with("live: ")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("backup: ")),
        "{errors:?}"
    );
}
