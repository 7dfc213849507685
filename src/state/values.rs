//! Value objects shared by nodes and guests: memory, disk, CPU model, network interfaces,
//! temperatures. `usage` fields are percentages (0–100); byte counts are plain integers.

use crate::util::time::UtcTime;
use serde::Serialize;

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// Memory in bytes. `usage` is `used / total × 100`, 0 when total is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub total: i64,
    pub used: i64,
    pub free: i64,
    pub usage: f64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub balloon: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub swap_used: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub swap_total: i64,
}

impl Memory {
    /// Builds the object from total and used, clamping used into `0..=total`.
    pub fn from_used(total: i64, used: i64) -> Memory {
        let total = total.max(0);
        let used = used.clamp(0, total);
        Memory {
            total,
            used,
            free: total - used,
            usage: percent(used, total),
            ..Memory::default()
        }
    }

    /// Frontend form omits a memory object whose total is unknown.
    pub fn is_unknown(&self) -> bool {
        self.total == 0
    }
}

/// Disk space in bytes. `usage` is a percentage, or −1 when only the allocated size is known
/// (a VM without guest agent): the UI shows "unknown" instead of a made-up 0 %.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub total: i64,
    pub used: i64,
    pub free: i64,
    pub usage: f64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mountpoint: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device: String,
}

impl Disk {
    pub fn from_used(total: i64, used: i64) -> Disk {
        let total = total.max(0);
        let used = used.clamp(0, total);
        Disk {
            total,
            used,
            free: total - used,
            usage: percent(used, total),
            ..Disk::default()
        }
    }

    /// Allocated size known, usage not.
    pub fn unknown_usage(total: i64) -> Disk {
        Disk {
            total: total.max(0),
            used: 0,
            free: 0,
            usage: -1.0,
            ..Disk::default()
        }
    }

    pub fn is_unknown(&self) -> bool {
        self.total == 0
    }
}

/// `part / whole × 100`, 0 for an empty whole; never NaN (NaN would break the JSON).
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuInfo {
    pub model: String,
    pub cores: i64,
    pub sockets: i64,
    pub mhz: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestNetworkInterface {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub rx_bytes: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub tx_bytes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoreTemp {
    pub core: i64,
    pub temp: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuTemp {
    pub device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junction: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NvmeTemp {
    pub device: String,
    pub temp: f64,
}

/// Node temperatures (°C). Times are RFC 3339 strings, as in the original.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Temperature {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_package: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_max_record: Option<f64>,
    pub min_recorded: UtcTime,
    pub max_recorded: UtcTime,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cores: Vec<CoreTemp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpu: Vec<GpuTemp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nvme: Vec<NvmeTemp>,
    pub available: bool,
    #[serde(rename = "hasCPU")]
    pub has_cpu: bool,
    #[serde(rename = "hasGPU")]
    pub has_gpu: bool,
    #[serde(rename = "hasNVMe")]
    pub has_nvme: bool,
    pub last_update: UtcTime,
}
