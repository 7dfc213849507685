//! The evaluation state machine, run on the loop after each state change.
//!
//! Per metric of each observed resource: a value at or above the trigger starts a pending
//! breach; after the grace period it fires (critical at trigger + [`CRITICAL_MARGIN`]); while it
//! lasts its value, level and last-seen move with the data; at or below the clear level it
//! resolves. Down resources (offline nodes and storages, guests that stopped after running) fire
//! after a number of consecutive samples. Stale data holds every alert of the resource as it is.
//! Each transition becomes an [`Event`] whose `hold` says whether (and why not) it notifies.

use super::alert::*;
use super::config::AlertConfig;
use super::effective::{connectivity_disabled, has_tag, thresholds_for};
use super::schedule::{hold_for_new, hold_for_reminder, FlapLog, Hold, NotifyLog, Subject};
use super::threshold::{Metric, Threshold, ThresholdConfig};
use super::tz::Zone;
use crate::util::fast_hash::{hash_str, FastMap, FastSet};
use crate::util::time::UtcTime;
use std::collections::{BTreeMap, HashSet, VecDeque};

/// Points above the trigger at which a warning is critical (Pulse's fixed margin).
pub const CRITICAL_MARGIN: f64 = 10.0;
/// How long resolved alerts stay in `recentlyResolved`.
pub const RECENTLY_RESOLVED_MS: i64 = 5 * 60_000;
/// After a restart, how long a restored alert of an instance that has not reported yet is
/// held rather than resolved (its first poll may take a while; a removed instance's alerts
/// resolve after this).
pub const RESTORE_HOLD_MS: i64 = 10 * 60_000;

/// Alert kinds whose data is read on the slow cadence (every 5 minutes), not every poll.
fn read_slowly(kind: &str) -> bool {
    kind.starts_with("zfs-") || kind == "disk-health" || kind == "disk-wearout"
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Fired,
    /// Warning became critical, or an escalation level was reached.
    Escalated,
    /// The cooldown passed and the alert is still there.
    Reminder,
    Resolved,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub alert: Alert,
    /// `None`: notify. `Some(reason)`: recorded only.
    pub hold: Option<Hold>,
    /// For escalation levels: whom to notify (`email`, `webhook`, `all`).
    pub notify: Option<String>,
}

#[derive(Debug, Default)]
pub struct Engine {
    active: BTreeMap<String, Alert>,
    /// Alert id → (resource id, when the current breach began in ms), inside the grace period.
    pending: FastMap<String, (String, i64)>,
    /// Alert id → (resource id, consecutive down samples, the sample time last counted).
    down: FastMap<String, (String, u32, i64)>,
    /// Guests seen running: only those raise a powered-off alert when they stop.
    seen_running: FastSet<String>,
    logs: FastMap<String, NotifyLog>,
    flaps: FastMap<String, FlapLog>,
    /// Acknowledgements survive a re-fire until the alert resolves.
    acks: FastMap<String, (UtcTime, String)>,
    recently_resolved: VecDeque<(i64, Alert)>,
    /// When alerts were restored from disk (see [`RESTORE_HOLD_MS`]).
    restored_ms: Option<i64>,
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    pub fn get(&self, id: &str) -> Option<&Alert> {
        self.active.get(id)
    }

    pub fn recently_resolved(&self) -> impl Iterator<Item = &Alert> {
        self.recently_resolved.iter().map(|(_, a)| a)
    }

    /// Alerts from before a restart: kept if they are from the last 24 hours. Those whose
    /// data is not back yet are held for [`RESTORE_HOLD_MS`] (see `evaluate`).
    pub fn restore(&mut self, alerts: Vec<Alert>, now_ms: i64) {
        self.restored_ms = Some(now_ms);
        for a in alerts {
            if now_ms - a.start_time.unix_ms() < 24 * 3_600_000 {
                if a.acknowledged {
                    let user = a.ack_user.clone().unwrap_or_default();
                    self.acks
                        .insert(a.id.clone(), (a.ack_time.unwrap_or_default(), user));
                }
                self.active.insert(a.id.clone(), a);
            }
        }
    }

    /// Evaluates every observation (the whole estate: alerts of resources that are gone
    /// resolve) and returns what changed.
    pub fn evaluate(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        observations: &[Observation],
        now_ms: i64,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        if !cfg.enabled {
            for id in self.active.keys().cloned().collect::<Vec<_>>() {
                events.extend(self.resolve(cfg, zone, &id, now_ms, None));
            }
            self.pending.clear();
            return events;
        }
        let mut live: FastSet<String> =
            FastSet::with_capacity_and_hasher(self.active.len(), Default::default());
        let mut seen_resources: FastSet<&str> =
            FastSet::with_capacity_and_hasher(observations.len(), Default::default());
        // Resources with an alert, a grace period or a down count running: for the others a
        // value under its trigger needs no work at all (no alert id is even formatted), which
        // is nearly every resource on every cycle.
        // By hash, so building it copies no string (a collision only costs a skipped shortcut).
        let busy: FastSet<u64> = self
            .active
            .values()
            .map(|a| hash_str(&a.resource_id))
            .chain(self.pending.values().map(|(r, _)| hash_str(r)))
            .chain(self.down.values().map(|(r, _, _)| hash_str(r)))
            .collect();
        for o in observations {
            seen_resources.insert(o.id);
            let quiet = !busy.contains(&hash_str(o.id));
            if o.stale {
                if quiet {
                    continue;
                }
                // Hold what is there; say so on the alert instead of raising or resolving.
                for a in self.active.values_mut().filter(|a| a.resource_id == o.id) {
                    a.metadata.stale = true;
                    live.insert(a.id.clone());
                }
                continue;
            }
            let Some(th) = thresholds_for(cfg, o) else {
                continue;
            };
            self.check_presence(cfg, zone, o, &th, quiet, now_ms, &mut live, &mut events);
            if o.presence != Presence::Up {
                // A stopped guest or offline node has no meaningful figures; what its checks
                // found before holds until it answers again.
                for c in o
                    .conditions
                    .iter()
                    .filter(|c| self.active.contains_key(&c.id))
                {
                    live.insert(c.id.clone());
                }
                continue;
            }
            for c in &o.conditions {
                self.check_condition(cfg, zone, o, c, now_ms, &mut live, &mut events);
            }
            for &(metric, value) in &o.metrics {
                let Some(t) = th.get(metric).filter(|t| t.is_enabled()) else {
                    continue;
                };
                if value.is_nan() || value < 0.0 {
                    // Unknown (NaN or -1): neither raise nor resolve; an active alert holds.
                    if !quiet {
                        let id = metric_alert_id(o.id, metric);
                        if self.active.contains_key(&id) {
                            live.insert(id);
                        }
                    }
                    continue;
                }
                if quiet && value < t.trigger {
                    continue; // nothing to raise, resolve or drop
                }
                let id = metric_alert_id(o.id, metric);
                self.check_metric(cfg, zone, o, &id, metric, value, t, now_ms, &mut events);
                if self.active.contains_key(&id) {
                    live.insert(id);
                }
            }
        }
        // Alerts whose resource or metric no longer qualifies resolve now, except restored
        // ones whose instance has not reported since the restart, and restored ones of the
        // checks read on the slow cadence (ZFS pools, SMART): their data comes minutes after
        // the instance's first report, and resolving before it is read would fire them anew.
        let holding = self
            .restored_ms
            .is_some_and(|t| now_ms - t < RESTORE_HOLD_MS);
        let reported: HashSet<&str> = if holding {
            observations.iter().map(|o| o.instance).collect()
        } else {
            HashSet::new()
        };
        let gone: Vec<String> = self
            .active
            .values()
            .filter(|a| !live.contains(&a.id))
            .filter(|a| {
                !holding || (reported.contains(a.instance.as_str()) && !read_slowly(&a.kind))
            })
            .map(|a| a.id.clone())
            .collect();
        for id in gone {
            events.extend(self.resolve(cfg, zone, &id, now_ms, None));
        }
        self.pending
            .retain(|_, (res, _)| seen_resources.contains(res.as_str()));
        self.down
            .retain(|_, (res, _, _)| seen_resources.contains(res.as_str()));
        self.seen_running
            .retain(|id| seen_resources.contains(id.as_str()));
        self.escalate(cfg, zone, now_ms, &mut events);
        self.expire(now_ms);
        events
    }

    #[allow(clippy::too_many_arguments)]
    fn check_metric(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        o: &Observation,
        id: &str,
        metric: Metric,
        value: f64,
        t: Threshold,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let level = if value >= t.trigger + CRITICAL_MARGIN {
            Level::Critical
        } else {
            Level::Warning
        };
        if self.active.contains_key(id) {
            if value <= t.clear_level() {
                events.extend(self.resolve(cfg, zone, id, now_ms, Some(value)));
                return;
            }
            let message = metric_message(o.kind, metric, value);
            self.update_active(cfg, zone, id, value, level, t, message, now_ms, events);
            return;
        }
        if value < t.trigger {
            self.pending.remove(id);
            return;
        }
        let since = self
            .pending
            .entry(id.to_string())
            .or_insert_with(|| (o.id.to_string(), now_ms))
            .1;
        let grace_ms = cfg.grace_secs(o.kind.type_keys(), metric.key()) * 1000;
        if now_ms - since < grace_ms {
            return;
        }
        self.pending.remove(id);
        let alert = self.new_alert(
            o,
            id,
            metric.key(),
            level,
            value,
            t,
            metric_message(o.kind, metric, value),
            metric.unit(),
            since,
            now_ms,
        );
        self.fire(cfg, zone, alert, now_ms, events);
    }

    /// An ongoing alert's new figures; a worse level escalates it (and takes back its
    /// acknowledgement), otherwise it is a reminder the schedule may let through.
    #[allow(clippy::too_many_arguments)]
    fn update_active(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        id: &str,
        value: f64,
        level: Level,
        t: Threshold,
        message: String,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let Some(a) = self.active.get_mut(id) else {
            return;
        };
        a.value = value;
        a.threshold = t.trigger;
        a.metadata.clear_threshold = t.clear_level();
        a.metadata.stale = false;
        a.last_seen = UtcTime::from_unix_ms(now_ms);
        a.message = message;
        let worse = level > a.level;
        if worse {
            // A worse situation deserves attention again, acknowledged or not.
            a.level = level;
            a.acknowledged = false;
            a.ack_time = None;
            a.ack_user = None;
            self.acks.remove(id);
        }
        let kind = if worse {
            EventKind::Escalated
        } else {
            EventKind::Reminder
        };
        self.emit(cfg, zone, kind, id, now_ms, events);
    }

    /// A check the observer judged (disk health, PMG queues): fires after the grace period,
    /// follows the level while it lasts, resolves once cleared.
    #[allow(clippy::too_many_arguments)]
    fn check_condition(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        o: &Observation,
        c: &Condition,
        now_ms: i64,
        live: &mut FastSet<String>,
        events: &mut Vec<Event>,
    ) {
        let t = Threshold::new(c.threshold, c.clear_threshold);
        if let Some(current) = self.active.get(&c.id).map(|a| a.level) {
            match c.level {
                None if c.cleared => {
                    events.extend(self.resolve(cfg, zone, &c.id, now_ms, Some(c.value)));
                    return;
                }
                // Between clear and warning: held at its level.
                None => self.update_active(
                    cfg,
                    zone,
                    &c.id,
                    c.value,
                    current,
                    t,
                    c.message.clone(),
                    now_ms,
                    events,
                ),
                Some(level) => self.update_active(
                    cfg,
                    zone,
                    &c.id,
                    c.value,
                    level,
                    t,
                    c.message.clone(),
                    now_ms,
                    events,
                ),
            }
            live.insert(c.id.clone());
            return;
        }
        let Some(level) = c.level else {
            self.pending.remove(&c.id);
            return;
        };
        let since = self
            .pending
            .entry(c.id.clone())
            .or_insert_with(|| (o.id.to_string(), now_ms))
            .1;
        if now_ms - since < cfg.grace_secs(o.kind.type_keys(), c.kind) * 1000 {
            return;
        }
        self.pending.remove(&c.id);
        let alert = self.new_alert(
            o,
            &c.id,
            c.kind,
            level,
            c.value,
            t,
            c.message.clone(),
            c.unit,
            since,
            now_ms,
        );
        self.fire(cfg, zone, alert, now_ms, events);
        live.insert(c.id.clone());
    }

    /// Connectivity (nodes, storage, instances) and powered-off (guests) alerts.
    #[allow(clippy::too_many_arguments)]
    fn check_presence(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        o: &Observation,
        th: &ThresholdConfig,
        quiet: bool,
        now_ms: i64,
        live: &mut FastSet<String>,
        events: &mut Vec<Event>,
    ) {
        let down = match o.presence {
            Presence::Up => false,
            Presence::Offline => !o.kind.is_guest(),
            Presence::Stopped => {
                o.kind.tracks_running() && !o.template && self.seen_running.contains(o.id)
            }
        };
        if o.presence == Presence::Up
            && o.kind.tracks_running()
            && !self.seen_running.contains(o.id)
        {
            self.seen_running.insert(o.id.to_string());
        }
        if !down && quiet {
            return; // up, and no down count or alert to end
        }
        let id = down_alert_id(o.kind, o.id);
        if !down || connectivity_disabled(cfg, o) {
            self.down.remove(&id);
            if self.active.contains_key(&id) {
                events.extend(self.resolve(cfg, zone, &id, now_ms, None));
            }
            return;
        }
        live.insert(id.clone());
        if let Some(a) = self.active.get_mut(&id) {
            a.last_seen = UtcTime::from_unix_ms(now_ms);
            a.metadata.stale = false;
            self.emit(cfg, zone, EventKind::Reminder, &id, now_ms, events);
            return;
        }
        let entry = self
            .down
            .entry(id.clone())
            .or_insert_with(|| (o.id.to_string(), 0, i64::MIN));
        if entry.2 != o.sample_ms {
            entry.1 += 1;
            entry.2 = o.sample_ms;
        }
        if entry.1 < o.kind.down_confirmations() {
            live.remove(&id);
            return;
        }
        let level = match th.powered_off_severity.as_deref() {
            Some("critical") => Level::Critical,
            _ => Level::Warning,
        };
        let (kind, level, message) = if o.kind.is_guest() {
            (
                "powered-off",
                level,
                format!("{} {} is powered off", o.kind.label(), o.name),
            )
        } else if o.kind == ResourceKind::DockerContainer {
            (
                "docker-container-state",
                level,
                format!("{} {} is not running", o.kind.label(), o.name),
            )
        } else {
            (
                "connectivity",
                Level::Critical,
                format!("{} {} is offline", o.kind.label(), o.name),
            )
        };
        let alert = self.new_alert(
            o,
            &id,
            kind,
            level,
            0.0,
            Threshold::OFF,
            message,
            "",
            now_ms,
            now_ms,
        );
        self.fire(cfg, zone, alert, now_ms, events);
    }

    #[allow(clippy::too_many_arguments)]
    fn new_alert(
        &self,
        o: &Observation,
        id: &str,
        kind: &str,
        level: Level,
        value: f64,
        t: Threshold,
        message: String,
        unit: &str,
        start_ms: i64,
        now_ms: i64,
    ) -> Alert {
        let ack = self.acks.get(id);
        Alert {
            id: id.to_string(),
            kind: kind.to_string(),
            level,
            resource_id: o.id.to_string(),
            resource_name: o.name.to_string(),
            node: o.node.to_string(),
            instance: o.instance.to_string(),
            message,
            value,
            threshold: t.trigger,
            start_time: UtcTime::from_unix_ms(start_ms),
            last_seen: UtcTime::from_unix_ms(now_ms),
            acknowledged: ack.is_some(),
            ack_time: ack.map(|a| a.0),
            ack_user: ack.map(|a| a.1.clone()),
            metadata: AlertMetadata {
                resource_type: o.kind.label().to_string(),
                clear_threshold: t.clear_level(),
                unit: unit.to_string(),
                monitor_only: has_tag(o, "pulse-monitor-only"),
                flapping: false,
                stale: false,
            },
            last_notified: None,
            escalation_times: Vec::new(),
            resolved_time: None,
        }
    }

    fn fire(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        mut alert: Alert,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let flapping = self
            .flaps
            .entry(alert.id.clone())
            .or_default()
            .record(now_ms, cfg);
        alert.metadata.flapping = flapping;
        let id = alert.id.clone();
        self.active.insert(alert.id.clone(), alert);
        self.emit(cfg, zone, EventKind::Fired, &id, now_ms, events);
    }

    /// Decides whether an event about active alert `id` notifies, records the notification,
    /// and queues the event with a copy of the alert. A reminder the schedule holds back (on
    /// every evaluation, nearly every active alert) costs no copy and no allocation.
    fn emit(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        kind: EventKind,
        id: &str,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let flapping = self
            .flaps
            .get_mut(id)
            .is_some_and(|f| f.is_flapping(now_ms, cfg));
        let Some(alert) = self.active.get_mut(id) else {
            return;
        };
        if !self.logs.contains_key(id) {
            self.logs.insert(id.to_string(), NotifyLog::default());
        }
        let Some(log) = self.logs.get_mut(id) else {
            return;
        };
        let subject = subject(alert, alert.level, flapping);
        let hold = match kind {
            EventKind::Reminder => {
                hold_for_reminder(cfg, zone, subject, alert.acknowledged, log, now_ms)
            }
            _ => hold_for_new(cfg, zone, subject, log, now_ms),
        };
        if kind == EventKind::Reminder && hold.is_some() {
            return; // a reminder that does not go out is not an event
        }
        if hold.is_none() {
            log.record(now_ms);
            alert.last_notified = Some(UtcTime::from_unix_ms(now_ms));
        }
        alert.metadata.flapping = flapping;
        events.push(Event {
            kind,
            alert: alert.clone(),
            hold,
            notify: None,
        });
    }

    fn resolve(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        id: &str,
        now_ms: i64,
        value: Option<f64>,
    ) -> Option<Event> {
        let mut alert = self.active.remove(id)?;
        self.pending.remove(id);
        self.down.remove(id);
        self.acks.remove(id);
        if let Some(v) = value {
            alert.value = v;
        }
        alert.resolved_time = Some(UtcTime::from_unix_ms(now_ms));
        let flapping = self
            .flaps
            .entry(id.to_string())
            .or_default()
            .record(now_ms, cfg);
        alert.metadata.flapping = flapping;
        self.recently_resolved.push_back((now_ms, alert.clone()));
        // A resolution is worth a message only if the alert's firing was one.
        let hold = if alert.last_notified.is_none() {
            Some(Hold::NotActive)
        } else if flapping {
            Some(Hold::Flapping)
        } else {
            let log = self.logs.entry(id.to_string()).or_default();
            hold_for_new(
                cfg,
                zone,
                subject(&alert, Level::Warning, false),
                log,
                now_ms,
            )
            .filter(|h| *h != Hold::HourlyCap)
        };
        Some(Event {
            kind: EventKind::Resolved,
            alert,
            hold,
            notify: None,
        })
    }

    /// Escalation levels: each fires once, for unacknowledged alerts, `after` minutes in.
    fn escalate(&mut self, cfg: &AlertConfig, zone: &Zone, now_ms: i64, events: &mut Vec<Event>) {
        let esc = &cfg.schedule.escalation;
        if !esc.enabled || esc.levels.is_empty() {
            return;
        }
        let due: Vec<(String, usize)> = self
            .active
            .values()
            .filter(|a| !a.acknowledged)
            .filter_map(|a| {
                let done = a.escalation_times.len();
                let level = esc.levels.get(done)?;
                let at = a.start_time.unix_ms() + i64::from(level.after) * 60_000;
                (now_ms >= at).then(|| (a.id.clone(), done))
            })
            .collect();
        for (id, idx) in due {
            let Some(a) = self.active.get_mut(&id) else {
                continue;
            };
            a.escalation_times.push(UtcTime::from_unix_ms(now_ms));
            let alert = a.clone();
            let log = self.logs.entry(id.clone()).or_default();
            let subject = subject(&alert, alert.level, alert.metadata.flapping);
            let hold = hold_for_new(cfg, zone, subject, log, now_ms);
            if hold.is_none() {
                log.record(now_ms);
            }
            events.push(Event {
                kind: EventKind::Escalated,
                alert,
                hold,
                notify: Some(esc.levels[idx].notify.clone()),
            });
        }
    }

    fn expire(&mut self, now_ms: i64) {
        while self
            .recently_resolved
            .front()
            .is_some_and(|(t, _)| now_ms - t > RECENTLY_RESOLVED_MS)
        {
            self.recently_resolved.pop_front();
        }
        let active = &self.active;
        self.logs.retain(|id, log| {
            active.contains_key(id) || log.last_ms.is_some_and(|t| now_ms - t < 3_600_000)
        });
        self.flaps.retain(|_, f| !f.is_empty());
    }

    pub fn acknowledge(&mut self, id: &str, user: &str, now_ms: i64) -> bool {
        let Some(a) = self.active.get_mut(id) else {
            return false;
        };
        let at = UtcTime::from_unix_ms(now_ms);
        a.acknowledged = true;
        a.ack_time = Some(at);
        a.ack_user = Some(user.to_string());
        self.acks.insert(id.to_string(), (at, user.to_string()));
        true
    }

    pub fn unacknowledge(&mut self, id: &str) -> bool {
        let Some(a) = self.active.get_mut(id) else {
            return false;
        };
        a.acknowledged = false;
        a.ack_time = None;
        a.ack_user = None;
        self.acks.remove(id);
        true
    }

    /// Manual clear: the alert goes (it fires again on the next breach, after its grace).
    pub fn clear(
        &mut self,
        cfg: &AlertConfig,
        zone: &Zone,
        id: &str,
        now_ms: i64,
    ) -> Option<Event> {
        self.resolve(cfg, zone, id, now_ms, None)
    }
}

fn subject(alert: &Alert, level: Level, flapping: bool) -> Subject<'_> {
    Subject {
        kind: &alert.kind,
        level,
        monitor_only: alert.metadata.monitor_only,
        flapping,
    }
}
