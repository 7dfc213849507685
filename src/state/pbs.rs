//! Proxmox Backup Server instances as `/api/state` shows them (Go's raw model: times are
//! RFC 3339 strings here, unlike nodes and guests).

use crate::util::time::UtcTime;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PBSInstance {
    /// `"pbs-<name>"`.
    pub id: String,
    pub name: String,
    pub host: String,
    /// `"online"` or `"offline"`.
    pub status: String,
    /// Version string, `"connected"` when only the datastore listing answered, or `"unknown"`.
    pub version: String,
    /// Percent.
    pub cpu: f64,
    /// Percent.
    pub memory: f64,
    pub memory_used: i64,
    pub memory_total: i64,
    pub uptime: i64,
    pub datastores: Vec<PBSDatastore>,
    /// Job lists (`monitor::pbs_jobs`): sync, verify, prune and garbage collection with last
    /// run state and next run. `backupJobs` (declared by the original, never filled) stays `[]`:
    /// backup jobs are PVE's.
    pub backup_jobs: Vec<serde_json::Value>,
    pub sync_jobs: Vec<serde_json::Value>,
    pub verify_jobs: Vec<serde_json::Value>,
    pub prune_jobs: Vec<serde_json::Value>,
    pub garbage_jobs: Vec<serde_json::Value>,
    /// `"healthy"`, `"unhealthy"` or `"error"`.
    pub connection_health: String,
    pub last_seen: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PBSDatastore {
    pub name: String,
    pub total: i64,
    pub used: i64,
    pub free: i64,
    /// Percent.
    pub usage: f64,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<PBSNamespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduplication_factor: Option<f64>,
    /// The datastore's garbage collection: last run state, when, what it freed and left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garbage_collection: Option<PBSGarbageCollection>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PBSGarbageCollection {
    /// `ok`, `error`, `running` or `never`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<UtcTime>,
    pub removed_bytes: i64,
    pub pending_bytes: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PBSNamespace {
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    pub depth: i64,
}
