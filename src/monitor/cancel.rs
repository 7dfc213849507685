//! Stops a poll whose instance was removed or replaced: every call fails at once after the
//! core set the flag, so the old poll ends within one request and the upstream never serves
//! it side by side with the replacement's.

use super::poll_pve::PveApi;
use crate::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task, ZfsPoolDetail, ZfsPoolListEntry,
};
use crate::proxmox::ProxmoxError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Cancellable<'a> {
    inner: &'a mut dyn PveApi,
    cancel: Arc<AtomicBool>,
}

impl<'a> Cancellable<'a> {
    pub fn new(inner: &'a mut dyn PveApi, cancel: Arc<AtomicBool>) -> Cancellable<'a> {
        Cancellable { inner, cancel }
    }

    fn check(&self) -> Result<(), ProxmoxError> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(ProxmoxError::Connect(
                "poll cancelled: instance removed or replaced".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl PveApi for Cancellable<'_> {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError> {
        self.check()?;
        self.inner.nodes()
    }
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        self.check()?;
        self.inner.node_status(node)
    }
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError> {
        self.check()?;
        self.inner.node_rrd_memory(node)
    }
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.check()?;
        self.inner.cluster_resources_vms()
    }
    fn cluster_resources(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.check()?;
        self.inner.cluster_resources()
    }
    fn qemu_status(&mut self, node: &str, vmid: u32) -> Result<QemuStatus, ProxmoxError> {
        self.check()?;
        self.inner.qemu_status(node, vmid)
    }
    fn agent_network_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError> {
        self.check()?;
        self.inner.agent_network_interfaces(node, vmid)
    }
    fn agent_osinfo(&mut self, node: &str, vmid: u32) -> Result<AgentOsInfo, ProxmoxError> {
        self.check()?;
        self.inner.agent_osinfo(node, vmid)
    }
    fn agent_info(&mut self, node: &str, vmid: u32) -> Result<AgentInfo, ProxmoxError> {
        self.check()?;
        self.inner.agent_info(node, vmid)
    }
    fn agent_fsinfo(&mut self, node: &str, vmid: u32) -> Result<AgentFsInfoList, ProxmoxError> {
        self.check()?;
        self.inner.agent_fsinfo(node, vmid)
    }
    fn lxc_rrd_memory(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<GuestRrdPoint>, ProxmoxError> {
        self.check()?;
        self.inner.lxc_rrd_memory(node, vmid)
    }
    fn lxc_status(&mut self, node: &str, vmid: u32) -> Result<LxcStatus, ProxmoxError> {
        self.check()?;
        self.inner.lxc_status(node, vmid)
    }
    fn lxc_config(&mut self, node: &str, vmid: u32) -> Result<LxcConfig, ProxmoxError> {
        self.check()?;
        self.inner.lxc_config(node, vmid)
    }
    fn lxc_interfaces(&mut self, node: &str, vmid: u32) -> Result<Vec<LxcInterface>, ProxmoxError> {
        self.check()?;
        self.inner.lxc_interfaces(node, vmid)
    }
    fn qemu_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.check()?;
        self.inner.qemu_list(node)
    }
    fn lxc_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.check()?;
        self.inner.lxc_list(node)
    }
    fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        self.check()?;
        self.inner.storage_config()
    }
    fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        self.check()?;
        self.inner.node_storage(node)
    }
    fn disks(&mut self, node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError> {
        self.check()?;
        self.inner.disks(node)
    }
    fn zfs_pools(&mut self, node: &str) -> Result<Vec<ZfsPoolListEntry>, ProxmoxError> {
        self.check()?;
        self.inner.zfs_pools(node)
    }
    fn zfs_pool(&mut self, node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        self.check()?;
        self.inner.zfs_pool(node, pool)
    }
    fn cluster_replication(&mut self) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        self.check()?;
        self.inner.cluster_replication()
    }
    fn node_replication(&mut self, node: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        self.check()?;
        self.inner.node_replication(node)
    }
    fn node_tasks(&mut self, node: &str) -> Result<Vec<Task>, ProxmoxError> {
        self.check()?;
        self.inner.node_tasks(node)
    }
    fn storage_content(
        &mut self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError> {
        self.check()?;
        self.inner.storage_content(node, storage)
    }
    fn qemu_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.check()?;
        self.inner.qemu_snapshots(node, vmid)
    }
    fn lxc_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.check()?;
        self.inner.lxc_snapshots(node, vmid)
    }
    fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError> {
        self.check()?;
        self.inner.ceph_status()
    }
    fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError> {
        self.check()?;
        self.inner.ceph_df()
    }
    fn endpoint_health(&self) -> (usize, usize) {
        self.inner.endpoint_health()
    }
}
