//! Guest metadata: `GET /api/guests/metadata`, `GET/PUT/POST/DELETE /api/guests/metadata/{id}`
//! where `{id}` is a guest id (`pve1-100`) or `<node>/<vmid>`.

use crate::config::metadata::{GuestKey, GuestMetadataUpdate};
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Ctx, Route};

/// The stored key for the request's `{id}`. `<node>/<vmid>` maps to the state's id for a
/// standalone node (`<node>-<vmid>`); resolving cluster guests needs live state (the lead wires
/// a lookup once the state model exists).
fn key(ctx: &Ctx) -> Result<String, Reply> {
    GuestKey::parse(ctx.param("id"))
        .map(|k| k.resolve(&|_, _| None))
        .map_err(Reply::from)
}

fn all(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, app.config.metadata.all()).into()
}

fn get(app: &mut App, ctx: &Ctx) -> Outcome {
    match key(ctx) {
        Ok(id) => Reply::json(200, &app.config.metadata.get(&id)).into(),
        Err(reply) => reply.into(),
    }
}

fn set(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = match key(ctx) {
        Ok(id) => id,
        Err(reply) => return reply.into(),
    };
    let update: GuestMetadataUpdate = match ctx.req.json() {
        Ok(u) => u,
        Err(reply) => return reply.into(),
    };
    let mut next = app.config.metadata.clone();
    let result = next.set(&id, &update).and_then(|rec| {
        app.config.replace_metadata(next)?;
        Ok(rec)
    });
    match result {
        Ok(rec) => Reply::json(200, &rec).into(),
        Err(e) => Reply::from(e).into(),
    }
}

fn delete(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = match key(ctx) {
        Ok(id) => id,
        Err(reply) => return reply.into(),
    };
    let mut next = app.config.metadata.clone();
    if next.delete(&id) {
        if let Err(e) = app.config.replace_metadata(next) {
            return Reply::from(e).into();
        }
    }
    Reply::no_content().into()
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/guests/metadata",
            access: Access::Scope("monitoring:read"),
            handler: all,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/guests/metadata/{*id}",
            access: Access::Scope("monitoring:read"),
            handler: get,
        },
        Route {
            methods: &[Method::Put, Method::Post],
            pattern: "/api/guests/metadata/{*id}",
            access: Access::Scope("monitoring:write"),
            handler: set,
        },
        Route {
            methods: &[Method::Delete],
            pattern: "/api/guests/metadata/{*id}",
            access: Access::Scope("monitoring:write"),
            handler: delete,
        },
    ]
}
