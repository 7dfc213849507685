//! Bytes-per-second rates from cumulative I/O counters. Counters reset when a guest restarts
//! or migrates; a decrease therefore means "new baseline", never a negative rate.

use std::collections::HashMap;

/// Cumulative counters as Proxmox reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    pub disk_read: u64,
    pub disk_write: u64,
    pub net_in: u64,
    pub net_out: u64,
}

/// Rates in bytes per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoRates {
    pub disk_read: i64,
    pub disk_write: i64,
    pub net_in: i64,
    pub net_out: i64,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    counters: IoCounters,
    at_ms: i64,
    rates: IoRates,
}

/// One per PVE instance, keyed by guest id; lives across polls.
#[derive(Debug, Clone, Default)]
pub struct RateTracker {
    samples: HashMap<String, Sample>,
}

fn rate(cur: u64, prev: u64, secs: f64) -> i64 {
    if cur < prev || secs <= 0.0 {
        return 0;
    }
    ((cur - prev) as f64 / secs) as i64
}

impl RateTracker {
    /// Rates since the previous sample of `id`. First sample: zeros. Counters unchanged since
    /// the last sample (Proxmox refreshes them every few seconds, we may poll faster): the last
    /// computed rates, so a busy guest does not flicker to 0.
    pub fn update(&mut self, id: &str, counters: IoCounters, now_ms: i64) -> IoRates {
        let Some(prev) = self.samples.get_mut(id) else {
            self.samples.insert(
                id.to_string(),
                Sample {
                    counters,
                    at_ms: now_ms,
                    rates: IoRates::default(),
                },
            );
            return IoRates::default();
        };
        if prev.counters == counters {
            return prev.rates;
        }
        let secs = (now_ms - prev.at_ms) as f64 / 1000.0;
        let p = prev.counters;
        let rates = IoRates {
            disk_read: rate(counters.disk_read, p.disk_read, secs),
            disk_write: rate(counters.disk_write, p.disk_write, secs),
            net_in: rate(counters.net_in, p.net_in, secs),
            net_out: rate(counters.net_out, p.net_out, secs),
        };
        *prev = Sample {
            counters,
            at_ms: now_ms,
            rates,
        };
        rates
    }

    /// The rates the last [`RateTracker::update`] of `id` computed (zeros if none).
    pub fn peek(&self, id: &str) -> IoRates {
        self.samples.get(id).map(|s| s.rates).unwrap_or_default()
    }

    /// Forgets guests that no longer exist.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.samples.retain(|id, _| keep(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u64) -> IoCounters {
        IoCounters {
            disk_read: n,
            disk_write: n * 2,
            net_in: n * 3,
            net_out: n * 4,
        }
    }

    #[test]
    fn rates_from_deltas_never_negative() {
        let mut t = RateTracker::default();
        assert_eq!(t.update("vm", c(1_000), 0), IoRates::default());
        let r = t.update("vm", c(11_000), 10_000);
        assert_eq!(
            r,
            IoRates {
                disk_read: 1_000,
                disk_write: 2_000,
                net_in: 3_000,
                net_out: 4_000
            }
        );
        assert_eq!(
            t.update("vm", c(11_000), 12_000),
            r,
            "unchanged counters repeat the last rate"
        );
        let reset = t.update("vm", c(10), 20_000);
        assert_eq!(reset, IoRates::default(), "counter reset after a restart");
        assert_eq!(t.update("vm", c(510), 30_000).disk_read, 50);
        t.retain(|id| id != "vm");
        assert_eq!(t.update("vm", c(9_999), 40_000), IoRates::default());
    }
}
