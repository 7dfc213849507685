//! Decoded PVE guest payloads: qemu status/current, guest agent answers, container status,
//! config and interfaces. Re-exported through `pve_types`.

use super::flex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
