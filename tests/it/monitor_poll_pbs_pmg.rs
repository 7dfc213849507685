//! PBS and PMG poll executors answering from real captured PBS responses (and constructed PMG
//! ones: no PMG capture exists): units, ids, fallbacks, and failure classification.

use pulse::monitor::poll_pbs::{poll_pbs, poll_pbs_backups, poll_pbs_backups_capped, PbsApi};
use pulse::monitor::poll_pmg::{poll_pmg, PmgApi};
use pulse::monitor::ErrorClass;
use pulse::proxmox::pbs_types::{
    BackupGroup, BackupSnapshot, DatastoreListEntry, DatastoreStatus, GcStatus, Namespace,
    PbsNodeStatus,
};
use pulse::proxmox::pmg_types::{
    MailCountPoint, MailStatistics, PmgBackup, PmgClusterNode, PostfixQueue, QuarantineStatus,
    SpamScore,
};
use pulse::proxmox::pve_types::Version;
use pulse::proxmox::ProxmoxError;
use pulse::state::LiveState;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000_000;

fn pbs_fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/proxmox/pbs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    v["data"].clone()
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ProxmoxError> {
    serde_json::from_value(v).map_err(|e| ProxmoxError::Decode {
        path: "fixture".into(),
        msg: e.to_string(),
    })
}

struct Pbs {
    version_fails: bool,
    auth_fails: bool,
}

impl PbsApi for Pbs {
    fn version(&mut self) -> Result<Version, ProxmoxError> {
        if self.auth_fails {
            return Err(ProxmoxError::Auth {
                status: 401,
                message: "invalid token".into(),
            });
        }
        if self.version_fails {
            return Err(ProxmoxError::Timeout("version".into()));
        }
        decode(pbs_fixture("version.json"))
    }
    fn node_status(&mut self) -> Result<PbsNodeStatus, ProxmoxError> {
        decode(pbs_fixture("nodes_localhost_status.json"))
    }
    fn datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError> {
        decode(json!([{"store": "erebor"}, {"store": "broken"}]))
    }
    fn datastore_status(&mut self, store: &str) -> Result<DatastoreStatus, ProxmoxError> {
        if store == "broken" {
            return Err(ProxmoxError::Http {
                status: 500,
                excerpt: "datastore is in maintenance mode".into(),
            });
        }
        // Old PBS spelling, no total: total = used + avail; no dedup factor: from GC stats.
        decode(json!({"used-space": 400, "avail-space": 600}))
    }
    fn datastore_gc(&mut self, _store: &str) -> Result<GcStatus, ProxmoxError> {
        let list: Vec<Value> = decode(pbs_fixture("admin_gc.json"))?;
        decode(list.into_iter().next().unwrap_or(Value::Null))
    }
    fn groups(&mut self, store: &str, _ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError> {
        if store == "broken" {
            return Err(ProxmoxError::Http {
                status: 500,
                excerpt: "maintenance".into(),
            });
        }
        decode(
            json!([{"backup-type": "vm", "backup-id": "152", "backup-count": 1, "last-backup": 1_791_087_763}]),
        )
    }
    fn snapshots(
        &mut self,
        _store: &str,
        _ns: &str,
        _t: &str,
        _id: &str,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError> {
        decode(pbs_fixture("admin_datastore_store_snapshots.json"))
    }
    fn namespaces(&mut self, _store: &str) -> Result<Vec<Namespace>, ProxmoxError> {
        decode(
            json!([{"ns": ""}, {"ns": "prod", "parent": ""}, {"ns": "prod/web", "parent": "prod"}]),
        )
    }
}

#[test]
fn pbs_poll_units_datastores_and_state() {
    let inst = poll_pbs(
        &mut Pbs {
            version_fails: false,
            auth_fails: false,
        },
        "backup",
        "https://pbs:8007",
        T0,
    )
    .expect("poll succeeds");
    assert_eq!(inst.id, "pbs-backup");
    assert_eq!(inst.version, "4.2");
    assert!(
        (inst.cpu - 0.428_494_911_622_923).abs() < 1e-9,
        "cpu as percent: {}",
        inst.cpu
    );
    assert_eq!(
        (inst.memory_used, inst.memory_total),
        (598_495_232, 8_195_104_768)
    );
    assert!((inst.memory - 7.303).abs() < 0.001);
    assert_eq!(inst.uptime, 803);
    let ds = &inst.datastores[0];
    assert_eq!(
        (ds.total, ds.used, ds.free, ds.usage),
        (1_000, 400, 600, 40.0)
    );
    let dedup = ds.deduplication_factor.unwrap_or(0.0);
    assert!((dedup - 575_554_027_520.0 / 115_363_386_675.0).abs() < 1e-9);
    let depths: Vec<i64> = ds.namespaces.iter().map(|n| n.depth).collect();
    assert_eq!(depths, [0, 0, 1]);
    assert_eq!(inst.datastores[1].status, "unavailable");
    assert!(inst.datastores[1].error.contains("maintenance"));

    let mut state = LiveState::new();
    state.replace_pbs_instance(inst, None, T0);
    let v: Value = serde_json::from_slice(&state.to_frontend_json()).unwrap_or(Value::Null);
    assert_eq!(v["connectionHealth"]["pbs-backup"], true);
    assert_eq!(v["pbs"][0]["lastSeen"], "2023-11-14T22:13:20Z");
    assert_eq!(v["pbs"][0]["backupJobs"], json!([]));
    assert!(v["pbs"][0]["datastores"][1]["error"].is_string());
}

#[test]
fn pbs_version_fallback_and_auth_failure() {
    let inst = poll_pbs(
        &mut Pbs {
            version_fails: true,
            auth_fails: false,
        },
        "b",
        "https://pbs:8007",
        T0,
    )
    .expect("datastore listing answers");
    assert_eq!(inst.version, "connected");
    let err = poll_pbs(
        &mut Pbs {
            version_fails: false,
            auth_fails: true,
        },
        "b",
        "https://pbs:8007",
        T0,
    )
    .expect_err("auth failure fails the poll");
    assert_eq!(err.class, ErrorClass::Permanent);
}

struct Pmg;

impl PmgApi for Pmg {
    fn version(&mut self) -> Result<Version, ProxmoxError> {
        decode(json!({"version": "8.1.2", "release": "8.1"}))
    }
    fn cluster_status(&mut self) -> Result<Vec<PmgClusterNode>, ProxmoxError> {
        decode(
            json!([{"cid": 1, "name": "mx1", "type": "master"}, {"cid": 2, "name": "mx2", "type": "node"}]),
        )
    }
    fn postfix_queue(&mut self, node: &str) -> Result<PostfixQueue, ProxmoxError> {
        if node == "mx2" {
            return Err(ProxmoxError::Connect("down".into()));
        }
        decode(json!({"active": "1", "deferred": 2, "hold": 0, "incoming": 3, "oldest_age": 120}))
    }
    fn node_backups(&mut self, _node: &str) -> Result<Vec<PmgBackup>, ProxmoxError> {
        decode(
            json!([{"filename": "pmg-backup_2023_11_14.tgz", "size": 1234, "timestamp": 1_699_999_999}]),
        )
    }
    fn mail_statistics(&mut self) -> Result<MailStatistics, ProxmoxError> {
        decode(
            json!({"count": "100", "count_in": 60, "count_out": 40, "spamcount_in": 5, "avptime": 0.25}),
        )
    }
    fn mail_count(&mut self, _timespan_secs: u64) -> Result<Vec<MailCountPoint>, ProxmoxError> {
        decode(json!([{"index": 0, "time": 1_699_996_400, "count": 4, "count_in": 3}]))
    }
    fn spam_scores(&mut self) -> Result<Vec<SpamScore>, ProxmoxError> {
        decode(json!([{"level": "3", "count": 7, "ratio": 0.5}]))
    }
    fn spam_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        decode(json!({"count": 9}))
    }
    fn virus_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        decode(json!({"count": "1"}))
    }
}

#[test]
fn pmg_poll_shapes_mail_statistics() {
    let (inst, backups) =
        poll_pmg(&mut Pmg, "mail", "https://pmg:8006", T0).expect("poll succeeds");
    assert_eq!(inst.id, "pmg-mail");
    assert_eq!(inst.version, "8.1.2");
    let q = inst.nodes[0].queue_status.as_ref().expect("mx1 queue");
    assert_eq!((q.total, q.oldest_age), (6, 120));
    assert!(
        inst.nodes[1].queue_status.is_none(),
        "failed queue call leaves it out"
    );
    assert_eq!(inst.nodes[0].role, "master");
    let stats = inst.mail_stats.as_ref().expect("stats");
    assert_eq!(
        (
            stats.count_total,
            stats.spam_in,
            stats.average_process_time_ms
        ),
        (100.0, 5.0, 250.0)
    );
    assert_eq!(
        inst.mail_count[0].window_end.secs - inst.mail_count[0].window_start.secs,
        3600
    );
    assert_eq!(inst.spam_distribution[0].score, "3");
    assert_eq!(inst.quarantine.map(|q| (q.spam, q.virus)), Some((9, 1)));
    let backups = backups.expect("backups listed");
    assert_eq!(backups.len(), 2);
    assert_eq!(backups[0].id, "pmg-mail-mx1-1699999999");

    let mut state = LiveState::new();
    state.replace_pmg_instance(inst, Some(backups), T0);
    let v: Value = serde_json::from_slice(&state.to_frontend_json()).unwrap_or(Value::Null);
    assert_eq!(v["pmg"][0]["mailStats"]["countTotal"], 100.0);
    assert_eq!(v["pmgBackups"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["backups"]["pmg"], v["pmgBackups"]);
    assert_eq!(v["connectionHealth"]["pmg-mail"], true);
}

#[test]
fn pbs_backups_per_namespace_and_group() {
    let mut api = Pbs {
        version_fails: false,
        auth_fails: false,
    };
    let stores = vec!["erebor".to_string(), "broken".to_string()];
    let backups = poll_pbs_backups(&mut api, "backup", &stores).expect("one datastore listed");
    // Three namespaces ("", prod, prod/web) × one group × one snapshot on erebor; broken skipped.
    assert_eq!(backups.len(), 3);
    let b = &backups[0];
    assert_eq!(b.id, "pbs-backup-erebor--vm-152-1791087763");
    assert_eq!(
        (b.backup_type.as_str(), b.vmid.as_str(), b.size),
        ("vm", "152", 85_904_082_241)
    );
    assert!(b.verified && !b.protected);
    assert_eq!(b.owner, "pve@pbs!saruman");
    assert_eq!(backups[1].namespace, "prod");

    let mut state = LiveState::new();
    let inst = poll_pbs(&mut api, "backup", "https://pbs:8007", T0).expect("poll");
    state.replace_pbs_instance(inst, Some(backups), T0);
    let v: Value = serde_json::from_slice(&state.to_frontend_json()).unwrap_or(Value::Null);
    assert_eq!(v["pbsBackups"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["backups"]["pbs"], v["pbsBackups"]);
    assert_eq!(v["pbsBackups"][0]["backupTime"], "2026-10-04T04:22:43Z");
}

/// A datastore of `groups` groups with `per_group` snapshots each, one a minute apart, group g
/// offset by g seconds, and the largest snapshot list any one request returned.
struct BigStore {
    groups: usize,
    per_group: usize,
    largest_answer: usize,
}

impl PbsApi for BigStore {
    fn version(&mut self) -> Result<Version, ProxmoxError> {
        decode(pbs_fixture("version.json"))
    }
    fn node_status(&mut self) -> Result<PbsNodeStatus, ProxmoxError> {
        decode(pbs_fixture("nodes_localhost_status.json"))
    }
    fn datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError> {
        decode(json!([{"store": "big"}]))
    }
    fn datastore_status(&mut self, _store: &str) -> Result<DatastoreStatus, ProxmoxError> {
        decode(json!({"used": 1, "avail": 1, "total": 2}))
    }
    fn datastore_gc(&mut self, _store: &str) -> Result<GcStatus, ProxmoxError> {
        decode(json!({}))
    }
    fn namespaces(&mut self, _store: &str) -> Result<Vec<Namespace>, ProxmoxError> {
        decode(json!([{"ns": ""}]))
    }
    fn groups(&mut self, _store: &str, _ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError> {
        let list: Vec<Value> = (0..self.groups)
            .map(|g| json!({"backup-type": "vm", "backup-id": (100 + g).to_string(), "backup-count": self.per_group, "last-backup": 1}))
            .collect();
        decode(json!(list))
    }
    fn snapshots(
        &mut self,
        _store: &str,
        _ns: &str,
        t: &str,
        id: &str,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError> {
        let g: i64 = id.parse::<i64>().unwrap() - 100;
        let list: Vec<Value> = (0..self.per_group as i64)
            .map(|i| json!({"backup-type": t, "backup-id": id, "backup-time": 1_700_000_000 + i * 60 + g, "files": []}))
            .collect();
        self.largest_answer = self.largest_answer.max(list.len());
        decode(json!(list))
    }
}

#[test]
fn a_huge_datastore_keeps_only_its_newest_snapshots_fetched_a_group_at_a_time() {
    // 100,000 snapshots in 100 groups of 1,000.
    let mut api = BigStore {
        groups: 100,
        per_group: 1_000,
        largest_answer: 0,
    };
    let stores = vec!["big".to_string()];
    let cap = 5_000;
    let kept = poll_pbs_backups_capped(&mut api, "pbs", &stores, cap).expect("listed");
    assert_eq!(kept.len(), cap, "bounded whatever the datastore holds");
    assert_eq!(api.largest_answer, 1_000, "one group per request");
    // The newest: the last 50 minutes of each of the 100 groups.
    let oldest_kept = kept.iter().map(|b| b.backup_time.unix_ms()).min().unwrap();
    let newest_dropped_min = (1_700_000_000 + 949 * 60) * 1000;
    assert!(oldest_kept >= newest_dropped_min, "{oldest_kept}");
    let newest = kept.iter().map(|b| b.backup_time.unix_ms()).max().unwrap();
    assert_eq!(newest, (1_700_000_000 + 999 * 60 + 99) * 1000);
    // Under the cap nothing is dropped, and the default cap is the documented one.
    let mut small = BigStore {
        groups: 3,
        per_group: 10,
        largest_answer: 0,
    };
    assert_eq!(
        poll_pbs_backups(&mut small, "pbs", &stores).unwrap().len(),
        30
    );
    assert_eq!(
        pulse::monitor::poll_pbs::MAX_SNAPSHOTS_PER_DATASTORE,
        20_000
    );
}
