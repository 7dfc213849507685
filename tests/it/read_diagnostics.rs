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

    let deadline = Instant::now() + Duration::from_secs(30);
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
