//! Decoded PVE storage, backup, task, disk and Ceph payloads. Re-exported through `pve_types`.

use super::flex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One row of `GET /storage` (cluster-wide storage configuration).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StorageConfig {
    pub storage: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub disable: Option<bool>,
    /// Comma-separated node restriction; absent means "all nodes".
    #[serde(default)]
    pub nodes: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub export: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
}

/// One row of `GET /nodes/{node}/storage`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeStorage {
    pub storage: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub used_fraction: Option<f64>,
}

/// One row of `GET /nodes/{node}/disks/list`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PhysicalDisk {
    pub devpath: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub serial: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default, deserialize_with = "flex::wearout", skip_serializing)]
    pub wearout: Option<flex::Wearout>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    /// A number, or `"SSD"`/`"N/A"` (→ `None`); `-1` on virtual disks.
    #[serde(default, deserialize_with = "flex::i64")]
    pub rpm: Option<i64>,
    /// What uses the disk (`"LVM"`, `"ZFS"`, `"BIOS boot"`...).
    #[serde(default, deserialize_with = "flex::string")]
    pub used: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub wwn: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub gpt: Option<bool>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub osdid: Option<i64>,
    #[serde(default)]
    pub by_id_link: Option<String>,
}

/// `GET /cluster/ceph/status` (the parts Pulse reads; the rest is ignored).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephStatus {
    #[serde(default)]
    pub fsid: Option<String>,
    #[serde(default)]
    pub health: Option<CephHealth>,
    #[serde(default)]
    pub servicemap: Option<CephServiceMap>,
    #[serde(default)]
    pub osdmap: Option<CephOsdMap>,
    #[serde(default)]
    pub pgmap: Option<CephPgMap>,
    #[serde(default)]
    pub quorum_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephHealth {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub checks: BTreeMap<String, CephCheck>,
    /// Pre-Luminous summary list; kept because Pulse joins its messages too.
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub summary: Vec<CephSummaryItem>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephCheck {
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<CephCheckSummary>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephCheckSummary {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephSummaryItem {
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephServiceMap {
    #[serde(default)]
    pub services: BTreeMap<String, CephService>,
}

/// A service type (`mon`, `mgr`, `osd`, `rgw`...). Ceph puts a `"summary": ""` string next to
/// the daemon objects in `daemons`, so non-object entries are skipped.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephService {
    #[serde(default, deserialize_with = "flex::lenient_map")]
    pub daemons: BTreeMap<String, CephDaemon>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDaemon {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephOsdMap {
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_osds: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_up_osds: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_in_osds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephPgMap {
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_pgs: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub data_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_objects: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub read_bytes_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub write_bytes_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub read_op_per_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub write_op_per_sec: Option<f64>,
}

/// `GET /cluster/ceph/df` as Pulse reads it: the envelope's `data` holds another `data`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDf {
    #[serde(default)]
    pub data: Option<CephDfData>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfData {
    #[serde(default)]
    pub stats: Option<CephDfStats>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub pools: Vec<CephDfPool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfStats {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_used_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_avail_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfPool {
    #[serde(default, deserialize_with = "flex::i64")]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stats: Option<CephDfPoolStats>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfPoolStats {
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub max_avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub objects: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub percent_used: Option<f64>,
}

/// One row of `GET /nodes/{node}/tasks`. `status` is `"OK"` or the error text; absent while
/// the task runs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Task {
    pub upid: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The task's object id: the vmid for `vzdump`, a service name for `srvreload`.
    #[serde(default, deserialize_with = "flex::string")]
    pub id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub starttime: Option<i64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub endtime: Option<i64>,
}

/// One row of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StorageContent {
    pub volid: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub ctime: Option<i64>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "flex::opt_vmid")]
    pub vmid: Option<u32>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub protected: Option<bool>,
    #[serde(default)]
    pub verification: Option<VerificationState>,
    #[serde(default)]
    pub encrypted: Option<String>,
}

/// `verification` of a PBS-backed volume or PBS snapshot: an object or, on old builds, a string.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum VerificationState {
    Detailed {
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        upid: Option<String>,
    },
    State(String),
}

impl VerificationState {
    /// `"ok"`, `"failed"`... whichever spelling arrived.
    pub fn state(&self) -> Option<&str> {
        match self {
            VerificationState::Detailed { state, .. } => state.as_deref(),
            VerificationState::State(s) => Some(s),
        }
    }
}

/// One row of `GET /nodes/{node}/{qemu|lxc}/{vmid}/snapshot`, including the `current`
/// pseudo-entry ("You are here!") that callers skip.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Snapshot {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub snaptime: Option<i64>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub vmstate: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub running: Option<bool>,
}

/// One row of `GET /cluster/backup` (scheduled vzdump jobs).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BackupJob {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub vmid: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub enabled: Option<bool>,
    #[serde(default, rename = "next-run", deserialize_with = "flex::i64")]
    pub next_run: Option<i64>,
    #[serde(default)]
    pub mode: Option<String>,
}

/// A replication job or its status (`GET /cluster/replication`, `GET /nodes/{n}/replication`).
/// Field spellings differ across PVE releases (`last_sync` / `last-sync` / `last_sync_time`,
/// `error` / `last_sync_error`...), and a job may carry several of them at once, so the raw
/// object is kept and the accessors try each spelling in Pulse's order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(transparent)]
pub struct ReplicationJob(pub BTreeMap<String, serde_json::Value>);

impl ReplicationJob {
    fn first(&self, keys: &[&str]) -> Option<&serde_json::Value> {
        keys.iter()
            .filter_map(|k| self.0.get(*k))
            .find(|v| !v.is_null())
    }
    fn string(&self, keys: &[&str]) -> Option<String> {
        self.first(keys)
            .and_then(|v| flex::string(v).ok().flatten())
    }
    fn number(&self, keys: &[&str]) -> Option<f64> {
        self.first(keys).and_then(|v| flex::f64(v).ok().flatten())
    }

    pub fn id(&self) -> Option<String> {
        self.string(&["id", "jobid"])
    }
    /// The guest vmid (sent as a string or a number).
    pub fn guest(&self) -> Option<String> {
        self.string(&["guest"])
    }
    pub fn jobnum(&self) -> Option<i64> {
        self.number(&["jobnum"]).map(|n| n as i64)
    }
    pub fn source(&self) -> Option<String> {
        self.string(&["source"])
    }
    pub fn source_storage(&self) -> Option<String> {
        self.string(&["source-storage", "source_storage"])
    }
    pub fn target(&self) -> Option<String> {
        self.string(&["target"])
    }
    pub fn target_storage(&self) -> Option<String> {
        self.string(&["target-storage", "target_storage"])
    }
    pub fn schedule(&self) -> Option<String> {
        self.string(&["schedule"])
    }
    pub fn kind(&self) -> Option<String> {
        self.string(&["type"])
    }
    pub fn comment(&self) -> Option<String> {
        self.string(&["comment"])
    }
    pub fn remove_job(&self) -> Option<String> {
        self.string(&["remove_job", "remove-job"])
    }
    /// `enabled`, else not `disable`, else `active`; default true.
    pub fn enabled(&self) -> bool {
        let flag = |k: &str| self.0.get(k).and_then(|v| flex::bool(v).ok().flatten());
        flag("enabled")
            .or_else(|| flag("disable").map(|d| !d))
            .or_else(|| flag("active"))
            .unwrap_or(true)
    }
    pub fn state(&self) -> Option<String> {
        self.string(&["state", "status"])
    }
    pub fn last_sync_status(&self) -> Option<String> {
        self.string(&[
            "last_sync_status",
            "last-sync-status",
            "last_sync_state",
            "last-sync-state",
        ])
    }
    pub fn error(&self) -> Option<String> {
        self.string(&["error", "last_sync_error"])
    }
    pub fn fail_count(&self) -> Option<u64> {
        self.number(&["fail_count", "fail-count"])
            .map(|n| n.max(0.0) as u64)
    }
    pub fn last_sync_duration(&self) -> Option<f64> {
        self.number(&[
            "last_sync_duration",
            "last-sync-duration",
            "last_sync_duration_sec",
            "duration",
        ])
    }
    /// Unix seconds or a date string, as sent.
    pub fn last_sync(&self) -> Option<String> {
        self.string(&["last_sync", "last-sync", "last_sync_time"])
    }
    pub fn next_sync(&self) -> Option<String> {
        self.string(&["next_sync", "next-sync", "next_sync_time"])
    }
    /// Rate limit in MB/s.
    pub fn rate(&self) -> Option<f64> {
        self.number(&["rate"])
    }
}

/// One row of `GET /nodes/{node}/disks/zfs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ZfsPoolListEntry {
    pub name: String,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub alloc: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub frag: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub dedup: Option<f64>,
}

/// `GET /nodes/{node}/disks/zfs/{pool}`: pool state and the vdev tree.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ZfsPoolDetail {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub scan: Option<String>,
    #[serde(default)]
    pub errors: Option<String>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub children: Vec<ZfsVdev>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ZfsVdev {
    pub name: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub read: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub write: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub cksum: Option<u64>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub leaf: Option<bool>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub children: Vec<ZfsVdev>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_accessors_accept_every_spelling() {
        let a: ReplicationJob = serde_json::from_str(
            r#"{"jobid":"101-0","guest":101,"last-sync":1700000000,"fail-count":"3","disable":1,
                "last_sync_error":"boom","target_storage":"tank"}"#,
        )
        .unwrap_or_default();
        assert_eq!(a.id().as_deref(), Some("101-0"));
        assert_eq!(a.guest().as_deref(), Some("101"));
        assert_eq!(a.last_sync().as_deref(), Some("1700000000"));
        assert_eq!(a.fail_count(), Some(3));
        assert!(!a.enabled());
        assert_eq!(a.error().as_deref(), Some("boom"));
        assert_eq!(a.target_storage().as_deref(), Some("tank"));
        let b: ReplicationJob =
            serde_json::from_str(r#"{"id":"x","error":null}"#).unwrap_or_default();
        assert!(b.enabled());
        assert_eq!(b.error(), None);
    }
}
