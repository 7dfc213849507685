//! What `GET /api/config/nodes` and `GET /api/config` list: the configured nodes and, in demo
//! mode, the demo estate's instances (marked `readOnly: true`, `demo: true`; they are polled
//! like any node but are not in `nodes.enc`, so they cannot be edited or deleted), as the
//! original lists its mock nodes while the dashboard shows them.

use crate::config::model::nodes::ClusterEndpoint;
use crate::core::app::App;
use crate::monitor::demo::{DEMO_PBS, DEMO_PMG, DEMO_PVE};
use crate::state::instance::InstanceKind;
use crate::state::store::connection_key;
use serde_json::{json, Value};
use std::time::Instant;

/// Configured nodes (as `NodeView`) followed by the demo instances when demo mode is on.
pub fn node_views(app: &App, now: Instant) -> Vec<Value> {
    let cfg = &app.config;
    let mut out: Vec<Value> = cfg
        .nodes
        .views(&|t, name| cfg.is_connected(t, name, now))
        .into_iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
    if app.polling.demo.is_some() {
        out.extend(demo_views(app));
    }
    out
}

fn demo_views(app: &App) -> Vec<Value> {
    let state = app.polling.core.state();
    let status = |kind, name| {
        if state.connection_healthy(&connection_key(kind, name)) == Some(true) {
            "connected"
        } else {
            "disconnected"
        }
    };
    let nodes: Vec<_> = state.nodes().filter(|n| n.instance == DEMO_PVE).collect();
    let endpoints: Vec<ClusterEndpoint> = nodes
        .iter()
        .map(|n| ClusterEndpoint {
            node_id: n.id.clone(),
            node_name: n.name.clone(),
            host: n.host.clone(),
            online: n.status == "online",
            ..ClusterEndpoint::default()
        })
        .collect();
    let pve_host = nodes.first().map(|n| n.host.clone()).unwrap_or_default();
    let mut pve = json!({
        "id": format!("demo-pve-{DEMO_PVE}"), "type": "pve", "name": DEMO_PVE, "host": pve_host,
        "hasPassword": false, "hasToken": true, "verifySSL": false, "monitorVMs": true,
        "monitorContainers": true, "monitorStorage": true, "monitorBackups": true,
        "status": status(InstanceKind::Pve, DEMO_PVE), "readOnly": true, "demo": true,
    });
    if endpoints.len() > 1 {
        pve["isCluster"] = json!(true);
        pve["clusterName"] = json!("sim-cluster");
        pve["clusterEndpoints"] = serde_json::to_value(&endpoints).unwrap_or_default();
    }
    let host_of = |name: &str, pbs: bool| {
        if pbs {
            state
                .pbs_instances()
                .find(|i| i.name == name)
                .map(|i| i.host.clone())
        } else {
            state
                .pmg_instances()
                .find(|i| i.name == name)
                .map(|i| i.host.clone())
        }
        .unwrap_or_default()
    };
    vec![
        pve,
        json!({
            "id": format!("demo-pbs-{DEMO_PBS}"), "type": "pbs", "name": DEMO_PBS,
            "host": host_of(DEMO_PBS, true), "hasPassword": false, "hasToken": true,
            "verifySSL": false, "monitorBackups": true, "monitorDatastores": true,
            "monitorSyncJobs": true, "monitorVerifyJobs": true, "monitorPruneJobs": true,
            "monitorGarbageJobs": true, "status": status(InstanceKind::Pbs, DEMO_PBS),
            "readOnly": true, "demo": true,
        }),
        json!({
            "id": format!("demo-pmg-{DEMO_PMG}"), "type": "pmg", "name": DEMO_PMG,
            "host": host_of(DEMO_PMG, false), "hasPassword": false, "hasToken": true,
            "verifySSL": false, "monitorMailStats": true, "monitorQueues": true,
            "monitorQuarantine": true, "status": status(InstanceKind::Pmg, DEMO_PMG),
            "readOnly": true, "demo": true,
        }),
    ]
}
