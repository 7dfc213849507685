//! Pulse's own figures for `/metrics` (`pulse_http_*`, `pulse_poll_*`): counted on the loop
//! as answers leave and polls finish. Bounded: HTTP by status class, polls by configured
//! instance (an instance removed from the configuration is dropped at the next scrape).

use crate::core::app::App;
use crate::monitor::task_key::TaskKey;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct SelfMetrics {
    /// Answers sent, by status class (index 0 = 1xx … 4 = 5xx).
    pub http_by_class: [u64; 5],
    pub polls: BTreeMap<TaskKey, PollStats>,
    /// Duration of the most recent poll of any instance (seconds).
    pub last_poll_seconds: f64,
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
        self.last_poll_seconds = seconds;
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

impl App {
    /// Writes the state's `performance` and `stats` blocks (Go's raw-snapshot fields, with
    /// real figures): called right before a changed state is serialised, so they are as of
    /// `lastUpdate`. "API calls" count polls (one poll is several Proxmox requests).
    pub fn refresh_state_blocks(&mut self) {
        let (ok, failed, sum) = self
            .self_metrics
            .polls
            .values()
            .fold((0, 0, 0.0), |(o, f, s), p| {
                (o + p.ok, f + p.failed, s + p.seconds_sum)
            });
        let uptime = self.started().elapsed().as_secs();
        let start_ms = crate::util::time::now_ms() - self.started().elapsed().as_millis() as i64;
        let start = crate::util::time::UtcTime::from_unix_ms(start_ms).to_rfc3339();
        let polls = ok + failed;
        let performance = json!({
            "apiCallDuration": if polls > 0 { json!(sum / polls as f64) } else { json!(null) },
            "lastPollDuration": self.self_metrics.last_poll_seconds,
            "pollingStartTime": start,
            "totalApiCalls": polls,
            "failedApiCalls": failed,
            "historyResources": self.history.resources.len(),
            "historySamples": self.history.samples_total,
        });
        let stats = json!({
            "startTime": start,
            "uptime": uptime,
            "pollingCycles": polls,
            "webSocketClients": self.hub.len(),
            "version": self.version().version,
        });
        self.polling
            .core
            .state_mut()
            .set_performance_and_stats(performance, stats);
    }
}
