//! Configuration and persistence: the data dir Pulse uses (`.encryption.key`, `nodes.enc`,
//! `system.json`, `guest_metadata.json`, …) read and written in Pulse's own formats, node
//! management, system settings, export/import, setup codes and scripts, and network discovery.
//!
//! Everything here is synchronous and owned by one thread (the event loop). Functions that block
//! for long (PBKDF2 in export/import, network scans) say so and belong on a worker thread.

pub mod cluster_detect;
pub mod command;
pub mod crypto;
pub mod discovery;
pub mod discovery_probe;
pub mod error;
pub mod export;
pub mod host;
pub mod metadata;
pub mod node_edit;
pub mod node_probe;
pub mod node_view;
pub mod nodes;
pub mod registration;
pub mod setup_codes;
pub mod setup_script;
pub mod state;
pub mod store;
pub mod system;
pub mod system_env;
mod transaction;

pub use error::ConfigError;
