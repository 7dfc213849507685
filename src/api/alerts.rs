//! Alerts: `GET|POST /api/alerts/` (configuration and status; a partial update),
//! `GET|PUT /api/alerts/config`, `POST /api/alerts/activate`, `GET /api/alerts/active`,
//! `GET|DELETE /api/alerts/history`, `POST /api/alerts/<id>/acknowledge|unacknowledge|clear`
//! (the id URL-encoded; it may hold `/` and `:`) and the bulk forms under `/api/alerts/bulk/`.
//!
//! Every change answers once the writer has saved it (`Outcome::after_write`); a configuration
//! that does not validate is refused with a 400 naming the field, and nothing changes.

use crate::alerts::alert::Level;
use crate::alerts::config::AlertConfig;
use crate::alerts::history::Query;
use crate::alerts::service::Persist;
use crate::auth::policy::Principal;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::core::writer::Ticket;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Ctx, Handler, Route, Scope};
use crate::util::time::{now_ms, UtcTime};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /api/alerts/history` answers at most this many entries per page.
pub const HISTORY_MAX_LIMIT: usize = 10_000;
const HISTORY_DEFAULT_LIMIT: usize = 100;
/// Ids in one bulk request.
const BULK_MAX: usize = 10_000;

/// Runs `handler` now, or, while an evaluation on the task pool holds the alert engine (a
/// few milliseconds per poll), as soon as it is back: the answer never reflects an engine
/// half way through an evaluation, and the loop never waits for one.
pub(crate) fn with_engine(app: &mut App, ctx: &Ctx, handler: Handler) -> Outcome {
    if !app.alerts.is_away() {
        return handler(app, ctx);
    }
    let owned = ctx.to_owned_ctx();
    Outcome::when_alerts_home(move |app| owned.with(|ctx| handler(app, ctx)))
}

fn busy() -> Outcome {
    Reply::error(503, "too many pending disk writes, retry shortly").into()
}

/// Room for one more writer job: checked before anything changes, so a refused save never
/// leaves memory ahead of the disk (only the loop submits, so the room cannot vanish).
fn writer_has_room(app: &App) -> bool {
    app.writer().queued() < app.writer().capacity()
}

/// Answers `ok` once `ticket`'s files are on disk (at once when there was nothing to write).
fn after_saved<F>(app: &mut App, ticket: Option<Ticket>, ok: F) -> Outcome
where
    F: FnOnce(&mut App) -> Reply + 'static,
{
    match ticket {
        None => ok(app).into(),
        Some(t) => Outcome::after_write(t, move |app, result| match result {
            Ok(()) => ok(app),
            Err(e) => Reply::error(500, &format!("alerts not saved: {e}")),
        }),
    }
}

/// Saves a new configuration (already current in memory); a failed save puts `old` back.
fn save_config<F>(app: &mut App, write: Persist, old: AlertConfig, ok: F) -> Outcome
where
    F: FnOnce(&mut App) -> Reply + 'static,
{
    match app.submit_alert_files(vec![write]) {
        Ok(Some(ticket)) => Outcome::after_write(ticket, move |app, result| match result {
            Ok(()) => ok(app),
            Err(e) => {
                let _ = app.alerts.set_config(old);
                Reply::error(500, &format!("alert configuration not saved: {e}"))
            }
        }),
        Ok(None) => ok(app).into(),
        Err(e) => {
            let _ = app.alerts.set_config(old);
            Reply::error(503, &e.to_string()).into()
        }
    }
}

fn get_config(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, app.alerts.config()).into()
}

/// `PUT /api/alerts/config`: the whole document (missing keys take their defaults). Activation
/// has its own endpoint, so a body without `activationState` keeps the current one.
fn put_config(app: &mut App, ctx: &Ctx) -> Outcome {
    store_config(app, &ctx.req.body)
}

/// Validates and saves a whole configuration document (`body`, JSON bytes).
fn store_config(app: &mut App, raw: &[u8]) -> Outcome {
    let mut cfg = match AlertConfig::from_api(raw) {
        Ok(cfg) => cfg,
        Err(e) => return Reply::error(400, &e).into(),
    };
    let old = app.alerts.config().clone();
    let body: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    if body.get("activationState").is_none() {
        cfg.activation_state = old.activation_state.clone();
    }
    if body.get("activationTime").is_none() && cfg.activation_state == old.activation_state {
        cfg.activation_time = old.activation_time;
    }
    if !writer_has_room(app) {
        return busy();
    }
    let write = match app.alerts.set_config(cfg) {
        Ok(w) => w,
        Err(e) => return Reply::error(400, &e).into(),
    };
    save_config(app, write, old, |_| {
        crate::log_info!("alert configuration updated");
        Reply::json(
            200,
            &json!({ "success": true, "message": "Alert configuration updated successfully" }),
        )
    })
}

/// `GET /api/alerts/` (documented: "alert configuration and status"): the configuration as
/// `GET /api/alerts/config` gives it, and counts a status line or a health check can show.
fn overview(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, overview_now)
}

fn overview_now(app: &mut App, _: &Ctx) -> Outcome {
    let a = &app.alerts;
    let (mut critical, mut warning, mut acknowledged) = (0usize, 0usize, 0usize);
    for alert in a.active() {
        match alert.level {
            Level::Critical => critical += 1,
            Level::Warning => warning += 1,
        }
        acknowledged += usize::from(alert.acknowledged);
    }
    let cfg = a.config();
    let body = json!({
        "config": cfg,
        "status": {
            "enabled": cfg.enabled,
            "activationState": cfg.activation_state,
            "notifying": cfg.enabled && cfg.activation_state == "active",
            "active": critical + warning,
            "critical": critical,
            "warning": warning,
            "acknowledged": acknowledged,
            "recentlyResolved": a.recently_resolved().count(),
            "history": a.history_len(),
            "pendingNotifications": a.outbox_len(),
            "droppedNotifications": a.dropped_notifications(),
        },
    });
    Reply::json(200, &body).into()
}

/// `POST /api/alerts/` (documented: "update alert settings"): a partial document merged into
/// the current configuration (JSON merge patch, RFC 7386: objects merge key by key, `null`
/// removes a key: a top-level one takes its default, a metric left without a threshold is not
/// checked), then validated and saved as `PUT /api/alerts/config` is.
/// `PUT` replaces the whole document; this changes only what the body names.
fn patch_config(app: &mut App, ctx: &Ctx) -> Outcome {
    let patch: Value = match serde_json::from_slice(&ctx.req.body) {
        Ok(v) => v,
        Err(e) => return Reply::error(400, &format!("invalid JSON: {e}")).into(),
    };
    if !patch.is_object() {
        return Reply::error(400, "the alert settings must be a JSON object").into();
    }
    let mut current = serde_json::to_value(app.alerts.config()).unwrap_or(Value::Null);
    merge_patch(&mut current, patch);
    let raw = serde_json::to_vec(&current).unwrap_or_default();
    store_config(app, &raw)
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in patch {
        if v.is_null() {
            t.remove(&k);
        } else {
            merge_patch(t.entry(k).or_insert(Value::Null), v);
        }
    }
}

fn activate(app: &mut App, _: &Ctx) -> Outcome {
    if !writer_has_room(app) {
        return busy();
    }
    let old = app.alerts.config().clone();
    let (already, write) = app.alerts.activate(now_ms());
    let body = json!({
        "success": true,
        "message": if already { "Alerts already activated" } else { "Alert notifications activated" },
        "state": "active",
        "activationTime": app.alerts.config().activation_time,
    });
    if already {
        return Reply::json(200, &body).into();
    }
    save_config(app, write, old, move |_| {
        crate::log_info!("alert notifications activated");
        Reply::json(200, &body)
    })
}

fn active(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, active_now)
}

fn active_now(app: &mut App, _: &Ctx) -> Outcome {
    let list: Vec<_> = app.alerts.active().collect();
    Reply::json(200, &list).into()
}

/// The history filters from the query string; a value that does not parse is refused.
fn history_query(ctx: &Ctx) -> Result<Query, String> {
    let param = |name: &str| ctx.req.query_param(name).filter(|v| !v.trim().is_empty());
    let count = |name: &str, default: usize| match param(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("{name}: expected a non-negative integer, got {v:?}")),
    };
    let time = |name: &str| match param(name) {
        None => Ok(None),
        Some(v) => UtcTime::parse(v.trim())
            .map(Some)
            .ok_or_else(|| format!("{name}: expected an RFC 3339 time, got {v:?}")),
    };
    let severity = match param("severity").as_deref().map(str::trim) {
        None | Some("all") => None,
        Some("warning") => Some(Level::Warning),
        Some("critical") => Some(Level::Critical),
        Some(other) => {
            return Err(format!(
                "severity: expected warning, critical or all, got {other:?}"
            ))
        }
    };
    let limit = count("limit", HISTORY_DEFAULT_LIMIT)?;
    Ok(Query {
        // 0 asks for everything, which is still one page at most.
        limit: if limit == 0 {
            HISTORY_MAX_LIMIT
        } else {
            limit.min(HISTORY_MAX_LIMIT)
        },
        offset: count("offset", 0)?,
        start: time("startTime")?,
        end: time("endTime")?,
        severity,
        resource_id: param("resourceId"),
    })
}

/// Newest first, always an array; `X-Total-Count` is the number of matches before paging.
fn history(app: &mut App, ctx: &Ctx) -> Outcome {
    let q = match history_query(ctx) {
        Ok(q) => q,
        Err(e) => return Reply::error(400, &e).into(),
    };
    let total = app
        .alerts
        .history(&Query {
            limit: 0,
            offset: 0,
            ..q.clone()
        })
        .len();
    Reply::json(200, &app.alerts.history(&q))
        .header("X-Total-Count", &total.to_string())
        .into()
}

fn clear_history(app: &mut App, _: &Ctx) -> Outcome {
    if !writer_has_room(app) {
        return busy();
    }
    let writes = app.alerts.clear_history();
    crate::log_info!("alert history cleared");
    match app.submit_alert_files(writes) {
        Ok(ticket) => after_saved(app, ticket, |_| {
            Reply::json(
                200,
                &json!({ "status": "success", "message": "Alert history cleared" }),
            )
        }),
        Err(e) => Reply::error(503, &e.to_string()).into(),
    }
}

/// Who acknowledges: the body's `user`, else the signed-in user, else `admin` (as Pulse).
fn ack_user(ctx: &Ctx, from_body: Option<String>) -> String {
    if let Some(u) = from_body.map(|u| u.trim().to_string()) {
        if !u.is_empty() && u.len() <= 200 && !u.chars().any(char::is_control) {
            return u;
        }
    }
    match &ctx.principal {
        Principal::Session {
            username: Some(u), ..
        } => u.clone(),
        _ => "admin".to_string(),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 500 && !id.chars().any(char::is_control)
}

fn not_found(id: &str) -> Outcome {
    Reply::error(404, &format!("Alert not found: {id}")).into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AckBody {
    #[serde(default)]
    user: Option<String>,
}

/// `POST /api/alerts/<id>/<action>`: the tail is split at its last `/`.
fn action(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, action_now)
}

fn action_now(app: &mut App, ctx: &Ctx) -> Outcome {
    let rest = ctx.param("rest");
    let Some((id, verb)) = rest.rsplit_once('/') else {
        return Reply::error(404, "Not found").into();
    };
    if !matches!(verb, "acknowledge" | "unacknowledge" | "clear") {
        return Reply::error(404, "Not found").into();
    }
    if !valid_id(id) {
        return Reply::error(400, "Invalid alert ID").into();
    }
    if !app.alerts.is_active(id) {
        return not_found(id);
    }
    if !writer_has_room(app) {
        return busy();
    }
    let now = now_ms();
    let ticket = match verb {
        "acknowledge" => {
            let body: AckBody = if ctx.req.body.is_empty() {
                AckBody::default()
            } else {
                match ctx.req.json() {
                    Ok(b) => b,
                    Err(reply) => return reply.into(),
                }
            };
            let user = ack_user(ctx, body.user);
            let write = app.alerts.acknowledge(id, &user, now);
            app.publish_active_alerts();
            app.submit_alert_files(write.into_iter().collect())
        }
        "unacknowledge" => {
            let write = app.alerts.unacknowledge(id);
            app.publish_active_alerts();
            app.submit_alert_files(write.into_iter().collect())
        }
        _ => match app.alerts.clear(id, now) {
            Some(changes) => app.apply_alert_changes_saved(changes),
            None => return not_found(id),
        },
    };
    match ticket {
        Ok(t) => after_saved(app, t, |_| Reply::json(200, &json!({ "success": true }))),
        Err(e) => Reply::error(503, &e.to_string()).into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkBody {
    #[serde(default)]
    alert_ids: Vec<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Clone, Copy)]
enum Bulk {
    Acknowledge,
    Unacknowledge,
    Clear,
}

/// `POST /api/alerts/bulk/<action>` with `{"alertIds": [...], "user"?}`: one result per id,
/// one save for all of them.
fn bulk(app: &mut App, ctx: &Ctx, kind: Bulk) -> Outcome {
    let body: BulkBody = match ctx.req.json() {
        Ok(b) => b,
        Err(reply) => return reply.into(),
    };
    if body.alert_ids.is_empty() {
        return Reply::error(400, "No alert IDs provided").into();
    }
    if body.alert_ids.len() > BULK_MAX {
        return Reply::error(400, &format!("At most {BULK_MAX} alert IDs per request")).into();
    }
    if !writer_has_room(app) {
        return busy();
    }
    let now = now_ms();
    let user = ack_user(ctx, body.user);
    let ids: Vec<&str> = body.alert_ids.iter().map(String::as_str).collect();
    let (found, saved) = match kind {
        Bulk::Clear => {
            let (found, changes) = app.alerts.clear_many(&ids, now);
            let saved = match changes {
                Some(c) => app.apply_alert_changes_saved(c),
                None => Ok(None),
            };
            (found, saved)
        }
        Bulk::Acknowledge | Bulk::Unacknowledge => {
            let found: Vec<bool> = ids
                .iter()
                .map(|id| match kind {
                    Bulk::Acknowledge => app.alerts.acknowledge(id, &user, now).is_some(),
                    _ => app.alerts.unacknowledge(id).is_some(),
                })
                .collect();
            let saved = if found.contains(&true) {
                app.publish_active_alerts();
                let write = app.alerts.active_file();
                app.submit_alert_files(vec![write])
            } else {
                Ok(None)
            };
            (found, saved)
        }
    };
    let results: Vec<Value> = ids
        .iter()
        .zip(found)
        .map(|(id, ok)| {
            if ok {
                json!({ "alertId": id, "success": true })
            } else {
                json!({ "alertId": id, "success": false, "error": "alert not found" })
            }
        })
        .collect();
    match saved {
        Ok(t) => after_saved(app, t, move |_| {
            Reply::json(200, &json!({ "results": results }))
        }),
        Err(e) => Reply::error(503, &e.to_string()).into(),
    }
}

fn bulk_ack(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, |app, ctx| bulk(app, ctx, Bulk::Acknowledge))
}
fn bulk_unack(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, |app, ctx| bulk(app, ctx, Bulk::Unacknowledge))
}
fn bulk_clear(app: &mut App, ctx: &Ctx) -> Outcome {
    with_engine(app, ctx, |app, ctx| bulk(app, ctx, Bulk::Clear))
}

pub fn routes() -> Vec<Route> {
    let read = Access::Scope(Scope::MonitoringRead);
    let write = Access::Scope(Scope::MonitoringWrite);
    let route = Route::new;
    // Order matters: the fixed paths come before the `{*rest}` tail that takes any id.
    vec![
        route(&[Method::Get], "/api/alerts", read, overview),
        route(&[Method::Post], "/api/alerts", write, patch_config),
        route(&[Method::Get], "/api/alerts/config", read, get_config),
        route(&[Method::Put], "/api/alerts/config", write, put_config),
        route(&[Method::Post], "/api/alerts/activate", write, activate),
        route(&[Method::Get], "/api/alerts/active", read, active),
        route(&[Method::Get], "/api/alerts/history", read, history),
        route(
            &[Method::Delete],
            "/api/alerts/history",
            write,
            clear_history,
        ),
        route(
            &[Method::Post],
            "/api/alerts/bulk/acknowledge",
            write,
            bulk_ack,
        ),
        route(
            &[Method::Post],
            "/api/alerts/bulk/unacknowledge",
            write,
            bulk_unack,
        ),
        route(&[Method::Post], "/api/alerts/bulk/clear", write, bulk_clear),
        route(&[Method::Post], "/api/alerts/{*rest}", write, action),
    ]
}
