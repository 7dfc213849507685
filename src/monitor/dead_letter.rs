//! Dead-letter queue: instances whose polls keep failing are parked here and retried on a slow
//! cadence, so a host that is gone (or whose token was revoked) costs one request every few
//! minutes instead of one per cycle. A successful retry takes the instance out again.

use super::task_key::TaskKey;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// Transient errors outlasted the retry budget.
    MaxRetryAttempts,
    /// An error retrying cannot fix (authentication, permissions, bad configuration).
    PermanentFailure,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::MaxRetryAttempts => "max_retry_attempts",
            DeadLetterReason::PermanentFailure => "permanent_failure",
        }
    }
}

/// Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterEntry {
    pub reason: DeadLetterReason,
    /// First failure of the current failure streak.
    pub first_attempt_ms: i64,
    pub last_attempt_ms: i64,
    /// Retries made since the task entered the queue.
    pub retry_count: u32,
    pub next_retry_ms: i64,
    pub last_error: String,
    /// Consecutive failures of the task, including those before it was parked.
    pub failures: u32,
}

#[derive(Debug, Default, Clone)]
pub struct DeadLetterQueue {
    entries: BTreeMap<TaskKey, DeadLetterEntry>,
}

/// What the scheduler knows about a failure when it parks a task.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub reason: DeadLetterReason,
    pub first_failure_ms: i64,
    pub now_ms: i64,
    pub failures: u32,
    pub error: &'a str,
    pub retry_after_ms: i64,
}

impl DeadLetterQueue {
    /// Parks `key`, or records another failed retry if it is already parked.
    pub fn park(&mut self, key: &TaskKey, f: Failure<'_>) -> &DeadLetterEntry {
        let next_retry_ms = f.now_ms.saturating_add(f.retry_after_ms);
        let entry = self
            .entries
            .entry(key.clone())
            .and_modify(|e| {
                e.reason = f.reason;
                e.last_attempt_ms = f.now_ms;
                e.retry_count = e.retry_count.saturating_add(1);
                e.next_retry_ms = next_retry_ms;
                e.last_error = f.error.to_string();
                e.failures = f.failures;
            })
            .or_insert_with(|| DeadLetterEntry {
                reason: f.reason,
                first_attempt_ms: f.first_failure_ms,
                last_attempt_ms: f.now_ms,
                retry_count: 0,
                next_retry_ms,
                last_error: f.error.to_string(),
                failures: f.failures,
            });
        entry
    }

    pub fn release(&mut self, key: &TaskKey) -> Option<DeadLetterEntry> {
        self.entries.remove(key)
    }

    pub fn get(&self, key: &TaskKey) -> Option<&DeadLetterEntry> {
        self.entries.get(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries ordered by next retry (soonest first), then key.
    pub fn by_next_retry(&self) -> Vec<(&TaskKey, &DeadLetterEntry)> {
        let mut v: Vec<_> = self.entries.iter().collect();
        v.sort_by(|a, b| {
            a.1.next_retry_ms
                .cmp(&b.1.next_retry_ms)
                .then_with(|| a.0.cmp(b.0))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::task_key::InstanceKind;

    #[test]
    fn park_counts_retries_and_release_removes() {
        let key = TaskKey::new(InstanceKind::Pbs, "backup");
        let mut q = DeadLetterQueue::default();
        let f = |now_ms, failures| Failure {
            reason: DeadLetterReason::MaxRetryAttempts,
            first_failure_ms: 1_000,
            now_ms,
            failures,
            error: "connection refused",
            retry_after_ms: 300_000,
        };
        let e = q.park(&key, f(80_000, 5)).clone();
        assert_eq!(
            (e.retry_count, e.first_attempt_ms, e.next_retry_ms),
            (0, 1_000, 380_000)
        );
        let e = q.park(&key, f(380_000, 6)).clone();
        assert_eq!(
            (e.retry_count, e.failures, e.first_attempt_ms),
            (1, 6, 1_000)
        );
        assert_eq!(q.len(), 1);
        assert!(q.release(&key).is_some());
        assert!(q.is_empty());
    }
}
