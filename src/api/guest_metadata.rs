//! Guest metadata: `GET /api/guests/metadata`, `GET/PUT/POST/DELETE /api/guests/metadata/{id}`
//! where `{id}` is a guest id (`pve1-100`) or `<node>/<vmid>`; and the same for Docker
//! containers and services under `/api/docker/metadata` (ids as the Docker view uses them).

use crate::api::config_nodes::after_save;
use crate::config::error::ConfigError;
use crate::config::metadata::{GuestKey, GuestMetadataStore, GuestMetadataUpdate};
use crate::config::state::Saved;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::core::writer::Ticket;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};

#[derive(Clone, Copy)]
enum Kind {
    Guest,
    Docker,
}

fn store(app: &App, kind: Kind) -> &GuestMetadataStore {
    match kind {
        Kind::Guest => &app.config.metadata,
        Kind::Docker => &app.config.docker_metadata,
    }
}

fn replace(app: &mut App, kind: Kind, next: GuestMetadataStore) -> Result<Ticket, ConfigError> {
    match kind {
        Kind::Guest => app.config.replace_metadata(next),
        Kind::Docker => app.config.replace_docker_metadata(next),
    }
}

fn saved(kind: Kind) -> Saved {
    match kind {
        Kind::Guest => Saved::Metadata,
        Kind::Docker => Saved::DockerMetadata,
    }
}

/// The stored key for the request's `{id}`. For guests, `<node>/<vmid>` maps to the state's id
/// for a standalone node (`<node>-<vmid>`); resolving cluster guests needs live state (the lead
/// wires a lookup once the state model exists). Docker ids are used as given.
fn key(ctx: &Ctx, kind: Kind) -> Result<String, Reply> {
    let raw = ctx.param("id");
    match kind {
        Kind::Guest => GuestKey::parse(raw).map(|k| k.resolve(&|_, _| None)),
        Kind::Docker => match GuestKey::parse(raw) {
            Ok(GuestKey::Id(id)) => Ok(id),
            _ => Err(ConfigError::Invalid(
                "Invalid Docker resource id".to_string(),
            )),
        },
    }
    .map_err(Reply::from)
}

fn list(app: &App, kind: Kind) -> Outcome {
    Reply::json(200, store(app, kind).all()).into()
}

fn get(app: &App, ctx: &Ctx, kind: Kind) -> Outcome {
    match key(ctx, kind) {
        Ok(id) => Reply::json(200, &store(app, kind).get(&id)).into(),
        Err(reply) => reply.into(),
    }
}

fn set(app: &mut App, ctx: &Ctx, kind: Kind) -> Outcome {
    let id = match key(ctx, kind) {
        Ok(id) => id,
        Err(reply) => return reply.into(),
    };
    let update: GuestMetadataUpdate = match ctx.req.json() {
        Ok(u) => u,
        Err(reply) => return reply.into(),
    };
    let mut next = store(app, kind).clone();
    let result = next.set(&id, &update).and_then(|rec| {
        let ticket = replace(app, kind, next)?;
        Ok((rec, ticket))
    });
    match result {
        Ok((rec, ticket)) => after_save(ticket, saved(kind), move |_| Reply::json(200, &rec)),
        Err(e) => Reply::from(e).into(),
    }
}

fn delete(app: &mut App, ctx: &Ctx, kind: Kind) -> Outcome {
    let id = match key(ctx, kind) {
        Ok(id) => id,
        Err(reply) => return reply.into(),
    };
    let mut next = store(app, kind).clone();
    if !next.delete(&id) {
        return Reply::no_content().into();
    }
    match replace(app, kind, next) {
        Ok(ticket) => after_save(ticket, saved(kind), |_| Reply::no_content()),
        Err(e) => Reply::from(e).into(),
    }
}

fn guest_list(app: &mut App, _: &Ctx) -> Outcome {
    list(app, Kind::Guest)
}
fn guest_get(app: &mut App, ctx: &Ctx) -> Outcome {
    get(app, ctx, Kind::Guest)
}
fn guest_set(app: &mut App, ctx: &Ctx) -> Outcome {
    set(app, ctx, Kind::Guest)
}
fn guest_delete(app: &mut App, ctx: &Ctx) -> Outcome {
    delete(app, ctx, Kind::Guest)
}
fn docker_list(app: &mut App, _: &Ctx) -> Outcome {
    list(app, Kind::Docker)
}
fn docker_get(app: &mut App, ctx: &Ctx) -> Outcome {
    get(app, ctx, Kind::Docker)
}
fn docker_set(app: &mut App, ctx: &Ctx) -> Outcome {
    set(app, ctx, Kind::Docker)
}
fn docker_delete(app: &mut App, ctx: &Ctx) -> Outcome {
    delete(app, ctx, Kind::Docker)
}

pub fn routes() -> Vec<Route> {
    let read = Access::Scope(Scope::MonitoringRead);
    let write = Access::Scope(Scope::MonitoringWrite);
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/guests/metadata",
            access: read,
            csrf: Csrf::Required,
            handler: guest_list,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/guests/metadata/{*id}",
            access: read,
            csrf: Csrf::Required,
            handler: guest_get,
        },
        Route {
            methods: &[Method::Put, Method::Post],
            pattern: "/api/guests/metadata/{*id}",
            access: write,
            csrf: Csrf::Required,
            handler: guest_set,
        },
        Route {
            methods: &[Method::Delete],
            pattern: "/api/guests/metadata/{*id}",
            access: write,
            csrf: Csrf::Required,
            handler: guest_delete,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/docker/metadata",
            access: read,
            csrf: Csrf::Required,
            handler: docker_list,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/docker/metadata/{id}",
            access: read,
            csrf: Csrf::Required,
            handler: docker_get,
        },
        Route {
            methods: &[Method::Put, Method::Post],
            pattern: "/api/docker/metadata/{id}",
            access: write,
            csrf: Csrf::Required,
            handler: docker_set,
        },
        Route {
            methods: &[Method::Delete],
            pattern: "/api/docker/metadata/{id}",
            access: write,
            csrf: Csrf::Required,
            handler: docker_delete,
        },
    ]
}
