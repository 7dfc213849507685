//! Docker and host agent endpoints: reports (`docker:report`, `host-agent:report`), host
//! removal and re-enrolment (`docker:manage`, `host-agent:manage`), command acknowledgements,
//! the host lookup and `/api/agent/version`. A report is parsed, checked whole and only then
//! applied (`agents::validate`), so a 400 changes nothing. Parsing runs on the loop: bodies
//! are capped at 1 MiB by the HTTP layer, which parses in a few milliseconds.

use crate::agents::validate::{self, Invalid};
use crate::agents::{docker::Removal, Refusal};
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Ctx, Route, Scope};
use pulse_wire::agents::docker::DockerReport;
use pulse_wire::agents::host::HostReport;
use pulse_wire::agents::CommandAck;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The version of the agents built with this Pulse (one workspace, one version).
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `{"error","code","status_code","timestamp"}`, the original's agent error shape.
fn refuse(r: Refusal) -> Outcome {
    Reply::json(
        r.status,
        &json!({
            "error": r.message,
            "code": r.code,
            "status_code": r.status,
            "timestamp": crate::util::time::unix_now(),
        }),
    )
    .into()
}

/// The body as `T`, or the 400 that names what is wrong.
fn parse<T: DeserializeOwned>(ctx: &Ctx) -> Result<T, Refusal> {
    let bad = |code, message| Refusal {
        status: 400,
        code,
        message,
    };
    if ctx.req.body.is_empty() {
        return Err(bad(
            "invalid_json",
            "request body is empty; expected JSON".into(),
        ));
    }
    // Straight into `T`: a good report (the common case) is parsed once, with no tree of
    // values and no deep copy of it on the loop. Only a refused one is parsed again, to say
    // which field is wrong.
    // (An array could still fill a struct field by field: only an object takes this path.)
    let object = ctx.req.body.trim_ascii_start().first() == Some(&b'{');
    if object {
        if let Ok(t) = serde_json::from_slice::<T>(&ctx.req.body) {
            return Ok(t);
        }
    }
    let v: Value = serde_json::from_slice(&ctx.req.body)
        .map_err(|e| bad("invalid_json", format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad("invalid_json", "expected a JSON object".into()));
    }
    match serde_json::from_value::<T>(v.clone()) {
        Ok(t) => Ok(t),
        Err(e) => Err(bad(
            "invalid_report",
            crate::util::json_path::explain::<T>(&v, &e),
        )),
    }
}

fn invalid(Invalid(message): Invalid) -> Refusal {
    Refusal::invalid(message)
}

fn docker_report(app: &mut App, ctx: &Ctx) -> Outcome {
    let report: DockerReport = match parse(ctx) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    if let Err(e) = validate::docker(&report).map_err(invalid) {
        return refuse(e);
    }
    let token = app.token_info(&ctx.principal);
    let now = crate::util::time::now_ms();
    match app.agents.apply_docker(report, token, now) {
        Ok(answer) => {
            app.record_docker_history(&answer.host_id, now);
            let key = crate::agents::docker::health_key(&answer.host_id);
            app.agents_changed(vec![crate::agents::HealthChange::Set(key, true)]);
            Reply::json(200, &answer).into()
        }
        Err(e) => refuse(e),
    }
}

fn host_report(app: &mut App, ctx: &Ctx) -> Outcome {
    let report: HostReport = match parse(ctx) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    if let Err(e) = validate::host(&report).map_err(invalid) {
        return refuse(e);
    }
    let token = app.token_info(&ctx.principal);
    let now = crate::util::time::now_ms();
    match app.agents.apply_host(report, token, now) {
        Ok(answer) => {
            app.record_host_history(&answer.host_id, now);
            let key = crate::agents::host::health_key(&answer.host_id);
            app.agents_changed(vec![crate::agents::HealthChange::Set(key, true)]);
            let h = &app.agents.hosts[&answer.host_id].report.host;
            Reply::json(
                200,
                &json!({
                    "success": true,
                    "hostId": answer.host_id,
                    "lastSeen": answer.last_seen,
                    "platform": h.platform.to_ascii_lowercase(),
                    "osName": h.os_name,
                    "osVersion": h.os_version,
                }),
            )
            .into()
        }
        Err(e) => refuse(e),
    }
}

fn flag(ctx: &Ctx, name: &str) -> bool {
    ctx.req
        .query_param(name)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

fn docker_remove(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id").to_string();
    let force = flag(ctx, "force") || ctx.req.query_param("mode").as_deref() == Some("force");
    let now = crate::util::time::now_ms();
    let reply = match app.agents.remove_docker(&id, force, now) {
        Ok(Removal::Queued(command)) => json!({
            "success": true, "hostId": id, "command": command, "message": "Stop command queued",
        }),
        Ok(Removal::Removed) => {
            json!({"success": true, "hostId": id, "message": "Docker host removed"})
        }
        Ok(Removal::AlreadyRemoved) => {
            json!({"success": true, "hostId": id, "message": "Docker host already removed"})
        }
        Err(e) => return refuse(e),
    };
    let key = crate::agents::docker::health_key(&id);
    let change = if app.agents.docker.contains_key(&id) {
        vec![]
    } else {
        vec![crate::agents::HealthChange::Remove(key)]
    };
    app.agents_changed(change);
    Reply::json(200, &reply).into()
}

fn docker_allow_reenroll(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id").to_string();
    app.agents.allow_reenroll(&id);
    app.agents_changed(vec![]);
    Reply::json(200, &json!({"success": true, "hostId": id})).into()
}

fn docker_ack(app: &mut App, ctx: &Ctx) -> Outcome {
    let ack: CommandAck = match parse(ctx) {
        Ok(a) => a,
        Err(e) => return refuse(e),
    };
    let now = crate::util::time::now_ms();
    match app.agents.ack_command(ctx.param("id"), &ack, now) {
        Ok(v) => {
            let id = v["hostId"].as_str().unwrap_or("").to_string();
            let change = if app.agents.docker.contains_key(&id) {
                vec![]
            } else {
                vec![crate::agents::HealthChange::Remove(
                    crate::agents::docker::health_key(&id),
                )]
            };
            app.agents_changed(change);
            Reply::json(200, &v).into()
        }
        Err(e) => refuse(e),
    }
}

fn host_remove(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id").to_string();
    if !app.agents.remove_host(&id) {
        return refuse(Refusal::not_found(format!("host {id:?} not found")));
    }
    let key = crate::agents::host::health_key(&id);
    app.agents_changed(vec![crate::agents::HealthChange::Remove(key)]);
    Reply::json(
        200,
        &json!({"success": true, "hostId": id, "message": "Host removed"}),
    )
    .into()
}

fn host_lookup(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.req.query_param("id").unwrap_or_default();
    let hostname = ctx.req.query_param("hostname").unwrap_or_default();
    let found = app.agents.hosts.values().find(|h| {
        (!id.is_empty() && h.id == id)
            || (!hostname.is_empty() && h.report.host.hostname.eq_ignore_ascii_case(&hostname))
    });
    match found {
        Some(h) => Reply::json(
            200,
            &json!({"success": true, "host": {
                "id": h.id, "hostname": h.report.host.hostname, "displayName": h.display_name(),
                "status": if h.online { "online" } else { "offline" }, "connected": h.online,
                "lastSeen": h.last_seen_ms, "agentVersion": h.agent_version,
            }}),
        )
        .into(),
        None => Reply::json(
            404,
            &json!({"error": "host not found", "code": "host_not_found"}),
        )
        .into(),
    }
}

fn agent_version(_: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, &json!({ "version": AGENT_VERSION })).into()
}

pub fn routes() -> Vec<Route> {
    let route = Route::new;
    const REPORT: Access = Access::Scope(Scope::DockerReport);
    const MANAGE: Access = Access::Scope(Scope::DockerManage);
    vec![
        route(
            &[Method::Post],
            "/api/agents/docker/report",
            REPORT,
            docker_report,
        ),
        route(
            &[Method::Post],
            "/api/agents/docker/commands/{id}/ack",
            REPORT,
            docker_ack,
        ),
        route(
            &[Method::Delete],
            "/api/agents/docker/hosts/{id}",
            MANAGE,
            docker_remove,
        ),
        route(
            &[Method::Post],
            "/api/agents/docker/hosts/{id}/allow-reenroll",
            MANAGE,
            docker_allow_reenroll,
        ),
        route(
            &[Method::Post],
            "/api/agents/host/report",
            Access::Scope(Scope::HostAgentReport),
            host_report,
        ),
        route(
            &[Method::Get],
            "/api/agents/host/lookup",
            Access::Scope(Scope::HostAgentReport),
            host_lookup,
        ),
        route(
            &[Method::Delete],
            "/api/agents/host/{id}",
            Access::Scope(Scope::HostAgentManage),
            host_remove,
        ),
        route(
            &[Method::Get],
            "/api/agent/version",
            Access::Public,
            agent_version,
        ),
    ]
}
