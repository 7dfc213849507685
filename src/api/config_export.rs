//! `POST /api/config/export` and `POST /api/config/import`: Pulse-compatible encrypted backups.
//! PBKDF2 runs on a worker; reading and committing the data dir happens on the loop, so the
//! in-memory configuration and the files change together.

use crate::auth::tokens::TokenStore;
use crate::config::export::{
    open_export, seal_export, ExportData, ImportPlan, EXPORT_VERSION, MIN_PASSPHRASE_LEN,
};
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};
use crate::util::secret::Secret;
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

#[derive(Deserialize)]
struct ExportRequest {
    #[serde(default)]
    passphrase: Secret,
}

#[derive(Deserialize)]
struct ImportRequest {
    #[serde(default)]
    data: String,
    #[serde(default)]
    passphrase: Secret,
}

/// Applies [`export_gate`] with the real security state. The route's `Access::Export` rule has
/// already run; this second check is Pulse's own: with credentials configured, only a session
/// or an API token may export (not, say, loopback in recovery mode).
fn gate(app: &App, ctx: &Ctx) -> Option<Reply> {
    export_gate(
        ctx.client_ip,
        ctx.principal.is_authenticated(),
        app.security.mode().any(),
        app.security.allow_unprotected_export,
    )
}

fn export(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Some(refusal) = gate(app, ctx) {
        return refusal.into();
    }
    let req: ExportRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    if req.passphrase.expose().len() < MIN_PASSPHRASE_LEN {
        return Reply::error(
            400,
            &format!("Passphrase must be at least {MIN_PASSPHRASE_LEN} characters long"),
        )
        .into();
    }
    let data = match app
        .config
        .store()
        .and_then(|s| ExportData::collect(s, UtcTime::now()))
    {
        Ok(d) => d,
        Err(e) => return Reply::from(e).into(),
    };
    Outcome::defer(
        move || seal_export(&data, req.passphrase.expose()),
        |_app, sealed| match sealed {
            Ok(blob) => {
                crate::log_info!("configuration exported");
                Reply::json(200, &json!({ "status": "success", "data": blob }))
            }
            Err(e) => Reply::from(e),
        },
    )
}

fn import(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Some(refusal) = gate(app, ctx) {
        return refusal.into();
    }
    let req: ImportRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    if req.data.trim().is_empty() {
        return Reply::error(400, "Failed to import configuration: no data given").into();
    }
    Outcome::defer(
        move || open_export(&req.data, req.passphrase.expose()),
        |app, opened| {
            let mut tokens = None;
            let committed = opened.and_then(|data| {
                // Checked before anything is written: a bad token list fails the whole import.
                // The plan restores `api_tokens.json` only from a 4.1 export (as Pulse).
                if data.version == EXPORT_VERSION {
                    if let Some(v) = data.api_tokens.as_ref().filter(|v| !v.is_null()) {
                        tokens = Some(
                            TokenStore::parse_records(v)
                                .map_err(crate::config::ConfigError::Invalid)?,
                        );
                    }
                }
                let store = app.config.store()?;
                let plan = ImportPlan::prepare(store, data, &app.config.nodes)?;
                plan.commit(store, UtcTime::now())
            });
            match committed {
                Ok(outcome) => {
                    // Everything the import restored is taken up by its owner now: tokens
                    // (below), nodes (the monitor follows `nodes_revision`), settings (applied
                    // at run time), metadata, alerts.
                    if let Some(records) = tokens.take() {
                        let count = records.len();
                        if let Err(e) = app.security.tokens.adopt(records) {
                            crate::log_warn!("imported API tokens not re-saved", error = e);
                        }
                        crate::log_info!("API tokens restored from the import", tokens = count);
                    }
                    for notice in &outcome.notices {
                        crate::log_warn!("configuration import", notice = notice);
                    }
                    crate::log_info!(
                        "configuration imported",
                        files = outcome.files_changed.join(",")
                    );
                    let alerts_changed = outcome.files_changed.contains(&"alerts.json");
                    app.config.installed_import(outcome);
                    if alerts_changed {
                        // The import wrote alerts.json itself; its owner takes it up now.
                        for w in app.alerts.reload_config(crate::util::time::now_ms()) {
                            crate::log_warn!("alerts", note = w);
                        }
                    }
                    app.config.discovery.invalidate();
                    app.reload_notifications();
                    app.apply_runtime_settings();
                    Reply::json(
                        200,
                        &json!({ "status": "success", "message": "Configuration imported successfully" }),
                    )
                }
                Err(e) => {
                    let status = if e.http_status() >= 500 {
                        e.http_status()
                    } else {
                        400
                    };
                    Reply::error(status, &format!("Failed to import configuration: {e}"))
                }
            }
        },
    )
}

/// Pulse's extra rule for export/import, on top of the normal gate: when authentication is
/// configured the caller must be authenticated (session or API token); when it is not, only
/// clients on private networks may export, unless `ALLOW_UNPROTECTED_EXPORT=true`. Returns the
/// refusal, if any. `client` is the resolved client address (forwarding headers honoured only
/// from trusted proxies).
pub fn export_gate(
    client: IpAddr,
    authenticated: bool,
    auth_configured: bool,
    allow_unprotected: bool,
) -> Option<Reply> {
    if auth_configured {
        return (!authenticated)
            .then(|| Reply::error(401, "Unauthorized - please log in or provide API token"));
    }
    if crate::auth::client_ip::is_private(client) || allow_unprotected {
        None
    } else {
        Some(Reply::error(
            403,
            "Export requires authentication on public networks",
        ))
    }
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/export",
            access: Access::Export,
            csrf: Csrf::Required,
            handler: export,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/import",
            access: Access::Export,
            csrf: Csrf::Required,
            handler: import,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_gate_rules() {
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let public: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(export_gate(lan, false, false, false).is_none());
        assert_eq!(
            export_gate(public, false, false, false).map(|r| r.status),
            Some(403)
        );
        assert!(export_gate(public, false, false, true).is_none());
        assert_eq!(
            export_gate(lan, false, true, false).map(|r| r.status),
            Some(401)
        );
        assert!(export_gate(public, true, true, false).is_none());
    }
}
