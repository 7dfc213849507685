//! One poll of a Proxmox VE instance (the monitoring part of Pulse's poll sequence):
//! nodes → node status (+ RRD memory when needed) → guests from `/cluster/resources` (per-node
//! lists as fallback) → VM status and guest agent → container RRD → storage.
//!
//! Runs on a poll worker thread and blocks on the network. Everything it needs between polls
//! (rate counters, agent cache, RRD cache, last memory figures) lives in [`PvePollContext`],
//! which the event loop owns and lends to the worker for the duration of one poll.

use super::derive_ceph::{build_ceph, build_physical_disk};
use super::derive_guest::{
    build_container, build_vm, container_counters, is_template, resource_guest_id, vm_counters,
    FsInfo, VmInputs,
};
use super::derive_pve::{
    build_node, build_storage, last_guest_rrd, last_node_rrd, node_memory, node_needs_rrd,
    NodeContext,
};
use super::derive_replication::{build_replication_jobs, GuestInfo};
use super::guest_agent::{
    agent_key, agent_version, network_interfaces, os_name_version, AgentCacheConfig, AgentMeta,
    AgentMetaCache,
};
use super::lxc_network::lxc_network;
use super::poll_pve_backups::{poll_pve_backups, GuestRef};
use super::rates::RateTracker;
use super::scheduler::PollError;
use crate::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task,
};
use crate::proxmox::ProxmoxError;
use crate::state::replication::ReplicationJobFrontend;
use crate::state::{ContainerFrontend, PveSnapshot, VMFrontend};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The PVE calls a poll makes. Implemented by the real client (`proxmox::pve::PveClient`,
/// same method names) and by anything else that can answer them.
pub trait PveApi {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError>;
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError>;
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError>;
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError>;
    fn qemu_status(&mut self, node: &str, vmid: u32) -> Result<QemuStatus, ProxmoxError>;
    fn agent_network_interfaces(
        &mut self,
        node: &str,
        vmid: u32,
    ) -> Result<AgentInterfaces, ProxmoxError>;
    fn agent_osinfo(&mut self, node: &str, vmid: u32) -> Result<AgentOsInfo, ProxmoxError>;
    fn agent_info(&mut self, node: &str, vmid: u32) -> Result<AgentInfo, ProxmoxError>;
    fn agent_fsinfo(&mut self, node: &str, vmid: u32) -> Result<AgentFsInfoList, ProxmoxError>;
    fn lxc_rrd_memory(&mut self, node: &str, vmid: u32)
        -> Result<Vec<GuestRrdPoint>, ProxmoxError>;
    fn lxc_status(&mut self, node: &str, vmid: u32) -> Result<LxcStatus, ProxmoxError>;
    fn lxc_config(&mut self, node: &str, vmid: u32) -> Result<LxcConfig, ProxmoxError>;
    fn lxc_interfaces(&mut self, node: &str, vmid: u32) -> Result<Vec<LxcInterface>, ProxmoxError>;
    fn qemu_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError>;
    fn lxc_list(&mut self, node: &str) -> Result<Vec<GuestListEntry>, ProxmoxError>;
    fn storage_config(&mut self) -> Result<Vec<StorageConfig>, ProxmoxError>;
    fn node_storage(&mut self, node: &str) -> Result<Vec<NodeStorage>, ProxmoxError>;
    fn disks(&mut self, node: &str) -> Result<Vec<PhysicalDisk>, ProxmoxError>;
    /// `GET /cluster/replication`, rows as raw JSON (their shape varies between releases).
    fn cluster_replication(&mut self) -> Result<Vec<serde_json::Value>, ProxmoxError>;
    fn node_tasks(&mut self, node: &str) -> Result<Vec<Task>, ProxmoxError>;
    fn storage_content(
        &mut self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<StorageContent>, ProxmoxError>;
    fn qemu_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError>;
    fn lxc_snapshots(&mut self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, ProxmoxError>;
    fn ceph_status(&mut self) -> Result<CephStatus, ProxmoxError>;
    fn ceph_df(&mut self) -> Result<CephDf, ProxmoxError>;
    /// `(healthy, total)` cluster endpoints; `(1, 1)` for a single host.
    fn endpoint_health(&self) -> (usize, usize);
}

/// What the configuration says about the instance.
#[derive(Debug, Clone)]
pub struct PveSettings {
    pub instance: String,
    pub host: String,
    pub is_cluster: bool,
    pub cluster_name: String,
    pub monitor_vms: bool,
    pub monitor_containers: bool,
    pub monitor_storage: bool,
    /// Cluster members' own URLs (node name → `https://<ip>:8006`), from the configured
    /// cluster endpoints: each node links to itself, not to the host Pulse talks to.
    pub node_hosts: BTreeMap<String, String>,
}

impl PveSettings {
    pub fn new(instance: &str, host: &str) -> PveSettings {
        PveSettings {
            instance: instance.to_string(),
            host: host.to_string(),
            is_cluster: false,
            cluster_name: String::new(),
            monitor_vms: true,
            monitor_containers: true,
            monitor_storage: true,
            node_hosts: BTreeMap::new(),
        }
    }
}

/// Node RRD memory is re-read at most this often per node.
const NODE_RRD_CACHE_MS: i64 = 30_000;
/// Backups and snapshots are listed on the first poll and then every this many polls (≈100 s).
const BACKUP_EVERY_POLLS: u64 = 10;
/// SMART data changes slowly and `disks/list` is expensive: every 5 minutes (Pulse's default).
const PHYSICAL_DISK_INTERVAL_MS: i64 = 300_000;
/// Storage types backed by Ceph: their presence makes the poll read the Ceph status.
const CEPH_STORAGE_TYPES: &[&str] = &["rbd", "cephfs", "ceph"];

/// State a PVE poll carries over to the next one. Owned by the event loop, lent to a worker.
#[derive(Debug, Clone)]
pub struct PvePollContext {
    pub settings: PveSettings,
    rates: RateTracker,
    agent: AgentMetaCache,
    node_rrd: HashMap<String, (i64, Option<NodeRrdPoint>)>,
    node_used: HashMap<String, i64>,
    disks_polled_ms: Option<i64>,
    polls: u64,
    /// Set by the configuration (`monitorBackups`).
    pub monitor_backups: bool,
}

impl PvePollContext {
    /// `seed` drives the agent-refresh jitter.
    pub fn new(settings: PveSettings, seed: u64) -> PvePollContext {
        PvePollContext {
            settings,
            rates: RateTracker::default(),
            agent: AgentMetaCache::new(AgentCacheConfig::default(), seed),
            node_rrd: HashMap::new(),
            node_used: HashMap::new(),
            disks_polled_ms: None,
            polls: 0,
            monitor_backups: true,
        }
    }
}

/// A failed call as the scheduler sees it.
pub fn classify(err: &ProxmoxError) -> PollError {
    if err.is_transient() {
        PollError::transient(err.to_string())
    } else {
        PollError::permanent(err.to_string())
    }
}

/// The `diskStatusReason` for a failed guest-agent call.
fn agent_failure_reason(err: &ProxmoxError) -> &'static str {
    let text = err.to_string().to_ascii_lowercase();
    match err {
        ProxmoxError::Timeout(_) => "agent-timeout",
        ProxmoxError::Auth { .. } => "permission-denied",
        _ if text.contains("not running") => "agent-not-running",
        _ if text.contains("timeout") => "agent-timeout",
        _ => "agent-error",
    }
}

/// Polls one PVE instance. `Err` only when the instance as a whole could not be read
/// (`GET /nodes` failed); per-node and per-guest failures degrade gracefully.
pub fn poll_pve(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    now_ms: i64,
) -> Result<PveSnapshot, PollError> {
    // One slow member must not hold the whole instance for minutes (see `slow_nodes`).
    let mut guard = super::slow_nodes::SlowNodeGuard::new(api);
    let api: &mut dyn PveApi = &mut guard;
    let listed = api.nodes().map_err(|e| classify(&e))?;
    let settings = ctx.settings.clone();
    let instance = settings.instance.as_str();
    let (healthy, total) = api.endpoint_health();
    let connection_health = if healthy >= total {
        "healthy"
    } else {
        "degraded"
    };

    let mut snap = PveSnapshot {
        connection_healthy: healthy > 0,
        ..PveSnapshot::default()
    };
    let node_ctx = NodeContext {
        instance: instance.to_string(),
        host: settings.host.clone(),
        display_name: if settings.is_cluster {
            String::new()
        } else {
            instance.to_string()
        },
        is_cluster: settings.is_cluster,
        cluster_name: settings.cluster_name.clone(),
        connection_health: connection_health.to_string(),
    };
    let mut online: Vec<String> = Vec::new();
    for row in &listed {
        let is_online = row.status.as_deref() == Some("online");
        let status = if is_online {
            api.node_status(&row.node).ok()
        } else {
            None
        };
        let mem_status = status.as_ref().and_then(|s| s.memory.as_ref());
        let rrd = if status.is_some() && node_needs_rrd(mem_status) {
            node_rrd_cached(api, ctx, &row.node, now_ms)
        } else {
            None
        };
        let previous = ctx.node_used.get(&row.node).copied();
        let (memory, _) = node_memory(row, mem_status, rrd.as_ref(), previous);
        if is_online {
            if memory.total > 0 {
                ctx.node_used.insert(row.node.clone(), memory.used);
            }
            online.push(row.node.clone());
        }
        snap.nodes.push(build_node(
            &node_context(&node_ctx, &settings, &row.node),
            row,
            status.as_ref(),
            memory,
            now_ms,
        ));
    }

    if settings.monitor_vms || settings.monitor_containers {
        let rows = match api.cluster_resources_vms() {
            Ok(rows) => rows,
            Err(_) => per_node_guest_lists(api, &online, &mut snap.unlisted_guest_nodes),
        };
        let mut seen_ids: BTreeSet<String> = BTreeSet::new();
        let mut seen_agents: BTreeSet<String> = BTreeSet::new();
        for res in rows.iter().filter(|r| !is_template(r)) {
            let Some(id) = resource_guest_id(instance, res) else {
                continue;
            };
            match res.kind.as_str() {
                "qemu" if settings.monitor_vms => {
                    if let Some(vm) = poll_vm(api, ctx, &mut seen_agents, res, &id, now_ms) {
                        seen_ids.insert(id);
                        snap.vms.push(vm);
                    }
                }
                "lxc" if settings.monitor_containers => {
                    if let Some(ct) = poll_container(api, ctx, &mut seen_agents, res, &id, now_ms) {
                        seen_ids.insert(id);
                        snap.containers.push(ct);
                    }
                }
                _ => {}
            }
        }
        snap.replication = replication_jobs(api, instance, &snap, now_ms);
        ctx.rates.retain(|id| seen_ids.contains(id));
        ctx.agent.retain(|k| seen_agents.contains(k));
    }

    if settings.monitor_storage {
        let config = api.storage_config().ok();
        let config_rows = config.as_deref().unwrap_or_default();
        for node in &online {
            let Ok(rows) = api.node_storage(node) else {
                continue;
            };
            snap.storage_nodes.insert(node.clone());
            for row in &rows {
                let cfg = config_rows.iter().find(|c| c.storage == row.storage);
                snap.storage.push(build_storage(instance, node, row, cfg));
            }
        }
        let has_ceph = config_rows
            .iter()
            .map(|c| c.kind.as_str())
            .chain(snap.storage.iter().map(|s| s.kind.as_str()))
            .any(|k| CEPH_STORAGE_TYPES.contains(&k));
        let storage_known = config.is_some() || !snap.storage_nodes.is_empty();
        snap.ceph = if has_ceph {
            // A failed status read keeps the previous picture (None); df is optional.
            api.ceph_status().ok().map(|status| {
                vec![build_ceph(
                    instance,
                    &status,
                    api.ceph_df().ok().as_ref(),
                    now_ms,
                )]
            })
        } else if storage_known {
            Some(Vec::new())
        } else {
            None
        };
    }

    if ctx
        .disks_polled_ms
        .is_none_or(|at| now_ms - at >= PHYSICAL_DISK_INTERVAL_MS)
        && !online.is_empty()
    {
        let mut disks = Vec::new();
        for node in &online {
            if let Ok(list) = api.disks(node) {
                disks.extend(
                    list.iter()
                        .map(|d| build_physical_disk(instance, node, d, now_ms)),
                );
            }
        }
        ctx.disks_polled_ms = Some(now_ms);
        snap.physical_disks = Some(disks);
    }

    if ctx.monitor_backups && ctx.polls.is_multiple_of(BACKUP_EVERY_POLLS) {
        let vms = snap.vms.iter().map(|v| GuestRef {
            node: v.node.clone(),
            vmid: v.vmid,
            kind: "qemu",
        });
        let cts = snap.containers.iter().map(|c| GuestRef {
            node: c.node.clone(),
            vmid: c.vmid,
            kind: "lxc",
        });
        // Guests of unreachable nodes would only time out.
        let guests: Vec<GuestRef> = vms
            .chain(cts)
            .filter(|g| online.contains(&g.node))
            .collect();
        snap.backups = Some(poll_pve_backups(
            api,
            instance,
            &online,
            &snap.storage,
            &guests,
        ));
    }
    ctx.polls = ctx.polls.wrapping_add(1);
    ctx.node_rrd
        .retain(|n, _| listed.iter().any(|r| &r.node == n));
    ctx.node_used
        .retain(|n, _| listed.iter().any(|r| &r.node == n));
    Ok(snap)
}

/// One VM: status, guest-agent filesystems (every poll) and metadata (throttled).
fn poll_vm(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    seen_agents: &mut BTreeSet<String>,
    res: &ClusterResource,
    id: &str,
    now_ms: i64,
) -> Option<VMFrontend> {
    let (node, vmid) = (res.node.as_deref()?, res.vmid?);
    let instance = ctx.settings.instance.clone();
    let listed_running = res.status.as_deref() == Some("running");
    let status = if listed_running {
        api.qemu_status(node, vmid).ok()
    } else {
        None
    };
    let running = status
        .as_ref()
        .and_then(|s| s.status.as_deref())
        .map_or(listed_running, |s| s == "running");
    let agent_on = status.as_ref().and_then(|s| s.agent).unwrap_or(0) > 0;
    let key = agent_key(&instance, node, vmid);
    let fs_list;
    let fsinfo = if !running {
        FsInfo::NotAsked
    } else if !agent_on {
        ctx.agent.forget(&key);
        FsInfo::AgentDisabled
    } else {
        seen_agents.insert(key.clone());
        refresh_agent_meta(api, &mut ctx.agent, &key, node, vmid, now_ms);
        match api.agent_fsinfo(node, vmid) {
            Ok(list) => {
                fs_list = list.result;
                FsInfo::Listed(&fs_list)
            }
            Err(e) => FsInfo::Failed(agent_failure_reason(&e)),
        }
    };
    let rates = ctx
        .rates
        .update(id, vm_counters(res, status.as_ref()), now_ms);
    let meta = if agent_on {
        ctx.agent.get(&key, now_ms)
    } else {
        None
    };
    let input = VmInputs {
        status: status.as_ref(),
        fsinfo,
        meta,
    };
    build_vm(&instance, res, input, rates, now_ms)
}

/// One container: RRD memory and (throttled) network identity.
fn poll_container(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    seen_agents: &mut BTreeSet<String>,
    res: &ClusterResource,
    id: &str,
    now_ms: i64,
) -> Option<ContainerFrontend> {
    let (node, vmid) = (res.node.as_deref()?, res.vmid?);
    let instance = ctx.settings.instance.clone();
    let running = res.status.as_deref() == Some("running");
    let rrd = if running {
        api.lxc_rrd_memory(node, vmid).ok()
    } else {
        None
    };
    let point = rrd.as_deref().and_then(last_guest_rrd);
    let rates = ctx.rates.update(id, container_counters(res), now_ms);
    let key = agent_key(&instance, node, vmid);
    let network = if running {
        seen_agents.insert(key.clone());
        refresh_lxc_network(api, &mut ctx.agent, &key, node, vmid, now_ms);
        ctx.agent.get(&key, now_ms)
    } else {
        None
    };
    build_container(&instance, res, point, network, rates, now_ms)
}

/// Replication jobs with their guests' names; an instance without replication support
/// (404/501) has none, any other failure keeps the previous list (`None`).
fn replication_jobs(
    api: &mut dyn PveApi,
    instance: &str,
    snap: &PveSnapshot,
    now_ms: i64,
) -> Option<Vec<ReplicationJobFrontend>> {
    let rows = match api.cluster_replication() {
        Ok(rows) => rows,
        Err(ProxmoxError::Http {
            status: 404 | 501, ..
        }) => Vec::new(),
        Err(_) => return None,
    };
    let vms = snap.vms.iter().map(|v| GuestInfo {
        vmid: v.vmid,
        name: v.name.clone(),
        kind: "qemu".into(),
        node: v.node.clone(),
    });
    let cts = snap.containers.iter().map(|c| GuestInfo {
        vmid: c.vmid,
        name: c.name.clone(),
        kind: "lxc".into(),
        node: c.node.clone(),
    });
    let guests: Vec<GuestInfo> = vms.chain(cts).collect();
    Some(build_replication_jobs(instance, &rows, &guests, now_ms))
}

/// The instance-wide context, with this node's own URL when the cluster configuration has one.
fn node_context(base: &NodeContext, settings: &PveSettings, node: &str) -> NodeContext {
    match settings.node_hosts.get(node) {
        Some(host) => NodeContext {
            host: host.clone(),
            ..base.clone()
        },
        None => base.clone(),
    }
}

fn node_rrd_cached(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    node: &str,
    now_ms: i64,
) -> Option<NodeRrdPoint> {
    if let Some((at, point)) = ctx.node_rrd.get(node) {
        if now_ms - at < NODE_RRD_CACHE_MS {
            return point.clone();
        }
    }
    let point = api
        .node_rrd_memory(node)
        .ok()
        .and_then(|rows| last_node_rrd(&rows).cloned());
    ctx.node_rrd
        .insert(node.to_string(), (now_ms, point.clone()));
    point
}

/// Fetches OS, agent version and interfaces when the throttle allows.
fn refresh_agent_meta(
    api: &mut dyn PveApi,
    cache: &mut AgentMetaCache,
    key: &str,
    node: &str,
    vmid: u32,
    now_ms: i64,
) {
    if !cache.needs_refresh(key, now_ms) {
        return;
    }
    let interfaces = match api.agent_network_interfaces(node, vmid) {
        Ok(list) => list.result,
        Err(_) => {
            cache.record_failure(key, now_ms);
            return;
        }
    };
    let (interfaces, ip_addresses) = network_interfaces(&interfaces);
    let (os_name, os_version) = api
        .agent_osinfo(node, vmid)
        .map(|i| os_name_version(&i))
        .unwrap_or_default();
    let agent_version = api
        .agent_info(node, vmid)
        .map(|i| agent_version(&i))
        .unwrap_or_default();
    cache.store(
        key,
        AgentMeta {
            os_name,
            os_version,
            agent_version,
            interfaces,
            ip_addresses,
        },
        now_ms,
    );
}

/// Container interfaces and addresses, on the same throttle as VM agent metadata (they are
/// three calls per container and change rarely).
fn refresh_lxc_network(
    api: &mut dyn PveApi,
    cache: &mut AgentMetaCache,
    key: &str,
    node: &str,
    vmid: u32,
    now_ms: i64,
) {
    if !cache.needs_refresh(key, now_ms) {
        return;
    }
    let config = api.lxc_config(node, vmid).ok();
    let status = api.lxc_status(node, vmid).ok();
    if config.is_none() && status.is_none() {
        cache.record_failure(key, now_ms);
        return;
    }
    let (mut interfaces, mut ip_addresses) = lxc_network(config.as_ref(), status.as_ref(), &[]);
    if ip_addresses.is_empty() {
        if let Ok(list) = api.lxc_interfaces(node, vmid) {
            (interfaces, ip_addresses) = lxc_network(config.as_ref(), status.as_ref(), &list);
        }
    }
    let meta = AgentMeta {
        interfaces,
        ip_addresses,
        ..AgentMeta::default()
    };
    cache.store(key, meta, now_ms);
}

/// Fallback when `/cluster/resources` fails: the per-node guest lists, shaped like resource rows.
fn per_node_guest_lists(
    api: &mut dyn PveApi,
    online: &[String],
    unlisted: &mut BTreeSet<String>,
) -> Vec<ClusterResource> {
    let mut rows = Vec::new();
    for node in online {
        let (qemu, lxc) = (api.qemu_list(node), api.lxc_list(node));
        let (Ok(qemu), Ok(lxc)) = (qemu, lxc) else {
            unlisted.insert(node.clone());
            continue;
        };
        let as_row = |g: GuestListEntry, kind: &str| ClusterResource {
            id: format!("{kind}/{}", g.vmid),
            kind: kind.to_string(),
            node: Some(node.clone()),
            status: g.status,
            name: g.name,
            vmid: Some(g.vmid),
            cpu: g.cpu,
            maxcpu: g.cpus,
            mem: g.mem,
            maxmem: g.maxmem,
            disk: g.disk,
            maxdisk: g.maxdisk,
            netin: g.netin,
            netout: g.netout,
            diskread: g.diskread,
            diskwrite: g.diskwrite,
            uptime: g.uptime,
            template: g.template,
            tags: g.tags,
            lock: g.lock,
            ..ClusterResource::default()
        };
        rows.extend(qemu.into_iter().map(|g| as_row(g, "qemu")));
        rows.extend(lxc.into_iter().map(|g| as_row(g, "lxc")));
    }
    rows
}
