//! Docker and host agents as Pulse sees them: the registry of reporting hosts, owned by the
//! event loop (`App::agents`). Reports are validated whole ([`validate`]) and applied here;
//! the loop side (`core::agents`) writes the JSON forms into the live state (`dockerHosts`,
//! `removedDockerHosts`, `hosts`, `connectionHealth`) and runs the offline sweep.
//!
//! Identity: a Docker host is found again by its agent id, else by machine id + hostname,
//! else by hostname; a host agent by its sanitised id (host id, machine id, agent id,
//! hostname). So an agent that reports to several Pulse servers, or delivers the same
//! heartbeat twice, is one host everywhere. `lastSeen` is Pulse's clock (an agent with a
//! wrong clock must not look offline); the agent's timestamp only orders its reports.

pub mod demo;
pub mod docker;
pub mod host;
pub mod host_temperature;
pub mod issues;
pub mod validate;

use serde::Serialize;
use std::collections::BTreeMap;

/// An agent is offline after this many of its own intervals without a report...
pub const OFFLINE_INTERVALS: i64 = 4;
/// ...but never sooner than this, nor later than [`OFFLINE_MAX_MS`] (an interval of 0 means
/// the default 30 s, so 2 minutes).
pub const OFFLINE_MIN_MS: i64 = 30_000;
pub const OFFLINE_MAX_MS: i64 = 600_000;
/// A removed Docker host may not report again for this long (unless re-enrolment is allowed).
pub const REMOVAL_BLOCK_MS: i64 = 24 * 3_600_000;
/// A report older than the last one by more than this is a clock reset, not a duplicate.
pub const CLOCK_RESET_MS: i64 = 3_600_000;

/// The API token a report came with, as the host entry shows it (never the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub last_used_ms: i64,
}

/// A refused report or action: status and message for the `{"error"}` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn invalid(message: String) -> Refusal {
        Refusal {
            status: 400,
            code: "invalid_report",
            message,
        }
    }
    pub fn not_found(message: String) -> Refusal {
        Refusal {
            status: 404,
            code: "not_found",
            message,
        }
    }
}

/// How long `interval_secs` allows between reports before the agent counts as offline.
pub fn offline_after_ms(interval_secs: i64) -> i64 {
    let interval = if interval_secs <= 0 {
        30
    } else {
        interval_secs
    };
    (interval * 1000 * OFFLINE_INTERVALS).clamp(OFFLINE_MIN_MS, OFFLINE_MAX_MS)
}

/// Lower-case, runs of anything but letters and digits become one `-`, at most 48 characters.
pub fn sanitize_id(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(48).collect();
    out.trim_end_matches('-').to_string()
}

/// `v1.2.3` whatever the agent sent (`1.2.3`, `V1.2.3`); empty stays empty.
pub fn normalize_version(v: &str) -> String {
    let v = v.trim().trim_start_matches(['v', 'V']);
    if v.is_empty() {
        String::new()
    } else {
        format!("v{v}")
    }
}

/// What changed in a sweep or an action, for `connectionHealth`.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthChange {
    Set(String, bool),
    Remove(String),
}

#[derive(Debug, Default)]
pub struct Agents {
    pub docker: BTreeMap<String, docker::DockerHost>,
    pub hosts: BTreeMap<String, host::HostAgent>,
    /// Removed Docker host id → (removed at ms, hostname, display name).
    pub removed: BTreeMap<String, Removed>,
    /// Bumped on every change, so the loop knows when to republish.
    revision: u64,
    /// Demo mode: when the demo agents last reported, and how many times.
    pub demo_fed: Option<(i64, i64)>,
    next_command: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    pub id: String,
    pub hostname: String,
    pub display_name: String,
    pub removed_at: i64,
}

impl Agents {
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn touch(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }

    /// Marks agents online/offline by their own interval; returns the health changes.
    pub fn sweep(&mut self, now_ms: i64) -> Vec<HealthChange> {
        let mut changes = Vec::new();
        for h in self.docker.values_mut() {
            let online =
                now_ms - h.last_seen_ms <= offline_after_ms(h.report.agent.interval_seconds);
            if online != h.online {
                h.online = online;
                changes.push(HealthChange::Set(docker::health_key(&h.id), online));
            }
            if h.command.as_ref().is_some_and(|c| c.expire(now_ms)) {
                // The agent never picked its stop command up: forget the request.
                h.command = None;
                h.pending_uninstall = false;
                changes.push(HealthChange::Set(docker::health_key(&h.id), h.online));
            }
        }
        for h in self.hosts.values_mut() {
            let online =
                now_ms - h.last_seen_ms <= offline_after_ms(h.report.agent.interval_seconds);
            if online != h.online {
                h.online = online;
                changes.push(HealthChange::Set(host::health_key(&h.id), online));
            }
        }
        let before = self.removed.len();
        self.removed
            .retain(|_, r| now_ms - r.removed_at < REMOVAL_BLOCK_MS);
        if !changes.is_empty() || before != self.removed.len() {
            self.touch();
        }
        changes
    }

    /// Removes the demo estate's agents (demo mode ended).
    pub fn forget_demo(&mut self) {
        self.demo_fed = None;
        let demo = |agent: &str| agent.starts_with(demo::DEMO_PREFIX);
        self.docker.retain(|_, h| !demo(&h.report.agent.id));
        self.hosts.retain(|_, h| !demo(&h.report.agent.id));
        self.touch();
    }

    /// `dockerHosts` of the state, sorted by display name.
    pub fn docker_json(&self) -> Vec<serde_json::Value> {
        let mut list: Vec<&docker::DockerHost> = self.docker.values().collect();
        list.sort_by(|a, b| (a.display_name(), &a.id).cmp(&(b.display_name(), &b.id)));
        list.into_iter().map(docker::DockerHost::frontend).collect()
    }

    /// `removedDockerHosts`, newest first.
    pub fn removed_json(&self) -> Vec<serde_json::Value> {
        let mut list: Vec<&Removed> = self.removed.values().collect();
        list.sort_by_key(|r| std::cmp::Reverse(r.removed_at));
        list.into_iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect()
    }

    /// `hosts`, sorted by display name.
    pub fn hosts_json(&self) -> Vec<serde_json::Value> {
        let mut list: Vec<&host::HostAgent> = self.hosts.values().collect();
        list.sort_by(|a, b| (a.display_name(), &a.id).cmp(&(b.display_name(), &b.id)));
        list.into_iter().map(host::HostAgent::frontend).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_window_is_a_multiple_of_the_interval_within_bounds() {
        assert_eq!(offline_after_ms(0), 120_000);
        assert_eq!(offline_after_ms(1), 30_000);
        assert_eq!(offline_after_ms(30), 120_000);
        assert_eq!(offline_after_ms(3600), 600_000);
    }

    #[test]
    fn ids_are_sanitised() {
        assert_eq!(sanitize_id("Web-01.Example.COM"), "web-01-example-com");
        assert_eq!(sanitize_id("--a__b--"), "a-b");
        assert_eq!(sanitize_id(&"x".repeat(80)).len(), 48);
        assert_eq!(normalize_version("V1.2"), "v1.2");
        assert_eq!(normalize_version(""), "");
    }
}
