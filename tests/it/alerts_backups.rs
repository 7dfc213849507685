//! Backup age (`backupDefaults`, off by default): a guest whose newest backup (PVE storage or
//! PBS) is older than the warning age raises `backup-age-<guest>`, critical past the critical
//! age, resolved by a new backup; guests without a backup, templates and a disabled check raise
//! nothing. Failed PBS jobs (verify, sync, prune, GC) alert until their next good run.

use pulse::alerts::alert::Level;
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, EventKind};
use pulse::alerts::observe::{observe, Scratch};
use pulse::alerts::tz::Zone;
use pulse::state::backups::{PBSBackup, PveBackupsUpdate, StorageBackup};
use pulse::state::guest::VMFrontend;
use pulse::state::pbs::PBSInstance;
use pulse::state::snapshot::PveSnapshot;
use pulse::state::store::LiveState;
use pulse::util::time::UtcTime;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_767_000_000_000;

fn vm(vmid: u32, template: bool) -> VMFrontend {
    VMFrontend {
        id: format!("lab-n1-{vmid}"),
        vmid,
        name: format!("vm{vmid}"),
        node: "n1".into(),
        instance: "lab".into(),
        status: "running".into(),
        template,
        ..VMFrontend::default()
    }
}

fn state(pve_backup_age_days: &[(u32, i64)], pbs_backup_age_days: &[(u32, i64)]) -> LiveState {
    let mut st = LiveState::new();
    let snap = PveSnapshot {
        vms: vec![
            vm(100, false),
            vm(101, false),
            vm(102, false),
            vm(103, true),
        ],
        connection_healthy: true,
        ..PveSnapshot::default()
    };
    st.replace_pve_instance("lab", snap, NOW);
    let backups = pve_backup_age_days
        .iter()
        .map(|&(vmid, days)| StorageBackup {
            id: format!("b-{vmid}-{days}"),
            instance: "lab".into(),
            node: "n1".into(),
            vmid: i64::from(vmid),
            time: UtcTime::from_unix_ms(NOW - days * DAY),
            ..StorageBackup::default()
        })
        .collect();
    st.update_pve_backups(
        "lab",
        PveBackupsUpdate {
            storage_backups: Some(backups),
            ..PveBackupsUpdate::default()
        },
        NOW,
    );
    let pbs: Vec<PBSBackup> = pbs_backup_age_days
        .iter()
        .map(|&(vmid, days)| PBSBackup {
            id: format!("p-{vmid}-{days}"),
            instance: "pbs1".into(),
            backup_type: "vm".into(),
            vmid: vmid.to_string(),
            backup_time: UtcTime::from_unix_ms(NOW - days * DAY),
            ..PBSBackup::default()
        })
        .collect();
    let pbs1 = PBSInstance {
        id: "pbs-pbs1".into(),
        name: "pbs1".into(),
        status: "online".into(),
        ..PBSInstance::default()
    };
    st.replace_pbs_instance(pbs1, Some(pbs), NOW);
    st
}

fn evaluate(
    engine: &mut Engine,
    scratch: &mut Scratch,
    cfg: &AlertConfig,
    st: &LiveState,
) -> Vec<(EventKind, String, Level)> {
    let obs = observe(st, scratch, cfg, NOW);
    let mut v: Vec<_> = engine
        .evaluate(cfg, &Zone::utc(), &obs, NOW)
        .into_iter()
        .map(|e| (e.kind, e.alert.id, e.alert.level))
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

#[test]
fn old_backups_warn_then_go_critical_and_a_new_backup_resolves() {
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    cfg.time_thresholds.insert("guest".into(), 0);
    let (mut engine, mut scratch) = (Engine::new(), Scratch::new());
    // 100: newest 8 days (PVE 8, PBS 20); 101: PBS 15 days; 102: none; 103: a template.
    let old = state(&[(100, 8), (100, 30), (103, 40)], &[(100, 20), (101, 15)]);
    assert!(
        evaluate(&mut engine, &mut scratch, &cfg, &old).is_empty(),
        "off by default"
    );
    cfg.backup_defaults.enabled = true; // warning 7 days, critical 14
    assert_eq!(
        evaluate(&mut engine, &mut scratch, &cfg, &old),
        vec![
            (
                EventKind::Fired,
                "backup-age-lab-n1-100".into(),
                Level::Warning
            ),
            (
                EventKind::Fired,
                "backup-age-lab-n1-101".into(),
                Level::Critical
            ),
        ]
    );
    let a = engine.get("backup-age-lab-n1-100").unwrap();
    assert_eq!(a.kind, "backup-age");
    assert_eq!(a.value, 8.0);
    assert_eq!(a.message, "VM vm100 (100): last backup 8 days ago");
    // A fresh backup of 100 (a new listing): resolved; 101 still critical.
    let fresh = state(&[(100, 0), (100, 8)], &[(101, 15)]);
    assert_eq!(
        evaluate(&mut engine, &mut scratch, &cfg, &fresh),
        vec![(
            EventKind::Resolved,
            "backup-age-lab-n1-100".into(),
            Level::Warning
        )]
    );
    assert!(engine.get("backup-age-lab-n1-101").is_some());
}

/// A PBS job whose last run failed alerts (a verify job critically: data may be damaged) and
/// resolves on its next good run; jobs that ran fine raise nothing.
#[test]
fn failed_pbs_jobs_alert_until_they_run_fine() {
    use serde_json::json;
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    cfg.time_thresholds.insert("pbs".into(), 0);
    let (mut engine, mut scratch) = (Engine::new(), Scratch::new());
    let with_jobs = |verify: &str, sync: &str| {
        let mut st = LiveState::new();
        let pbs1 = PBSInstance {
            id: "pbs-pbs1".into(),
            name: "pbs1".into(),
            status: "online".into(),
            verify_jobs: vec![json!({"id": "weekly", "store": "main", "status": verify,
                                     "error": "verification failed: 3 chunks corrupt"})],
            sync_jobs: vec![json!({"id": "offsite", "store": "main", "status": sync,
                                   "lastRunState": "connection refused"})],
            ..PBSInstance::default()
        };
        st.replace_pbs_instance(pbs1, None, NOW);
        st
    };
    assert!(evaluate(&mut engine, &mut scratch, &cfg, &with_jobs("ok", "ok")).is_empty());
    assert_eq!(
        evaluate(
            &mut engine,
            &mut scratch,
            &cfg,
            &with_jobs("error", "error")
        ),
        vec![
            (
                EventKind::Fired,
                "pbs-job-failed-pbs-pbs1-sync-offsite".into(),
                Level::Warning
            ),
            (
                EventKind::Fired,
                "pbs-job-failed-pbs-pbs1-verify-weekly".into(),
                Level::Critical
            ),
        ]
    );
    let v = engine.get("pbs-job-failed-pbs-pbs1-verify-weekly").unwrap();
    assert_eq!(v.kind, "pbs-verify-failed");
    assert_eq!(
        v.message,
        "PBS pbs1 verify job weekly failed: verification failed: 3 chunks corrupt"
    );
    assert_eq!(
        engine
            .get("pbs-job-failed-pbs-pbs1-sync-offsite")
            .unwrap()
            .message,
        "PBS pbs1 sync job offsite failed: connection refused"
    );
    assert_eq!(
        evaluate(&mut engine, &mut scratch, &cfg, &with_jobs("ok", "error")),
        vec![(
            EventKind::Resolved,
            "pbs-job-failed-pbs-pbs1-verify-weekly".into(),
            Level::Critical
        )]
    );
}

/// With backup checks on, a guest whose newest vzdump task failed raises `backup-failed-<guest>`
/// (an older failure followed by a success does not); a newer successful task resolves it.
#[test]
fn a_failed_newest_backup_task_alerts_until_a_backup_succeeds() {
    use pulse::state::backups::BackupTask;
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    cfg.time_thresholds.insert("guest".into(), 0);
    cfg.backup_defaults.enabled = true;
    let (mut engine, mut scratch) = (Engine::new(), Scratch::new());
    let task = |vmid: u32, hours_ago: i64, error: &str| BackupTask {
        id: format!("lab-UPID-{vmid}-{hours_ago}"),
        node: "n1".into(),
        kind: "vzdump".into(),
        vmid: i64::from(vmid),
        status: if error.is_empty() {
            "OK".into()
        } else {
            error.into()
        },
        error: error.into(),
        start_time: UtcTime::from_unix_ms(NOW - hours_ago * 3_600_000),
        ..BackupTask::default()
    };
    let with_tasks = |tasks: Vec<BackupTask>| {
        // Recent backups: no age alert gets in the way.
        let mut st = state(&[(100, 0), (101, 0)], &[]);
        st.update_pve_backups(
            "lab",
            PveBackupsUpdate {
                backup_tasks: Some(tasks),
                ..PveBackupsUpdate::default()
            },
            NOW,
        );
        st
    };
    let st = with_tasks(vec![
        task(100, 1, "job failed: storage full"),
        task(100, 25, ""),
        task(101, 25, "timeout"),
        task(101, 1, ""),
    ]);
    assert_eq!(
        evaluate(&mut engine, &mut scratch, &cfg, &st),
        vec![(
            EventKind::Fired,
            "backup-failed-lab-n1-100".into(),
            Level::Warning
        )]
    );
    assert_eq!(
        engine.get("backup-failed-lab-n1-100").unwrap().message,
        "VM vm100 (100): last backup failed: job failed: storage full"
    );
    let st = with_tasks(vec![
        task(100, 0, ""),
        task(100, 1, "job failed: storage full"),
    ]);
    assert_eq!(
        evaluate(&mut engine, &mut scratch, &cfg, &st),
        vec![(
            EventKind::Resolved,
            "backup-failed-lab-n1-100".into(),
            Level::Warning
        )]
    );
}
