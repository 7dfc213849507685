//! Whether an alert event may notify now: activation, quiet hours (time zone, days,
//! categories, across midnight), cooldown, the hourly cap, flapping, acknowledgement. Pure
//! functions of the configuration, the alert's history and the time, so they are tested
//! table-driven with an injected clock.

use super::alert::{category_of, Category, Level};
use super::config::{parse_hhmm, AlertConfig, QuietHours, WEEKDAYS};
use super::tz::Zone;
use std::collections::VecDeque;

/// Why an event does not notify (kept on the event so the log and the history can say so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Alerts are disabled or not activated yet (`pending_review`, `snoozed`).
    NotActive,
    MonitorOnly,
    QuietHours,
    Flapping,
    Cooldown,
    HourlyCap,
    Acknowledged,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::NotActive => "alerts not activated",
            Hold::MonitorOnly => "monitor-only resource",
            Hold::QuietHours => "quiet hours",
            Hold::Flapping => "flapping",
            Hold::Cooldown => "cooldown",
            Hold::HourlyCap => "hourly notification cap",
            Hold::Acknowledged => "acknowledged",
        }
    }
}

/// Is `now_s` (Unix seconds) inside the quiet hours, for an alert of `kind` and `level`?
pub fn in_quiet_hours(q: &QuietHours, zone: &Zone, kind: &str, level: Level, now_s: i64) -> bool {
    if !q.enabled {
        return false;
    }
    let (Some(start), Some(end)) = (parse_hhmm(&q.start), parse_hhmm(&q.end)) else {
        return false;
    };
    let (weekday, minute) = zone.local_weekday_minute(now_s);
    let day_on = |wd: u32| q.days.get(WEEKDAYS[wd as usize]).copied().unwrap_or(false);
    let inside = if start <= end {
        day_on(weekday) && minute >= start && minute < end
    } else if minute >= start {
        // Overnight window, evening part: belongs to today's quiet night.
        day_on(weekday)
    } else if minute < end {
        // Morning part: belongs to the night that started yesterday.
        day_on((weekday + 6) % 7)
    } else {
        false
    };
    if !inside {
        return false;
    }
    match level {
        Level::Warning => true,
        Level::Critical => match category_of(kind) {
            Category::Performance => q.suppress.performance,
            Category::Storage => q.suppress.storage,
            Category::Offline => q.suppress.offline,
        },
    }
}

/// Per-alert notification history: when it last notified and how often this past hour.
#[derive(Debug, Clone, Default)]
pub struct NotifyLog {
    pub last_ms: Option<i64>,
    sent: VecDeque<i64>,
}

impl NotifyLog {
    pub fn record(&mut self, now_ms: i64) {
        self.last_ms = Some(now_ms);
        self.sent.push_back(now_ms);
        self.trim(now_ms);
    }

    fn trim(&mut self, now_ms: i64) {
        while self.sent.front().is_some_and(|t| now_ms - t >= 3_600_000) {
            self.sent.pop_front();
        }
    }

    pub fn sent_last_hour(&mut self, now_ms: i64) -> usize {
        self.trim(now_ms);
        self.sent.len()
    }
}

/// Fire/resolve transitions in the flapping window.
#[derive(Debug, Clone, Default)]
pub struct FlapLog {
    changes: VecDeque<i64>,
}

impl FlapLog {
    /// Records a transition; returns whether the alert is flapping now.
    pub fn record(&mut self, now_ms: i64, cfg: &AlertConfig) -> bool {
        self.changes.push_back(now_ms);
        self.is_flapping(now_ms, cfg)
    }

    pub fn is_flapping(&mut self, now_ms: i64, cfg: &AlertConfig) -> bool {
        let window = i64::from(cfg.flapping.window) * 1000;
        while self.changes.front().is_some_and(|t| now_ms - t > window) {
            self.changes.pop_front();
        }
        cfg.flapping.enabled && self.changes.len() >= cfg.flapping.threshold as usize
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What the gate needs to know about an alert.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The alert type (`cpu`, `connectivity`...), for its quiet-hours category.
    pub kind: &'a str,
    pub level: Level,
    pub monitor_only: bool,
    pub flapping: bool,
}

/// The reason a *new* alert (or a change of level) may not notify, if any.
pub fn hold_for_new(
    cfg: &AlertConfig,
    zone: &Zone,
    s: Subject,
    log: &mut NotifyLog,
    now_ms: i64,
) -> Option<Hold> {
    let Subject {
        kind,
        level,
        monitor_only,
        flapping,
    } = s;
    if !cfg.enabled || cfg.activation_state != "active" {
        return Some(Hold::NotActive);
    }
    if monitor_only {
        return Some(Hold::MonitorOnly);
    }
    if flapping {
        return Some(Hold::Flapping);
    }
    if in_quiet_hours(&cfg.schedule.quiet_hours, zone, kind, level, now_ms / 1000) {
        return Some(Hold::QuietHours);
    }
    let cap = cfg.schedule.max_alerts_hour as usize;
    if cap > 0 && log.sent_last_hour(now_ms) >= cap {
        return Some(Hold::HourlyCap);
    }
    None
}

/// The reason a reminder for an ongoing alert may not go out, if any. Acknowledged alerts
/// are never reminded of.
pub fn hold_for_reminder(
    cfg: &AlertConfig,
    zone: &Zone,
    s: Subject,
    acknowledged: bool,
    log: &mut NotifyLog,
    now_ms: i64,
) -> Option<Hold> {
    if acknowledged {
        return Some(Hold::Acknowledged);
    }
    let cooldown_ms = i64::from(cfg.schedule.cooldown) * 60_000;
    match log.last_ms {
        // A cooldown of 0 means "no reminders", not "a reminder every poll".
        _ if cooldown_ms == 0 => return Some(Hold::Cooldown),
        Some(last) if now_ms - last < cooldown_ms => return Some(Hold::Cooldown),
        _ => {}
    }
    hold_for_new(cfg, zone, s, log, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::days_from_civil;
    use std::path::Path;

    fn at(y: i64, m: u32, d: u32, h: i64, min: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60
    }

    fn quiet(start: &str, end: &str, tz: &str) -> (QuietHours, Zone) {
        let q = QuietHours {
            enabled: true,
            start: start.into(),
            end: end.into(),
            timezone: tz.into(),
            ..Default::default()
        };
        let zone = Zone::load(tz, Path::new("/nonexistent")).unwrap();
        (q, zone)
    }

    #[test]
    fn quiet_hours_table() {
        // Weekdays on (Mon-Fri), weekend off; 22:00-08:00 spans midnight.
        let (q, utc) = quiet("22:00", "08:00", "UTC");
        let (q_ny, ny) = quiet("22:00", "08:00", "EST5EDT,M3.2.0,M11.1.0");
        let w = Level::Warning;
        let cases = [
            // Monday 2026-01-05 23:00 UTC: Monday night, inside.
            (&q, &utc, at(2026, 1, 5, 23, 0), w, "cpu", true),
            // Tuesday 07:59: the morning part of Monday's night.
            (&q, &utc, at(2026, 1, 6, 7, 59), w, "cpu", true),
            (&q, &utc, at(2026, 1, 6, 8, 0), w, "cpu", false),
            (&q, &utc, at(2026, 1, 6, 12, 0), w, "cpu", false),
            // Saturday 2026-01-10 07:00 belongs to Friday night: inside.
            (&q, &utc, at(2026, 1, 10, 7, 0), w, "cpu", true),
            // Saturday 23:00: weekend night, off.
            (&q, &utc, at(2026, 1, 10, 23, 0), w, "cpu", false),
            // Monday 2026-01-12 03:00 belongs to Sunday night: off.
            (&q, &utc, at(2026, 1, 12, 3, 0), w, "cpu", false),
            // Critical alerts pass unless their category is suppressed.
            (
                &q,
                &utc,
                at(2026, 1, 5, 23, 0),
                Level::Critical,
                "cpu",
                false,
            ),
            // New York: Tuesday 2026-01-06 03:30 UTC is Monday 22:30 local: inside.
            (&q_ny, &ny, at(2026, 1, 6, 3, 30), w, "cpu", true),
            // 23:00 UTC Monday is 18:00 in New York: outside.
            (&q_ny, &ny, at(2026, 1, 5, 23, 0), w, "cpu", false),
        ];
        for (i, (q, z, t, level, kind, want)) in cases.into_iter().enumerate() {
            assert_eq!(in_quiet_hours(q, z, kind, level, t), want, "case {i}");
        }
        let mut q2 = q.clone();
        q2.suppress.offline = true;
        assert!(in_quiet_hours(
            &q2,
            &utc,
            "connectivity",
            Level::Critical,
            at(2026, 1, 5, 23, 0)
        ));
        assert!(!in_quiet_hours(
            &q2,
            &utc,
            "cpu",
            Level::Critical,
            at(2026, 1, 5, 23, 0)
        ));
    }

    #[test]
    fn same_day_window() {
        let (q, utc) = quiet("12:00", "13:00", "UTC");
        assert!(in_quiet_hours(
            &q,
            &utc,
            "cpu",
            Level::Warning,
            at(2026, 1, 5, 12, 30)
        ));
        assert!(!in_quiet_hours(
            &q,
            &utc,
            "cpu",
            Level::Warning,
            at(2026, 1, 5, 13, 0)
        ));
    }

    #[test]
    fn cooldown_and_cap() {
        let mut cfg = AlertConfig {
            activation_state: "active".into(),
            ..Default::default()
        };
        cfg.schedule.cooldown = 5;
        cfg.schedule.max_alerts_hour = 2;
        let zone = Zone::utc();
        let mut log = NotifyLog::default();
        let t0 = 1_000_000_000;
        let cpu = Subject {
            kind: "cpu",
            level: Level::Warning,
            monitor_only: false,
            flapping: false,
        };
        assert_eq!(hold_for_new(&cfg, &zone, cpu, &mut log, t0), None);
        log.record(t0);
        let remind =
            |log: &mut NotifyLog, t, acked| hold_for_reminder(&cfg, &zone, cpu, acked, log, t);
        assert_eq!(remind(&mut log, t0 + 60_000, false), Some(Hold::Cooldown));
        assert_eq!(remind(&mut log, t0 + 300_000, false), None);
        log.record(t0 + 300_000);
        assert_eq!(remind(&mut log, t0 + 600_000, false), Some(Hold::HourlyCap));
        assert_eq!(remind(&mut log, t0 + 3_700_000, false), None);
        assert_eq!(
            remind(&mut log, t0 + 3_700_000, true),
            Some(Hold::Acknowledged)
        );
        cfg.activation_state = "pending_review".into();
        assert_eq!(
            hold_for_new(&cfg, &zone, cpu, &mut log, t0),
            Some(Hold::NotActive)
        );
    }

    #[test]
    fn flapping_needs_n_changes_in_the_window() {
        let cfg = AlertConfig::default(); // 5 changes in 600 s
        let mut f = FlapLog::default();
        for i in 0..4 {
            assert!(!f.record(i * 10_000, &cfg));
        }
        assert!(f.record(40_000, &cfg));
        assert!(!f.is_flapping(40_000 + 601_000, &cfg));
    }
}
