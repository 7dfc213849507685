//! A Proxmox VE node as `/api/state` shows it.

use super::values::{CpuInfo, Disk, Memory, Temperature};
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFrontend {
    /// `"<instance>-<node>"`.
    pub id: String,
    /// Same as `name` (legacy key).
    pub node: String,
    pub name: String,
    pub display_name: String,
    pub instance: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// `"online"`, `"offline"` or PVE's own value (`"unknown"`).
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Fraction 0–1.
    pub cpu: f64,
    #[serde(skip_serializing_if = "Memory::is_unknown")]
    pub memory: Memory,
    /// `memory.used` again (legacy key); kept in step by [`NodeFrontend::sync_aliases`].
    pub mem: i64,
    /// `memory.total` again (legacy key).
    pub maxmem: i64,
    #[serde(skip_serializing_if = "Disk::is_unknown")]
    pub disk: Disk,
    /// `disk.total` again (legacy key).
    pub maxdisk: i64,
    /// Seconds.
    pub uptime: i64,
    pub load_average: Vec<f64>,
    pub kernel_version: String,
    pub pve_version: String,
    pub cpu_info: CpuInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Temperature>,
    /// Unix milliseconds.
    pub last_seen: i64,
    /// `"healthy"`, `"degraded"` or `"error"`.
    pub connection_health: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_cluster_member: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_monitoring_enabled: Option<bool>,
}

impl NodeFrontend {
    /// Copies memory/disk totals into the legacy `mem`/`maxmem`/`maxdisk` keys.
    pub fn sync_aliases(&mut self) {
        self.mem = self.memory.used;
        self.maxmem = self.memory.total;
        self.maxdisk = self.disk.total;
        if self.node.is_empty() {
            self.node = self.name.clone();
        }
        if self.display_name.is_empty() {
            self.display_name = self.name.clone();
        }
    }

    pub fn is_online(&self) -> bool {
        self.status == "online"
    }
}

/// `"<instance>-<node>"`: how nodes are identified everywhere (guests find their node by it).
pub fn node_id(instance: &str, node: &str) -> String {
    format!("{instance}-{node}")
}
