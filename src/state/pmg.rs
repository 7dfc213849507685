//! Proxmox Mail Gateway instances as `/api/state` shows them (raw model, RFC 3339 times).

use crate::util::time::UtcTime;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGInstance {
    /// `"pmg-<name>"`.
    pub id: String,
    pub name: String,
    pub host: String,
    pub status: String,
    pub version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<PMGNodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_stats: Option<PMGMailStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mail_count: Vec<PMGMailCountPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spam_distribution: Vec<PMGSpamBucket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<PMGQuarantine>,
    /// `"healthy"` or `"unhealthy"`.
    pub connection_health: String,
    pub last_seen: UtcTime,
    pub last_updated: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGNodeStatus {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub uptime: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub load_avg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_status: Option<PMGQueueStatus>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGQueueStatus {
    pub active: i64,
    pub deferred: i64,
    pub hold: i64,
    pub incoming: i64,
    pub total: i64,
    pub oldest_age: i64,
    pub updated_at: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGMailStats {
    pub timeframe: String,
    pub count_total: f64,
    pub count_in: f64,
    pub count_out: f64,
    pub spam_in: f64,
    pub spam_out: f64,
    pub virus_in: f64,
    pub virus_out: f64,
    pub bounces_in: f64,
    pub bounces_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub greylist_count: f64,
    pub junk_in: f64,
    pub average_process_time_ms: f64,
    pub rbl_rejects: f64,
    pub pregreet_rejects: f64,
    pub updated_at: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PMGMailCountPoint {
    pub timestamp: UtcTime,
    pub count: f64,
    pub count_in: f64,
    pub count_out: f64,
    pub spam_in: f64,
    pub spam_out: f64,
    pub virus_in: f64,
    pub virus_out: f64,
    pub rbl_rejects: f64,
    pub pregreet: f64,
    pub bounces_in: f64,
    pub bounces_out: f64,
    pub greylist: f64,
    pub index: i64,
    pub timeframe: String,
    pub window_start: UtcTime,
    pub window_end: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PMGSpamBucket {
    pub score: String,
    pub count: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PMGQuarantine {
    pub spam: i64,
    pub virus: i64,
    pub attachment: i64,
    pub blacklisted: i64,
}
