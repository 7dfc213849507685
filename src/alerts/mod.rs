//! Alerts: thresholds with hysteresis evaluated against the live state, and what an admin
//! controls about them (overrides, grace periods, quiet hours, cooldown, acknowledgement).
//!
//! - `config.rs`: the `alerts.json` / `GET|PUT /api/alerts/config` document, its defaults and
//!   validation; `threshold.rs`: trigger/clear pairs and per-type sets of them.
//! - `effective.rs`: the thresholds in force for one resource (defaults, overrides, tags).
//! - `engine.rs`: the state machine (pending → firing → resolved) turning observations into
//!   events; `schedule.rs`: whether an event notifies now; `tz.rs`: time zones for quiet hours.
//! - `alert.rs`: the alert JSON and the observation the engine reads; `observe.rs` builds the
//!   observations from the live state, `conditions.rs` judges the checks that are not
//!   trigger/clear pairs (disk health and wearout, PMG queues and quarantine); `checks_zfs.rs`
//!   the ZFS pool behind a storage (state, errors, devices); `host_disks.rs` makes each
//!   filesystem a host agent reports its own resource.

pub mod alert;
pub mod checks_zfs;
pub mod conditions;
pub mod config;
pub mod effective;
pub mod engine;
pub mod history;
pub mod host_disks;
pub mod observe;
pub mod schedule;
pub mod service;
pub mod threshold;
pub mod tz;
