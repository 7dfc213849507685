//! What one successful PVE poll produced, handed from the poll executor to the store.

use super::backups::PveBackupsUpdate;
use super::ceph::CephClusterFrontend;
use super::guest::{ContainerFrontend, VMFrontend};
use super::node::NodeFrontend;
use super::physical_disk::PhysicalDisk;
use super::replication::ReplicationJobFrontend;
use super::storage::StorageFrontend;
use std::collections::BTreeSet;

/// Everything is already derived (ids, units, true memory numbers); the store only applies
/// replace-per-instance semantics, the offline grace period and shared-storage merging.
#[derive(Debug, Clone, Default)]
pub struct PveSnapshot {
    /// Every node `GET /nodes` returned, with PVE's status.
    pub nodes: Vec<NodeFrontend>,
    /// Templates already left out.
    pub vms: Vec<VMFrontend>,
    pub containers: Vec<ContainerFrontend>,
    /// Nodes whose guests could not be listed this time: their previous guests are kept.
    pub unlisted_guest_nodes: BTreeSet<String>,
    /// One entry per node and storage, before shared storage is merged.
    pub storage: Vec<StorageFrontend>,
    /// Nodes whose storage was listed this time; the others keep their previous entries.
    pub storage_nodes: BTreeSet<String>,
    /// `None`: not polled this cycle (or failed), keep the previous value.
    pub ceph: Option<Vec<CephClusterFrontend>>,
    /// `None`: not polled this cycle. Nodes absent from the list keep their previous disks.
    pub physical_disks: Option<Vec<PhysicalDisk>>,
    /// `None`: not read this time (keep the previous jobs).
    pub replication: Option<Vec<ReplicationJobFrontend>>,
    /// Set on backup cycles only (every few polls).
    pub backups: Option<PveBackupsUpdate>,
    /// `connectionHealth[instance]`: false when some cluster endpoints are unreachable.
    pub connection_healthy: bool,
}
