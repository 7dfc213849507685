//! Blocking API clients for Proxmox VE, Proxmox Backup Server and Proxmox Mail Gateway.
//!
//! Every network call here blocks and is meant to run on a poll worker thread. The decoded
//! types (`pve_types`, `pbs_types`, `pmg_types`) are plain data the monitor derives state from.

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod error;
pub mod flex;
pub mod pbs;
pub mod pbs_types;
pub mod pmg;
pub mod pmg_types;
pub mod pve;
pub mod pve_guest_types;
pub mod pve_storage_types;
pub mod pve_types;
pub mod tls;
pub mod transport;

pub use cluster::EndpointHealth;
pub use config::{ClientConfig, Product};
pub use error::ProxmoxError;
pub use pbs::PbsClient;
pub use pmg::PmgClient;
pub use pve::PveClient;
