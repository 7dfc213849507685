//! System settings: `GET /api/config`, `GET /api/config/system`, `GET /api/system/settings`,
//! `POST /api/system/settings/update` (also `PUT /api/config/system`), and the UI-settings aliases `GET /api/settings`,
//! `POST /api/settings/update` (Pulse keeps UI preferences such as the theme in the same file).

use crate::api::config_nodes::after_save;
use crate::config::state::Saved;
use crate::config::system::SystemSettings;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use serde_json::{json, Value};

fn env_lookup(app: &App) -> impl Fn(&str) -> Option<String> + '_ {
    move |k| app.cfg.vars.get(k).map(str::to_string)
}

fn effective(app: &App) -> SystemSettings {
    app.config.system.with_env(&env_lookup(app)).0
}

/// `GET /api/config`: the values the UI's header needs (`csrfProtection`, `autoUpdateEnabled`,
/// `updateChannel`) and, as the document promises, the whole configuration: `system` (the
/// settings the process runs with), `envOverrides`, `nodes` (as `/api/config/nodes` shows them,
/// secrets only as `hasPassword`/`hasToken`) and `guestMetadataCount`. The route is
/// `monitoring:read`; the settings parts need `settings:read` too, so a read-only monitoring
/// token sees the header values only (as in Pulse).
fn config_summary(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    let s = effective(app);
    let channel = if s.update_channel.is_empty() {
        "stable".to_string()
    } else {
        s.update_channel.clone()
    };
    // Session callers must send the CSRF token on every state-changing request.
    let mut body = json!({ "csrfProtection": true, "autoUpdateEnabled": s.auto_update_enabled, "updateChannel": channel });
    if ctx.principal.has_scope(Scope::SettingsRead) {
        let (_, overrides) = app.config.system.with_env(&env_lookup(app));
        let nodes = crate::api::config_view::node_views(app, std::time::Instant::now());
        body["system"] = serde_json::to_value(runtime_view(app)).unwrap_or_default();
        body["envOverrides"] = serde_json::to_value(overrides).unwrap_or_default();
        body["nodes"] = serde_json::to_value(nodes).unwrap_or_default();
        body["guestMetadataCount"] = json!(app.config.metadata.all().len());
        body["demoMode"] = json!(app.polling.demo.is_some());
    }
    Reply::json(200, &body).into()
}

/// The effective settings with the values the process actually runs with (port, connection
/// timeout) filled in, as Pulse reports them from `GET /api/config/system`.
fn runtime_view(app: &App) -> SystemSettings {
    let mut s = effective(app);
    s.frontend_port = i64::from(app.cfg.port);
    s.connection_timeout = i64::try_from(app.cfg.connection_timeout.as_secs()).unwrap_or(i64::MAX);
    s
}

/// `GET /api/config/system`: effective settings without `envOverrides`.
fn config_system(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    Reply::json(200, &runtime_view(app)).into()
}

/// `GET /api/system/settings` (and `/api/settings`): effective settings plus `envOverrides`.
fn get_settings(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    Reply::json(200, &app.config.system.response(&env_lookup(app))).into()
}

/// `POST /api/system/settings/update` (and `/api/settings/update`): validated partial update.
fn update_settings(app: &mut App, ctx: &Ctx) -> Outcome {
    let patch: Value = match ctx.req.json() {
        Ok(v) => v,
        Err(reply) => return reply.into(),
    };
    let mut next = app.config.system.clone();
    // What the GET endpoints show: read-only keys sent back with these values are accepted.
    let views = [
        serde_json::to_value(&app.config.system).unwrap_or_default(),
        serde_json::to_value(effective(app)).unwrap_or_default(),
        serde_json::to_value(runtime_view(app)).unwrap_or_default(),
    ];
    let changed = match next.apply_checked(&patch, &env_lookup(app), &views) {
        Ok(changed) => changed,
        Err(e) => return Reply::from(e).into(),
    };
    if changed.is_empty() {
        return Reply::json(200, &json!({ "success": true })).into();
    }
    let ticket = match app.config.replace_system(next) {
        Ok(t) => t,
        Err(e) => return Reply::from(e).into(),
    };
    after_save(ticket, Saved::System, move |app: &mut App| {
        crate::log_info!("system settings updated", changed = changed.join(","));
        // Discovery follows its settings at once: the housekeeping tick rescans (or stops
        // scheduling when disabled). Other keys are applied by their owners.
        if changed.iter().any(|k| k.starts_with("discovery")) {
            app.config.discovery.invalidate();
        }
        app.apply_runtime_settings();
        if changed.contains(&"theme") {
            let theme = app.config.system.theme.clone();
            app.broadcast_event("settingsUpdate", &json!({ "theme": theme }));
        }
        Reply::json(200, &json!({ "success": true }))
    })
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/config",
            access: Access::Scope(Scope::MonitoringRead),
            csrf: Csrf::Required,
            handler: config_summary,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/config/system",
            access: Access::Scope(Scope::SettingsRead),
            csrf: Csrf::Required,
            handler: config_system,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/system/settings",
            access: Access::Scope(Scope::SettingsRead),
            csrf: Csrf::Required,
            handler: get_settings,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/system/settings/update",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: update_settings,
        },
        Route {
            // The document's `PUT /api/config/system`: the same validated partial update.
            methods: &[Method::Put],
            pattern: "/api/config/system",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: update_settings,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/settings",
            access: Access::Scope(Scope::SettingsRead),
            csrf: Csrf::Required,
            handler: get_settings,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/settings/update",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: update_settings,
        },
    ]
}
