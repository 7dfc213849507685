//! Read-only views of the live state for the subsystems that evaluate it (alerts, later
//! history and metrics export): iterators over what every instance last reported, so readers
//! never depend on how the store keeps it.

use super::backups::{GuestSnapshot, PBSBackup, PVEBackups};
use super::guest::{ContainerFrontend, VMFrontend};
use super::node::NodeFrontend;
use super::pbs::PBSInstance;
use super::physical_disk::PhysicalDisk;
use super::pmg::PMGInstance;
use super::storage::StorageFrontend;
use super::store::LiveState;
use std::sync::Arc;

impl LiveState {
    pub fn nodes(&self) -> impl Iterator<Item = &NodeFrontend> {
        self.pve.values().flat_map(|i| i.nodes.iter())
    }

    pub fn vms(&self) -> impl Iterator<Item = &VMFrontend> {
        self.pve.values().flat_map(|i| i.vms.iter())
    }

    pub fn containers(&self) -> impl Iterator<Item = &ContainerFrontend> {
        self.pve.values().flat_map(|i| i.containers.iter())
    }

    /// Storage as shown (shared storage merged once per cluster).
    pub fn storages(&self) -> impl Iterator<Item = &StorageFrontend> {
        self.pve.values().flat_map(|i| i.storage.iter())
    }

    /// Physical disks (SMART health, wearout) of every PVE node.
    pub fn physical_disks(&self) -> impl Iterator<Item = &PhysicalDisk> {
        self.pve.values().flat_map(|i| i.physical_disks.iter())
    }

    /// Every PVE instance's backup listings (name, listing), shared: a listing is replaced,
    /// never edited, so its address tells whether it changed.
    pub fn pve_backup_listings(&self) -> impl Iterator<Item = (&str, &Arc<PVEBackups>)> {
        self.pve.iter().map(|(name, i)| (name.as_str(), &i.backups))
    }

    /// Every PBS instance's backup list, shared as above.
    pub fn pbs_backup_lists(&self) -> impl Iterator<Item = &Arc<Vec<PBSBackup>>> {
        self.pbs_backups.values()
    }

    /// Guest snapshots of every PVE instance (for their age).
    pub fn guest_snapshots(&self) -> impl Iterator<Item = &GuestSnapshot> {
        self.pve
            .values()
            .flat_map(|i| i.backups.guest_snapshots.iter())
    }

    pub fn pbs_instances(&self) -> impl Iterator<Item = &PBSInstance> {
        self.pbs.values()
    }

    pub fn pmg_instances(&self) -> impl Iterator<Item = &PMGInstance> {
        self.pmg.values()
    }

    /// Whether the instance's last poll succeeded (`connectionHealth` key, see
    /// [`super::store::connection_key`]); `None` when it was never polled.
    pub fn connection_healthy(&self, key: &str) -> Option<bool> {
        self.connection_health.get(key).copied()
    }
}

/// One PVE instance's resources as last applied (what the history records after its poll).
pub struct InstanceView<'a> {
    pub nodes: &'a [NodeFrontend],
    pub vms: &'a [VMFrontend],
    pub containers: &'a [ContainerFrontend],
    pub storage: &'a [StorageFrontend],
    pub ceph: &'a [super::ceph::CephClusterFrontend],
}

impl LiveState {
    pub fn pve_instance(&self, instance: &str) -> Option<InstanceView<'_>> {
        self.pve.get(instance).map(|i| InstanceView {
            nodes: &i.nodes,
            vms: &i.vms,
            containers: &i.containers,
            storage: &i.storage,
            ceph: &i.ceph,
        })
    }
}
