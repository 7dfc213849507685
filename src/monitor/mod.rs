//! Monitoring core: when to poll each configured instance (scheduler with backoff, circuit
//! breaker, dead-letter queue and staleness), and the health view of that machinery.
//!
//! Everything here is plain data owned by the event-loop thread; times are Unix milliseconds
//! passed in by the caller, so tests move the clock by hand.

pub mod backoff;
pub mod breaker;
pub mod dead_letter;
pub mod demo;
pub mod derive_ceph;
pub mod derive_guest;
pub mod derive_pve;
pub mod guest_agent;
pub mod health;
pub mod jobs;
pub mod lxc_network;
pub mod poll_pbs;
pub mod poll_pmg;
pub mod poll_pve;
pub mod poll_pve_backups;
pub mod rates;
pub mod runtime;
pub mod scheduler;
pub mod staleness;
pub mod task_key;

pub use health::SchedulerHealth;
pub use jobs::{PollJob, PollOutcome};
pub use runtime::MonitorCore;
pub use scheduler::{ErrorClass, PollError, PollTicket, Scheduler, SchedulerConfig};
pub use task_key::{InstanceKind, TaskKey};
