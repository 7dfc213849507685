//! Virtual machines and LXC containers as `/api/state` shows them.

use super::values::{Disk, GuestNetworkInterface, Memory};
use serde::Serialize;

/// `"<node>-<vmid>"` when the instance is named after the node, else `"<instance>-<node>-<vmid>"`.
pub fn guest_id(instance: &str, node: &str, vmid: u32) -> String {
    if instance == node {
        format!("{node}-{vmid}")
    } else {
        format!("{instance}-{node}-{vmid}")
    }
}

/// A QEMU virtual machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VMFrontend {
    pub id: String,
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub instance: String,
    /// PVE's status: `"running"`, `"stopped"`, `"paused"`, `"unknown"` (node unreachable) …
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Fraction 0–1; 0 unless running.
    pub cpu: f64,
    pub cpus: i64,
    #[serde(skip_serializing_if = "Memory::is_unknown")]
    pub memory: Memory,
    pub mem: i64,
    pub maxmem: i64,
    #[serde(skip_serializing_if = "Disk::is_unknown")]
    pub disk: Disk,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<Disk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_status_reason: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub agent_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<GuestNetworkInterface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// Bytes per second, never negative.
    pub network_in: i64,
    pub network_out: i64,
    pub disk_read: i64,
    pub disk_write: i64,
    /// Seconds.
    pub uptime: i64,
    pub template: bool,
    /// Tags joined with `,`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// Unix milliseconds.
    pub last_seen: i64,
}

/// An LXC container: the VM shape without the guest-agent fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerFrontend {
    pub id: String,
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub instance: String,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub cpu: f64,
    pub cpus: i64,
    #[serde(skip_serializing_if = "Memory::is_unknown")]
    pub memory: Memory,
    pub mem: i64,
    pub maxmem: i64,
    #[serde(skip_serializing_if = "Disk::is_unknown")]
    pub disk: Disk,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<Disk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<GuestNetworkInterface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    pub network_in: i64,
    pub network_out: i64,
    pub disk_read: i64,
    pub disk_write: i64,
    pub uptime: i64,
    pub template: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    pub last_seen: i64,
}

/// What the store needs to treat VMs and containers alike (grace handling, aliases).
pub trait Guest {
    fn id(&self) -> &str;
    fn vmid(&self) -> u32;
    fn node(&self) -> &str;
    fn sync_aliases(&mut self);
    /// The node went away: keep the guest, but show it is not known to be running.
    fn mark_unreachable(&mut self);
}

macro_rules! impl_guest {
    ($t:ty) => {
        impl Guest for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn vmid(&self) -> u32 {
                self.vmid
            }
            fn node(&self) -> &str {
                &self.node
            }
            fn sync_aliases(&mut self) {
                self.mem = self.memory.used;
                self.maxmem = self.memory.total;
            }
            fn mark_unreachable(&mut self) {
                self.status = "unknown".to_string();
                self.cpu = 0.0;
                self.network_in = 0;
                self.network_out = 0;
                self.disk_read = 0;
                self.disk_write = 0;
            }
        }
    };
}

impl_guest!(VMFrontend);
impl_guest!(ContainerFrontend);
