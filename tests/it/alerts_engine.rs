//! The alert state machine with an injected clock. One table of cases, each a metric, its
//! thresholds and grace period, a series of values (or acknowledgements, clears, stale or
//! missing data) at given seconds, and the events every evaluation must produce: trigger,
//! grace period, clear and hysteresis, critical escalation, flapping, `-1` / `0` disabling,
//! stale and unknown data, an override that follows a migrated guest, cooldown and the hourly
//! cap, quiet hours across midnight in another time zone, acknowledgement (and escalation
//! after it), manual clear, a resource that disappears. Then what a value series does not
//! cover: tags, offline / powered-off confirmations, escalation levels.

use pulse::alerts::alert::{Level, Observation, Presence, ResourceKind};
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, Event, EventKind};
use pulse::alerts::schedule::Hold;
use pulse::alerts::threshold::{Metric, Threshold, ThresholdConfig};
use pulse::alerts::tz::Zone;

/// Monday 2025-12-29 09:20 UTC.
const T0: i64 = 1_767_000_000_000;

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

/// What happens at one step of a case.
#[derive(Clone, Copy)]
enum Act {
    /// A fresh value from the resource on `node1`.
    V(f64),
    /// A fresh value after the guest migrated to `node2` (its id changed).
    On2(f64),
    /// The resource's instance is failing: its last figures (this value) are stale.
    Stale(f64),
    /// The resource is no longer in the state.
    Gone,
    Ack,
    Unack,
    /// Manual clear of the alert.
    Clear,
    /// Asserts whether the alert is active and acknowledged (no evaluation).
    Acked(bool),
}

use Act::*;
use EventKind::{Escalated as Esc, Fired, Reminder as Rem, Resolved as Res};
use Level::{Critical as C, Warning as W};

/// Every event of an evaluation: kind, notification hold, level.
type Want = &'static [(EventKind, Option<Hold>, Level)];

struct Case {
    name: &'static str,
    kind: ResourceKind,
    metric: Metric,
    /// (trigger, clear) in the type's defaults.
    threshold: (f64, f64),
    /// Grace period, seconds.
    grace: i64,
    /// What else the case configures (overrides, schedule, flapping...).
    setup: fn(&mut AlertConfig),
    /// Quiet-hours time zone (`Zone::load`), `None` for UTC.
    zone: Option<&'static str>,
    /// (second, act, events).
    steps: &'static [(i64, Act, Want)],
}

fn none(_: &mut AlertConfig) {}

fn override_on_node1(json: &str) -> impl Fn(&mut AlertConfig) + '_ {
    move |c: &mut AlertConfig| {
        let t: ThresholdConfig = serde_json::from_str(json).unwrap();
        c.overrides.insert("pve1-node1-100".into(), t);
    }
}

const N: Option<Hold> = None;

const CASES: &[Case] = &[
    Case {
        name: "fires once the value held past the grace period; starts with the breach",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 5,
        setup: none,
        zone: None,
        steps: &[
            (0, V(85.0), &[]),
            (4, V(86.0), &[]),
            (5, V(86.0), &[(Fired, N, W)]),
        ],
    },
    Case {
        name: "a dip under the trigger restarts the grace period",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 5,
        setup: none,
        zone: None,
        steps: &[
            (0, V(85.0), &[]),
            (3, V(79.0), &[]),
            (6, V(85.0), &[]),
            (10, V(85.0), &[]),
            (11, V(85.0), &[(Fired, N, W)]),
        ],
    },
    Case {
        name: "hysteresis: held between clear and trigger, resolved at clear",
        kind: ResourceKind::Vm,
        metric: Metric::Memory,
        threshold: (85.0, 80.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(79.9), &[]),
            (10, V(85.0), &[(Fired, N, W)]),
            (20, V(84.0), &[]),
            (30, V(80.1), &[]),
            (40, V(80.0), &[(Res, N, W)]),
            (50, V(84.9), &[]),
        ],
    },
    Case {
        name: "critical at trigger + 10, escalating an active warning",
        kind: ResourceKind::Vm,
        metric: Metric::Disk,
        threshold: (90.0, 85.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(91.0), &[(Fired, N, W)]),
            (10, V(99.9), &[]),
            (20, V(100.0), &[(Esc, N, C)]),
            (30, V(86.0), &[]),
            (40, V(85.0), &[(Res, N, C)]),
            (50, V(101.0), &[(Fired, N, C)]),
        ],
    },
    Case {
        name: "node temperature (°C) with the node thresholds",
        kind: ResourceKind::Node,
        metric: Metric::Temperature,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(79.0), &[]),
            (10, V(84.0), &[(Fired, N, W)]),
            (20, V(90.0), &[(Esc, N, C)]),
            (30, V(75.0), &[(Res, N, C)]),
        ],
    },
    Case {
        name: "flapping: the fifth change in the window is marked and held",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(89.0), &[(Fired, N, W)]),
            (10, V(50.0), &[(Res, N, W)]),
            (20, V(89.0), &[(Fired, N, W)]),
            (30, V(50.0), &[(Res, N, W)]),
            (40, V(89.0), &[(Fired, Some(Hold::Flapping), W)]),
            // Its firing was not notified, so neither is its end.
            (50, V(50.0), &[(Res, Some(Hold::NotActive), W)]),
        ],
    },
    Case {
        name: "flapping detection off: every change notifies",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| c.flapping.enabled = false,
        zone: None,
        steps: &[
            (0, V(89.0), &[(Fired, N, W)]),
            (10, V(50.0), &[(Res, N, W)]),
            (20, V(89.0), &[(Fired, N, W)]),
            (30, V(50.0), &[(Res, N, W)]),
            (40, V(89.0), &[(Fired, N, W)]),
        ],
    },
    Case {
        name: "-1 in an override disables the metric",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| override_on_node1(r#"{"cpu": -1}"#)(c),
        zone: None,
        steps: &[(0, V(99.0), &[]), (10, V(100.0), &[])],
    },
    Case {
        name: "0 in an override disables the metric",
        kind: ResourceKind::Vm,
        metric: Metric::Memory,
        threshold: (85.0, 80.0),
        grace: 0,
        setup: |c| override_on_node1(r#"{"memory": 0}"#)(c),
        zone: None,
        steps: &[(0, V(99.0), &[])],
    },
    Case {
        name: "-1 in the defaults disables the metric for every resource",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (-1.0, -1.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[(0, V(99.0), &[])],
    },
    Case {
        name: "an override follows the guest that migrated to another node",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| override_on_node1(r#"{"cpu": {"trigger": 95, "clear": 90}}"#)(c),
        zone: None,
        steps: &[
            (0, V(92.0), &[]),
            (10, On2(92.0), &[]),
            (20, On2(96.0), &[(Fired, N, W)]),
            (30, On2(91.0), &[]),
            (40, On2(90.0), &[(Res, N, W)]),
        ],
    },
    Case {
        name: "a disabling override follows the migrated guest too",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| override_on_node1(r#"{"cpu": -1}"#)(c),
        zone: None,
        steps: &[(0, On2(99.0), &[])],
    },
    Case {
        name: "stale data raises no alert, fresh data does",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, Stale(99.0), &[]),
            (10, Stale(99.0), &[]),
            (20, V(99.0), &[(Fired, N, C)]),
        ],
    },
    Case {
        name: "stale data neither resolves nor escalates an active alert",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(85.0), &[(Fired, N, W)]),
            (10, Stale(10.0), &[]),
            (20, Stale(99.0), &[]),
            (30, V(10.0), &[(Res, N, W)]),
        ],
    },
    Case {
        name: "unknown values (-1, NaN) neither raise nor resolve",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(-1.0), &[]),
            (1, V(f64::NAN), &[]),
            (2, V(85.0), &[(Fired, N, W)]),
            (3, V(-1.0), &[]),
            (4, V(f64::NAN), &[]),
            (5, V(70.0), &[(Res, N, W)]),
        ],
    },
    Case {
        name: "cooldown spaces reminders, the hourly cap stops them",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| {
            c.schedule.cooldown = 5;
            c.schedule.max_alerts_hour = 3;
        },
        zone: None,
        steps: &[
            (0, V(85.0), &[(Fired, N, W)]),
            (60, V(85.0), &[]),
            (300, V(85.0), &[(Rem, N, W)]),
            (600, V(85.0), &[(Rem, N, W)]),
            (900, V(85.0), &[]),
            (3_700, V(85.0), &[(Rem, N, W)]),
        ],
    },
    Case {
        name: "not activated: shown, never notified",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| c.activation_state = "pending_review".into(),
        zone: None,
        steps: &[
            (0, V(89.0), &[(Fired, Some(Hold::NotActive), W)]),
            (10, V(70.0), &[(Res, Some(Hold::NotActive), W)]),
        ],
    },
    Case {
        // Weekdays 22:00-08:00 New York time. +14 h = Monday 23:20 UTC but 18:20 in New
        // York: not quiet there; +19 h = Monday 23:20 in New York (Tuesday 04:20 UTC): quiet.
        name: "quiet hours across midnight in the configured time zone",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| {
            let q = &mut c.schedule.quiet_hours;
            q.enabled = true;
            q.start = "22:00".into();
            q.end = "08:00".into();
            q.timezone = "EST5EDT,M3.2.0,M11.1.0".into();
        },
        zone: Some("EST5EDT,M3.2.0,M11.1.0"),
        steps: &[
            (50_400, V(85.0), &[(Fired, N, W)]),
            (50_410, V(70.0), &[(Res, N, W)]),
            (68_400, V(85.0), &[(Fired, Some(Hold::QuietHours), W)]),
        ],
    },
    Case {
        name: "acknowledged: no reminders until unacknowledged",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: |c| c.schedule.cooldown = 1,
        zone: None,
        steps: &[
            (0, V(85.0), &[(Fired, N, W)]),
            (60, V(85.0), &[(Rem, N, W)]),
            (61, Ack, &[]),
            (62, Acked(true), &[]),
            (200, V(85.0), &[]),
            (400, V(86.0), &[]),
            (401, Unack, &[]),
            (402, V(86.0), &[(Rem, N, W)]),
        ],
    },
    Case {
        name: "an acknowledged alert that escalates notifies again, unacknowledged",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(85.0), &[(Fired, N, W)]),
            (1, Ack, &[]),
            (600, V(86.0), &[]),
            (601, V(90.0), &[(Esc, N, C)]),
            (602, Acked(false), &[]),
            // Not acknowledged any more: reminders after the cooldown (5 min).
            (901, V(91.0), &[(Rem, N, C)]),
        ],
    },
    Case {
        name: "a manual clear resolves; the next breach fires again",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[
            (0, V(95.0), &[(Fired, N, C)]),
            (1, Clear, &[(Res, N, C)]),
            (2, V(95.0), &[(Fired, N, C)]),
        ],
    },
    Case {
        name: "a resource that disappears resolves its alerts",
        kind: ResourceKind::Vm,
        metric: Metric::Cpu,
        threshold: (80.0, 75.0),
        grace: 0,
        setup: none,
        zone: None,
        steps: &[(0, V(95.0), &[(Fired, N, C)]), (10, Gone, &[(Res, N, C)])],
    },
];

fn run_case(c: &Case) -> Result<(), String> {
    let mut cfg = active_cfg();
    let (defaults, key) = match c.kind {
        ResourceKind::Node => (&mut cfg.node_defaults, "node"),
        _ => (&mut cfg.guest_defaults, "guest"),
    };
    defaults.set(c.metric, Some(Threshold::new(c.threshold.0, c.threshold.1)));
    cfg.time_thresholds.insert(key.into(), c.grace);
    (c.setup)(&mut cfg);
    let zone = match c.zone {
        Some(z) => Zone::load(z, std::path::Path::new("/nonexistent"))?,
        None => Zone::utc(),
    };
    let mut engine = Engine::new();
    let mut id = String::new();
    for (i, &(secs, act, want)) in c.steps.iter().enumerate() {
        let now = T0 + secs * 1000;
        let at = format!("step {i} (t={secs}s)");
        let obs = |node: &'static str, v: f64, stale: bool| {
            let (id, vmid) = match c.kind {
                ResourceKind::Node => (format!("pve1-{node}"), None),
                _ => (format!("pve1-{node}-100"), Some(100)),
            };
            (id, vmid, node, v, stale)
        };
        let input = match act {
            V(v) => Some(obs("node1", v, false)),
            On2(v) => Some(obs("node2", v, false)),
            Stale(v) => Some(obs("node1", v, true)),
            _ => None,
        };
        let events: Vec<Event> = match act {
            V(_) | On2(_) | Stale(_) | Gone => {
                let owned = input.as_ref();
                let o = owned.map(|(rid, vmid, node, v, stale)| Observation {
                    id: rid,
                    kind: c.kind,
                    vmid: *vmid,
                    stale: *stale,
                    sample_ms: now,
                    ..vm("", node, vec![(c.metric, *v)])
                });
                if let Some((rid, ..)) = owned {
                    id = format!("{rid}-{}", c.metric.key());
                }
                engine.evaluate(&cfg, &zone, o.as_slice(), now)
            }
            Ack => {
                if !engine.acknowledge(&id, "admin", now) {
                    return Err(format!("{at}: nothing to acknowledge ({id})"));
                }
                Vec::new()
            }
            Unack => {
                engine.unacknowledge(&id);
                Vec::new()
            }
            Clear => engine.clear(&cfg, &zone, &id, now).into_iter().collect(),
            Acked(want_acked) => {
                let acked = engine.get(&id).map(|a| a.acknowledged);
                if acked != Some(want_acked) {
                    return Err(format!("{at}: acknowledged {acked:?}, want {want_acked}"));
                }
                Vec::new()
            }
        };
        let got: Vec<(EventKind, Option<Hold>, Level)> = events
            .iter()
            .map(|e| (e.kind, e.hold, e.alert.level))
            .collect();
        if got != want {
            return Err(format!("{at}: events {got:?}, want {want:?}"));
        }
        if let Some(e) = events.iter().find(|e| e.alert.id != id) {
            return Err(format!("{at}: event for {}, want {id}", e.alert.id));
        }
        if let Some(e) = events.iter().find(|e| e.kind == Fired) {
            if e.alert.kind != c.metric.key() {
                return Err(format!("{at}: fired a {} alert", e.alert.kind));
            }
        }
    }
    Ok(())
}

#[test]
fn state_machine_table() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|c| run_case(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a fired alert carries, for the first case of the table.
#[test]
fn a_fired_alert_as_the_api_shows_it() {
    let mut r = Run::new(active_cfg()); // guest cpu 80/75, grace 5 s
    r.cpu(0, 85.0);
    let ev = r.cpu(5, 86.0);
    let a = &ev[0].alert;
    assert_eq!(a.id, "pve1-node1-100-cpu");
    assert_eq!(a.resource_id, "pve1-node1-100");
    assert_eq!(a.message, "VM cpu at 86.0%");
    assert_eq!((a.threshold, a.metadata.clear_threshold), (80.0, 75.0));
    assert_eq!(a.metadata.resource_type, "VM");
    assert_eq!(a.start_time.unix_ms(), T0, "started when the breach did");
    assert_eq!(a.last_notified.map(|t| t.unix_ms()), Some(T0 + 5000));
    r.cpu(10, 75.0);
    assert_eq!(r.engine.recently_resolved().count(), 1);
    let stale = Observation {
        stale: true,
        ..vm("pve1-node1-100", "node1", vec![(Metric::Cpu, 99.0)])
    };
    r.cpu(20, 99.0);
    r.cpu(25, 99.0);
    r.at(30, stale);
    assert!(
        r.engine.get("pve1-node1-100-cpu").unwrap().metadata.stale,
        "a held alert says its data is stale"
    );
}

#[test]
fn tags_steer_alerts() {
    let mut cfg = active_cfg();
    cfg.time_thresholds.insert("guest".into(), 0);
    let mut r = Run::new(cfg);
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
