//! Pulse: a monitoring appliance for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway.
//!
//! The crate is one library with thin binaries in `src/bin/`. See ARCHITECTURE.md for the map:
//! one event-loop thread (`core`) owns all mutable state; `http` threads, poll workers and the
//! notifier talk to it through bounded channels.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod discovery;
pub mod env;
pub mod http;
pub mod log;
pub mod monitor;
pub mod proxmox;
pub mod setup;
pub mod sim;
pub mod state;
pub mod util;
pub mod ws;

/// The version reported by `pulse --version` and `/api/version`.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));
