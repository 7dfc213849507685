//! `GET /api/state` and the storage views, answered from the pre-serialised snapshot.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use serde_json::json;

fn state(app: &mut App, _: &Ctx) -> Outcome {
    // Serialised off the loop once per change (`core::state_feed`); this hands out a
    // reference to the newest finished bytes.
    Reply::json_shared(200, app.state_body()).into()
}

fn storage_list(app: &mut App, _: &Ctx) -> Outcome {
    let list = app.polling.core.state().storage_list();
    Reply::json(
        200,
        &json!({ "data": list, "timestamp": crate::util::time::unix_now() }),
    )
    .into()
}

fn storage_one(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id");
    match app.polling.core.state().storage_by_id(id) {
        Some(s) => Reply::json(
            200,
            &json!({ "data": s, "timestamp": crate::util::time::unix_now() }),
        )
        .into(),
        None => Reply::json(
            404,
            &json!({ "error": format!("Storage {id:?} not found"), "code": "storage_not_found" }),
        )
        .into(),
    }
}

pub fn routes() -> Vec<Route> {
    const READ: Access = Access::Scope(Scope::MonitoringRead);
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/state",
            access: READ,
            csrf: Csrf::Required,
            handler: state,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/storage",
            access: READ,
            csrf: Csrf::Required,
            handler: storage_list,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/storage/{id}",
            access: READ,
            csrf: Csrf::Required,
            handler: storage_one,
        },
    ]
}
