//! The alert state machine with an injected clock: grace periods, hysteresis, critical margin,
//! flapping, quiet hours, cooldown, hourly cap, acknowledgement, escalation, overrides that
//! follow a migrated guest, disabled metrics, stale data, offline confirmations.

use pulse::alerts::alert::{Level, Observation, Presence, ResourceKind};
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, Event, EventKind};
use pulse::alerts::schedule::Hold;
use pulse::alerts::threshold::{Metric, ThresholdConfig};
use pulse::alerts::tz::Zone;

const T0: i64 = 1_767_000_000_000; // a Monday night is not needed: quiet hours are off by default

fn active_cfg() -> AlertConfig {
    AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    }
}

fn vm<'a>(id: &'a str, node: &'a str, metrics: Vec<(Metric, f64)>) -> Observation<'a> {
    Observation {
        id,
        name: "web",
        kind: ResourceKind::Vm,
        node,
        instance: "pve1",
        vmid: Some(100),
        tags: &[],
        presence: Presence::Up,
        template: false,
        stale: false,
        sample_ms: 0,
        metrics,
        conditions: Vec::new(),
    }
}

struct Run {
    engine: Engine,
    cfg: AlertConfig,
    zone: Zone,
}

impl Run {
    fn new(cfg: AlertConfig) -> Run {
        Run {
            engine: Engine::new(),
            cfg,
            zone: Zone::utc(),
        }
    }

    /// Evaluates one observation at `t0 + secs`.
    fn at(&mut self, secs: i64, o: Observation) -> Vec<Event> {
        let now = T0 + secs * 1000;
        let o = Observation {
            sample_ms: now,
            ..o
        };
        self.engine.evaluate(&self.cfg, &self.zone, &[o], now)
    }

    fn cpu(&mut self, secs: i64, value: f64) -> Vec<Event> {
        self.at(
            secs,
            vm("pve1-node1-100", "node1", vec![(Metric::Cpu, value)]),
        )
    }
}

fn kinds(events: &[Event]) -> Vec<(EventKind, Option<Hold>)> {
    events.iter().map(|e| (e.kind, e.hold)).collect()
}

#[test]
fn fires_after_the_grace_period_and_resolves_only_below_clear() {
    let mut r = Run::new(active_cfg()); // guest cpu 80/75, grace 5 s
    assert!(r.cpu(0, 85.0).is_empty(), "pending inside the grace period");
    assert!(r.cpu(4, 86.0).is_empty());
    let ev = r.cpu(5, 86.0);
    assert_eq!(kinds(&ev), vec![(EventKind::Fired, None)]);
    let a = &ev[0].alert;
    assert_eq!(a.id, "pve1-node1-100-cpu");
    assert_eq!(a.level, Level::Warning);
    assert_eq!(a.message, "VM cpu at 86.0%");
    assert_eq!(a.metadata.clear_threshold, 75.0);
    assert_eq!(a.metadata.resource_type, "VM");
    assert_eq!(
        a.start_time.unix_ms(),
        T0,
        "the alert started when the breach did"
    );
    // Between clear and trigger: still active (hysteresis).
    assert!(r.cpu(10, 77.0).is_empty());
    assert_eq!(r.engine.active().count(), 1);
    let ev = r.cpu(15, 75.0);
    assert_eq!(kinds(&ev), vec![(EventKind::Resolved, None)]);
    assert_eq!(r.engine.active().count(), 0);
    assert_eq!(r.engine.recently_resolved().count(), 1);
}

#[test]
fn a_dip_below_the_trigger_restarts_the_grace_period() {
    let mut r = Run::new(active_cfg());
    r.cpu(0, 85.0);
    r.cpu(3, 79.0);
    assert!(r.cpu(6, 85.0).is_empty());
    assert_eq!(kinds(&r.cpu(11, 85.0)), vec![(EventKind::Fired, None)]);
}

#[test]
fn critical_at_the_margin_and_escalation_notifies_even_after_ack() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg);
    let ev = r.cpu(0, 85.0);
    assert_eq!(ev[0].alert.level, Level::Warning);
    assert!(r
        .engine
        .acknowledge("pve1-node1-100-cpu", "admin", T0 + 1000));
    // Acknowledged: no reminders, even long after the cooldown.
    assert!(r.cpu(600, 86.0).is_empty());
    let ev = r.cpu(601, 90.0);
    assert_eq!(kinds(&ev), vec![(EventKind::Escalated, None)]);
    assert_eq!(ev[0].alert.level, Level::Critical);
    assert!(
        !ev[0].alert.acknowledged,
        "a worse level needs attention again"
    );
}

#[test]
fn cooldown_spaces_reminders_and_the_hourly_cap_stops_them() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    cfg.schedule.cooldown = 5;
    cfg.schedule.max_alerts_hour = 3;
    let mut r = Run::new(cfg);
    assert_eq!(kinds(&r.cpu(0, 85.0)), vec![(EventKind::Fired, None)]);
    assert!(r.cpu(60, 85.0).is_empty(), "inside the cooldown");
    assert_eq!(kinds(&r.cpu(300, 85.0)), vec![(EventKind::Reminder, None)]);
    assert_eq!(kinds(&r.cpu(600, 85.0)), vec![(EventKind::Reminder, None)]);
    assert!(r.cpu(900, 85.0).is_empty(), "three this hour: capped");
    assert_eq!(
        kinds(&r.cpu(3_700, 85.0)),
        vec![(EventKind::Reminder, None)]
    );
}

#[test]
fn flapping_alerts_are_marked_and_held() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg); // 5 changes in 600 s
    let mut last = Vec::new();
    for i in 0..3 {
        last.extend(r.cpu(i * 20, 90.0));
        last.extend(r.cpu(i * 20 + 10, 50.0));
    }
    let ev = r.cpu(100, 90.0);
    let fired = ev.iter().find(|e| e.kind == EventKind::Fired).unwrap();
    assert!(fired.alert.metadata.flapping);
    assert_eq!(fired.hold, Some(Hold::Flapping));
    assert!(
        r.engine
            .get("pve1-node1-100-cpu")
            .unwrap()
            .metadata
            .flapping
    );
    assert!(
        last.iter().take(2).all(|e| e.hold.is_none()),
        "the first changes notified"
    );
}

#[test]
fn not_activated_alerts_are_shown_but_never_notify() {
    let mut cfg = AlertConfig::default(); // pending_review
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg);
    assert_eq!(
        kinds(&r.cpu(0, 95.0)),
        vec![(EventKind::Fired, Some(Hold::NotActive))]
    );
    assert_eq!(r.engine.active().count(), 1);
}

#[test]
fn quiet_hours_hold_warnings() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let q = &mut cfg.schedule.quiet_hours;
    q.enabled = true;
    q.start = "00:00".into();
    q.end = "23:59".into();
    for d in q.days.values_mut() {
        *d = true;
    }
    let mut r = Run::new(cfg);
    assert_eq!(
        kinds(&r.cpu(0, 85.0)),
        vec![(EventKind::Fired, Some(Hold::QuietHours))]
    );
}

#[test]
fn overrides_disable_metrics_and_follow_a_migrated_guest() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let off: ThresholdConfig = serde_json::from_str(r#"{"memory": -1, "cpu": 0}"#).unwrap();
    cfg.overrides.insert("pve1-node1-100".into(), off);
    let mut r = Run::new(cfg);
    let metrics = vec![
        (Metric::Cpu, 99.0),
        (Metric::Memory, 99.0),
        (Metric::Disk, 99.0),
    ];
    let ev = r.at(0, vm("pve1-node1-100", "node1", metrics.clone()));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].alert.kind, "disk");
    // Migrated to node2: its id changed, the override still applies.
    let ev = r.at(10, vm("pve1-node2-100", "node2", metrics));
    let ids: Vec<&str> = ev.iter().map(|e| e.alert.id.as_str()).collect();
    assert!(ids.contains(&"pve1-node2-100-disk"), "{ids:?}");
    assert!(
        !ids.iter()
            .any(|i| i.ends_with("-cpu") || i.ends_with("-memory")),
        "{ids:?}"
    );
}

#[test]
fn stale_data_neither_raises_nor_resolves() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg);
    r.cpu(0, 95.0);
    let stale = |v| Observation {
        stale: true,
        ..vm(
            "pve1-node1-100",
            "node1",
            vec![(Metric::Cpu, v), (Metric::Memory, 99.0)],
        )
    };
    assert!(r.at(10, stale(10.0)).is_empty());
    let a = r.engine.get("pve1-node1-100-cpu").unwrap();
    assert!(a.metadata.stale);
    assert!(r.engine.get("pve1-node1-100-memory").is_none());
    // Fresh data again: the alert resolves normally.
    assert_eq!(kinds(&r.cpu(20, 10.0)), vec![(EventKind::Resolved, None)]);
}

#[test]
fn unknown_values_and_tags() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg);
    assert!(r.cpu(0, -1.0).is_empty());
    assert!(r.cpu(1, f64::NAN).is_empty());
    let tags = ["pulse-monitor-only".to_string()];
    let ev = r.at(
        2,
        Observation {
            tags: &tags,
            ..vm("g2", "n", vec![(Metric::Cpu, 95.0)])
        },
    );
    assert_eq!(ev[0].hold, Some(Hold::MonitorOnly));
    assert!(ev[0].alert.metadata.monitor_only);
    let tags = ["pulse-relaxed".to_string()];
    let ev = r.at(
        3,
        Observation {
            tags: &tags,
            ..vm("g3", "n", vec![(Metric::Cpu, 93.0)])
        },
    );
    assert!(
        ev.iter().all(|e| e.alert.resource_id != "g3"),
        "relaxed: cpu needs 95"
    );
    let tags = ["pulse-no-alerts".to_string()];
    let ev = r.at(
        4,
        Observation {
            tags: &tags,
            ..vm("g4", "n", vec![(Metric::Cpu, 99.0)])
        },
    );
    assert!(ev.iter().all(|e| e.alert.resource_id != "g4"));
}

#[test]
fn offline_nodes_need_three_samples_and_stopped_guests_two() {
    let mut r = Run::new(active_cfg());
    let node = |p| Observation {
        kind: ResourceKind::Node,
        vmid: None,
        presence: p,
        ..vm("pve1-node1", "node1", vec![])
    };
    assert!(r.at(0, node(Presence::Offline)).is_empty());
    assert!(r.at(10, node(Presence::Offline)).is_empty());
    let ev = r.at(20, node(Presence::Offline));
    assert_eq!(ev[0].alert.id, "node-offline-pve1-node1");
    assert_eq!(ev[0].alert.level, Level::Critical);
    assert_eq!(ev[0].alert.kind, "connectivity");
    assert_eq!(
        kinds(&r.at(30, node(Presence::Up))),
        vec![(EventKind::Resolved, None)]
    );

    let guest = |p| Observation {
        presence: p,
        ..vm("pve1-node1-100", "node1", vec![])
    };
    // Stopped from the start: it may be meant to be; no alert.
    for t in 0..3 {
        assert!(r.at(100 + t, guest(Presence::Stopped)).is_empty());
    }
    r.at(200, guest(Presence::Up));
    assert!(r.at(210, guest(Presence::Stopped)).is_empty());
    let ev = r.at(220, guest(Presence::Stopped));
    assert_eq!(ev[0].alert.id, "guest-powered-off-pve1-node1-100");
    assert_eq!(ev[0].alert.level, Level::Warning);
}

#[test]
fn a_resource_that_disappears_resolves_its_alerts() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg.clone());
    r.cpu(0, 95.0);
    let ev = r.engine.evaluate(&cfg, &r.zone, &[], T0 + 10_000);
    assert_eq!(kinds(&ev), vec![(EventKind::Resolved, None)]);
}

#[test]
fn escalation_levels_fire_once_each_unless_acknowledged() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    cfg.schedule.cooldown = 600;
    cfg.schedule.escalation.enabled = true; // 15 email, 30 webhook, 60 all
    let mut r = Run::new(cfg);
    r.cpu(0, 85.0);
    let ev = r.cpu(15 * 60, 85.0);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Escalated);
    assert_eq!(ev[0].notify.as_deref(), Some("email"));
    assert!(r.cpu(16 * 60, 85.0).is_empty());
    r.engine.acknowledge("pve1-node1-100-cpu", "admin", T0);
    assert!(
        r.cpu(31 * 60, 85.0).is_empty(),
        "acknowledged: no more levels"
    );
    r.engine.unacknowledge("pve1-node1-100-cpu");
    assert_eq!(r.cpu(32 * 60, 85.0)[0].notify.as_deref(), Some("webhook"));
}

#[test]
fn manual_clear_lets_it_fire_again() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg.clone());
    r.cpu(0, 95.0);
    let ev = r
        .engine
        .clear(&cfg, &r.zone, "pve1-node1-100-cpu", T0 + 1000)
        .unwrap();
    assert_eq!(ev.kind, EventKind::Resolved);
    assert_eq!(kinds(&r.cpu(2, 95.0)), vec![(EventKind::Fired, None)]);
}
