//! Blocking API clients for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway.
//!
//! Every network call here blocks and is meant to run on a poll worker thread. The decoded
//! types (`pve_types`, `pbs_types`, `pmg_types`) are plain data the monitor derives state from.

pub mod error;
pub mod flex;
pub mod pbs_types;
pub mod pmg_types;
pub mod pve_types;

pub use error::ProxmoxError;
