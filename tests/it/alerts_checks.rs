//! The checks that are not trigger/clear pairs, through the state machine with an injected
//! clock: a physical disk's SMART health and wearout, a PMG's queues (with their hysteresis),
//! held while the PMG does not answer; switched off by `disableAllStorage` and an override.

use pulse::alerts::alert::{Level, Observation, Presence, ResourceKind};
use pulse::alerts::conditions;
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, Event, EventKind};
use pulse::alerts::threshold::ThresholdConfig;
use pulse::alerts::tz::Zone;
use pulse::state::physical_disk::PhysicalDisk;
use pulse::state::pmg::{PMGInstance, PMGNodeStatus, PMGQueueStatus};

const T0: i64 = 1_767_000_000_000;

fn cfg() -> AlertConfig {
    AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    }
}

fn disk(health: &str, wearout: i64) -> PhysicalDisk {
    PhysicalDisk {
        id: "lab-pve1--dev-sdc".into(),
        node: "pve1".into(),
        instance: "lab".into(),
        dev_path: "/dev/sdc".into(),
        health: health.into(),
        wearout,
        ..Default::default()
    }
}

fn disk_obs(d: &PhysicalDisk, sample_ms: i64) -> Observation<'_> {
    Observation {
        id: &d.id,
        name: &d.dev_path,
        kind: ResourceKind::PhysicalDisk,
        node: &d.node,
        instance: &d.instance,
        vmid: None,
        tags: &[],
        presence: Presence::Up,
        template: false,
        stale: false,
        sample_ms,
        metrics: Vec::new(),
        conditions: conditions::physical_disk(d),
    }
}

fn summary(events: &[Event]) -> Vec<(EventKind, String, Level)> {
    events
        .iter()
        .map(|e| (e.kind, e.alert.id.clone(), e.alert.level))
        .collect()
}

#[test]
fn disk_wearout_and_smart_health_fire_escalate_and_resolve() {
    let (cfg, zone, mut e) = (cfg(), Zone::utc(), Engine::new());
    let mut eval = |d: &PhysicalDisk, secs: i64| {
        let now = T0 + secs * 1000;
        e.evaluate(&cfg, &zone, &[disk_obs(d, now)], now)
    };
    // Healthy: nothing. 8 % left: pending for the storage grace period (5 s), then a warning.
    assert!(eval(&disk("PASSED", 80), 0).is_empty());
    assert!(eval(&disk("PASSED", 8), 10).is_empty());
    let ev = eval(&disk("PASSED", 8), 15);
    let wear = "disk-wearout-lab-pve1--dev-sdc".to_string();
    assert_eq!(
        summary(&ev),
        vec![(EventKind::Fired, wear.clone(), Level::Warning)]
    );
    assert_eq!(ev[0].alert.kind, "disk-wearout");
    assert_eq!(
        ev[0].alert.message,
        "Disk /dev/sdc on pve1 has 8% life left"
    );
    assert_eq!(ev[0].alert.metadata.resource_type, "Disk");
    assert_eq!(ev[0].hold, None);
    // 4 % left: critical (an escalation); then SMART fails too.
    assert_eq!(
        summary(&eval(&disk("PASSED", 4), 20)),
        vec![(EventKind::Escalated, wear.clone(), Level::Critical)]
    );
    eval(&disk("FAILED", 4), 30);
    let ev = eval(&disk("FAILED", 4), 40);
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Fired,
            "disk-health-lab-pve1--dev-sdc".into(),
            Level::Critical
        )]
    );
    // The disk was replaced: both resolve.
    let ev = eval(&disk("PASSED", 100), 50);
    let mut kinds: Vec<_> = ev.iter().map(|e| (e.kind, e.alert.kind.as_str())).collect();
    kinds.sort_by_key(|k| k.1);
    assert_eq!(
        kinds,
        [
            (EventKind::Resolved, "disk-health"),
            (EventKind::Resolved, "disk-wearout")
        ]
    );
    // Unknown wearout (-1, "N/A" from SMART) raises nothing.
    assert!(eval(&disk("UNKNOWN", -1), 60).is_empty());
    assert!(eval(&disk("UNKNOWN", -1), 70).is_empty());
}

#[test]
fn disk_checks_are_switched_off_by_disable_all_storage_and_an_override() {
    let zone = Zone::utc();
    let worn = disk("FAILED", 1);
    let mut all_off = cfg();
    all_off.disable_all_storage = true;
    let mut one_off = cfg();
    one_off.overrides.insert(
        worn.id.clone(),
        ThresholdConfig {
            disabled: true,
            ..Default::default()
        },
    );
    for c in [all_off, one_off] {
        let mut e = Engine::new();
        for secs in [0, 10, 20] {
            let now = T0 + secs * 1000;
            assert!(e
                .evaluate(&c, &zone, &[disk_obs(&worn, now)], now)
                .is_empty());
        }
    }
}

fn pmg(total: i64) -> PMGInstance {
    PMGInstance {
        id: "pmg-mail".into(),
        name: "mail".into(),
        nodes: vec![PMGNodeStatus {
            name: "mail".into(),
            queue_status: Some(PMGQueueStatus {
                total,
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// (seconds, queue total, presence, events expected, still active afterwards)
type Row = (i64, i64, Presence, Vec<(EventKind, Level)>, bool);

fn pmg_obs<'a>(
    p: &'a PMGInstance,
    cfg: &AlertConfig,
    presence: Presence,
    now: i64,
) -> Observation<'a> {
    Observation {
        id: &p.id,
        name: &p.name,
        kind: ResourceKind::PmgInstance,
        node: &p.name,
        instance: &p.name,
        vmid: None,
        tags: &[],
        presence,
        template: false,
        stale: false,
        sample_ms: now,
        metrics: Vec::new(),
        conditions: conditions::pmg(p, &cfg.pmg_defaults),
    }
}

#[test]
fn pmg_queue_fires_holds_between_clear_and_warning_and_survives_an_outage() {
    let mut cfg = cfg();
    cfg.time_thresholds.insert("pmg".into(), 0);
    let (zone, mut e) = (Zone::utc(), Engine::new());
    let id = "pmg-mail-queue-total".to_string();
    let table: [Row; 7] = [
        (0, 120, Presence::Up, vec![], false),
        (
            10,
            700,
            Presence::Up,
            vec![(EventKind::Fired, Level::Warning)],
            true,
        ),
        (
            20,
            1500,
            Presence::Up,
            vec![(EventKind::Escalated, Level::Critical)],
            true,
        ),
        // 460: under the warning (500), above 90 % of it: held.
        (30, 460, Presence::Up, vec![], true),
        // The PMG stops answering: its queue alert is held, not resolved.
        (40, 0, Presence::Offline, vec![], true),
        (50, 0, Presence::Offline, vec![], true),
        (
            60,
            300,
            Presence::Up,
            vec![(EventKind::Resolved, Level::Critical)],
            false,
        ),
    ];
    for (i, (secs, total, presence, want, active)) in table.into_iter().enumerate() {
        let now = T0 + secs * 1000;
        let p = pmg(total);
        let ev = e.evaluate(&cfg, &zone, &[pmg_obs(&p, &cfg, presence, now)], now);
        let got: Vec<(EventKind, Level)> = ev
            .iter()
            .filter(|e| e.alert.id == id)
            .map(|e| (e.kind, e.alert.level))
            .collect();
        assert_eq!(got, want, "row {i}");
        assert_eq!(e.get(&id).is_some(), active, "row {i}");
    }
}

/// PBS datastores use the storage thresholds (85 / 80); storage that goes away needs two
/// samples before `storage-offline-<id>`.
#[test]
fn pbs_datastore_usage_and_storage_offline() {
    use pulse::alerts::threshold::Metric;
    let mut cfg = cfg();
    cfg.time_thresholds.insert("pbs".into(), 0);
    let (zone, mut e) = (Zone::utc(), Engine::new());
    let obs = |kind, id, presence, usage: f64, now| Observation {
        id,
        name: "store",
        kind,
        node: "pbs1",
        instance: "pbs1",
        vmid: None,
        tags: &[],
        presence,
        template: false,
        stale: false,
        sample_ms: now,
        metrics: vec![(Metric::Usage, usage)],
        conditions: Vec::new(),
    };
    let ds = ResourceKind::PbsDatastore;
    let ev = e.evaluate(
        &cfg,
        &zone,
        &[obs(ds, "pbs-pbs1-store", Presence::Up, 91.0, T0)],
        T0,
    );
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Fired,
            "pbs-pbs1-store-usage".into(),
            Level::Warning
        )]
    );
    assert_eq!(ev[0].alert.message, "PBS Datastore at 91.0%");
    let ev = e.evaluate(
        &cfg,
        &zone,
        &[obs(ds, "pbs-pbs1-store", Presence::Up, 79.0, T0 + 10_000)],
        T0 + 10_000,
    );
    assert_eq!(ev[0].kind, EventKind::Resolved);

    let st = ResourceKind::Storage;
    let mut fired = Vec::new();
    for i in 0..3 {
        let now = T0 + 100_000 + i * 10_000;
        fired.push(summary(&e.evaluate(
            &cfg,
            &zone,
            &[obs(st, "lab-pve1-nfs", Presence::Offline, -1.0, now)],
            now,
        )));
    }
    assert!(fired[0].is_empty());
    assert_eq!(
        fired[1],
        vec![(
            EventKind::Fired,
            "storage-offline-lab-pve1-nfs".into(),
            Level::Critical
        )]
    );
    assert!(
        fired[2].is_empty(),
        "still offline: no new event (cooldown)"
    );
}

/// Snapshot ages (off by default): an old snapshot alerts once `snapshotDefaults` is
/// enabled, and the alert resolves when the snapshot is deleted.
#[test]
fn an_old_snapshot_alerts_until_deleted() {
    use pulse::state::backups::GuestSnapshot;
    let day = 86_400_000;
    let mut cfg = cfg();
    cfg.time_thresholds.insert("snapshot".into(), 0);
    let snap = GuestSnapshot {
        id: "lab-pve1-100-old".into(),
        name: "old".into(),
        node: "pve1".into(),
        instance: "lab".into(),
        kind: "qemu".into(),
        vmid: 100,
        time: pulse::util::time::UtcTime::from_unix_ms(T0 - 40 * day),
        ..Default::default()
    };
    let obs = |cfg: &AlertConfig, now| {
        if !cfg.snapshot_defaults.enabled {
            return None; // as the observer: nothing to watch
        }
        Some(Observation {
            id: &snap.id,
            name: &snap.name,
            kind: ResourceKind::Snapshot,
            node: &snap.node,
            instance: &snap.instance,
            vmid: None,
            tags: &[],
            presence: Presence::Up,
            template: false,
            stale: false,
            sample_ms: now,
            metrics: Vec::new(),
            conditions: conditions::snapshot_age(&snap, &cfg.snapshot_defaults, now)
                .into_iter()
                .collect(),
        })
    };
    let (zone, mut e) = (Zone::utc(), Engine::new());
    assert!(obs(&cfg, T0).is_none(), "off by default");
    cfg.snapshot_defaults.enabled = true; // 30 / 45 days
    let o: Vec<_> = obs(&cfg, T0).into_iter().collect();
    let ev = e.evaluate(&cfg, &zone, &o, T0);
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Fired,
            "snapshot-age-lab-pve1-100-old".into(),
            Level::Warning
        )]
    );
    let later = T0 + 6 * day;
    let o: Vec<_> = obs(&cfg, later).into_iter().collect();
    assert_eq!(
        e.evaluate(&cfg, &zone, &o, later)[0].kind,
        EventKind::Escalated
    );
    let ev = e.evaluate(&cfg, &zone, &[], later + 1000);
    assert_eq!(ev[0].kind, EventKind::Resolved, "deleted");
}
