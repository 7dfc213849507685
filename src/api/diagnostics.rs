//! `GET /api/diagnostics`: what this runtime is and how each configured node is doing. On a
//! cache miss every configured PVE and PBS node is tested live (the node-test probe, on the
//! network pool, ≤ 4 at a time, within a 25 s budget so the answer beats the 30 s deferred
//! deadline); poll state and cluster members come from what the loop already knows. The result
//! is cached for 45 s, as in the original, so a page that refreshes diagnostics never hammers
//! the hosts; `X-Diagnostics-Cached-At` says when the payload was built. A change of the node
//! configuration invalidates the cache (a node just added is tested at once).

use crate::config::model::node_edit::Node;
use crate::config::model::nodes::NodeType;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::discovery::node_probe::{probe, Report, Success, TEST_TIMEOUT};
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};
use crate::util::time::UtcTime;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(45);
/// All live tests of one refresh finish (or are skipped) within this.
const PROBE_BUDGET: Duration = Duration::from_secs(25);
const PROBE_LANES: usize = 4;

struct Cached {
    at: Instant,
    built: UtcTime,
    nodes_revision: u64,
    body: Value,
}

thread_local! {
    /// The loop thread owns the cache like the rest of the app's state (handlers only run on the
    /// loop; a test process runs several servers, each on its own loop thread, each its own cache).
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// One live test: (`pve`/`pbs`, node name, what the probe found).
type Probed = (&'static str, String, Report);

/// Tests every target, `PROBE_LANES` at a time on scoped threads, skipping what the budget
/// leaves no time for. Runs on the network pool.
fn run_probes(targets: Vec<(&'static str, String, Node)>, timeout: Duration) -> Vec<Probed> {
    let started = Instant::now();
    let mut out = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(PROBE_LANES) {
        let left = PROBE_BUDGET.saturating_sub(started.elapsed());
        if left < Duration::from_millis(500) {
            for (kind, name, _) in chunk {
                let failure = crate::discovery::node_probe::Failure {
                    kind: crate::discovery::node_probe::FailureKind::Timeout,
                    message: "not tested: the diagnostics time budget was spent".to_string(),
                };
                out.push((
                    *kind,
                    name.clone(),
                    Report {
                        outcome: Err(failure),
                        latency: Duration::ZERO,
                    },
                ));
            }
            continue;
        }
        let t = timeout.min(left);
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(kind, name, node)| {
                    let h = scope.spawn(move || probe(node, t));
                    (*kind, name.clone(), h)
                })
                .collect();
            for (kind, name, h) in handles {
                if let Ok(report) = h.join() {
                    out.push((kind, name, report));
                }
            }
        });
    }
    out
}

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

fn reply(body: &Value, built: UtcTime) -> Reply {
    Reply::json(200, body).header("X-Diagnostics-Cached-At", &built.to_rfc3339())
}

fn diagnostics(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    let rev = app.config.nodes_revision;
    let hit = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|c| c.at.elapsed() <= CACHE_TTL && c.nodes_revision == rev)
            .map(|c| reply(&c.body, c.built))
    });
    if let Some(r) = hit {
        return r.into();
    }
    let mut targets = Vec::new();
    for n in &app.config.nodes.pve {
        if let Some(node) = app.config.nodes.get(&n.id) {
            targets.push(("pve", n.name.clone(), node));
        }
    }
    for p in &app.config.nodes.pbs {
        if let Some(node) = app.config.nodes.get(&p.id) {
            targets.push(("pbs", p.name.clone(), node));
        }
    }
    let timeout = app.cfg.connection_timeout.min(TEST_TIMEOUT);
    Outcome::defer_net(
        move || run_probes(targets, timeout),
        move |app, probed| {
            let body = build(app, &probed);
            let built = UtcTime::now();
            let r = reply(&body, built);
            CACHE.with(|c| {
                *c.borrow_mut() = Some(Cached {
                    at: Instant::now(),
                    built,
                    nodes_revision: rev,
                    body,
                })
            });
            r
        },
    )
}

fn build(app: &App, probed: &[Probed]) -> Value {
    let now = Instant::now();
    let errs = last_errors(app);
    let poll_error_of = |kind: &str, name: &str| {
        let key = format!("{kind}::{name}");
        errs.iter().find(|(k, _)| *k == key).map(|(_, m)| m.clone())
    };
    let probe_of = |kind: &str, name: &str| {
        probed
            .iter()
            .find(|(k, n, _)| *k == kind && n == name)
            .map(|(_, _, r)| r)
    };
    let state = app.polling.core.state().frontend();
    let mut errors: Vec<String> = Vec::new();
    if let Some(w) = &app.history.load_warning {
        errors.push(format!("metric history: {w}"));
    }
    // The live test decides `connected` and `error`; without one (not tested) the monitor's view.
    let mut live = |kind: &str, name: &str, polled: bool| -> (bool, Option<String>, Value) {
        let mut extra = json!({});
        let (connected, error) = match probe_of(kind, name) {
            Some(r) => {
                extra["latencyMs"] = json!(u64::try_from(r.latency.as_millis()).unwrap_or(0));
                match &r.outcome {
                    Ok(Success::Pve { node_count, .. }) => {
                        extra["node_count"] = json!(node_count);
                        (true, None)
                    }
                    Ok(Success::Pbs { datastore_count }) => {
                        extra["datastoreCount"] = json!(datastore_count);
                        (true, None)
                    }
                    Ok(Success::Pmg { .. }) => (true, None),
                    Err(f) => (false, Some(f.message.clone())),
                }
            }
            None => (polled, None),
        };
        if let Some(e) = &error {
            errors.push(format!("{name}: {e}"));
        }
        if let Some(e) = poll_error_of(kind, name) {
            if error.as_deref() != Some(e.as_str()) {
                errors.push(format!("{name} (last poll): {e}"));
            }
            extra["lastPollError"] = json!(e);
        }
        (connected, error, extra)
    };
    let mut nodes = Vec::new();
    for n in &app.config.nodes.pve {
        let polled = app.config.is_connected(NodeType::Pve, &n.name, now);
        let (connected, error, extra) = live("pve", &n.name, polled);
        let members: Vec<&str> = state
            .nodes
            .iter()
            .filter(|x| x.instance == n.name)
            .map(|x| x.name.as_str())
            .collect();
        let node_count = extra
            .get("node_count")
            .cloned()
            .unwrap_or(json!(members.len()));
        let mut v = json!({
            "id": n.name, "name": n.name, "host": n.host, "type": "pve",
            "authMethod": auth_method(&n.token_name, !n.token_value.is_empty(), &n.user),
            "connected": connected,
            "details": { "node_count": node_count },
        });
        if members.len() > 1 {
            v["clusterInfo"] = json!({ "nodes": members });
        }
        if let Some(e) = error {
            v["error"] = json!(e);
        }
        if let Some(l) = extra.get("latencyMs") {
            v["latencyMs"] = l.clone();
        }
        if let Some(e) = extra.get("lastPollError") {
            v["lastPollError"] = e.clone();
        }
        nodes.push(v);
    }
    let mut pbs = Vec::new();
    for p in &app.config.nodes.pbs {
        let polled = app.config.is_connected(NodeType::Pbs, &p.name, now);
        let (connected, error, extra) = live("pbs", &p.name, polled);
        let version = state
            .pbs
            .iter()
            .find(|x| x.name == p.name)
            .map(|x| x.version.clone());
        let mut v = json!({ "id": p.name, "name": p.name, "host": p.host, "connected": connected });
        let mut details = json!({});
        if let Some(ver) = version {
            details["version"] = json!(ver);
        }
        if let Some(c) = extra.get("datastoreCount") {
            details["datastoreCount"] = c.clone();
        }
        v["details"] = details;
        if let Some(e) = error {
            v["error"] = json!(e);
        }
        if let Some(l) = extra.get("latencyMs") {
            v["latencyMs"] = l.clone();
        }
        pbs.push(v);
    }
    // HTTPS: the certificate in service, and a warning in `errors` 14 days before it expires.
    let tls = match app.tls_not_after() {
        None => json!({ "enabled": false }),
        Some(not_after) => {
            let now = crate::util::time::unix_now();
            let warning = crate::http::tls::expiry_warning(not_after, now);
            if let Some(w) = &warning {
                errors.push(w.clone());
            }
            json!({
                "enabled": true,
                "notAfter": crate::util::time::format_rfc3339(not_after, 0),
                "daysLeft": (not_after - now) / 86_400,
                "expiresSoon": warning.is_some(),
            })
        }
    };
    json!({
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
        "tls": tls,
        "errors": errors,
    })
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
