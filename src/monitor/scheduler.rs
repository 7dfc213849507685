//! The poll scheduler: decides which instance is polled when. It owns no threads and does no
//! I/O; the event loop asks [`Scheduler::due`], hands each due task to a worker, reports the
//! start and the outcome, and sleeps until [`Scheduler::next_deadline`].
//!
//! Guarantees: at most one poll in flight per instance (a slow instance only delays itself);
//! every failure is recorded (backoff, circuit breaker, dead-letter queue, staleness), unlike
//! the Go original whose deferred bookkeeping never saw the error.

use super::backoff::{BackoffPolicy, JitterRng};
use super::breaker::{BreakerConfig, CircuitBreaker};
use super::dead_letter::{DeadLetterQueue, DeadLetterReason, Failure};
use super::staleness::StalenessTracker;
use super::task_key::{InstanceKind, TaskKey};
use std::collections::BTreeMap;

pub use crate::state::instance::{ErrorClass, PollError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    pub pve_interval_ms: i64,
    pub pbs_interval_ms: i64,
    pub pmg_interval_ms: i64,
    pub backoff: BackoffPolicy,
    pub breaker: BreakerConfig,
    /// Consecutive transient failures before a task is parked in the dead-letter queue.
    pub max_retry_attempts: u32,
    /// Retry cadence of a task parked after transient failures.
    pub dead_letter_retry_ms: i64,
    /// Retry cadence of a task parked after a permanent failure.
    pub permanent_retry_ms: i64,
    /// Age of the last success at which staleness reaches 1.
    pub max_stale_ms: i64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            pve_interval_ms: 10_000,
            pbs_interval_ms: 60_000,
            pmg_interval_ms: 60_000,
            backoff: BackoffPolicy::DEFAULT,
            breaker: BreakerConfig::DEFAULT,
            max_retry_attempts: 5,
            // As long as the longest backoff: a rebooting host is back in view within minutes.
            dead_letter_retry_ms: 300_000,
            permanent_retry_ms: 1_800_000,
            max_stale_ms: 300_000,
        }
    }
}

impl SchedulerConfig {
    pub fn interval_ms(&self, kind: InstanceKind) -> i64 {
        match kind {
            InstanceKind::Pve => self.pve_interval_ms,
            InstanceKind::Pbs => self.pbs_interval_ms,
            InstanceKind::Pmg => self.pmg_interval_ms,
        }
        .max(1_000)
    }
}

/// Proof that a poll was started; hand it back to [`Scheduler::finished`]. A ticket of a task
/// that was removed (or removed and re-added) meanwhile is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTicket {
    pub key: TaskKey,
    run: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub at_ms: i64,
    pub message: String,
    pub class: ErrorClass,
}

#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) display_name: String,
    pub(super) connection: String,
    pub(super) next_run_ms: i64,
    in_flight: Option<(u64, i64)>,
    pub(super) last_success_ms: Option<i64>,
    pub(super) last_error: Option<LastError>,
    pub(super) consecutive_failures: u32,
    pub(super) first_failure_ms: Option<i64>,
    pub(super) breaker: CircuitBreaker,
}

impl Task {
    /// The earliest time this task may run (its schedule and its breaker both agree).
    fn ready_at_ms(&self) -> i64 {
        self.breaker
            .retry_at_ms()
            .map_or(self.next_run_ms, |at| at.max(self.next_run_ms))
    }
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    pub(super) config: SchedulerConfig,
    pub(super) tasks: BTreeMap<TaskKey, Task>,
    pub(super) dead_letter: DeadLetterQueue,
    pub(super) staleness: StalenessTracker,
    rng: JitterRng,
    next_run_id: u64,
}

impl Scheduler {
    /// `seed` only drives backoff jitter; use the clock in production, a constant in tests.
    pub fn new(config: SchedulerConfig, seed: u64) -> Scheduler {
        Scheduler {
            config,
            tasks: BTreeMap::new(),
            dead_letter: DeadLetterQueue::default(),
            staleness: StalenessTracker::new(config.max_stale_ms),
            rng: JitterRng::from_seed(seed),
            next_run_id: 1,
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Adds an instance (due immediately) or updates the connection shown for an existing one.
    /// `connection` is the configured host URL, shown in scheduler health.
    pub fn add_instance(
        &mut self,
        kind: InstanceKind,
        name: &str,
        connection: &str,
        now_ms: i64,
    ) -> TaskKey {
        let key = TaskKey::new(kind, name);
        let breaker = self.config.breaker;
        let task = self.tasks.entry(key.clone()).or_insert_with(|| Task {
            display_name: name.to_string(),
            connection: String::new(),
            next_run_ms: now_ms,
            in_flight: None,
            last_success_ms: None,
            last_error: None,
            consecutive_failures: 0,
            first_failure_ms: None,
            breaker: CircuitBreaker::new(breaker),
        });
        task.connection = connection.to_string();
        key
    }

    /// Forgets an instance and all its history. An in-flight poll's result will be ignored.
    pub fn remove_instance(&mut self, key: &TaskKey) -> bool {
        self.dead_letter.release(key);
        self.staleness.remove(key);
        self.tasks.remove(key).is_some()
    }

    /// Clears backoff, breaker and dead-letter state and makes the task due now: for
    /// "the user just fixed the credentials" and "test connection succeeded".
    pub fn retry_now(&mut self, key: &TaskKey, now_ms: i64) -> bool {
        let breaker = self.config.breaker;
        let Some(task) = self.tasks.get_mut(key) else {
            return false;
        };
        task.breaker = CircuitBreaker::new(breaker);
        task.consecutive_failures = 0;
        task.first_failure_ms = None;
        task.next_run_ms = now_ms;
        self.dead_letter.release(key);
        true
    }

    /// Changes the interval of one instance type (e.g. `pmgPollingInterval` edited in settings).
    pub fn set_interval_ms(&mut self, kind: InstanceKind, interval_ms: i64) {
        match kind {
            InstanceKind::Pve => self.config.pve_interval_ms = interval_ms,
            InstanceKind::Pbs => self.config.pbs_interval_ms = interval_ms,
            InstanceKind::Pmg => self.config.pmg_interval_ms = interval_ms,
        }
    }

    pub fn contains(&self, key: &TaskKey) -> bool {
        self.tasks.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &TaskKey> {
        self.tasks.keys()
    }

    pub fn is_in_flight(&self, key: &TaskKey) -> bool {
        self.tasks.get(key).is_some_and(|t| t.in_flight.is_some())
    }

    pub fn in_flight_count(&self) -> usize {
        self.tasks
            .values()
            .filter(|t| t.in_flight.is_some())
            .count()
    }

    /// Tasks that may start now, longest-waiting first. Does not change anything: a task the
    /// caller cannot start yet (worker pool full) is simply returned again next time.
    pub fn due(&self, now_ms: i64) -> Vec<TaskKey> {
        let mut due: Vec<(&TaskKey, i64)> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.in_flight.is_none())
            .map(|(k, t)| (k, t.ready_at_ms()))
            .filter(|(_, at)| *at <= now_ms)
            .collect();
        due.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        due.into_iter().map(|(k, _)| k.clone()).collect()
    }

    /// Marks a poll of `key` as started. `None` if the instance is unknown or already being polled.
    pub fn started(&mut self, key: &TaskKey, now_ms: i64) -> Option<PollTicket> {
        let task = self.tasks.get_mut(key)?;
        if task.in_flight.is_some() {
            return None;
        }
        let run = self.next_run_id;
        self.next_run_id += 1;
        task.in_flight = Some((run, now_ms));
        task.breaker.on_attempt(now_ms);
        Some(PollTicket {
            key: key.clone(),
            run,
        })
    }

    /// When the running poll of `key` started (Unix ms), if one is running.
    pub fn in_flight_since(&self, key: &TaskKey) -> Option<i64> {
        self.tasks.get(key)?.in_flight.map(|(_, at)| at)
    }

    /// Records the outcome of a poll and schedules the next one.
    pub fn finished(&mut self, ticket: &PollTicket, result: Result<(), PollError>, now_ms: i64) {
        let Some(task) = self.tasks.get_mut(&ticket.key) else {
            return;
        };
        let started_ms = match task.in_flight {
            Some((run, started)) if run == ticket.run => started,
            _ => return,
        };
        task.in_flight = None;
        let key = &ticket.key;
        match result {
            Ok(()) => {
                task.last_success_ms = Some(now_ms);
                task.consecutive_failures = 0;
                task.first_failure_ms = None;
                task.breaker.record_success(now_ms);
                // Keep the cadence of the start times; a poll longer than the interval runs again at once.
                task.next_run_ms = started_ms
                    .saturating_add(self.config.interval_ms(key.kind))
                    .max(now_ms);
                self.dead_letter.release(key);
                self.staleness.record_success(key, now_ms);
            }
            Err(err) => {
                task.consecutive_failures = task.consecutive_failures.saturating_add(1);
                let first_failure_ms = *task.first_failure_ms.get_or_insert(now_ms);
                task.breaker.record_failure(now_ms);
                self.staleness.record_error(key, now_ms);
                let park = match err.class {
                    ErrorClass::Permanent => Some((
                        DeadLetterReason::PermanentFailure,
                        self.config.permanent_retry_ms,
                    )),
                    ErrorClass::Transient
                        if task.consecutive_failures >= self.config.max_retry_attempts =>
                    {
                        Some((
                            DeadLetterReason::MaxRetryAttempts,
                            self.config.dead_letter_retry_ms,
                        ))
                    }
                    ErrorClass::Transient => None,
                };
                task.next_run_ms = match park {
                    Some((reason, retry_after_ms)) => {
                        let failure = Failure {
                            reason,
                            first_failure_ms,
                            now_ms,
                            failures: task.consecutive_failures,
                            error: &err.message,
                            retry_after_ms,
                        };
                        self.dead_letter.park(key, failure).next_retry_ms
                    }
                    None => {
                        let attempt = task.consecutive_failures - 1;
                        now_ms.saturating_add(self.config.backoff.delay_ms(attempt, &mut self.rng))
                    }
                };
                task.last_error = Some(LastError {
                    at_ms: now_ms,
                    message: err.message,
                    class: err.class,
                });
            }
        }
    }

    /// When the earliest idle task becomes due (Unix ms); `None` when nothing is waiting.
    /// May be in the past: then [`Scheduler::due`] has work.
    pub fn next_deadline(&self) -> Option<i64> {
        self.tasks
            .values()
            .filter(|t| t.in_flight.is_none())
            .map(Task::ready_at_ms)
            .min()
    }

    /// Consecutive failures of an instance (0 when healthy or unknown).
    pub fn consecutive_failures(&self, key: &TaskKey) -> u32 {
        self.tasks.get(key).map_or(0, |t| t.consecutive_failures)
    }

    pub fn last_error(&self, key: &TaskKey) -> Option<&LastError> {
        self.tasks.get(key).and_then(|t| t.last_error.as_ref())
    }

    pub fn is_dead_lettered(&self, key: &TaskKey) -> bool {
        self.dead_letter.get(key).is_some()
    }

    pub fn staleness_score(&self, key: &TaskKey, now_ms: i64) -> f64 {
        self.staleness.score(key, now_ms)
    }
}
