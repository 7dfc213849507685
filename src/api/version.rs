//! `GET /api/version`: what is running and how it was deployed (the UI decides from
//! `deploymentType` whether self-update is possible).

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route};

fn version(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, app.version()).into()
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        methods: &[Method::Get],
        pattern: "/api/version",
        access: Access::Public,
        csrf: Csrf::Required,
        handler: version,
    }]
}
