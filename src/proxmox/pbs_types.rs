//! Decoded Proxmox Backup Server responses. PBS is written in Rust and types its JSON more
//! strictly than PVE, but Pulse still decodes leniently: old releases differ (`total` vs
//! `total-space`, `files` as names or objects, `verification` as a string or an object).

use super::flex;
use serde::{Deserialize, Serialize};

pub use super::pve_types::{VerificationState, Version};

/// `GET /nodes/localhost/status`. `loadavg` is numbers here (strings on PVE).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PbsNodeStatus {
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub wait: Option<f64>,
    #[serde(default)]
    pub memory: Option<PbsMemory>,
    #[serde(default)]
    pub swap: Option<PbsMemory>,
    #[serde(default)]
    pub root: Option<PbsRootFs>,
    #[serde(default, deserialize_with = "flex::f64_list")]
    pub loadavg: Vec<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub kversion: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PbsMemory {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PbsRootFs {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
}

/// One row of `GET /admin/datastore`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct DatastoreListEntry {
    pub store: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub maintenance: Option<String>,
}

/// `GET /admin/datastore/{store}/status`. Older PBS releases used `*-space` names and an
/// underscore spelling of the dedup factor.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct DatastoreStatus {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
    #[serde(default, rename = "total-space", deserialize_with = "flex::u64")]
    pub total_space: Option<u64>,
    #[serde(default, rename = "used-space", deserialize_with = "flex::u64")]
    pub used_space: Option<u64>,
    #[serde(default, rename = "avail-space", deserialize_with = "flex::u64")]
    pub avail_space: Option<u64>,
    #[serde(
        default,
        rename = "deduplication-factor",
        alias = "deduplication_factor",
        deserialize_with = "flex::f64"
    )]
    pub deduplication_factor: Option<f64>,
    #[serde(default, rename = "gc-status")]
    pub gc_status: Option<GcStatus>,
}

/// One row of `GET /status/datastore-usage`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct DatastoreUsage {
    pub store: String,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
    #[serde(default, rename = "backend-type")]
    pub backend_type: Option<String>,
    #[serde(
        default,
        rename = "estimated-full-date",
        deserialize_with = "flex::i64"
    )]
    pub estimated_full_date: Option<i64>,
}

/// One row of `GET /admin/datastore/{store}/rrd`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct DatastoreRrdPoint {
    #[serde(default, deserialize_with = "flex::i64")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub total: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub used: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub available: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub dedup_factor: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub read_bytes: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub write_bytes: Option<f64>,
}

/// Garbage collection status: `GET /admin/datastore/{store}/gc` (one object) and each row of
/// `GET /admin/gc`. A never-run GC has no `last-run-*` keys and `"upid": null`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GcStatus {
    #[serde(default)]
    pub store: Option<String>,
    /// Absent (`None`) vs `null` (`Some(None)`: never ran) vs a task id.
    #[serde(default, deserialize_with = "flex::nullable")]
    pub upid: Option<Option<String>>,
    #[serde(default, rename = "index-data-bytes", deserialize_with = "flex::u64")]
    pub index_data_bytes: Option<u64>,
    #[serde(default, rename = "disk-bytes", deserialize_with = "flex::u64")]
    pub disk_bytes: Option<u64>,
    #[serde(default, rename = "disk-chunks", deserialize_with = "flex::u64")]
    pub disk_chunks: Option<u64>,
    #[serde(default, rename = "pending-bytes", deserialize_with = "flex::u64")]
    pub pending_bytes: Option<u64>,
    #[serde(default, rename = "removed-bytes", deserialize_with = "flex::u64")]
    pub removed_bytes: Option<u64>,
    #[serde(default, rename = "last-run-state")]
    pub last_run_state: Option<String>,
    #[serde(default, rename = "last-run-endtime", deserialize_with = "flex::i64")]
    pub last_run_endtime: Option<i64>,
    #[serde(default, rename = "next-run", deserialize_with = "flex::i64")]
    pub next_run: Option<i64>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub duration: Option<u64>,
}

/// One row of `GET /admin/datastore/{store}/namespace`. The root namespace is `""`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Namespace {
    #[serde(default)]
    pub ns: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// One row of `GET /admin/datastore/{store}/groups`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BackupGroup {
    #[serde(rename = "backup-type")]
    pub backup_type: String,
    #[serde(rename = "backup-id", deserialize_with = "id_string")]
    pub backup_id: String,
    #[serde(default, rename = "last-backup", deserialize_with = "flex::i64")]
    pub last_backup: Option<i64>,
    #[serde(default, rename = "backup-count", deserialize_with = "flex::u64")]
    pub backup_count: Option<u64>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub files: Vec<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// One row of `GET /admin/datastore/{store}/snapshots`. `verification` is absent for a
/// snapshot that was never verified.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BackupSnapshot {
    #[serde(rename = "backup-type")]
    pub backup_type: String,
    #[serde(rename = "backup-id", deserialize_with = "id_string")]
    pub backup_id: String,
    #[serde(rename = "backup-time", deserialize_with = "required_i64")]
    pub backup_time: i64,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub files: Vec<BackupFile>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub protected: Option<bool>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub verification: Option<VerificationState>,
}

impl BackupSnapshot {
    /// Pulse's `verified`: the last verification finished with state `ok`.
    pub fn verified(&self) -> bool {
        self.verification.as_ref().and_then(|v| v.state()) == Some("ok")
    }
}

/// A file of a backup snapshot: a bare name on old PBS, an object on current ones.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum BackupFile {
    Detailed {
        filename: String,
        #[serde(default, deserialize_with = "flex::u64")]
        size: Option<u64>,
        #[serde(default, rename = "crypt-mode")]
        crypt_mode: Option<String>,
    },
    Name(String),
}

impl BackupFile {
    pub fn filename(&self) -> &str {
        match self {
            BackupFile::Detailed { filename, .. } => filename,
            BackupFile::Name(n) => n,
        }
    }
}

/// One row of `GET /admin/verify` (verification jobs).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct VerifyJob {
    pub id: String,
    #[serde(default)]
    pub store: Option<String>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default, rename = "last-run-state")]
    pub last_run_state: Option<String>,
    #[serde(default, rename = "last-run-endtime", deserialize_with = "flex::i64")]
    pub last_run_endtime: Option<i64>,
    #[serde(default, rename = "last-run-upid")]
    pub last_run_upid: Option<String>,
    #[serde(default, rename = "next-run", deserialize_with = "flex::i64")]
    pub next_run: Option<i64>,
    #[serde(default, rename = "ignore-verified", deserialize_with = "flex::bool")]
    pub ignore_verified: Option<bool>,
    #[serde(default, rename = "outdated-after", deserialize_with = "flex::u64")]
    pub outdated_after: Option<u64>,
}

/// Backup ids are strings (`"152"`, `"host1"`), but some writers send numbers.
fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    flex::string(d)?.ok_or_else(|| serde::de::Error::custom("backup-id missing"))
}

fn required_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    flex::i64(d)?.ok_or_else(|| serde::de::Error::custom("backup-time is not a number"))
}
