//! Configuration: the data dir Pulse uses (`.encryption.key`, `nodes.enc`, `system.json`,
//! `guest_metadata.json`, …) read and written in Pulse's own formats, the node model, system
//! settings and export/import. Network probes and discovery live in `crate::discovery`, setup
//! codes, scripts and auto-registration in `crate::setup`, the `config` CLI in `crate::cli`.
//!
//! - `persist/` — the data dir on disk: store (load, save plans, backups), encryption, the
//!   all-or-nothing import transaction.
//! - `model/` — nodes: the stored model, edits from the API, the API view, host validation,
//!   write-only secrets.
//! - `state.rs` — what the event loop owns; saves go through the data-dir writer thread.
//!
//! Everything here is synchronous and owned by one thread (the event loop). Functions that block
//! for long (PBKDF2 in export/import) say so and belong on a worker thread.

pub mod error;
pub mod export;
pub mod metadata;
pub mod model;
pub mod persist;
pub mod state;
pub mod system;
pub mod system_env;
pub mod system_patch;

pub use error::ConfigError;
