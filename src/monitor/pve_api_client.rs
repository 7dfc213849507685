//! [`PveApi`] for the real client: every call is the client's own method of the same name.

use super::poll_pve::PveApi;
use crate::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task, ZfsPoolDetail, ZfsPoolListEntry,
};
use crate::proxmox::ProxmoxError;

impl PveApi for crate::proxmox::PveClient {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError> {
        crate::proxmox::PveClient::nodes(self)
    }
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        crate::proxmox::PveClient::node_status(self, node)
    }
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError> {
        crate::proxmox::PveClient::node_rrd_memory(self, node)
    }
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        crate::proxmox::PveClient::cluster_resources_vms(self)
    }
    fn cluster_resources(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        crate::proxmox::PveClient::cluster_resources(self)
    }
    fn qemu_status(&mut self, node: &str, vmid: u32) -> Result<QemuStatus, ProxmoxError> {
        crate::proxmox::PveClient::qemu_status(self, node, vmid)
    }
    fn agent_network_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError> {
        crate::proxmox::PveClient::agent_network_interfaces(self, node, vmid)
    }
    fn agent_osinfo(&mut self, node: &str, vmid: u32) -> Result<AgentOsInfo, ProxmoxError> {
        crate::proxmox::PveClient::agent_osinfo(self, node, vmid)
    }
    fn agent_info(&mut self, node: &str, vmid: u32) -> Result<AgentInfo, ProxmoxError> {
        crate::proxmox::PveClient::agent_info(self, node, vmid)
    }
    fn agent_fsinfo(&mut self, node: &str, vmid: u32) -> Result<AgentFsInfoList, ProxmoxError> {
        crate::proxmox::PveClient::agent_fsinfo(self, node, vmid)
    }
    fn lxc_rrd_memory(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<GuestRrdPoint>, ProxmoxError> {
        crate::proxmox::PveClient::lxc_rrd_memory(self, node, vmid)
    }
    fn qemu_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        crate::proxmox::PveClient::qemu_list(self, node)
    }
    fn lxc_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        crate::proxmox::PveClient::lxc_list(self, node)
    }
    fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        crate::proxmox::PveClient::storage_config(self)
    }
    fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        crate::proxmox::PveClient::node_storage(self, node)
    }
    fn disks(&mut self, node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError> {
        crate::proxmox::PveClient::disks(self, node)
    }
    fn zfs_pools(&mut self, node: &str) -> Result<Vec<ZfsPoolListEntry>, ProxmoxError> {
        crate::proxmox::PveClient::zfs_pools(self, node)
    }
    fn zfs_pool(&mut self, node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        crate::proxmox::PveClient::zfs_pool(self, node, pool)
    }
    fn cluster_replication(&mut self) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        crate::proxmox::PveClient::get_json(self, "/cluster/replication")
    }
    fn node_replication(&mut self, node: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        let path = format!(
            "/nodes/{}/replication",
            percent_encoding::utf8_percent_encode(node, percent_encoding::NON_ALPHANUMERIC)
        );
        crate::proxmox::PveClient::get_json(self, &path)
    }
    fn node_tasks(&mut self, node: &str) -> Result<Vec<Task>, ProxmoxError> {
        crate::proxmox::PveClient::node_tasks(self, node)
    }
    fn storage_content(
        &mut self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError> {
        crate::proxmox::PveClient::storage_content(self, node, storage)
    }
    fn qemu_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        crate::proxmox::PveClient::qemu_snapshots(self, node, vmid)
    }
    fn lxc_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        crate::proxmox::PveClient::lxc_snapshots(self, node, vmid)
    }
    fn lxc_status(&mut self, node: &str, vmid: u32) -> Result<LxcStatus, ProxmoxError> {
        crate::proxmox::PveClient::lxc_status(self, node, vmid)
    }
    fn lxc_config(&mut self, node: &str, vmid: u32) -> Result<LxcConfig, ProxmoxError> {
        crate::proxmox::PveClient::lxc_config(self, node, vmid)
    }
    fn lxc_interfaces(&mut self, node: &str, vmid: u32) -> Result<Vec<LxcInterface>, ProxmoxError> {
        crate::proxmox::PveClient::lxc_interfaces(self, node, vmid)
    }
    fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError> {
        crate::proxmox::PveClient::ceph_status(self)
    }
    fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError> {
        crate::proxmox::PveClient::ceph_df(self)
    }
    fn endpoint_health(&self) -> (usize, usize) {
        let members = crate::proxmox::PveClient::endpoint_health(self);
        (
            members.iter().filter(|m| m.healthy).count(),
            members.len().max(1),
        )
    }
}
