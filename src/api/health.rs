//! `GET /api/health`: liveness for load balancers, Docker health checks and scripts.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    timestamp: i64,
    uptime: f64,
}

fn health(app: &mut App, _: &Ctx) -> Outcome {
    let body = Health {
        status: "healthy",
        timestamp: crate::util::time::unix_now(),
        uptime: app.started().elapsed().as_secs_f64(),
    };
    Reply::json(200, &body).into()
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        methods: &[Method::Get],
        pattern: "/api/health",
        access: Access::Public,
        csrf: Csrf::Required,
        handler: health,
    }]
}
