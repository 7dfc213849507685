//! Physical disks of PVE nodes (SMART health, wear).

use crate::util::time::UtcTime;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalDisk {
    /// `"<instance>-<node>-"` + device path with `/` replaced by `-`.
    pub id: String,
    pub node: String,
    pub instance: String,
    pub dev_path: String,
    pub model: String,
    pub serial: String,
    /// `nvme`, `sata`, `sas`, `hdd`, `ssd`.
    #[serde(rename = "type")]
    pub kind: String,
    pub size: i64,
    /// `PASSED`, `FAILED`, `UNKNOWN`, `OK`.
    pub health: String,
    /// Remaining life 0–100, −1 unknown.
    pub wearout: i64,
    /// °C, 0 when unknown.
    pub temperature: i64,
    pub rpm: i64,
    pub used: String,
    pub last_checked: UtcTime,
}
