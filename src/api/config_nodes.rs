//! Node configuration: `GET/POST /api/config/nodes`, `PUT/DELETE /api/config/nodes/{id}`.
//!
//! Ids are stable (`pve-3` stays `pve-3` when `pve-1` is deleted). Credentials are write-only:
//! the list shows `hasPassword` / `hasToken`. The endpoints that talk to Proxmox (connection
//! tests, PVE cluster detection after an add) are in [`node_test`]; its routes are part of
//! [`routes`].

use crate::config::error::ConfigError;
use crate::config::model::node_edit::{Node, NodeRequest};
use crate::config::state::Saved;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::core::writer::Ticket;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::util::time::UtcTime;
use serde_json::json;
use std::time::Instant;

// Declared here rather than in `api/mod.rs` so the node-configuration area stays one unit.
#[path = "node_test.rs"]
pub mod node_test;

/// Every configuration error becomes `{"error": "<clear message>"}` with its HTTP status.
impl From<ConfigError> for Reply {
    fn from(e: ConfigError) -> Reply {
        if e.http_status() >= 500 {
            crate::log_error!("configuration error", error = e);
        }
        Reply::error(e.http_status(), &e.to_string())
    }
}

/// Answers with `ok` once the writer has saved `which`; a failed save answers its error and
/// puts memory back to what the disk holds.
pub(crate) fn after_save<F>(ticket: Ticket, which: Saved, ok: F) -> Outcome
where
    F: FnOnce(&mut App) -> Reply + 'static,
{
    Outcome::after_write(ticket, move |app, result| match result {
        Ok(()) => ok(app),
        Err(e) => {
            app.config.reload_after_failed_write(which, UtcTime::now());
            Reply::from(ConfigError::from(e))
        }
    })
}

fn success(status: u16, message: &str, id: Option<&str>) -> Reply {
    let mut body = json!({ "status": "success", "success": true, "message": message });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    Reply::json(status, &body)
}

fn list(app: &mut App, _: &Ctx) -> Outcome {
    // In demo mode the demo instances follow, read-only (see `config_view`).
    let views = crate::api::config_view::node_views(app, Instant::now());
    Reply::json(200, &views).into()
}

fn add(app: &mut App, ctx: &Ctx) -> Outcome {
    let req: NodeRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    let result = Node::from_request(&req).and_then(|node| {
        let mut nodes = app.config.nodes.clone();
        let id = nodes.insert(node)?;
        let ticket = app.config.replace_nodes(nodes, false, UtcTime::now())?;
        Ok((id, ticket))
    });
    match result {
        Ok((id, ticket)) => after_save(ticket, Saved::Nodes, move |app| {
            crate::log_info!("node added", id = id);
            app.config.discovery.invalidate();
            node_test::detect_cluster_later(app, &id);
            success(201, "Node added", Some(&id))
        }),
        Err(e) => Reply::from(e).into(),
    }
}

fn update(app: &mut App, ctx: &Ctx) -> Outcome {
    let req: NodeRequest = match ctx.req.json() {
        Ok(r) => r,
        Err(reply) => return reply.into(),
    };
    let id = ctx.param("id").to_string();
    let old_host = app.config.nodes.get(&id).map(|n| n.host().to_string());
    let mut nodes = app.config.nodes.clone();
    let result = nodes
        .update_node(&id, &req)
        .and_then(|()| app.config.replace_nodes(nodes, false, UtcTime::now()));
    match result {
        Ok(ticket) => after_save(ticket, Saved::Nodes, move |app| {
            crate::log_info!("node updated", id = id);
            // Pointed at another host: its cluster membership must be found out again.
            if app.config.nodes.get(&id).map(|n| n.host().to_string()) != old_host {
                node_test::detect_cluster_later(app, &id);
            }
            success(200, "Node updated", Some(&id))
        }),
        Err(e) => Reply::from(e).into(),
    }
}

fn remove(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id").to_string();
    let mut nodes = app.config.nodes.clone();
    let result = nodes.remove_node(&id).and_then(|removed| {
        let ticket = app.config.replace_nodes(nodes, true, UtcTime::now())?;
        Ok((removed, ticket))
    });
    match result {
        Ok((removed, ticket)) => after_save(ticket, Saved::Nodes, move |app| {
            crate::log_info!("node removed", id = removed.id, name = removed.name);
            app.config.discovery.invalidate();
            success(200, "Node removed", Some(&id))
        }),
        Err(e) => Reply::from(e).into(),
    }
}

pub fn routes() -> Vec<Route> {
    let mut routes = vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/config/nodes",
            access: Access::Scope(Scope::SettingsRead),
            csrf: Csrf::Required,
            handler: list,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/config/nodes",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: add,
        },
        Route {
            methods: &[Method::Put],
            pattern: "/api/config/nodes/{id}",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: update,
        },
        Route {
            methods: &[Method::Delete],
            pattern: "/api/config/nodes/{id}",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: remove,
        },
    ];
    routes.extend(node_test::routes());
    routes
}
