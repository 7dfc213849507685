//! Pulse: a monitoring appliance for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway.
//!
//! The crate is one library with thin binaries in `src/bin/`. See ARCHITECTURE.md for the map:
//! one event-loop thread (`core`) owns all mutable state; `http` threads, worker pools and
//! poll workers talk to it through bounded channels. Layers point one way: `api` → `core` →
//! subsystems; [`start`] is where the API's route table is handed to the core.

pub mod agents;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod discovery;
pub mod env;
pub mod history;
pub mod http;
pub mod log;
pub mod monitor;
pub mod notify;
pub mod proxmox;
pub mod setup;
#[cfg(feature = "demo")]
pub mod sim;
pub mod state;
pub mod util;
pub mod version;
pub mod ws;

/// The version reported by `pulse --version` and `/api/version`.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Starts Pulse with every API route: the wiring of the layers (`api` builds the table, `core`
/// serves it), so that `core` never depends on `api`.
pub fn start(cfg: env::RuntimeConfig) -> std::io::Result<core::Running> {
    start_with(cfg, Vec::new())
}

/// `start` with extra routes added to the table (used by tests to probe the loop).
pub fn start_with(
    cfg: env::RuntimeConfig,
    extra: Vec<http::router::Route>,
) -> std::io::Result<core::Running> {
    let mut routes = api::all_routes();
    routes.extend(extra);
    core::start(cfg, routes)
}
