//! Decoded Proxmox VE responses (the inner `data` of each endpoint Pulse polls).
//!
//! Field names follow Proxmox's JSON (hyphenated names are renamed). Every field Proxmox may
//! omit is an `Option` (or an empty `Vec`): an absent value must stay distinguishable from a
//! real zero, because Pulse's memory and disk derivations branch on "was it sent at all".
//! Numbers go through [`flex`] because the Perl API sends many of them as strings.

use super::flex;
use serde::{Deserialize, Serialize};

pub use super::pve_guest_types::*;
pub use super::pve_storage_types::*;

/// `GET /version` (same shape on PBS and PMG).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Version {
    #[serde(default, deserialize_with = "flex::string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub release: Option<String>,
    #[serde(default)]
    pub repoid: Option<String>,
}

/// One row of `GET /nodes`. Offline nodes carry only `node`, `status`, `id`, `type`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeListEntry {
    pub node: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxcpu: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub ssl_fingerprint: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `GET /nodes/{node}/status`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub wait: Option<f64>,
    #[serde(default)]
    pub memory: Option<NodeMemory>,
    #[serde(default)]
    pub swap: Option<NodeMemory>,
    /// Strings on PVE (`["0.50","0.40","0.30"]`), numbers on PBS; both decode.
    #[serde(default, deserialize_with = "flex::f64_list")]
    pub loadavg: Vec<f64>,
    #[serde(default)]
    pub kversion: Option<String>,
    #[serde(default)]
    pub pveversion: Option<String>,
    #[serde(default)]
    pub cpuinfo: Option<CpuInfo>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
}

/// Node memory. PVE 7 and 8.x send only `total/used/free`; PVE 9 adds `available`. Some
/// builds and PBS send `avail`, `buffers`, `cached`, `shared`. All optional, numbers or strings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeMemory {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub available: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub buffers: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub cached: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub shared: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CpuInfo {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub cores: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub sockets: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub cpus: Option<u64>,
    /// `"3400.000"` on real nodes; a number on some builds.
    #[serde(default, deserialize_with = "flex::string")]
    pub mhz: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RootFs {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
}

/// One row of `GET /nodes/{node}/rrddata`. Values are averages, hence floats; a row for a
/// period without data omits keys (not `null`). PVE 7 has no `memavailable`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeRrdPoint {
    #[serde(default, deserialize_with = "flex::i64")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub memavailable: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub memused: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub memtotal: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub arcsize: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub loadavg: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub iowait: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub roottotal: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub rootused: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub swaptotal: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub swapused: Option<f64>,
}

/// One row of `GET /nodes/{node}/{qemu|lxc}/{vmid}/rrddata`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GuestRrdPoint {
    #[serde(default, deserialize_with = "flex::i64")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub maxmem: Option<f64>,
    /// PVE 9: host memory the guest really occupies.
    #[serde(default, deserialize_with = "flex::f64")]
    pub memhost: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub memavailable: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub memused: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub disk: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub maxdisk: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub diskwrite: Option<f64>,
}

/// One row of `GET /cluster/status`: a `cluster` row (clusters only) and one `node` row each.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ClusterStatusEntry {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub nodes: Option<u64>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub quorate: Option<bool>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub version: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub nodeid: Option<u64>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub online: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub local: Option<bool>,
    #[serde(default)]
    pub level: Option<String>,
}

/// One row of `GET /cluster/resources` (`type` is qemu, lxc, node, storage, pool, sdn...).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ClusterResource {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "flex::opt_vmid")]
    pub vmid: Option<u32>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netin: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netout: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskread: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskwrite: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub template: Option<bool>,
    /// `;`-separated as sent (`"prod;web"`); PVE 7 used `+` in some builds.
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub hastate: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default)]
    pub plugintype: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub shared: Option<bool>,
}

/// One row of the per-node lists `GET /nodes/{node}/qemu` and `/nodes/{node}/lxc`
/// (the fallback when `/cluster/resources` fails). `vmid` is a string in the lxc list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GuestListEntry {
    #[serde(deserialize_with = "flex::vmid")]
    pub vmid: u32,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpus: Option<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netin: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netout: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskread: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskwrite: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub template: Option<bool>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    /// Agent setting as configured (`1` or `"1,fstrim_cloned_disks=1"`).
    #[serde(default, deserialize_with = "flex::string")]
    pub agent: Option<String>,
}
