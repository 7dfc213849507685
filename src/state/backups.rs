//! Backup listings: PVE backup tasks, backup files on storage, guest snapshots, PBS snapshots
//! and PMG configuration backups (raw model, RFC 3339 times).

use crate::util::time::UtcTime;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PVEBackups {
    pub backup_tasks: Vec<BackupTask>,
    pub storage_backups: Vec<StorageBackup>,
    pub guest_snapshots: Vec<GuestSnapshot>,
}

/// A backup-cycle result: `None` parts could not be read and keep their previous listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PveBackupsUpdate {
    pub backup_tasks: Option<Vec<BackupTask>>,
    pub storage_backups: Option<Vec<StorageBackup>>,
    pub guest_snapshots: Option<Vec<GuestSnapshot>>,
}

impl PVEBackups {
    /// These listings with `update` applied, cloning only the parts it leaves as they were.
    pub fn applied(&self, update: PveBackupsUpdate) -> PVEBackups {
        PVEBackups {
            backup_tasks: update
                .backup_tasks
                .unwrap_or_else(|| self.backup_tasks.clone()),
            storage_backups: update
                .storage_backups
                .unwrap_or_else(|| self.storage_backups.clone()),
            guest_snapshots: update
                .guest_snapshots
                .unwrap_or_else(|| self.guest_snapshots.clone()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupTask {
    /// `"<instance>-<UPID>"`.
    pub id: String,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vmid: i64,
    pub status: String,
    pub start_time: UtcTime,
    pub end_time: UtcTime,
    #[serde(skip_serializing_if = "is_zero")]
    pub size: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageBackup {
    /// `"<instance>-<volid>"`.
    pub id: String,
    pub storage: String,
    pub node: String,
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vmid: i64,
    pub time: UtcTime,
    /// Unix seconds.
    pub ctime: i64,
    pub size: i64,
    pub format: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    pub protected: bool,
    pub volid: String,
    #[serde(rename = "isPBS")]
    pub is_pbs: bool,
    pub verified: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub verification: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestSnapshot {
    /// `"<instance>-<node>-<vmid>-<snapname>"`.
    pub id: String,
    pub name: String,
    pub node: String,
    pub instance: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub vmid: i64,
    pub time: UtcTime,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    pub vmstate: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PBSBackup {
    /// `"pbs-<inst>-<datastore>-<ns>-<type>-<backupId>-<unixTime>"`.
    pub id: String,
    pub instance: String,
    pub datastore: String,
    pub namespace: String,
    /// `vm`, `ct` or `host`.
    pub backup_type: String,
    pub vmid: String,
    pub backup_time: UtcTime,
    pub size: i64,
    pub protected: bool,
    pub verified: bool,
    /// The last verification's state (`ok`, `failed`), `none` when never verified.
    pub verification: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub owner: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGBackup {
    /// `"pmg-<inst>-<node>-<unixTs>"`.
    pub id: String,
    pub instance: String,
    pub node: String,
    pub filename: String,
    pub backup_time: UtcTime,
    pub size: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
