//! Pulse's own figures for `/metrics` (`pulse_http_*`, `pulse_poll_*`): counted on the loop
//! as answers leave and polls finish. Bounded: HTTP by status class, polls by configured
//! instance (an instance removed from the configuration is dropped at the next scrape).

use crate::monitor::task_key::TaskKey;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct SelfMetrics {
    /// Answers sent, by status class (index 0 = 1xx … 4 = 5xx).
    pub http_by_class: [u64; 5],
    pub polls: BTreeMap<TaskKey, PollStats>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct PollStats {
    pub ok: u64,
    pub failed: u64,
    /// Sum of poll durations (seconds), with `ok + failed` the summary's count.
    pub seconds_sum: f64,
    pub last_seconds: f64,
}

impl SelfMetrics {
    pub fn http_answer(&mut self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.http_by_class[class] += 1;
    }

    pub fn poll_done(&mut self, key: &TaskKey, seconds: f64, ok: bool) {
        let p = self.polls.entry(key.clone()).or_default();
        if ok {
            p.ok += 1;
        } else {
            p.failed += 1;
        }
        p.seconds_sum += seconds;
        p.last_seconds = seconds;
    }
}

/// Resident memory and thread count of this process (`/proc/self/status`; zeros elsewhere).
/// Read off the loop (the `/metrics` text is built on the task pool).
pub fn process_figures() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}
