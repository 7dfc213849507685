//! What is wrong on a Docker host, derived from its reports: restart loops, non-zero exits,
//! OOM kills, failing health checks, memory pressure, Swarm services short of replicas.
//! `docs/API.md` promises `issues` and `recentExitCodes` on each Docker host (the original
//! never built them); these are them. A restart loop needs history, so a tracker per host
//! remembers restart counts over the last [`RESTART_WINDOW_MS`] and the last exits.

use pulse_wire::agents::docker::{Container, DockerReport};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// More than this many restarts within the window is a restart loop (the original's alert
/// defaults: 3 restarts in 5 minutes).
pub const RESTART_LIMIT: i64 = 3;
pub const RESTART_WINDOW_MS: i64 = 300_000;
/// Memory use of a limited container: warning / critical, percent of its limit.
pub const MEMORY_WARN: f64 = 90.0;
pub const MEMORY_CRIT: f64 = 95.0;
/// How many exits `recentExitCodes` keeps per host.
pub const EXIT_HISTORY: usize = 20;
/// Exit code of a process killed by SIGKILL, which is what the kernel's OOM killer sends.
const SIGKILL_EXIT: i32 = 137;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// `restart-loop`, `exit-code`, `oom-kill`, `health-check`, `memory-pressure`,
    /// `service-replicas`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `warning` or `critical`.
    pub severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    pub container_id: String,
    pub container_name: String,
    pub exit_code: i32,
    pub oom_killed: bool,
    /// Unix ms, when the runtime said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// Unix ms, when Pulse first saw this exit.
    pub observed_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// Container id → (when, restart count) samples within the window.
    restarts: BTreeMap<String, VecDeque<(i64, i64)>>,
    /// Newest first.
    pub exits: VecDeque<ExitRecord>,
}

fn oom_killed(c: &Container) -> bool {
    match c.oom_killed {
        Some(v) => v,
        // The original agents do not report the OOM flag: an exit by SIGKILL is the best sign.
        None => is_stopped(c) && c.exit_code == SIGKILL_EXIT,
    }
}

fn is_stopped(c: &Container) -> bool {
    matches!(c.state.as_str(), "exited" | "dead")
}

fn name_of(c: &Container) -> String {
    c.name.trim_start_matches('/').to_string()
}

impl Tracker {
    /// Takes in one accepted report (before [`derive()`] reads it).
    pub fn observe(&mut self, r: &DockerReport, now_ms: i64) {
        for c in &r.containers {
            let samples = self.restarts.entry(c.id.clone()).or_default();
            samples.push_back((now_ms, c.restart_count));
            while samples
                .front()
                .is_some_and(|(t, _)| now_ms - t > RESTART_WINDOW_MS)
            {
                samples.pop_front();
            }
            let oom = oom_killed(c);
            if is_stopped(c) && (c.exit_code != 0 || oom) {
                let finished_at = c.finished_at.filter(|t| !t.is_zero()).map(|t| t.unix_ms());
                let seen = self
                    .exits
                    .iter()
                    .any(|e| e.container_id == c.id && e.finished_at == finished_at);
                if !seen {
                    self.exits.push_front(ExitRecord {
                        container_id: c.id.clone(),
                        container_name: name_of(c),
                        exit_code: c.exit_code,
                        oom_killed: oom,
                        finished_at,
                        observed_at: now_ms,
                    });
                    self.exits.truncate(EXIT_HISTORY);
                }
            }
        }
        // Containers that are gone take their restart history with them.
        self.restarts
            .retain(|id, _| r.containers.iter().any(|c| &c.id == id));
    }

    /// Restarts seen within the window (count now minus the oldest count in the window).
    fn restarts_in_window(&self, id: &str) -> i64 {
        match self.restarts.get(id) {
            Some(s) => match (s.front(), s.back()) {
                (Some(first), Some(last)) => (last.1 - first.1).max(0),
                _ => 0,
            },
            None => 0,
        }
    }
}

fn container_issue(
    c: &Container,
    kind: &'static str,
    severity: &'static str,
    message: String,
) -> Issue {
    Issue {
        kind,
        severity,
        container_id: Some(c.id.clone()),
        container_name: Some(name_of(c)),
        service_id: None,
        service_name: None,
        message,
    }
}

/// The issues of the latest report.
pub fn derive(r: &DockerReport, t: &Tracker) -> Vec<Issue> {
    let mut out = Vec::new();
    for c in &r.containers {
        let recent = t.restarts_in_window(&c.id);
        if recent > RESTART_LIMIT {
            out.push(container_issue(
                c,
                "restart-loop",
                "critical",
                format!("restarted {recent} times in the last 5 minutes"),
            ));
        } else if c.state == "restarting" {
            out.push(container_issue(
                c,
                "restart-loop",
                "warning",
                format!("restarting (restart count {})", c.restart_count),
            ));
        }
        if oom_killed(c) {
            out.push(container_issue(
                c,
                "oom-kill",
                "critical",
                format!(
                    "killed for running out of memory (exit code {})",
                    c.exit_code
                ),
            ));
        } else if is_stopped(c) && c.exit_code != 0 {
            out.push(container_issue(
                c,
                "exit-code",
                "warning",
                format!("exited with code {}", c.exit_code),
            ));
        }
        if c.health == "unhealthy" {
            out.push(container_issue(
                c,
                "health-check",
                "critical",
                "health check failing".to_string(),
            ));
        }
        if c.memory_limit_bytes > 0 && c.memory_percent >= MEMORY_WARN {
            let severity = if c.memory_percent >= MEMORY_CRIT {
                "critical"
            } else {
                "warning"
            };
            out.push(container_issue(
                c,
                "memory-pressure",
                severity,
                format!("memory at {:.0}% of its limit", c.memory_percent),
            ));
        }
    }
    for s in &r.services {
        if s.desired_tasks > 0 && s.running_tasks < s.desired_tasks {
            let missing = s.desired_tasks - s.running_tasks;
            let severity = if s.running_tasks == 0 || missing * 2 >= s.desired_tasks {
                "critical"
            } else {
                "warning"
            };
            out.push(Issue {
                kind: "service-replicas",
                severity,
                container_id: None,
                container_name: None,
                service_id: Some(s.id.clone()),
                service_name: Some(s.name.clone()),
                message: format!(
                    "{} of {} replicas running",
                    s.running_tasks, s.desired_tasks
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(containers: Vec<Container>) -> DockerReport {
        DockerReport {
            containers,
            ..DockerReport::default()
        }
    }

    fn container(id: &str, state: &str, restarts: i64, exit: i32) -> Container {
        Container {
            id: id.into(),
            name: format!("/{id}"),
            state: state.into(),
            restart_count: restarts,
            exit_code: exit,
            ..Container::default()
        }
    }

    #[test]
    fn restart_loop_needs_more_than_the_limit_within_the_window() {
        let mut t = Tracker::default();
        t.observe(&report(vec![container("a", "running", 1, 0)]), 0);
        t.observe(&report(vec![container("a", "running", 4, 0)]), 60_000);
        assert!(derive(&report(vec![container("a", "running", 4, 0)]), &t).is_empty());
        let r = report(vec![container("a", "running", 5, 0)]);
        t.observe(&r, 120_000);
        let issues = derive(&r, &t);
        assert_eq!(issues[0].kind, "restart-loop");
        assert_eq!(issues[0].severity, "critical");
        // Ten minutes later the old samples have left the window.
        t.observe(&r, 720_000);
        assert!(derive(&r, &t).is_empty());
    }

    #[test]
    fn exits_are_recorded_once_and_oom_wins_over_exit_code() {
        let mut t = Tracker::default();
        let mut oom = container("b", "exited", 0, 137);
        oom.oom_killed = Some(true);
        let r = report(vec![
            oom,
            container("c", "exited", 0, 2),
            container("d", "exited", 0, 0),
        ]);
        t.observe(&r, 1);
        t.observe(&r, 2);
        assert_eq!(t.exits.len(), 2);
        let kinds: Vec<&str> = derive(&r, &t).iter().map(|i| i.kind).collect();
        assert_eq!(kinds, ["oom-kill", "exit-code"]);
    }
}
