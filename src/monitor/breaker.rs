//! Per-instance circuit breaker: after repeated failures an instance is left alone for a while
//! instead of being hammered (and instead of tying up a poll worker on every cycle), then probed
//! once before normal polling resumes.
//!
//! closed --(threshold consecutive failures)--> open --(retry interval elapsed)--> half_open
//! half_open --(probe succeeds)--> closed;  half_open --(probe fails)--> open (longer interval)

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The names the scheduler-health JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    pub open_threshold: u32,
    /// Wait after the first trip; doubles with every further failure.
    pub retry_interval_ms: i64,
    pub max_delay_ms: i64,
    /// A half-open breaker lets one probe through per window.
    pub half_open_window_ms: i64,
}

impl BreakerConfig {
    pub const DEFAULT: BreakerConfig = BreakerConfig {
        open_threshold: 3,
        retry_interval_ms: 5_000,
        max_delay_ms: 300_000,
        half_open_window_ms: 30_000,
    };
    pub const FAST: BreakerConfig = BreakerConfig {
        open_threshold: 3,
        retry_interval_ms: 2_000,
        max_delay_ms: 10_000,
        half_open_window_ms: 2_000,
    };
}

/// Times are Unix milliseconds supplied by the caller.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    failure_count: u32,
    opened_at_ms: i64,
    last_attempt_ms: i64,
    retry_interval_ms: i64,
    /// When the breaker entered its current state; `None` until the first transition.
    last_transition_ms: Option<i64>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            failure_count: 0,
            opened_at_ms: 0,
            last_attempt_ms: 0,
            retry_interval_ms: config.retry_interval_ms,
            last_transition_ms: None,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn failure_count(&self) -> u32 {
        self.failure_count
    }

    pub fn last_transition_ms(&self) -> Option<i64> {
        self.last_transition_ms
    }

    /// Whether a poll may start at `now_ms`. Pure: call [`CircuitBreaker::on_attempt`] when it does start.
    pub fn allows(&self, now_ms: i64) -> bool {
        match self.retry_at_ms() {
            None => true,
            Some(at) => now_ms >= at,
        }
    }

    /// When the next attempt will be allowed; `None` while closed.
    pub fn retry_at_ms(&self) -> Option<i64> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => Some(self.opened_at_ms.saturating_add(self.retry_interval_ms)),
            BreakerState::HalfOpen => Some(
                self.last_attempt_ms
                    .saturating_add(self.config.half_open_window_ms),
            ),
        }
    }

    /// A poll starts: an open breaker whose wait has elapsed lets it through as the half-open probe.
    pub fn on_attempt(&mut self, now_ms: i64) {
        if self.state == BreakerState::Open && self.allows(now_ms) {
            self.transition(BreakerState::HalfOpen, now_ms);
        }
        self.last_attempt_ms = now_ms;
    }

    pub fn record_success(&mut self, now_ms: i64) {
        self.failure_count = 0;
        self.retry_interval_ms = self.config.retry_interval_ms;
        if self.state != BreakerState::Closed {
            self.transition(BreakerState::Closed, now_ms);
        }
    }

    pub fn record_failure(&mut self, now_ms: i64) {
        self.failure_count = self.failure_count.saturating_add(1);
        let trip = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.failure_count >= self.config.open_threshold,
            BreakerState::Open => false,
        };
        if trip {
            // 5 s, 10 s, 20 s … for each failure beyond the threshold, capped.
            let extra = self
                .failure_count
                .saturating_sub(self.config.open_threshold)
                .min(30);
            self.retry_interval_ms = self
                .config
                .retry_interval_ms
                .saturating_mul(1i64 << extra)
                .min(self.config.max_delay_ms);
            self.opened_at_ms = now_ms;
            self.transition(BreakerState::Open, now_ms);
        }
    }

    fn transition(&mut self, to: BreakerState, now_ms: i64) {
        self.state = to;
        self.last_transition_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_then_probes_then_closes() {
        let mut b = CircuitBreaker::new(BreakerConfig::DEFAULT);
        b.record_failure(1_000);
        b.record_failure(2_000);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allows(2_000));
        b.record_failure(3_000);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.retry_at_ms(), Some(8_000));
        assert!(!b.allows(7_999));
        assert!(b.allows(8_000));
        b.on_attempt(8_000);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(
            b.retry_at_ms(),
            Some(38_000),
            "one probe per half-open window"
        );
        b.record_success(9_000);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.failure_count(), 0);
        assert_eq!(b.retry_at_ms(), None);
        assert_eq!(b.last_transition_ms(), Some(9_000));
    }

    #[test]
    fn failed_probe_reopens_with_a_longer_wait_capped() {
        let mut b = CircuitBreaker::new(BreakerConfig::DEFAULT);
        for t in 0..3 {
            b.record_failure(t);
        }
        let mut now = 10_000;
        let mut waits = Vec::new();
        for _ in 0..10 {
            let at = b.retry_at_ms().unwrap_or(0);
            waits.push(at - b.opened_at_ms);
            now = now.max(at);
            b.on_attempt(now);
            assert_eq!(b.state(), BreakerState::HalfOpen);
            b.record_failure(now);
            assert_eq!(b.state(), BreakerState::Open);
        }
        assert_eq!(&waits[..4], &[5_000, 10_000, 20_000, 40_000]);
        assert_eq!(*waits.last().unwrap_or(&0), 300_000);
    }
}
