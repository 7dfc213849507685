//! Checks judged before the engine sees them (see [`Condition`]): a physical disk's SMART
//! health and SSD wearout, a PMG's mail queues, oldest queued message and quarantine sizes.
//!
//! Counts fire at their warning level, are critical at their critical level and resolve below
//! [`COUNT_CLEAR_RATIO`] of the warning level, so a queue hovering at the warning level does
//! not flap. A level of 0 turns a check off (for a pair, 0 warning means "critical only").

use super::alert::{Condition, Level};
use super::config::{AgeDefaults, PmgDefaults};
use crate::state::backups::GuestSnapshot;
use crate::state::pbs::PBSInstance;
use crate::state::physical_disk::PhysicalDisk;
use crate::state::pmg::PMGInstance;

/// A count alert resolves below this share of its warning level.
pub const COUNT_CLEAR_RATIO: f64 = 0.9;
/// An SSD with less life left than this (percent) raises a warning...
pub const WEAROUT_WARN_PCT: i64 = 10;
/// ... and with less than this a critical alert.
pub const WEAROUT_CRIT_PCT: i64 = 5;

/// SMART verdicts that are not a failure (`UNKNOWN`: no SMART data, nothing to say).
fn healthy(verdict: &str) -> bool {
    let v = verdict.trim();
    v.is_empty()
        || ["PASSED", "OK", "UNKNOWN"]
            .iter()
            .any(|ok| v.eq_ignore_ascii_case(ok))
}

/// `docker-container-health-<container>` while the container's own health check says
/// `unhealthy` (a warning: it still runs). Nothing otherwise, so a healthy container costs no
/// allocation; an alert whose condition is no longer reported resolves.
pub fn container_health(resource_id: &str, name: &str, health: &str) -> Option<Condition> {
    health.eq_ignore_ascii_case("unhealthy").then(|| Condition {
        id: format!("docker-container-health-{resource_id}"),
        kind: "docker-container-health",
        level: Some(Level::Warning),
        cleared: false,
        value: 1.0,
        threshold: 1.0,
        clear_threshold: 0.0,
        unit: "",
        message: format!("Docker container {name} is unhealthy"),
    })
}

/// `disk-health-<disk>` (critical while SMART says the disk is failing) and
/// `disk-wearout-<disk>` (life left under 10 %; unknown wearout, `-1`, is no alert).
pub fn physical_disk(d: &PhysicalDisk) -> Vec<Condition> {
    let mut out = Vec::with_capacity(2);
    let bad = !healthy(&d.health);
    out.push(Condition {
        id: format!("disk-health-{}", d.id),
        kind: "disk-health",
        level: bad.then_some(Level::Critical),
        cleared: !bad,
        value: 0.0,
        threshold: 0.0,
        clear_threshold: 0.0,
        unit: "",
        message: format!(
            "Disk {} on {} SMART health {}",
            d.dev_path,
            d.node,
            d.health.trim()
        ),
    });
    if d.wearout >= 0 {
        let level = if d.wearout < WEAROUT_CRIT_PCT {
            Some(Level::Critical)
        } else if d.wearout < WEAROUT_WARN_PCT {
            Some(Level::Warning)
        } else {
            None
        };
        out.push(Condition {
            id: format!("disk-wearout-{}", d.id),
            kind: "disk-wearout",
            cleared: level.is_none(),
            level,
            value: d.wearout as f64,
            threshold: WEAROUT_WARN_PCT as f64,
            clear_threshold: WEAROUT_WARN_PCT as f64,
            unit: "%",
            message: format!(
                "Disk {} on {} has {}% life left",
                d.dev_path, d.node, d.wearout
            ),
        });
    }
    out
}

/// A count against a warning / critical pair; `None` when both are 0 (off).
fn count(
    id: String,
    kind: &'static str,
    value: f64,
    warn: u32,
    crit: u32,
    unit: &'static str,
    message: String,
) -> Option<Condition> {
    let (warn, crit) = (f64::from(warn), f64::from(crit));
    let first = if warn > 0.0 { warn } else { crit };
    if first <= 0.0 {
        return None;
    }
    let level = if crit > 0.0 && value >= crit {
        Some(Level::Critical)
    } else if value >= first {
        Some(Level::Warning)
    } else {
        None
    };
    let clear = first * COUNT_CLEAR_RATIO;
    Some(Condition {
        id,
        kind,
        cleared: value < clear,
        level,
        value,
        threshold: first,
        clear_threshold: clear,
        unit,
        message,
    })
}

/// Queue totals over the PMG's nodes (`<pmg>-queue-total|queue-deferred|queue-hold`), the
/// oldest queued message in minutes (`<pmg>-oldest-message`), and the quarantine sizes
/// (`<pmg>-quarantine-spam|virus`). Parts the poll could not read raise nothing.
pub fn pmg(p: &PMGInstance, t: &PmgDefaults) -> Vec<Condition> {
    let mut out = Vec::new();
    let queues: Vec<_> = p
        .nodes
        .iter()
        .filter_map(|n| n.queue_status.as_ref())
        .collect();
    if !queues.is_empty() {
        let sum = |f: fn(&crate::state::pmg::PMGQueueStatus) -> i64| {
            queues.iter().map(|q| f(q).max(0)).sum::<i64>() as f64
        };
        let (total, deferred, hold) = (sum(|q| q.total), sum(|q| q.deferred), sum(|q| q.hold));
        let oldest_min = queues
            .iter()
            .map(|q| q.oldest_age.max(0))
            .max()
            .unwrap_or(0) as f64
            / 60.0;
        let name = &p.name;
        out.extend(count(
            format!("{}-queue-total", p.id),
            "queue-total",
            total,
            t.queue_total_warning,
            t.queue_total_critical,
            "messages",
            format!("PMG {name} mail queue at {total} messages"),
        ));
        out.extend(count(
            format!("{}-queue-deferred", p.id),
            "queue-deferred",
            deferred,
            t.deferred_queue_warn,
            t.deferred_queue_critical,
            "messages",
            format!("PMG {name} deferred queue at {deferred} messages"),
        ));
        out.extend(count(
            format!("{}-queue-hold", p.id),
            "queue-hold",
            hold,
            t.hold_queue_warn,
            t.hold_queue_critical,
            "messages",
            format!("PMG {name} hold queue at {hold} messages"),
        ));
        out.extend(count(
            format!("{}-oldest-message", p.id),
            "oldest-message",
            oldest_min.floor(),
            t.oldest_message_warn_mins,
            t.oldest_message_crit_mins,
            "min",
            format!(
                "PMG {name} oldest queued message is {:.0} minutes old",
                oldest_min.floor()
            ),
        ));
    }
    if let Some(q) = p.quarantine {
        let (spam, virus) = (q.spam.max(0) as f64, q.virus.max(0) as f64);
        out.extend(count(
            format!("{}-quarantine-spam", p.id),
            "quarantine-spam",
            spam,
            t.quarantine_spam_warn,
            t.quarantine_spam_critical,
            "messages",
            format!("PMG {} spam quarantine at {spam} messages", p.name),
        ));
        out.extend(count(
            format!("{}-quarantine-virus", p.id),
            "quarantine-virus",
            virus,
            t.quarantine_virus_warn,
            t.quarantine_virus_critical,
            "messages",
            format!("PMG {} virus quarantine at {virus} messages", p.name),
        ));
    }
    out
}

/// `snapshot-age-<snapshot>`: warning at `warningDays`, critical at `criticalDays` (0: that
/// level is off); it resolves when the snapshot is deleted.
pub fn snapshot_age(s: &GuestSnapshot, t: &AgeDefaults, now_ms: i64) -> Option<Condition> {
    let days = ((now_ms - s.time.unix_ms()) / 86_400_000).max(0) as f64;
    let kind = if s.kind == "lxc" { "container" } else { "VM" };
    count(
        format!("snapshot-age-{}", s.id),
        "snapshot-age",
        days,
        t.warning_days,
        t.critical_days,
        "days",
        format!(
            "Snapshot {} of {kind} {} on {} is {days} days old",
            s.name, s.vmid, s.node
        ),
    )
    .map(|mut c| {
        // Ages only grow until the snapshot goes: no hysteresis needed.
        c.clear_threshold = c.threshold;
        c.cleared = c.level.is_none();
        c
    })
}

/// The alert type of each issue Pulse derives for a Docker host (`agents::issues`).
fn docker_issue_kind(issue: &str) -> &'static str {
    match issue {
        "restart-loop" => "docker-container-restart-loop",
        "oom-kill" => "docker-container-oom-kill",
        "exit-code" => "docker-container-exit",
        "health-check" => "docker-container-health",
        "memory-pressure" => "docker-container-memory-limit",
        "service-replicas" => "docker-service-health",
        _ => "docker-issue",
    }
}

/// One condition per issue of a `dockerHosts[]` entry: each its own alert, raised at the
/// issue's severity and resolved when the issue is gone from the host's next report.
/// Container issues follow `disableAllDockerContainers` and the ignored name prefixes.
pub fn docker_issues(
    host_resource: &str,
    host: &serde_json::Value,
    cfg: &super::config::AlertConfig,
) -> Vec<Condition> {
    let Some(issues) = host["issues"].as_array() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in issues {
        let text = |k: &str| i[k].as_str().unwrap_or_default();
        // A failing health check is judged per container (`docker-container-health`): not
        // twice. A non-zero exit stays: a container never seen running (a batch job) has no
        // state alert.
        if text("type") == "health-check" {
            continue;
        }
        let container = text("containerName");
        let is_container = !text("containerId").is_empty();
        if is_container
            && (cfg.disable_all_docker_containers
                || cfg
                    .docker_ignored_container_prefixes
                    .iter()
                    .any(|p| !p.is_empty() && container.starts_with(p.as_str())))
        {
            continue;
        }
        let subject = if is_container {
            text("containerId")
        } else {
            text("serviceId")
        };
        out.push(Condition {
            id: format!("{host_resource}-{subject}-{}", text("type")),
            kind: docker_issue_kind(text("type")),
            level: Some(if text("severity") == "critical" {
                Level::Critical
            } else {
                Level::Warning
            }),
            cleared: true,
            value: 1.0,
            threshold: 1.0,
            clear_threshold: 0.0,
            unit: "",
            message: format!(
                "{}: {}",
                if container.is_empty() {
                    text("serviceName")
                } else {
                    container
                },
                text("message")
            ),
        });
    }
    out
}

/// A PBS job whose last run failed: `pbs-job-failed-<pbs>-<kind>-<job>` (type
/// `pbs-verify-failed`, critical, for a verify job: data may be damaged; `pbs-job-failed`,
/// warning, for sync, prune and garbage collection). Jobs that ran fine, run, or never ran
/// yield nothing, so the alert resolves on the next good run.
pub fn pbs_jobs(p: &PBSInstance) -> Vec<Condition> {
    let kinds: [(&str, &[serde_json::Value]); 4] = [
        ("verify", &p.verify_jobs),
        ("sync", &p.sync_jobs),
        ("prune", &p.prune_jobs),
        ("gc", &p.garbage_jobs),
    ];
    let mut out = Vec::new();
    for (kind, jobs) in kinds {
        for j in jobs.iter().filter(|j| j["status"] == "error") {
            let id = j["id"].as_str().unwrap_or("");
            let error = j["error"]
                .as_str()
                .or_else(|| j["lastRunState"].as_str())
                .unwrap_or("failed");
            let verify = kind == "verify";
            out.push(Condition {
                id: format!("pbs-job-failed-{}-{kind}-{id}", p.id),
                kind: if verify {
                    "pbs-verify-failed"
                } else {
                    "pbs-job-failed"
                },
                level: Some(if verify {
                    Level::Critical
                } else {
                    Level::Warning
                }),
                cleared: false,
                value: 1.0,
                threshold: 1.0,
                clear_threshold: 0.0,
                unit: "",
                message: format!("PBS {} {kind} job {id} failed: {error}", p.name),
            });
        }
    }
    out
}

/// `backup-failed-<guest>` (warning) while the guest's newest backup task failed; resolved
/// when a newer one succeeds (the condition is then not reported).
pub fn backup_failed(
    guest_id: &str,
    (kind, name, vmid): (&str, &str, u32),
    error: &str,
) -> Condition {
    Condition {
        id: format!("backup-failed-{guest_id}"),
        kind: "backup-failed",
        level: Some(Level::Warning),
        cleared: false,
        value: 1.0,
        threshold: 1.0,
        clear_threshold: 0.0,
        unit: "",
        message: format!("{kind} {name} ({vmid}): last backup failed: {error}"),
    }
}

/// `backup-age-<guest>`: days since the guest's newest backup (PVE storage or PBS) against
/// `backupDefaults`. `None` below the clear level (nine tenths of the warning age), so the
/// thousands of recently backed-up guests cost nothing; an active alert whose guest got a
/// new backup is then no longer reported and resolves.
pub fn backup_age(
    guest_id: &str,
    (kind, name, vmid): (&str, &str, u32),
    newest_ms: i64,
    t: &AgeDefaults,
    now_ms: i64,
) -> Option<Condition> {
    let days = ((now_ms - newest_ms) / 86_400_000).max(0) as f64;
    let first = if t.warning_days > 0 {
        t.warning_days
    } else {
        t.critical_days
    };
    if first == 0 || days < f64::from(first) * COUNT_CLEAR_RATIO {
        return None;
    }
    count(
        format!("backup-age-{guest_id}"),
        "backup-age",
        days,
        t.warning_days,
        t.critical_days,
        "days",
        format!("{kind} {name} ({vmid}): last backup {days} days ago"),
    )
    .map(|mut c| {
        // An age only falls with a new backup: no hysteresis needed.
        c.clear_threshold = c.threshold;
        c.cleared = c.level.is_none();
        c
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::pmg::{PMGNodeStatus, PMGQuarantine, PMGQueueStatus};

    #[test]
    fn docker_issues_follow_the_container_switches() {
        let host = serde_json::json!({"issues": [
            {"type": "oom-kill", "severity": "critical", "containerId": "c1",
             "containerName": "web", "message": "killed"},
            {"type": "restart-loop", "severity": "warning", "containerId": "c2",
             "containerName": "tmp-job", "message": "restarted 5 times"},
            {"type": "exit-code", "severity": "warning", "containerId": "c3",
             "containerName": "batch", "message": "exited with 3"},
            {"type": "service-replicas", "severity": "warning", "serviceId": "s1",
             "serviceName": "api", "message": "1 of 3 running"}
        ]});
        let mut cfg = super::super::config::AlertConfig::default();
        let all = docker_issues("docker-host-h", &host, &cfg);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].id, "docker-host-h-c1-oom-kill");
        assert_eq!(all[0].kind, "docker-container-oom-kill");
        assert_eq!(all[0].level, Some(Level::Critical));
        assert_eq!(all[1].kind, "docker-container-restart-loop");
        assert_eq!(all[2].kind, "docker-container-exit");
        assert_eq!(all[3].kind, "docker-service-health");
        cfg.docker_ignored_container_prefixes = vec!["tmp-".into()];
        let kinds: Vec<&str> = docker_issues("docker-host-h", &host, &cfg)
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "docker-container-oom-kill",
                "docker-container-exit",
                "docker-service-health"
            ]
        );
        cfg.disable_all_docker_containers = true;
        let left = docker_issues("docker-host-h", &host, &cfg);
        assert_eq!(left.len(), 1, "service issues stay");
        assert_eq!(left[0].id, "docker-host-h-s1-service-replicas");
    }

    fn by_kind<'a>(c: &'a [Condition], kind: &str) -> &'a Condition {
        c.iter().find(|c| c.kind == kind).expect(kind)
    }

    #[test]
    fn disk_health_and_wearout_table() {
        // (health, wearout, health level, wearout level or "none" when absent)
        let cases = [
            ("PASSED", 100, None, Some(None)),
            ("OK", 9, None, Some(Some(Level::Warning))),
            ("passed", 4, None, Some(Some(Level::Critical))),
            ("FAILED", 50, Some(Level::Critical), Some(None)),
            ("UNKNOWN", -1, None, None),
            ("", 10, None, Some(None)),
        ];
        for (i, (health, wearout, h, w)) in cases.into_iter().enumerate() {
            let d = PhysicalDisk {
                id: "lab-pve1--dev-sda".into(),
                node: "pve1".into(),
                dev_path: "/dev/sda".into(),
                health: health.into(),
                wearout,
                ..Default::default()
            };
            let c = physical_disk(&d);
            let hc = by_kind(&c, "disk-health");
            assert_eq!(hc.id, "disk-health-lab-pve1--dev-sda");
            assert_eq!(hc.level, h, "case {i}");
            assert_eq!(hc.cleared, h.is_none(), "case {i}");
            let wc = c.iter().find(|c| c.kind == "disk-wearout");
            assert_eq!(wc.map(|c| c.level), w, "case {i}");
        }
    }

    #[test]
    fn snapshot_age_levels() {
        let day = 86_400_000;
        let t = AgeDefaults {
            enabled: true,
            ..AgeDefaults::default() // 7 / 14 days
        };
        let s = GuestSnapshot {
            id: "lab-pve1-100-before-upgrade".into(),
            name: "before-upgrade".into(),
            node: "pve1".into(),
            kind: "qemu".into(),
            vmid: 100,
            time: crate::util::time::UtcTime::from_unix_ms(0),
            ..Default::default()
        };
        let at = |d: i64| snapshot_age(&s, &t, d * day + 1).unwrap();
        assert_eq!((at(6).level, at(6).cleared), (None, true));
        assert_eq!(at(7).level, Some(Level::Warning));
        assert_eq!(at(7).id, "snapshot-age-lab-pve1-100-before-upgrade");
        assert_eq!(
            at(7).message,
            "Snapshot before-upgrade of VM 100 on pve1 is 7 days old"
        );
        assert_eq!(at(15).level, Some(Level::Critical));
        let off = AgeDefaults {
            warning_days: 0,
            critical_days: 0,
            ..t.clone()
        };
        assert!(snapshot_age(&s, &off, 20 * day).is_none());
    }

    #[test]
    fn pmg_counts_sum_nodes_and_clear_below_ninety_percent() {
        let t = PmgDefaults::default(); // total 500/1000, oldest 30/60 min, spam 2000/5000
        let node = |total, oldest_age| PMGNodeStatus {
            queue_status: Some(PMGQueueStatus {
                total,
                oldest_age,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut p = PMGInstance {
            id: "pmg-mail".into(),
            name: "mail".into(),
            nodes: vec![node(300, 600), node(300, 2400)],
            quarantine: Some(PMGQuarantine {
                spam: 6000,
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = pmg(&p, &t);
        let total = by_kind(&c, "queue-total");
        assert_eq!(
            (total.id.as_str(), total.value),
            ("pmg-mail-queue-total", 600.0)
        );
        assert_eq!(total.level, Some(Level::Warning));
        assert_eq!(
            by_kind(&c, "oldest-message").level,
            Some(Level::Warning),
            "40 minutes"
        );
        assert_eq!(by_kind(&c, "quarantine-spam").level, Some(Level::Critical));
        assert_eq!(by_kind(&c, "quarantine-virus").level, None);
        // 460 is under the warning (500) but above 90 % of it: held, not cleared.
        p.nodes = vec![node(460, 0)];
        let total = by_kind(&pmg(&p, &t), "queue-total").clone();
        assert_eq!((total.level, total.cleared), (None, false));
        p.nodes = vec![node(449, 0)];
        assert!(by_kind(&pmg(&p, &t), "queue-total").cleared);
        // 0/0 is off; no queue data raises nothing.
        let off = PmgDefaults {
            queue_total_warning: 0,
            queue_total_critical: 0,
            ..PmgDefaults::default()
        };
        assert!(pmg(&p, &off).iter().all(|c| c.kind != "queue-total"));
        p.nodes = vec![PMGNodeStatus::default()];
        p.quarantine = None;
        assert!(pmg(&p, &t).is_empty());
    }
}
