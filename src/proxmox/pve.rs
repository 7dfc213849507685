//! Proxmox VE client: one typed method per endpoint Pulse polls (pulse-backend.md §2.3).
//! Calls go through [`Cluster`], so a configured cluster fails over between members.
//! Every method blocks: call from a poll worker.

use super::api::{enc, ApiClient};
use super::cluster::{Cluster, EndpointHealth};
use super::config::{ClientConfig, Product};
use super::error::ProxmoxError;
use super::pve_types::*;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Pulse caps the node RRD memory lookup at 2 s (it is only a fallback).
const NODE_RRD_TIMEOUT: Duration = Duration::from_secs(2);
/// Per-container calls are capped at 5 s.
const GUEST_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Storage calls are capped at 30 s (slow NFS/CIFS backends).
const STORAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Ceph calls are capped at 15 s.
const CEPH_TIMEOUT: Duration = Duration::from_secs(15);
/// Guest-agent budgets (Pulse's `GUEST_AGENT_*_TIMEOUT` defaults): fsinfo 15 s, others 10 s.
const AGENT_FSINFO_TIMEOUT: Duration = Duration::from_secs(15);
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PveClient {
    cluster: Cluster,
    timeout: Duration,
}

impl PveClient {
    /// No network I/O happens here. `cfg.product` must be [`Product::Pve`].
    pub fn new(cfg: &ClientConfig) -> Result<PveClient, ProxmoxError> {
        if cfg.product != Product::Pve {
            return Err(ProxmoxError::Config(
                "PveClient needs a PVE configuration".into(),
            ));
        }
        Ok(PveClient {
            cluster: Cluster::new(cfg)?,
            timeout: cfg.timeout,
        })
    }

    /// Probes every cluster member once (5 s each) so health is known before the first poll.
    /// Blocking; a no-op for standalone hosts.
    pub fn probe_endpoints(&mut self) {
        self.cluster.probe_all();
    }

    /// How long an unhealthy cluster member rests before it is probed again (default 10 s).
    pub fn set_reprobe_interval(&mut self, every: Duration) {
        self.cluster.set_reprobe_interval(every);
    }

    /// Per-member health (all members healthy → "healthy", some → "degraded", none → "error").
    pub fn endpoint_health(&self) -> Vec<EndpointHealth> {
        self.cluster.health()
    }

    fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, ProxmoxError> {
        self.cluster.call(|c| c.get(path))
    }

    fn list<T: DeserializeOwned>(&mut self, path: &str) -> Result<Vec<T>, ProxmoxError> {
        self.cluster.call(|c| c.get_list(path))
    }

    fn list_capped<T: DeserializeOwned>(
        &mut self,
        path: &str,
        cap: Duration,
    ) -> Result<Vec<T>, ProxmoxError> {
        let budget = Some(cap.min(self.timeout));
        self.cluster.call(|c| {
            c.get_opt::<Vec<T>>(path, budget)
                .map(Option::unwrap_or_default)
        })
    }

    fn get_capped<T: DeserializeOwned>(
        &mut self,
        path: &str,
        cap: Duration,
    ) -> Result<T, ProxmoxError> {
        let budget = Some(cap.min(self.timeout));
        self.cluster.call(|c| {
            c.get_opt::<T>(path, budget)?
                .ok_or_else(|| ProxmoxError::Decode {
                    path: path.to_string(),
                    msg: "data is null".into(),
                })
        })
    }

    /// `GET /version`.
    pub fn version(&mut self) -> Result<Version, ProxmoxError> {
        self.get("/version")
    }

    /// `GET /nodes`.
    pub fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError> {
        self.list("/nodes")
    }

    /// `GET /nodes/{node}/status`.
    pub fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError> {
        self.get(&format!("/nodes/{}/status", enc(node)))
    }

    /// `GET /nodes/{node}/rrddata?timeframe=hour&cf=AVERAGE` (2 s budget). Callers use the
    /// last row with a value. PVE's `rrddata` takes only `timeframe` and `cf`
    /// (`additionalProperties => 0`): a `ds=` parameter is refused with 400.
    pub fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError> {
        let path = format!("/nodes/{}/rrddata?timeframe=hour&cf=AVERAGE", enc(node));
        self.list_capped(&path, NODE_RRD_TIMEOUT)
    }

    /// `GET /cluster/status`.
    pub fn cluster_status(&mut self) -> Result<Vec<ClusterStatusEntry>, ProxmoxError> {
        self.list("/cluster/status")
    }

    /// `GET /cluster/resources`: every guest, node and storage row of the cluster in one
    /// request (what the live part of a poll reads).
    pub fn cluster_resources(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.list("/cluster/resources")
    }

    /// `GET /cluster/resources?type=vm` (all VMs and containers of the cluster).
    pub fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.list("/cluster/resources?type=vm")
    }

    /// `GET /nodes/{node}/qemu/{vmid}/status/current`.
    pub fn qemu_status(&mut self, node: &str, vmid: u32) -> Result<QemuStatus, ProxmoxError> {
        self.get(&format!("/nodes/{}/qemu/{vmid}/status/current", enc(node)))
    }

    /// `GET .../agent/network-get-interfaces`.
    pub fn agent_network_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError> {
        let path = format!(
            "/nodes/{}/qemu/{vmid}/agent/network-get-interfaces",
            enc(node)
        );
        self.get_capped(&path, AGENT_TIMEOUT)
    }

    /// `GET .../agent/get-osinfo` (`data.result`).
    pub fn agent_osinfo(&mut self, node: &str, vmid: u32) -> Result<AgentOsInfo, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/get-osinfo", enc(node));
        let r: AgentResult<AgentOsInfo> = self.get_capped(&path, AGENT_TIMEOUT)?;
        Ok(r.result)
    }

    /// `GET .../agent/info` (`data.result`).
    pub fn agent_info(&mut self, node: &str, vmid: u32) -> Result<AgentInfo, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/info", enc(node));
        let r: AgentResult<AgentInfo> = self.get_capped(&path, AGENT_TIMEOUT)?;
        Ok(r.result)
    }

    /// `GET .../agent/get-fsinfo`.
    pub fn agent_fsinfo(&mut self, node: &str, vmid: u32) -> Result<AgentFsInfoList, ProxmoxError> {
        let path = format!("/nodes/{}/qemu/{vmid}/agent/get-fsinfo", enc(node));
        self.get_capped(&path, AGENT_FSINFO_TIMEOUT)
    }

    /// `GET /nodes/{node}/lxc/{vmid}/rrddata?timeframe=hour&cf=AVERAGE`. No `ds=` (refused by
    /// PVE) and no `memavailable` in any guest RRD: the poll no longer needs this, since the
    /// container `mem` of `/cluster/resources` is already cgroup usage without page cache.
    pub fn lxc_rrd_memory(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<GuestRrdPoint>, ProxmoxError> {
        let path = format!(
            "/nodes/{}/lxc/{vmid}/rrddata?timeframe=hour&cf=AVERAGE",
            enc(node)
        );
        self.list_capped(&path, GUEST_CALL_TIMEOUT)
    }

    /// `GET /nodes/{node}/lxc/{vmid}/status/current`.
    pub fn lxc_status(&mut self, node: &str, vmid: u32) -> Result<LxcStatus, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/status/current", enc(node));
        self.get_capped(&path, GUEST_CALL_TIMEOUT)
    }

    /// `GET /nodes/{node}/lxc/{vmid}/config`.
    pub fn lxc_config(&mut self, node: &str, vmid: u32) -> Result<LxcConfig, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/config", enc(node));
        self.get_capped(&path, GUEST_CALL_TIMEOUT)
    }

    /// `GET /nodes/{node}/lxc/{vmid}/interfaces`.
    pub fn lxc_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<Vec<LxcInterface>, ProxmoxError> {
        let path = format!("/nodes/{}/lxc/{vmid}/interfaces", enc(node));
        self.list_capped(&path, GUEST_CALL_TIMEOUT)
    }

    /// `GET /nodes/{node}/qemu` (fallback when cluster resources fail).
    pub fn qemu_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.list(&format!("/nodes/{}/qemu", enc(node)))
    }

    /// `GET /nodes/{node}/lxc` (fallback when cluster resources fail).
    pub fn lxc_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError> {
        self.list(&format!("/nodes/{}/lxc", enc(node)))
    }

    /// `GET /storage` (cluster storage configuration), 30 s cap.
    pub fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError> {
        self.list_capped("/storage", STORAGE_TIMEOUT)
    }

    /// `GET /nodes/{node}/storage`, 30 s cap.
    pub fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError> {
        self.list_capped(&format!("/nodes/{}/storage", enc(node)), STORAGE_TIMEOUT)
    }

    /// `GET /nodes/{node}/storage/{storage}/content`, 30 s cap.
    pub fn storage_content(
        &mut self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError> {
        let path = format!("/nodes/{}/storage/{}/content", enc(node), enc(storage));
        self.list_capped(&path, STORAGE_TIMEOUT)
    }

    /// `GET /nodes/{node}/disks/list`.
    pub fn disks(&mut self, node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError> {
        self.list(&format!("/nodes/{}/disks/list", enc(node)))
    }

    /// `GET /cluster/ceph/status`, 15 s cap.
    pub fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError> {
        self.get_capped("/cluster/ceph/status", CEPH_TIMEOUT)
    }

    /// `GET /cluster/ceph/df` as Pulse calls it (`data.data.stats`, `data.data.pools`), 15 s cap.
    pub fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError> {
        self.get_capped("/cluster/ceph/df", CEPH_TIMEOUT)
    }

    /// `GET /nodes/{node}/tasks` (all recent tasks; callers filter `vzdump`).
    pub fn node_tasks(&mut self, node: &str) -> Result<Vec<Task>, ProxmoxError> {
        self.list(&format!("/nodes/{}/tasks", enc(node)))
    }

    /// `GET /nodes/{node}/qemu/{vmid}/snapshot` (includes the `current` pseudo-entry).
    pub fn qemu_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.list(&format!("/nodes/{}/qemu/{vmid}/snapshot", enc(node)))
    }

    /// `GET /nodes/{node}/lxc/{vmid}/snapshot` (includes the `current` pseudo-entry).
    pub fn lxc_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError> {
        self.list(&format!("/nodes/{}/lxc/{vmid}/snapshot", enc(node)))
    }

    /// `GET /cluster/replication` (job configuration). 404/501 (no replication support) → empty.
    pub fn replication_jobs(&mut self) -> Result<Vec<ReplicationJob>, ProxmoxError> {
        empty_if_unsupported(self.list("/cluster/replication"))
    }

    /// `GET /nodes/{node}/replication` (per-job sync status on the source node).
    pub fn node_replication(&mut self, node: &str) -> Result<Vec<ReplicationJob>, ProxmoxError> {
        empty_if_unsupported(self.list(&format!("/nodes/{}/replication", enc(node))))
    }

    /// `GET /nodes/{node}/disks/zfs`.
    pub fn zfs_pools(&mut self, node: &str) -> Result<Vec<ZfsPoolListEntry>, ProxmoxError> {
        self.list(&format!("/nodes/{}/disks/zfs", enc(node)))
    }

    /// `GET /nodes/{node}/disks/zfs/{pool}`.
    pub fn zfs_pool(&mut self, node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        self.get(&format!("/nodes/{}/disks/zfs/{}", enc(node), enc(pool)))
    }

    /// `GET /cluster/backup` (scheduled vzdump jobs).
    pub fn backup_jobs(&mut self) -> Result<Vec<BackupJob>, ProxmoxError> {
        self.list("/cluster/backup")
    }

    /// Escape hatch for endpoints without a typed method; runs through failover.
    pub fn get_json<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, ProxmoxError> {
        self.get(path)
    }

    /// Runs `f` against a member directly (tests, one-off calls that need [`ApiClient`]).
    pub fn with_client<T>(
        &mut self,
        f: impl FnMut(&mut ApiClient) -> Result<T, ProxmoxError>,
    ) -> Result<T, ProxmoxError> {
        self.cluster.call(f)
    }
}

/// Pulse treats "endpoint missing" answers for optional features as an empty list.
fn empty_if_unsupported<T>(r: Result<Vec<T>, ProxmoxError>) -> Result<Vec<T>, ProxmoxError> {
    match r {
        Err(ProxmoxError::Http {
            status: 404 | 501, ..
        }) => Ok(Vec::new()),
        Err(ProxmoxError::Http { excerpt, .. }) if excerpt.contains("not implemented") => {
            Ok(Vec::new())
        }
        other => other,
    }
}
