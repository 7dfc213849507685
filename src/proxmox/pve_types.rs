//! Decoded Proxmox VE responses (the inner `data` of each endpoint Pulse polls).
//!
//! Field names follow Proxmox's JSON (hyphenated names are renamed). Every field Proxmox may
//! omit is an `Option` (or an empty `Vec`): an absent value must stay distinguishable from a
//! real zero, because Pulse's memory and disk derivations branch on "was it sent at all".
//! Numbers go through [`flex`] because the Perl API sends many of them as strings.

use super::flex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// HA state of a guest (`ha` object of status/current). `group` is the string `"null"` on PVE 6.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct HaStatus {
    #[serde(default, deserialize_with = "flex::bool")]
    pub managed: Option<bool>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub group: Option<String>,
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct QemuStatus {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub qmpstatus: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "flex::opt_vmid")]
    pub vmid: Option<u32>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpus: Option<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxmem: Option<u64>,
    /// Current balloon target; `< maxmem` means the guest was ballooned down.
    #[serde(default, deserialize_with = "flex::u64")]
    pub balloon: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub balloon_min: Option<u64>,
    /// Free memory reported by the balloon driver (the only in-guest figure Windows sends).
    #[serde(default, deserialize_with = "flex::u64")]
    pub freemem: Option<u64>,
    /// In-guest memory breakdown, when the guest reports one.
    #[serde(default)]
    pub meminfo: Option<GuestMemInfo>,
    #[serde(default)]
    pub ballooninfo: Option<BalloonInfo>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskread: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub diskwrite: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netin: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub netout: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub uptime: Option<u64>,
    /// `1` when the guest agent is enabled in the VM config.
    #[serde(default, deserialize_with = "flex::i64")]
    pub agent: Option<i64>,
    #[serde(default)]
    pub ha: Option<HaStatus>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub template: Option<bool>,
    #[serde(default, rename = "running-qemu")]
    pub running_qemu: Option<String>,
    #[serde(default, rename = "running-machine")]
    pub running_machine: Option<String>,
}

/// Guest memory as reported from inside the VM (`meminfo` of status/current).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GuestMemInfo {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub available: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub buffers: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub cached: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub shared: Option<u64>,
}

/// `ballooninfo` of status/current (virtio-balloon statistics).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BalloonInfo {
    #[serde(default, deserialize_with = "flex::u64")]
    pub actual: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub max_mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub free_mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub last_update: Option<i64>,
}

/// The `{"result": ...}` wrapper of every guest-agent call.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentResult<T> {
    pub result: T,
}

/// `data.result` of `agent/network-get-interfaces` (a list; an object result decodes empty).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentInterfaces {
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub result: Vec<AgentNetworkInterface>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentNetworkInterface {
    pub name: String,
    #[serde(default, rename = "hardware-address")]
    pub hardware_address: Option<String>,
    #[serde(
        default,
        rename = "ip-addresses",
        deserialize_with = "flex::lenient_list"
    )]
    pub ip_addresses: Vec<AgentIpAddress>,
    #[serde(default)]
    pub statistics: Option<AgentNetStats>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentIpAddress {
    #[serde(rename = "ip-address")]
    pub ip_address: String,
    #[serde(default, rename = "ip-address-type")]
    pub ip_address_type: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub prefix: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentNetStats {
    #[serde(default, rename = "rx-bytes", deserialize_with = "flex::u64")]
    pub rx_bytes: Option<u64>,
    #[serde(default, rename = "tx-bytes", deserialize_with = "flex::u64")]
    pub tx_bytes: Option<u64>,
}

/// `data.result` of `agent/get-osinfo`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentOsInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "pretty-name")]
    pub pretty_name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default, rename = "version-id")]
    pub version_id: Option<String>,
    #[serde(default, rename = "kernel-release")]
    pub kernel_release: Option<String>,
    #[serde(default, rename = "kernel-version")]
    pub kernel_version: Option<String>,
    #[serde(default)]
    pub machine: Option<String>,
}

/// `data.result` of `agent/info`: the version sits at the top or under `qemu-ga`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentInfo {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default, rename = "qemu-ga")]
    pub qemu_ga: Option<AgentVersion>,
}

impl AgentInfo {
    /// The agent version wherever this agent build put it.
    pub fn agent_version(&self) -> Option<&str> {
        self.version
            .as_deref()
            .or_else(|| self.qemu_ga.as_ref().and_then(|q| q.version.as_deref()))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentVersion {
    #[serde(default)]
    pub version: Option<String>,
}

/// `data` of `agent/get-fsinfo`: `result` is a list; an object result decodes as empty.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentFsInfoList {
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub result: Vec<AgentFsInfo>,
}

/// One guest filesystem. Windows may send only `total-bytes-privileged`; bind mounts repeat
/// the same device under several mount points.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentFsInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub fs_type: Option<String>,
    #[serde(default)]
    pub mountpoint: Option<String>,
    #[serde(default, rename = "total-bytes", deserialize_with = "flex::u64")]
    pub total_bytes: Option<u64>,
    #[serde(default, rename = "used-bytes", deserialize_with = "flex::u64")]
    pub used_bytes: Option<u64>,
    #[serde(
        default,
        rename = "total-bytes-privileged",
        deserialize_with = "flex::u64"
    )]
    pub total_bytes_privileged: Option<u64>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub disk: Vec<AgentFsDisk>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AgentFsDisk {
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default, rename = "bus-type")]
    pub bus_type: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub target: Option<i64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub bus: Option<i64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub unit: Option<i64>,
}

/// `GET /nodes/{node}/lxc/{vmid}/status/current`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct LxcStatus {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "flex::opt_vmid")]
    pub vmid: Option<u32>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpu: Option<f64>,
    /// A string on PVE 6/7 (`"1"`).
    #[serde(default, deserialize_with = "flex::f64")]
    pub cpus: Option<f64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub swap: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub maxswap: Option<u64>,
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
    #[serde(default)]
    pub ha: Option<HaStatus>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    /// Raw address fields some versions add (string or list); Pulse reads them as hints.
    #[serde(default)]
    pub ip: Option<serde_json::Value>,
    #[serde(default)]
    pub ip6: Option<serde_json::Value>,
    #[serde(default)]
    pub ipv4: Option<serde_json::Value>,
    #[serde(default)]
    pub ipv6: Option<serde_json::Value>,
    #[serde(default)]
    pub network: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub diskinfo: Option<BTreeMap<String, LxcDiskInfo>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct LxcDiskInfo {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
}

/// `GET /nodes/{node}/lxc/{vmid}/config`: a flat key → value map (`net0`, `rootfs`, `memory`...).
pub type LxcConfig = BTreeMap<String, serde_json::Value>;

/// One row of `GET /nodes/{node}/lxc/{vmid}/interfaces`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct LxcInterface {
    pub name: String,
    #[serde(default)]
    pub hwaddr: Option<String>,
    #[serde(default)]
    pub inet: Option<String>,
    #[serde(default)]
    pub inet6: Option<String>,
    #[serde(
        default,
        rename = "ip-addresses",
        deserialize_with = "flex::lenient_list"
    )]
    pub ip_addresses: Vec<AgentIpAddress>,
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

/// One row of `GET /storage` (cluster-wide storage configuration).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StorageConfig {
    pub storage: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub disable: Option<bool>,
    /// Comma-separated node restriction; absent means "all nodes".
    #[serde(default)]
    pub nodes: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub export: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
}

/// One row of `GET /nodes/{node}/storage`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NodeStorage {
    pub storage: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub used_fraction: Option<f64>,
}

/// One row of `GET /nodes/{node}/disks/list`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PhysicalDisk {
    pub devpath: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub serial: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default, deserialize_with = "flex::wearout", skip_serializing)]
    pub wearout: Option<flex::Wearout>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    /// A number, or `"SSD"`/`"N/A"` (→ `None`); `-1` on virtual disks.
    #[serde(default, deserialize_with = "flex::i64")]
    pub rpm: Option<i64>,
    /// What uses the disk (`"LVM"`, `"ZFS"`, `"BIOS boot"`...).
    #[serde(default, deserialize_with = "flex::string")]
    pub used: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub wwn: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub gpt: Option<bool>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub osdid: Option<i64>,
    #[serde(default)]
    pub by_id_link: Option<String>,
}

/// `GET /cluster/ceph/status` (the parts Pulse reads; the rest is ignored).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephStatus {
    #[serde(default)]
    pub fsid: Option<String>,
    #[serde(default)]
    pub health: Option<CephHealth>,
    #[serde(default)]
    pub servicemap: Option<CephServiceMap>,
    #[serde(default)]
    pub osdmap: Option<CephOsdMap>,
    #[serde(default)]
    pub pgmap: Option<CephPgMap>,
    #[serde(default)]
    pub quorum_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephHealth {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub checks: BTreeMap<String, CephCheck>,
    /// Pre-Luminous summary list; kept because Pulse joins its messages too.
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub summary: Vec<CephSummaryItem>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephCheck {
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<CephCheckSummary>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephCheckSummary {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephSummaryItem {
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephServiceMap {
    #[serde(default)]
    pub services: BTreeMap<String, CephService>,
}

/// A service type (`mon`, `mgr`, `osd`, `rgw`...). Ceph puts a `"summary": ""` string next to
/// the daemon objects in `daemons`, so non-object entries are skipped.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephService {
    #[serde(default, deserialize_with = "flex::lenient_map")]
    pub daemons: BTreeMap<String, CephDaemon>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDaemon {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephOsdMap {
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_osds: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_up_osds: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_in_osds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephPgMap {
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_pgs: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_total: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub data_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub num_objects: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub read_bytes_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub write_bytes_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub read_op_per_sec: Option<f64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub write_op_per_sec: Option<f64>,
}

/// `GET /cluster/ceph/df` as Pulse reads it: the envelope's `data` holds another `data`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDf {
    #[serde(default)]
    pub data: Option<CephDfData>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfData {
    #[serde(default)]
    pub stats: Option<CephDfStats>,
    #[serde(default, deserialize_with = "flex::lenient_list")]
    pub pools: Vec<CephDfPool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfStats {
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_used_bytes: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub total_avail_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfPool {
    #[serde(default, deserialize_with = "flex::i64")]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stats: Option<CephDfPoolStats>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CephDfPoolStats {
    #[serde(default, deserialize_with = "flex::u64")]
    pub bytes_used: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub max_avail: Option<u64>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub objects: Option<u64>,
    #[serde(default, deserialize_with = "flex::f64")]
    pub percent_used: Option<f64>,
}

/// One row of `GET /nodes/{node}/tasks`. `status` is `"OK"` or the error text; absent while
/// the task runs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Task {
    pub upid: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The task's object id: the vmid for `vzdump`, a service name for `srvreload`.
    #[serde(default, deserialize_with = "flex::string")]
    pub id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub starttime: Option<i64>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub endtime: Option<i64>,
}

/// One row of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StorageContent {
    pub volid: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub ctime: Option<i64>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "flex::u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "flex::opt_vmid")]
    pub vmid: Option<u32>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub protected: Option<bool>,
    #[serde(default)]
    pub verification: Option<VerificationState>,
    #[serde(default)]
    pub encrypted: Option<String>,
}

/// `verification` of a PBS-backed volume or PBS snapshot: an object or, on old builds, a string.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum VerificationState {
    Detailed {
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        upid: Option<String>,
    },
    State(String),
}

impl VerificationState {
    /// `"ok"`, `"failed"`... whichever spelling arrived.
    pub fn state(&self) -> Option<&str> {
        match self {
            VerificationState::Detailed { state, .. } => state.as_deref(),
            VerificationState::State(s) => Some(s),
        }
    }
}

/// One row of `GET /nodes/{node}/{qemu|lxc}/{vmid}/snapshot`, including the `current`
/// pseudo-entry ("You are here!") that callers skip.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Snapshot {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "flex::i64")]
    pub snaptime: Option<i64>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub vmstate: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub running: Option<bool>,
}

/// One row of `GET /cluster/backup` (scheduled vzdump jobs).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BackupJob {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default, deserialize_with = "flex::string")]
    pub vmid: Option<String>,
    #[serde(default, deserialize_with = "flex::bool")]
    pub enabled: Option<bool>,
    #[serde(default, rename = "next-run", deserialize_with = "flex::i64")]
    pub next_run: Option<i64>,
    #[serde(default)]
    pub mode: Option<String>,
}
