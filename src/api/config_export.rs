//! `POST /api/config/export` and `POST /api/config/import`: Pulse-compatible encrypted backups.
//! PBKDF2 runs on a worker; reading and committing the data dir happens on the loop, so the
//! in-memory configuration and the files change together.

use crate::config::export::{open_export, seal_export, ExportData, ImportPlan, MIN_PASSPHRASE_LEN};
use crate::config::secret::Secret;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Ctx, Route};
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;

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

fn export(app: &mut App, ctx: &Ctx) -> Outcome {
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

fn import(_app: &mut App, ctx: &Ctx) -> Outcome {
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
            let committed = opened.and_then(|data| {
                let store = app.config.store()?;
                let plan = ImportPlan::prepare(store, data, &app.config.nodes)?;
                plan.commit(store, UtcTime::now())
            });
            match committed {
                Ok(outcome) => {
                    for notice in &outcome.notices {
                        crate::log_warn!("configuration import", notice = notice);
                    }
                    crate::log_info!(
                        "configuration imported",
                        files = outcome.files_changed.join(",")
                    );
                    app.config.installed_import(outcome);
                    app.config.discovery.invalidate();
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

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/export",
            access: Access::Scope("settings:write"),
            handler: export,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/import",
            access: Access::Scope("settings:write"),
            handler: import,
        },
    ]
}
