//! Monitoring core: polling Proxmox VE / PBS / PMG and turning the answers into live state.
//!
//! - [`MonitorCore`] (`runtime.rs`) is what the event loop owns: configured instances with
//!   their clients, the [`Scheduler`] (intervals, backoff, circuit breaker, dead-letter queue,
//!   staleness) and the [`crate::state::LiveState`]. `start_due` hands out [`PollJob`]s,
//!   a worker runs them (`job.run(now_ms)`, blocking I/O), `finish` applies the outcome.
//! - `poll_pve` / `poll_pbs` / `poll_pmg` / `poll_pve_backups` perform one poll (worker side).
//! - `derive_*`, `lxc_network`, `guest_agent`, `rates` are the pure derivations behind the
//!   numbers ("memory used = total − available", disk −1 when unknown, rates never negative).
//! - `health` renders `GET /api/monitoring/scheduler/health`; `demo` runs the simulator
//!   in-process for demo mode.
//!
//! Nothing here holds a lock or global state; times are Unix milliseconds passed in by the
//! caller, so tests move the clock by hand.

pub mod backoff;
pub mod breaker;
pub mod cancel;
pub mod dead_letter;
pub mod demo;
pub mod derive_ceph;
pub mod derive_guest;
pub mod derive_pve;
pub mod derive_replication;
pub mod details;
pub mod guest_agent;
pub mod health;
pub mod jobs;
pub mod lanes;
pub mod lxc_network;
pub mod node_status;
pub mod pbs_jobs;
pub mod poll_pbs;
pub mod poll_pmg;
pub mod poll_pve;
pub mod poll_pve_backups;
pub mod poll_pve_details;
pub mod poll_pve_replication;
pub mod poll_pve_zfs;
pub mod pve_api_client;
pub mod pve_context;
pub mod rates;
pub mod runtime;
pub mod scheduler;
pub mod slow_nodes;
pub mod staleness;
pub mod task_key;

pub use health::SchedulerHealth;
pub use jobs::{PollJob, PollOutcome};
pub use runtime::MonitorCore;
pub use scheduler::{ErrorClass, PollError, PollTicket, Scheduler, SchedulerConfig};
pub use task_key::{InstanceKind, TaskKey};
