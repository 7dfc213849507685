//! HTTP handlers, one file per area, and the route table that lists them all.
//!
//! Adding an area: write `src/api/<area>.rs` with `pub fn routes() -> Vec<Route>` and add it to
//! `all_routes` below. Handlers run on the event loop: they must not block (use
//! `Outcome::defer` for anything slow).

pub mod agent_downloads;
pub mod agents;
pub mod alerts;
pub mod backups;
pub mod charts;
pub mod config_export;
pub mod config_nodes;
pub mod config_view;
pub mod diagnostics;
pub mod guest_metadata;
pub mod health;
pub mod metrics;
pub mod metrics_agents;
pub mod metrics_self;
pub mod monitoring;
pub mod notifications;
pub mod security;
pub mod setup;
pub mod simple_stats;
pub mod state;
pub mod system_settings;
pub mod version;
pub mod ws;

use crate::http::reply::Reply;
use crate::http::request::ApiRequest;
use crate::http::router::Route;

/// Refuses a query parameter the endpoint does not take (400 `{error, parameter}`): a filter
/// the handler would silently ignore would make the client read an unfiltered answer as a
/// filtered one. `known` lists what the endpoint takes; an endpoint that takes none (empty)
/// ignores what it is sent, as Pulse does: no answer there can be misread as filtered, and
/// clients add cache-busters and tracking parameters of every name.
pub fn known_params(req: &ApiRequest, known: &[&str]) -> Result<(), Reply> {
    if known.is_empty() {
        return Ok(());
    }
    match req.unknown_query_param(known) {
        None => Ok(()),
        Some(k) => {
            let list = if known.is_empty() {
                "this endpoint takes none".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            Err(Reply::json(
                400,
                &serde_json::json!({
                    "error": format!("Invalid query parameter {k:?}: unknown; {list}"),
                    "parameter": k,
                }),
            ))
        }
    }
}

/// Every route Pulse serves.
pub fn all_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(health::routes());
    routes.extend(security::routes());
    routes.extend(version::routes());
    routes.extend(ws::routes());
    routes.extend(state::routes());
    routes.extend(charts::routes());
    routes.extend(metrics::routes());
    routes.extend(monitoring::routes());
    routes.extend(config_nodes::routes());
    routes.extend(system_settings::routes());
    routes.extend(guest_metadata::routes());
    routes.extend(backups::routes());
    routes.extend(diagnostics::routes());
    routes.extend(simple_stats::routes());
    routes.extend(config_export::routes());
    routes.extend(setup::routes());
    routes.extend(alerts::routes());
    routes.extend(notifications::routes());
    routes.extend(agents::routes());
    routes.extend(agent_downloads::routes());
    routes
}
