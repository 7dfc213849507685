//! PVE storage replication jobs as `/api/state` shows them (`ReplicationJobFrontend`).

use serde::Serialize;

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationJobFrontend {
    /// `"<instance>-<jobId>"`.
    pub id: String,
    pub instance: String,
    /// PVE's job id, e.g. `"100-0"`.
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_number: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guest_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guest_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guest_node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_storage: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_storage: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schedule: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_sync_status: String,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<i64>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_unix: Option<i64>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub last_sync_duration_seconds: i64,
    /// `HH:MM:SS`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_sync_duration_human: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_unix: Option<i64>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duration_seconds: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub duration_human: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub fail_count: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remove_job: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_mbps: Option<f64>,
    /// Unix milliseconds of the poll that read the job.
    pub polled_at: i64,
}
