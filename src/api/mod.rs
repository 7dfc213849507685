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

use crate::http::router::Route;

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
