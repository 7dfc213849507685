//! Guest metadata: `GET /api/guests/metadata`, `GET/PUT/POST/DELETE /api/guests/metadata/{id}`
//! where `{id}` is a guest id (`pve1-100`) or `<node>/<vmid>`; and the same for Docker
//! containers and services under `/api/docker/metadata` (ids as the Docker view uses them).

use crate::api::config_nodes::after_save;
use crate::config::error::ConfigError;
use crate::config::metadata::{GuestKey, GuestMetadata, GuestMetadataStore, GuestMetadataUpdate};
use crate::config::state::Saved;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::core::writer::Ticket;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use serde_json::Value;

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

/// The stored key for the request's `{id}`. For guests, `<node>/<vmid>` is looked up in the live
/// state, so both forms name the one id `/api/state` uses for that guest (`<instance>-<node>-<vmid>`
/// in a cluster); a guest not (yet) in the state falls back to the standalone form
/// `<node>-<vmid>`. Docker ids are used as given.
fn key(app: &App, ctx: &Ctx, kind: Kind) -> Result<String, Reply> {
    let raw = ctx.param("id");
    let state = app.polling.core.state();
    let lookup = |node: &str, vmid: u32| {
        state
            .vms()
            .filter(|g| g.node == node && g.vmid == vmid)
            .map(|g| g.id.clone())
            .chain(
                state
                    .containers()
                    .filter(|g| g.node == node && g.vmid == vmid)
                    .map(|g| g.id.clone()),
            )
            .next()
    };
    match kind {
        Kind::Guest => GuestKey::parse(raw).map(|k| k.resolve(&lookup)),
        Kind::Docker => match GuestKey::parse(raw) {
            Ok(GuestKey::Id(id)) => Ok(id),
            _ => Err(ConfigError::Invalid(
                "Invalid Docker resource id".to_string(),
            )),
        },
    }
    .map_err(Reply::from)
}

/// A record as the API shows it: the original's fields plus the document's names for the same
/// values (`consoleUrl` = `customUrl`, `notes` = `description`), so a client reads back what it
/// wrote under either name.
fn view(rec: &GuestMetadata) -> Value {
    let mut v = serde_json::to_value(rec).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        if !rec.custom_url.is_empty() {
            obj.insert("consoleUrl".into(), Value::from(rec.custom_url.clone()));
        }
        if !rec.description.is_empty() {
            obj.insert("notes".into(), Value::from(rec.description.clone()));
        }
    }
    v
}

fn list(app: &App, kind: Kind) -> Outcome {
    let all: serde_json::Map<String, Value> = store(app, kind)
        .all()
        .iter()
        .map(|(id, rec)| (id.clone(), view(rec)))
        .collect();
    Reply::json(200, &all).into()
}

fn get(app: &App, ctx: &Ctx, kind: Kind) -> Outcome {
    match key(app, ctx, kind) {
        Ok(id) => Reply::json(200, &view(&store(app, kind).get(&id))).into(),
        Err(reply) => reply.into(),
    }
}

fn set(app: &mut App, ctx: &Ctx, kind: Kind) -> Outcome {
    let id = match key(app, ctx, kind) {
        Ok(id) => id,
        Err(reply) => return reply.into(),
    };
    let update = match ctx
        .req
        .json::<Value>()
        .and_then(|v| GuestMetadataUpdate::from_value(&v).map_err(Reply::from))
    {
        Ok(u) => u,
        Err(reply) => return reply.into(),
    };
    let mut next = store(app, kind).clone();
    let result = next.set(&id, &update).and_then(|rec| {
        let ticket = replace(app, kind, next)?;
        Ok((rec, ticket))
    });
    match result {
        Ok((rec, ticket)) => {
            after_save(ticket, saved(kind), move |_| Reply::json(200, &view(&rec)))
        }
        Err(e) => Reply::from(e).into(),
    }
}

fn delete(app: &mut App, ctx: &Ctx, kind: Kind) -> Outcome {
    let id = match key(app, ctx, kind) {
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

fn guest_list(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

    list(app, Kind::Guest)
}
fn guest_get(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Err(r) = super::known_params(ctx.req, &[]) {
        return r.into();
    }

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
