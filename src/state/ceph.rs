//! Ceph cluster health and capacity as `/api/state` shows it.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephClusterFrontend {
    /// `"<instance>-<fsid>"`, or the instance name when the fsid is unknown.
    pub id: String,
    pub instance: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fsid: String,
    /// `HEALTH_OK`, `HEALTH_WARN`, `HEALTH_ERR`.
    pub health: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health_message: String,
    pub total_bytes: i64,
    pub used_bytes: i64,
    pub available_bytes: i64,
    pub usage_percent: f64,
    pub num_mons: i64,
    pub num_mgrs: i64,
    pub num_osds: i64,
    pub num_osds_up: i64,
    pub num_osds_in: i64,
    #[serde(rename = "numPGs")]
    pub num_pgs: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<CephPool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<CephService>,
    /// Unix milliseconds.
    pub last_updated: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephPool {
    pub id: i64,
    pub name: String,
    pub stored_bytes: i64,
    pub available_bytes: i64,
    pub objects: i64,
    pub percent_used: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CephService {
    #[serde(rename = "type")]
    pub kind: String,
    pub running: i64,
    pub total: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}
