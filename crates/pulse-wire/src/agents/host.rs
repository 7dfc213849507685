//! `POST /api/agents/host/report`: one heartbeat of a host agent.

use super::{is_zero_f64, is_zero_i64, nullable, Disk, MemoryMetric, NetworkInterface, Sensors};
use crate::time::UtcTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostReport {
    pub agent: HostAgentInfo,
    pub host: HostInfo,
    pub metrics: HostMetrics,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<Disk>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkInterface>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "Sensors::is_empty"
    )]
    pub sensors: Sensors,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub timestamp: UtcTime,
    /// Sent by the original agents, ignored by Pulse.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sequence_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostAgentInfo {
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub interval_seconds: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub hostname: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub machine_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpu_model: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub cpu_count: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub uptime_seconds: i64,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub load_average: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostMetrics {
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub cpu_usage_percent: f64,
    #[serde(deserialize_with = "nullable")]
    pub memory: MemoryMetric,
    /// Ours: bytes read/written by whole disks since boot, by device.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub disk_io: Vec<DiskIo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DiskIo {
    pub device: String,
    pub read_bytes: u64,
    pub write_bytes: u64,
}
