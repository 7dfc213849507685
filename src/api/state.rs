//! `GET /api/state` and the storage views, answered from the pre-serialised snapshot.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use serde_json::json;

fn state(app: &mut App, _: &Ctx) -> Outcome {
    // Serialised off the loop once per change (`core::state_feed`); this hands out a
    // reference to the newest finished bytes. A change made before this request (a saved
    // setting, an acknowledged alert, a poll just applied) is waited for: the answer leaves
    // once the build that includes it is served, a few tens of milliseconds at most.
    if app.state_body_is_current() {
        return Reply::json_shared(200, app.state_body()).into();
    }
    Outcome::after_state_build(app.state_revision(), |app| {
        Reply::json_shared(200, app.state_body())
    })
}

fn storage_list(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    let list = app.polling.core.state().storage_list();
    Reply::json(
        200,
        &json!({ "data": list, "timestamp": crate::util::time::unix_now() }),
    )
    .into()
}

/// `GET /api/storage/<node-id>` (the document's form): the storage that node sees, its own and
/// the cluster's shared storage, as a list. A node is matched by state id (`<instance>-<node>`)
/// or, when unambiguous, by name. Otherwise the parameter is a storage id (Pulse's form), answered
/// with that one entry.
fn storage_one(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    let id = ctx.param("id");
    let state = app.polling.core.state();
    let by_id = state.node(id);
    let by_name: Vec<_> = state.nodes().filter(|n| n.name == id).collect();
    let node = by_id.or(if by_name.len() == 1 {
        by_name.first().copied()
    } else {
        None
    });
    if let Some(node) = node {
        let list: Vec<_> = state
            .storages()
            .filter(|s| {
                s.instance == node.instance
                    && (s.node == node.name
                        || s.node_ids.contains(&node.id)
                        || s.nodes.contains(&node.name))
            })
            .collect();
        return Reply::json(
            200,
            &json!({ "node": node.id, "data": list, "timestamp": crate::util::time::unix_now() }),
        )
        .into();
    }
    match state.storage_by_id(id) {
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
