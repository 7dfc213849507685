//! `GET /api/monitoring/scheduler/health`: a read-only view of the scheduler, in the JSON shape
//! of Pulse's `SchedulerHealthResponse` (times as RFC 3339 strings, omitted keys as documented).

use super::breaker::BreakerState;
use super::scheduler::Scheduler;
use super::task_key::TaskKey;
use crate::util::time::UtcTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Tasks due within this window count as "due soon".
const DUE_SOON_MS: i64 = 12_000;
/// Dead-letter tasks listed in full.
const DEAD_LETTER_LIST_LIMIT: usize = 25;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerHealth {
    pub updated_at: UtcTime,
    /// Adaptive polling; this scheduler polls at fixed intervals, so always false.
    pub enabled: bool,
    pub queue: QueueHealth,
    pub dead_letter: DeadLetterHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakers: Option<Vec<BreakerSnapshot>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staleness: Option<Vec<StalenessSnapshot>>,
    pub instances: Vec<InstanceHealth>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueueHealth {
    /// Tasks waiting (not being polled right now).
    pub depth: usize,
    /// Waiting tasks due within the next 12 s.
    pub due_within_seconds: usize,
    pub per_type: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterHealth {
    pub count: usize,
    pub tasks: Vec<DeadLetterTask>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterTask {
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub next_run: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub failures: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BreakerSnapshot {
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub failures: u32,
    /// Zero time while closed.
    pub retry_at: UtcTime,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StalenessSnapshot {
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub score: f64,
    pub last_success: UtcTime,
    pub last_error: UtcTime,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceHealth {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
    pub instance: String,
    pub connection: String,
    pub poll_status: PollStatus,
    pub breaker: InstanceBreaker,
    pub dead_letter: InstanceDeadLetter,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PollStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<PollErrorInfo>,
    pub consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure_at: Option<UtcTime>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PollErrorInfo {
    pub at: UtcTime,
    pub message: String,
    /// `"transient"` or `"permanent"`.
    pub category: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceBreaker {
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<UtcTime>,
    pub failure_count: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDeadLetter {
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_attempt: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<UtcTime>,
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<UtcTime>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn time(ms: i64) -> UtcTime {
    UtcTime::from_unix_ms(ms)
}

fn kind_and_name(key: &TaskKey) -> (String, String) {
    (key.kind.as_str().to_string(), key.name.clone())
}

impl Scheduler {
    /// The scheduler-health document at `now_ms`.
    pub fn health(&self, now_ms: i64) -> SchedulerHealth {
        let mut per_type = BTreeMap::new();
        let (mut depth, mut due_soon) = (0, 0);
        for (key, task) in &self.tasks {
            if self.is_in_flight(key) {
                continue;
            }
            depth += 1;
            *per_type.entry(key.kind.as_str().to_string()).or_insert(0) += 1;
            if task.next_run_ms <= now_ms + DUE_SOON_MS {
                due_soon += 1;
            }
        }

        let dead_tasks = self
            .dead_letter
            .by_next_retry()
            .into_iter()
            .take(DEAD_LETTER_LIST_LIMIT)
            .map(|(key, e)| {
                let (kind, instance) = kind_and_name(key);
                DeadLetterTask {
                    instance,
                    kind,
                    next_run: time(e.next_retry_ms),
                    last_error: Some(e.last_error.clone()).filter(|m| !m.is_empty()),
                    failures: e.failures,
                }
            })
            .collect();

        let breakers: Vec<BreakerSnapshot> = self
            .tasks
            .iter()
            .filter(|(_, t)| {
                !(t.breaker.state() == BreakerState::Closed && t.breaker.failure_count() == 0)
            })
            .map(|(key, t)| {
                let (kind, instance) = kind_and_name(key);
                BreakerSnapshot {
                    instance,
                    kind,
                    state: t.breaker.state().as_str().to_string(),
                    failures: t.breaker.failure_count(),
                    retry_at: t.breaker.retry_at_ms().map_or(UtcTime::ZERO, time),
                }
            })
            .collect();

        let staleness: Vec<StalenessSnapshot> = self
            .staleness
            .iter()
            .map(|(key, e)| {
                let (kind, instance) = kind_and_name(key);
                StalenessSnapshot {
                    instance,
                    kind,
                    score: self.staleness.score(key, now_ms),
                    last_success: e.last_success_ms.map_or(UtcTime::ZERO, time),
                    last_error: e.last_error_ms.map_or(UtcTime::ZERO, time),
                }
            })
            .collect();

        let instances = self
            .tasks
            .iter()
            .map(|(key, t)| {
                let (kind, instance) = kind_and_name(key);
                let dl = self.dead_letter.get(key);
                InstanceHealth {
                    key: key.to_string(),
                    kind,
                    display_name: t.display_name.clone(),
                    instance,
                    connection: t.connection.clone(),
                    poll_status: PollStatus {
                        last_success: t.last_success_ms.map(time),
                        last_error: t.last_error.as_ref().map(|e| PollErrorInfo {
                            at: time(e.at_ms),
                            message: e.message.clone(),
                            category: e.class.as_str().to_string(),
                        }),
                        consecutive_failures: t.consecutive_failures,
                        first_failure_at: t.first_failure_ms.map(time),
                    },
                    breaker: InstanceBreaker {
                        state: t.breaker.state().as_str().to_string(),
                        since: t.breaker.last_transition_ms().map(time),
                        last_transition: t.breaker.last_transition_ms().map(time),
                        retry_at: t.breaker.retry_at_ms().map(time),
                        failure_count: t.breaker.failure_count(),
                    },
                    dead_letter: InstanceDeadLetter {
                        present: dl.is_some(),
                        reason: dl.map(|e| e.reason.as_str().to_string()),
                        first_attempt: dl.map(|e| time(e.first_attempt_ms)),
                        last_attempt: dl.map(|e| time(e.last_attempt_ms)),
                        retry_count: dl.map_or(0, |e| e.retry_count),
                        next_retry: dl.map(|e| time(e.next_retry_ms)),
                    },
                }
            })
            .collect();

        SchedulerHealth {
            updated_at: time(now_ms),
            enabled: false,
            queue: QueueHealth {
                depth,
                due_within_seconds: due_soon,
                per_type,
            },
            dead_letter: DeadLetterHealth {
                count: self.dead_letter.len(),
                tasks: dead_tasks,
            },
            breakers: Some(breakers).filter(|b| !b.is_empty()),
            staleness: Some(staleness).filter(|s| !s.is_empty()),
            instances,
        }
    }
}
