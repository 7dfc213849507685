//! Metric history: per-resource series at fixed resolutions (`ring.rs`), fed from the live
//! state after each applied poll (only the polled instance's resources: O(changed)), saved to
//! the data dir through the writer thread (`store.rs`) and reloaded at start-up.
//!
//! Owned by the event loop like the rest of the state; no locks.

pub mod forecast;
pub mod record;
pub mod ring;
pub mod store;

use crate::util::fast_hash::FastMap;
use ring::{Codec, Series};

/// What a resource is; fixes its metric list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PVE guests, and Docker containers (their disk and rate metrics stay empty).
    Guest,
    /// PVE nodes, Docker hosts and host-agent hosts.
    Node,
    /// PVE storage, PBS datastores and Ceph pools.
    Storage,
    /// PMG instances: mail queue and traffic.
    Mail,
}

pub const GUEST_METRICS: [&str; 7] = [
    "cpu",
    "memory",
    "disk",
    "diskread",
    "diskwrite",
    "netin",
    "netout",
];
pub const NODE_METRICS: [&str; 3] = ["cpu", "memory", "disk"];
pub const STORAGE_METRICS: [&str; 4] = ["usage", "used", "total", "avail"];
/// Messages queued (all queues), of which deferred; mails in and out and spam in over the
/// instance's statistics timeframe.
pub const MAIL_METRICS: [&str; 5] = ["queue", "deferred", "mailin", "mailout", "spamin"];

impl Kind {
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            Kind::Guest => &GUEST_METRICS,
            Kind::Node => &NODE_METRICS,
            Kind::Storage => &STORAGE_METRICS,
            Kind::Mail => &MAIL_METRICS,
        }
    }

    fn codec(self, metric: usize) -> Codec {
        match (self, metric) {
            (Kind::Guest, 0..=2) | (Kind::Node, _) | (Kind::Storage, 0) => Codec::Percent,
            _ => Codec::Log,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Kind::Guest => 0,
            Kind::Node => 1,
            Kind::Storage => 2,
            Kind::Mail => 3,
        }
    }

    pub fn from_code(c: u8) -> Option<Kind> {
        match c {
            0 => Some(Kind::Guest),
            1 => Some(Kind::Node),
            2 => Some(Kind::Storage),
            3 => Some(Kind::Mail),
            _ => None,
        }
    }
}

/// The series of one resource (one per metric of its kind, in `Kind::metrics` order).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: Kind,
    pub series: Vec<Series>,
    /// Unix s of the last sample; resources silent for longer than the retention expire.
    pub last_s: i64,
}

impl Resource {
    pub fn new(kind: Kind) -> Resource {
        Resource {
            kind,
            series: (0..kind.metrics().len())
                .map(|m| Series::new(kind.codec(m)))
                .collect(),
            last_s: 0,
        }
    }

    /// One sample of every metric (`values` in `Kind::metrics` order).
    pub fn record(&mut self, unix_s: i64, values: &[f64]) {
        for (s, v) in self.series.iter_mut().zip(values) {
            s.record(unix_s, *v);
        }
        self.last_s = self.last_s.max(unix_s);
    }
}

/// Every resource's history.
#[derive(Debug, Default)]
pub struct History {
    pub resources: FastMap<Box<str>, Resource>,
    /// Changed since the last save.
    pub dirty: bool,
    /// Unix s of the last save handed to the writer.
    pub last_save_s: i64,
    /// Samples recorded since start (a self-metric).
    pub samples_total: u64,
    /// A save being encoded a slice per tick (see `store::Partial`).
    pub saving: Option<store::Partial>,
    /// `metricsRetentionDays` in seconds (0: the default, [`RETENTION_S`]).
    pub retention_s: i64,
    /// The latest trends by resource id (`forecast.rs`, refreshed by `core::history`).
    pub forecasts: FastMap<Box<str>, forecast::Forecast>,
    /// Unix s of the last forecast refresh.
    pub last_forecast_s: i64,
    /// A refresh had resources to fit (from then on every `FORECAST_EVERY_S`).
    pub forecasts_primed: bool,
    /// Saves handed to the writer and their bytes (self-metrics).
    pub saves_total: u64,
    pub saved_bytes: u64,
    /// What loading the saved file found wrong (a damaged file), shown in `/api/diagnostics`.
    pub load_warning: Option<String>,
}

/// Resources silent for longer than this are dropped (the longest tier's span): the default
/// and the most `metricsRetentionDays` can ask for.
pub const RETENTION_S: i64 = 7 * 86_400;
pub const MAX_RETENTION_DAYS: i64 = RETENTION_S / 86_400;

impl History {
    pub fn new() -> History {
        History::default()
    }

    pub fn record(&mut self, id: &str, kind: Kind, unix_s: i64, values: &[f64]) {
        let r = match self.resources.get_mut(id) {
            Some(r) if r.kind == kind => r,
            _ => self
                .resources
                .entry(id.into())
                .and_modify(|r| *r = Resource::new(kind))
                .or_insert_with(|| Resource::new(kind)),
        };
        r.record(unix_s, values);
        self.dirty = true;
        self.samples_total += 1;
    }

    /// The retention in force (seconds).
    pub fn retention(&self) -> i64 {
        if self.retention_s > 0 {
            self.retention_s.min(RETENTION_S)
        } else {
            RETENTION_S
        }
    }

    /// Sets `metricsRetentionDays` (0 or out of range: the default).
    pub fn set_retention_days(&mut self, days: i64) {
        self.retention_s = if (1..=MAX_RETENTION_DAYS).contains(&days) {
            days * 86_400
        } else {
            0
        };
    }

    /// Drops resources silent for longer than the retention (deleted guests, removed nodes)
    /// and, when the retention is shorter than the rings, the slots older than it.
    pub fn expire(&mut self, now_s: i64) -> usize {
        let keep = self.retention();
        let before = self.resources.len();
        self.resources.retain(|_, r| now_s - r.last_s <= keep);
        self.forecasts
            .retain(|id, _| self.resources.contains_key(id));
        if keep < RETENTION_S {
            for r in self.resources.values_mut() {
                for s in r.series.iter_mut() {
                    s.forget_before(now_s - keep);
                }
            }
        }
        let gone = before - self.resources.len();
        if gone > 0 {
            self.dirty = true;
        }
        gone
    }

    /// The points a forecast is based on: the 7-day tier (2 h buckets) when it spans a day
    /// or more, else the 24-hour tier (15 min buckets). `(unix ms, value)`, oldest first.
    pub fn trend_points(&self, id: &str, metric: usize, now_s: i64) -> Vec<(i64, f64)> {
        let from = now_s - self.retention();
        let coarse = self.points(id, metric, 3, from, now_s);
        let span = coarse.last().map_or(0, |l| l.0) - coarse.first().map_or(0, |f| f.0);
        if span >= 86_400_000 {
            return coarse;
        }
        self.points(id, metric, 2, from, now_s)
    }

    /// Points of one metric in `[from_s, to_s]` at the resolution `tier`.
    pub fn points(
        &self,
        id: &str,
        metric: usize,
        tier: usize,
        from_s: i64,
        to_s: i64,
    ) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        if let Some(r) = self.resources.get(id) {
            // Nothing older than the retention, even before `expire` has cleared it.
            let from_s = from_s.max(r.last_s - self.retention());
            if let Some(s) = r.series.get(metric) {
                s.points(tier, from_s, to_s, &mut out);
            }
        }
        out
    }

    /// As [`History::points`], with each point's largest sample where the tier keeps one:
    /// `(unix ms, average, max)`.
    pub fn points_with_max(
        &self,
        id: &str,
        metric: usize,
        tier: usize,
        from_s: i64,
        to_s: i64,
    ) -> Vec<(i64, f64, Option<f64>)> {
        let mut out = Vec::new();
        if let Some(r) = self.resources.get(id) {
            let from_s = from_s.max(r.last_s - self.retention());
            if let Some(s) = r.series.get(metric) {
                s.points_with_max(tier, from_s, to_s, &mut out);
            }
        }
        out
    }

    /// The oldest point time held at `tier` (unix ms), if any.
    pub fn oldest_ms(&self, tier: usize) -> Option<i64> {
        let (step, cap) = ring::TIERS[tier];
        self.resources
            .values()
            .filter_map(|r| r.series.first())
            .filter(|s| s.heads[tier] >= 0)
            .map(|s| (s.heads[tier] - cap as i64 + 1).max(0) * i64::from(step) * 1000)
            .min()
    }
}
