//! Connection tests and cluster detection, the node-configuration work that talks to Proxmox:
//!
//! - `POST /api/config/nodes/test-connection` and `/test-config`: test a node as entered (not
//!   saved). Success is Pulse's `{"status":"success","message",…}` (PVE adds `isCluster` and
//!   `nodeCount`, PBS `datastoreCount`); failure is 400 `{"error","code","status":"error",
//!   "message"}` with a message per failure kind.
//! - `POST /api/config/nodes/{id}/test`: test a saved node; always 200 with
//!   `{"status":"success","message":"Connection successful","latency"}` or
//!   `{"status":"error","message","code"}`, as Pulse answers it.
//! - [`detect_cluster_later`]: after a PVE node is saved, ask it for `/cluster/status` on a
//!   worker and store the cluster name and members.
//!
//! The client calls run on the task pool (`Outcome::defer`), never on the loop.

use crate::config::model::node_edit::{Node, NodeRequest};
use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::core::outcome::Outcome;
use crate::discovery::cluster_detect::{self, ClusterInfo};
use crate::discovery::node_probe::{
    presented_fingerprint, probe, FailureKind, Report, Success, TEST_TIMEOUT,
};
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::proxmox::ProxmoxError;
use crate::util::time::UtcTime;
use serde_json::{json, Value};
use std::time::Duration;

/// Per-call budget: the configured connection timeout, but never more than [`TEST_TIMEOUT`].
fn timeout(app: &App) -> Duration {
    app.cfg.connection_timeout.min(TEST_TIMEOUT)
}

/// Success fields shared by both test styles.
fn success_body(s: &Success, message: &str) -> Value {
    let mut body = json!({ "status": "success", "message": message });
    match s {
        Success::Pve {
            node_count,
            is_cluster,
            warnings,
        } => {
            body["isCluster"] = json!(is_cluster);
            body["nodeCount"] = json!(node_count);
            if !warnings.is_empty() {
                body["warnings"] = json!(warnings);
            }
        }
        Success::Pbs { datastore_count } => body["datastoreCount"] = json!(datastore_count),
        Success::Pmg { .. } => {}
    }
    body
}

/// Tests the node in the request body. The name is optional here (the API docs test with
/// just type, host and credentials).
fn test_unsaved(app: &mut App, ctx: &Ctx) -> Outcome {
    let mut req: NodeRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    if req.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        req.name = Some("connection-test".to_string());
    }
    let node = match Node::from_request(&req) {
        Ok(n) => n,
        Err(e) => return Reply::from(e).into(),
    };
    let t = timeout(app);
    Outcome::defer_net(
        move || {
            let report = probe(&node, t);
            // A certificate problem: say which certificate the host presents, so the UI can
            // show it and offer to pin it.
            let presented = match &report.outcome {
                Err(f) if matches!(f.kind, FailureKind::Tls | FailureKind::Fingerprint) => {
                    presented_fingerprint(&node, t)
                }
                _ => None,
            };
            (report, presented)
        },
        |_app, (report, presented): (Report, Option<String>)| match report.outcome {
            Ok(s) => Reply::json(200, &success_body(&s, &s.message())),
            Err(f) => {
                let mut body = json!({
                    "error": f.message,
                    "code": f.kind.as_str(),
                    "status": "error",
                    "message": f.message,
                });
                if let Some(fp) = presented {
                    body["certificateFingerprint"] = json!(fp);
                }
                Reply::json(400, &body)
            }
        },
    )
}

/// Tests a saved node with its stored credentials.
fn test_saved(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id");
    let Some(node) = app.config.nodes.get(id) else {
        return Reply::error(404, &format!("Node {id:?} not found")).into();
    };
    let t = timeout(app);
    Outcome::defer_net(
        move || probe(&node, t),
        |_app, report: Report| {
            let body = match report.outcome {
                Ok(s) => {
                    let mut body = success_body(&s, "Connection successful");
                    body["latency"] =
                        json!(u64::try_from(report.latency.as_millis()).unwrap_or(u64::MAX));
                    body
                }
                Err(f) => json!({
                    "status": "error",
                    "message": f.message,
                    "code": f.kind.as_str(),
                }),
            };
            Reply::json(200, &body)
        },
    )
}

/// Schedules cluster detection for the saved PVE node `id` (no-op for other types). The result
/// is applied on the loop, provided the node still exists with the same host: a cluster is
/// stored with the node and saved; a definite "standalone" clears cluster data left from an
/// earlier host. Failures are logged and change nothing (the monitor's periodic check can
/// still notice a cluster later).
pub fn detect_cluster_later(app: &mut App, id: &str) {
    let Some(Node::Pve(node)) = app.config.nodes.get(id) else {
        return;
    };
    let t = timeout(app);
    let handle = app.loop_handle().clone();
    let job_id = id.to_string();
    let job = Box::new(move || {
        let result = cluster_detect::detect(&node, t, UtcTime::now());
        let host = node.host;
        handle.post(Msg::Apply(Box::new(move |app: &mut App| {
            apply_cluster(app, &job_id, &host, result)
        })));
    });
    if app.net_pool().try_submit(job).is_err() {
        crate::log_warn!("cluster detection skipped: workers busy", id = id);
    }
}

fn apply_cluster(
    app: &mut App,
    id: &str,
    host: &str,
    result: Result<Option<ClusterInfo>, ProxmoxError>,
) {
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            crate::log_warn!("cluster detection failed", id = id, error = e);
            return;
        }
    };
    // The node may have been removed or pointed elsewhere while we were asking.
    let was_cluster = match app.config.nodes.get(id) {
        Some(Node::Pve(n)) if n.host == host => n.is_cluster,
        _ => return,
    };
    if info.is_none() && !was_cluster {
        return;
    }
    let mut nodes = app.config.nodes.clone();
    let (name, endpoints) = match info {
        Some(i) => (Some(i.name), i.endpoints),
        None => (None, Vec::new()),
    };
    let summary = format!(
        "{} ({} members)",
        name.as_deref().unwrap_or("standalone"),
        endpoints.len()
    );
    let saved = nodes
        .set_cluster_info(id, name, endpoints)
        .and_then(|()| app.config.replace_nodes(nodes, false, UtcTime::now()));
    // Not awaited: the writer reports a failed save to the loop, which logs it.
    match saved {
        Ok(_) => crate::log_info!("PVE cluster membership updated", id = id, cluster = summary),
        Err(e) => crate::log_warn!("saving cluster information failed", id = id, error = e),
    }
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/nodes/test-connection",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: test_unsaved,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/nodes/test-config",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: test_unsaved,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/nodes/{id}/test",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: test_saved,
        },
    ]
}
