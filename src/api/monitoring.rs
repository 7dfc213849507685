//! Scheduler health and demo ("mock") mode control.

use crate::core::app::App;
use crate::core::demo::SwitchError;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::monitor::demo::{MockModeRequest, MockModeResponse};

fn scheduler_health(app: &mut App, _: &Ctx) -> Outcome {
    let body = app.polling.core.health_json(crate::util::time::now_ms());
    Reply::json_bytes(200, body).into()
}

/// While a switch runs, `enabled` is where it is going.
fn mock_status(app: &App) -> Reply {
    Reply::json(
        200,
        &MockModeResponse::new(app.demo_enabled(), app.polling.demo_sizes),
    )
}

fn get_mock_mode(app: &mut App, _: &Ctx) -> Outcome {
    mock_status(app).into()
}

/// `{"enabled": bool, "config": {...}}`: switches the built-in demo cluster on or off at run
/// time (the simulator starts in-process, polled through the same clients and scheduler).
/// Starting and stopping run on a worker; the answer comes when the switch is done.
fn set_mock_mode(app: &mut App, ctx: &Ctx) -> Outcome {
    let req: MockModeRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    let sizes = match req.config.as_ref().map(|c| c.apply(app.polling.demo_sizes)) {
        Some(Err(msg)) => return Reply::error(400, &msg).into(),
        Some(Ok(s)) => s,
        None => app.polling.demo_sizes,
    };
    if app.demo_switching() {
        return busy().into();
    }
    let enabled = req.enabled.unwrap_or(app.demo_enabled());
    if enabled == app.demo_enabled() && sizes == app.polling.demo_sizes {
        return mock_status(app).into();
    }
    app.switch_demo(enabled, sizes, |app, done| match done {
        Ok(()) => mock_status(app),
        Err(SwitchError::Busy) => busy(),
        Err(SwitchError::Failed(e)) => Reply::error(500, &format!("Cannot start demo mode: {e}")),
    })
}

fn busy() -> Reply {
    Reply::error(409, "Demo mode is being switched; retry when it is done")
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/monitoring/scheduler/health",
            access: Access::Authenticated,
            csrf: Csrf::Required,
            handler: scheduler_health,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/system/mock-mode",
            access: Access::Scope(Scope::SettingsRead),
            csrf: Csrf::Required,
            handler: get_mock_mode,
        },
        Route {
            methods: &[Method::Post, Method::Put],
            pattern: "/api/system/mock-mode",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: set_mock_mode,
        },
    ]
}
