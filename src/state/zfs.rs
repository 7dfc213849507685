//! A ZFS pool's health as a storage entry carries it (`zfsPool`), from the node's
//! `disks/zfs` listing and the pool's vdev tree. Only the devices worth a look are kept.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZfsPool {
    pub name: String,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, `UNAVAIL`, `OFFLINE`, `REMOVED`, `SUSPENDED`.
    pub state: String,
    /// ZFS's own explanation of a state that is not ONLINE (empty when healthy).
    pub status: String,
    /// The last or current scrub / resilver.
    pub scan: String,
    /// Sums over the whole vdev tree.
    pub read_errors: i64,
    pub write_errors: i64,
    pub checksum_errors: i64,
    /// Devices that are not healthy or count errors, the tree flattened (parents first).
    pub devices: Vec<ZfsDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZfsDevice {
    pub name: String,
    /// `disk`, `vdev`, `mirror`, `raidz1`..`raidz3`, `draid`, `log`, `cache`, `spare`,
    /// `spare-group`.
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub read_errors: i64,
    pub write_errors: i64,
    pub checksum_errors: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl ZfsPool {
    /// ONLINE (or a state the listing could not tell) is healthy.
    pub fn is_online(&self) -> bool {
        self.state.is_empty() || self.state.eq_ignore_ascii_case("ONLINE")
    }

    pub fn has_errors(&self) -> bool {
        self.read_errors > 0 || self.write_errors > 0 || self.checksum_errors > 0
    }
}
