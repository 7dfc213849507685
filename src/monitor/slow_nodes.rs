//! Keeps one slow cluster member from stalling a whole instance's poll.
//!
//! A poll makes its calls one after another, dozens per node. If a member answers each of them
//! only after 30 s, the cycle would take many minutes and every other node's data would go
//! stale. This wrapper remembers, for the length of one poll, the nodes whose calls timed out
//! or took longer than `SLOW_CALL`, and fails their further calls at once: the poll finishes
//! with what the healthy members and `/cluster/resources` said.

use super::poll_pve::PveApi;
use crate::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task, ZfsPoolDetail, ZfsPoolListEntry,
};
use crate::proxmox::ProxmoxError;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A node-scoped call slower than this marks its node slow for the rest of the poll.
pub const SLOW_CALL: Duration = Duration::from_secs(5);

pub struct SlowNodeGuard<'a> {
    inner: &'a mut dyn PveApi,
    slow: BTreeSet<String>,
    /// Node-scoped calls made through this guard (skipped ones not counted), for callers that
    /// charge a lane's requests to a budget while the guard is lent out as `&mut dyn PveApi`.
    node_calls: Option<&'a Cell<u32>>,
}

impl<'a> SlowNodeGuard<'a> {
    pub fn new(inner: &'a mut dyn PveApi) -> SlowNodeGuard<'a> {
        SlowNodeGuard {
            inner,
            slow: BTreeSet::new(),
            node_calls: None,
        }
    }

    /// Like [`SlowNodeGuard::new`], counting node-scoped calls into `counter`.
    pub fn counting(inner: &'a mut dyn PveApi, counter: &'a Cell<u32>) -> SlowNodeGuard<'a> {
        SlowNodeGuard {
            node_calls: Some(counter),
            ..SlowNodeGuard::new(inner)
        }
    }

    /// Nodes skipped so far in this poll.
    pub fn slow_nodes(&self) -> &BTreeSet<String> {
        &self.slow
    }

    fn on_node<T>(
        &mut self,
        node: &str,
        call: impl FnOnce(&mut dyn PveApi) -> Result<T, ProxmoxError>,
    ) -> Result<T, ProxmoxError> {
        self.call_node(node, true, call)
    }

    /// Guest-agent calls are skipped on a slow node but never mark one: a single hung agent
    /// is slow on its own account, not its node's.
    fn on_agent<T>(
        &mut self,
        node: &str,
        call: impl FnOnce(&mut dyn PveApi) -> Result<T, ProxmoxError>,
    ) -> Result<T, ProxmoxError> {
        self.call_node(node, false, call)
    }

    fn call_node<T>(
        &mut self,
        node: &str,
        mark: bool,
        call: impl FnOnce(&mut dyn PveApi) -> Result<T, ProxmoxError>,
    ) -> Result<T, ProxmoxError> {
        if self.slow.contains(node) {
            return Err(ProxmoxError::Timeout(format!(
                "node {node} skipped: too slow earlier in this poll"
            )));
        }
        if let Some(c) = self.node_calls {
            c.set(c.get().saturating_add(1));
        }
        let started = Instant::now();
        let result = call(&mut *self.inner);
        let slow =
            started.elapsed() >= SLOW_CALL || matches!(result, Err(ProxmoxError::Timeout(_)));
        if mark && slow {
            crate::log_warn!(
                "node answers too slowly; skipping it for this poll",
                node = node
            );
            self.slow.insert(node.to_string());
        }
        result
    }
}

impl PveApi for SlowNodeGuard<'_> {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError> {
        self.inner.nodes()
    }
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        self.on_node(node, |a| a.node_status(node))
    }
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError> {
        self.on_node(node, |a| a.node_rrd_memory(node))
    }
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.inner.cluster_resources_vms()
    }
    fn cluster_resources(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.inner.cluster_resources()
    }
    fn qemu_status(&mut self, node: &str, vmid: u32) -> Result<QemuStatus, ProxmoxError> {
        self.on_node(node, |a| a.qemu_status(node, vmid))
    }
    fn agent_network_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError> {
        self.on_agent(node, |a| a.agent_network_interfaces(node, vmid))
    }
    fn agent_osinfo(&mut self, node: &str, vmid: u32) -> Result<AgentOsInfo, ProxmoxError> {
        self.on_agent(node, |a| a.agent_osinfo(node, vmid))
    }
    fn agent_info(&mut self, node: &str, vmid: u32) -> Result<AgentInfo, ProxmoxError> {
        self.on_agent(node, |a| a.agent_info(node, vmid))
    }
    fn agent_fsinfo(&mut self, node: &str, vmid: u32) -> Result<AgentFsInfoList, ProxmoxError> {
        self.on_agent(node, |a| a.agent_fsinfo(node, vmid))
    }
    fn lxc_rrd_memory(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<GuestRrdPoint>, ProxmoxError> {
        self.on_node(node, |a| a.lxc_rrd_memory(node, vmid))
    }
    fn lxc_status(&mut self, node: &str, vmid: u32) -> Result<LxcStatus, ProxmoxError> {
        self.on_node(node, |a| a.lxc_status(node, vmid))
    }
    fn lxc_config(&mut self, node: &str, vmid: u32) -> Result<LxcConfig, ProxmoxError> {
        self.on_node(node, |a| a.lxc_config(node, vmid))
    }
    fn lxc_interfaces(&mut self, node: &str, vmid: u32) -> Result<Vec<LxcInterface>, ProxmoxError> {
        self.on_node(node, |a| a.lxc_interfaces(node, vmid))
    }
    fn qemu_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.on_node(node, |a| a.qemu_list(node))
    }
    fn lxc_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.on_node(node, |a| a.lxc_list(node))
    }
    fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        self.inner.storage_config()
    }
    fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        self.on_node(node, |a| a.node_storage(node))
    }
    fn disks(&mut self, node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError> {
        self.on_node(node, |a| a.disks(node))
    }
    fn zfs_pools(&mut self, node: &str) -> Result<Vec<ZfsPoolListEntry>, ProxmoxError> {
        self.on_node(node, |a| a.zfs_pools(node))
    }
    fn zfs_pool(&mut self, node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        self.on_node(node, |a| a.zfs_pool(node, pool))
    }
    fn cluster_replication(&mut self) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        self.inner.cluster_replication()
    }
    fn node_replication(&mut self, node: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        self.on_node(node, |a| a.node_replication(node))
    }
    fn node_tasks(&mut self, node: &str) -> Result<Vec<Task>, ProxmoxError> {
        self.on_node(node, |a| a.node_tasks(node))
    }
    fn storage_content(
        &mut self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError> {
        self.on_node(node, |a| a.storage_content(node, storage))
    }
    fn qemu_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.on_node(node, |a| a.qemu_snapshots(node, vmid))
    }
    fn lxc_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.on_node(node, |a| a.lxc_snapshots(node, vmid))
    }
    fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError> {
        self.inner.ceph_status()
    }
    fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError> {
        self.inner.ceph_df()
    }
    fn endpoint_health(&self) -> (usize, usize) {
        self.inner.endpoint_health()
    }
}
