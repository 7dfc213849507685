//! What the agents (`pulse-docker-agent`, `pulse-host-agent`) send to Pulse and what Pulse
//! answers. One definition for both sides. The shapes accept the original Go agents' payloads
//! unchanged: Go writes a nil slice or map as `null`, so every list and map reads `null` as
//! empty ([`nullable`]); times are RFC 3339 ([`UtcTime`]).

pub mod docker;
pub mod host;

use crate::time::UtcTime;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `null` (Go's nil slice/map) reads as the default value.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
pub(crate) fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// Host memory, bytes (`usage` in percent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MemoryMetric {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub total_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub used_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub free_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub usage: f64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub swap_total_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub swap_used_bytes: i64,
}

/// One mounted filesystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Disk {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mountpoint: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filesystem: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub fs_type: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub total_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub used_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub free_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub usage: f64,
}

/// One network interface with its counters since boot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkInterface {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_mbps: Option<i64>,
}

/// Temperatures (°C), fan speeds (RPM) and other readings, by sensor name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sensors {
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub temperature_celsius: BTreeMap<String, f64>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub fan_rpm: BTreeMap<String, f64>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub additional: BTreeMap<String, f64>,
}

impl Sensors {
    pub fn is_empty(&self) -> bool {
        self.temperature_celsius.is_empty() && self.fan_rpm.is_empty() && self.additional.is_empty()
    }
}

/// A command Pulse hands an agent in its report answer (only `stop` exists).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentCommand {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Pulse's answer to a report (Docker and host agents; unknown keys are ignored by agents).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportAnswer {
    pub success: bool,
    pub host_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<UtcTime>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<AgentCommand>,
}

/// An agent's acknowledgement of a command (`POST /api/agents/docker/commands/<id>/ack`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CommandAck {
    pub host_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}
