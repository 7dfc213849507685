//! `GET /api/diagnostics`: what this runtime is and how each configured node is doing, built
//! from what the loop already knows (config, the poll results, the scheduler's last errors):
//! no request goes upstream from here, so nothing needs the original's 45 s cache to protect
//! the hosts; `X-Diagnostics-Cached-At` says when the payload was built (now).

use crate::config::model::nodes::NodeType;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};
use crate::util::time::UtcTime;
use serde_json::{json, Value};
use std::time::Instant;

/// Resident memory of this process in MiB (`VmRSS` of `/proc/self/status`; a small procfs
/// read, never blocking on a device).
fn memory_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb.div_ceil(1024))
}

fn thread_count() -> u64 {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count() as u64)
}

fn auth_method(token_name: &str, token_set: bool, user: &str) -> &'static str {
    if !token_name.is_empty() && token_set {
        "api_token"
    } else if !user.is_empty() {
        "username_password"
    } else {
        "none"
    }
}

/// The scheduler's last poll error per instance key (`pve::<name>`).
fn last_errors(app: &App) -> Vec<(String, String)> {
    let health: Value =
        serde_json::from_slice(&app.polling.core.health_json(crate::util::time::now_ms()))
            .unwrap_or(Value::Null);
    health["instances"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|i| {
                    let msg = i["pollStatus"]["lastError"]["message"].as_str()?;
                    let failing = i["pollStatus"]["consecutiveFailures"].as_u64()? > 0;
                    let key = i["key"].as_str()?;
                    failing.then(|| (key.to_string(), msg.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn diagnostics(app: &mut App, _: &Ctx) -> Outcome {
    let now = Instant::now();
    let errs = last_errors(app);
    let error_of = |kind: &str, name: &str| {
        let key = format!("{kind}::{name}");
        errs.iter().find(|(k, _)| *k == key).map(|(_, m)| m.clone())
    };
    let state = app.polling.core.state().frontend();
    let mut errors: Vec<String> = Vec::new();
    let mut nodes = Vec::new();
    for n in &app.config.nodes.pve {
        let connected = app.config.is_connected(NodeType::Pve, &n.name, now);
        let error = error_of("pve", &n.name);
        if let Some(e) = &error {
            errors.push(format!("{}: {e}", n.name));
        }
        let members: Vec<&str> = state
            .nodes
            .iter()
            .filter(|x| x.instance == n.name)
            .map(|x| x.name.as_str())
            .collect();
        let mut v = json!({
            "id": n.name, "name": n.name, "host": n.host, "type": "pve",
            "authMethod": auth_method(&n.token_name, !n.token_value.is_empty(), &n.user),
            "connected": connected,
            "details": { "node_count": members.len() },
        });
        if members.len() > 1 {
            v["clusterInfo"] = json!({ "nodes": members });
        }
        if let Some(e) = error {
            v["error"] = json!(e);
        }
        nodes.push(v);
    }
    let mut pbs = Vec::new();
    for p in &app.config.nodes.pbs {
        let connected = app.config.is_connected(NodeType::Pbs, &p.name, now);
        let error = error_of("pbs", &p.name);
        if let Some(e) = &error {
            errors.push(format!("{}: {e}", p.name));
        }
        let version = state
            .pbs
            .iter()
            .find(|x| x.name == p.name)
            .map(|x| x.version.clone());
        let mut v = json!({ "id": p.name, "name": p.name, "host": p.host, "connected": connected });
        if let Some(ver) = version {
            v["details"] = json!({ "version": ver });
        }
        if let Some(e) = error {
            v["error"] = json!(e);
        }
        pbs.push(v);
    }
    let built = UtcTime::now();
    let body = json!({
        "version": app.version().version,
        "runtime": app.version().runtime,
        "uptime": app.started().elapsed().as_secs_f64(),
        "nodes": nodes,
        "pbs": pbs,
        "system": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "goVersion": app.version().rust_version,
            "numCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "numGoroutine": thread_count(),
            "memoryMB": memory_mb(),
        },
        "errors": errors,
    });
    Reply::json(200, &body)
        .header("X-Diagnostics-Cached-At", &built.to_rfc3339())
        .into()
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        methods: &[Method::Get],
        pattern: "/api/diagnostics",
        access: Access::Authenticated,
        csrf: Csrf::Required,
        handler: diagnostics,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(memory_mb() > 0);
        assert!(thread_count() >= 1);
        assert_eq!(auth_method("t", true, "u"), "api_token");
        assert_eq!(auth_method("t", false, "u"), "username_password");
        assert_eq!(auth_method("", false, ""), "none");
    }
}
