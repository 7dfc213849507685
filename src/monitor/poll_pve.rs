//! One poll of a Proxmox VE instance: the live part (nodes → node status, + RRD memory when
//! needed → `/cluster/resources` for every guest and storage figure) costs requests per node,
//! never per guest; per-guest details (VM status, guest agent, container network,
//! snapshots) come on a budget chosen by `details::DetailPlanner` and are held between refreshes
//! (`poll_pve_details`). Then replication, physical disks and backups on their cadences.
//!
//! Runs on a poll worker thread and blocks on the network. Everything it needs between polls
//! (rate counters, held details, RRD cache, last memory figures) lives in [`PvePollContext`],
//! which the event loop owns and lends to the worker for the duration of one poll.

use super::derive_ceph::{build_ceph, build_physical_disk};
use super::derive_guest::{
    build_container, build_vm, container_counters, is_template, rebase_vm_memory,
    resource_guest_id, vm_counters, FsInfo, VmInputs,
};
use super::derive_pve::{
    build_node, build_storage, last_node_rrd, node_memory, node_needs_rrd, NodeContext,
};
use super::details::{DetailKind, Wanted};
use super::poll_pve_backups::poll_pve_backups;
use super::poll_pve_details::{fetch, DetailJob, DetailResult};
pub use super::pve_context::{
    BackupPolicy, PvePollContext, PveSettings, SlowReads, PHYSICAL_DISK_INTERVAL_MS,
};
use super::scheduler::PollError;
use crate::proxmox::pve_types::{
    AgentFsInfoList, AgentInfo, AgentInterfaces, AgentOsInfo, CephDf, CephStatus, ClusterResource,
    GuestListEntry, GuestRrdPoint, LxcConfig, LxcInterface, LxcStatus, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, PhysicalDisk, QemuStatus, Snapshot, StorageConfig, StorageContent,
    Task, ZfsPoolDetail, ZfsPoolListEntry,
};
use crate::proxmox::ProxmoxError;
use crate::state::backups::PveBackupsUpdate;
use crate::state::{Memory, PveSnapshot};
use std::collections::{BTreeSet, HashMap};

/// The PVE calls a poll makes. Implemented by the real client (`proxmox::pve::PveClient`,
/// same method names) and by anything else that can answer them.
pub trait PveApi {
    fn nodes(&mut self) -> Result<Vec<NodeListEntry>, ProxmoxError>;
    fn node_status(&mut self, node: &str) -> Result<NodeStatus, ProxmoxError>;
    fn node_rrd_memory(&mut self, node: &str) -> Result<Vec<NodeRrdPoint>, ProxmoxError>;
    fn cluster_resources_vms(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError>;
    /// `GET /cluster/resources` with every type (guests, nodes, storage) in one request.
    /// Implementations that only know the guest rows may keep this default.
    fn cluster_resources(&mut self) -> Result<Vec<ClusterResource>, ProxmoxError> {
        self.cluster_resources_vms()
    }
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
    /// `GET /nodes/{node}/disks/zfs`. Implementations without ZFS may keep this default.
    fn zfs_pools(&mut self, _node: &str) -> Result<Vec<ZfsPoolListEntry>, ProxmoxError> {
        Ok(Vec::new())
    }
    /// `GET /nodes/{node}/disks/zfs/{pool}`: the pool's state and vdev tree.
    fn zfs_pool(&mut self, _node: &str, pool: &str) -> Result<ZfsPoolDetail, ProxmoxError> {
        Err(ProxmoxError::Http {
            status: 501,
            excerpt: format!("no ZFS detail for {pool}"),
        })
    }
    /// `GET /cluster/replication`, rows as raw JSON (their shape varies between releases).
    fn cluster_replication(&mut self) -> Result<Vec<serde_json::Value>, ProxmoxError>;
    /// `GET /nodes/{node}/replication`: the jobs this node runs with their state (last/next
    /// sync, duration, fail count, error), which `/cluster/replication` does not carry.
    fn node_replication(&mut self, _node: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        Ok(Vec::new())
    }
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

/// Node RRD memory is re-read at most this often per node.
const NODE_RRD_CACHE_MS: i64 = 30_000;
/// Backups are listed every this many polls (≈100 s), from the second poll on (the first
/// one should put every guest on screen as soon as possible).
const BACKUP_EVERY_POLLS: u64 = 10;
/// The cluster-wide storage configuration changes rarely: re-read every this many polls.
const STORAGE_CONFIG_EVERY_POLLS: u64 = 30;
/// Storage types backed by Ceph: their presence makes the poll read the Ceph status.
const CEPH_STORAGE_TYPES: &[&str] = &["rbd", "cephfs", "ceph"];

/// A failed call as the scheduler sees it. A 404 is transient: it says the endpoint (or the
/// member that answered) is wrong, never that the instance is gone for good.
pub fn classify(err: &ProxmoxError) -> PollError {
    if err.is_transient() || err.status() == Some(404) {
        PollError::transient(err.to_string())
    } else {
        PollError::permanent(err.to_string())
    }
}

/// Runs the fetches of one cycle. The default runs them one after another on the poll's
/// own connection; `parallel` lanes (see `poll_lanes`) spread them over nodes.
pub trait DetailFetcher {
    fn fetch_all(
        &mut self,
        api: &mut dyn PveApi,
        instance: &str,
        jobs: &[DetailJob],
    ) -> Vec<DetailResult>;
}

/// One connection, one request at a time.
pub struct Sequential;

impl DetailFetcher for Sequential {
    fn fetch_all(
        &mut self,
        api: &mut dyn PveApi,
        instance: &str,
        jobs: &[DetailJob],
    ) -> Vec<DetailResult> {
        jobs.iter().map(|j| fetch(api, instance, j)).collect()
    }
}

/// Polls one PVE instance with details fetched on the poll's own connection.
pub fn poll_pve(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    now_ms: i64,
) -> Result<PveSnapshot, PollError> {
    poll_pve_with(api, ctx, now_ms, &mut Sequential, &mut |_| {})
}

/// Polls one PVE instance. The live part (node list, node status, `/cluster/resources`,
/// storage) costs requests per node, never per guest; `early` receives the snapshot built
/// from it before any per-guest detail is fetched, so a new instance shows every guest at
/// once. `Err` only when the instance as a whole could not be read (`GET /nodes` failed);
/// per-node and per-guest failures degrade gracefully.
pub fn poll_pve_with(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    now_ms: i64,
    fetcher: &mut dyn DetailFetcher,
    early: &mut dyn FnMut(&PveSnapshot),
) -> Result<PveSnapshot, PollError> {
    // One slow member must not hold the whole instance for minutes (see `slow_nodes`).
    let node_calls = std::cell::Cell::new(0u32);
    let mut guard = super::slow_nodes::SlowNodeGuard::counting(api, &node_calls);
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
    let online_now: Vec<&str> = listed
        .iter()
        .filter(|r| r.status.as_deref() == Some("online"))
        .map(|r| r.node.as_str())
        .collect();
    let status_due = ctx.node_status.due(&online_now, now_ms);
    for row in &listed {
        let is_online = row.status.as_deref() == Some("online");
        let fresh = if is_online && status_due.contains(&row.node) {
            api.node_status(&row.node).ok()
        } else {
            None
        };
        // Between reads (or when this read failed) the last one stands in.
        let held = match (&fresh, is_online) {
            (None, true) => ctx.node_status.held(&row.node, row),
            _ => None,
        };
        let previous = ctx.node_used.get(&row.node).copied();
        let (status, memory) = match (fresh, held) {
            (Some(status), _) => {
                let mem_status = status.memory.as_ref();
                let rrd = if node_needs_rrd(mem_status) {
                    node_rrd_cached(api, ctx, &row.node, now_ms)
                } else {
                    None
                };
                let (memory, _) = node_memory(row, mem_status, rrd.as_ref(), previous);
                ctx.node_status.store(&row.node, &status, row, memory.used);
                (Some(status), memory)
            }
            (None, Some((status, used))) => {
                let total = status
                    .memory
                    .as_ref()
                    .and_then(|m| m.total)
                    .or(row.maxmem)
                    .and_then(|t| i64::try_from(t).ok())
                    .unwrap_or(0);
                let memory = match used {
                    Some(used) if total > 0 => Memory::from_used(total, used.min(total)),
                    _ => node_memory(row, None, None, previous).0,
                };
                (Some(status), memory)
            }
            (None, None) => (None, node_memory(row, None, None, previous).0),
        };
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
    ctx.node_status.retain_online(&online);

    let wants_guests = settings.monitor_vms || settings.monitor_containers;
    let resources = if wants_guests || settings.monitor_storage {
        api.cluster_resources().ok()
    } else {
        None
    };
    let rows: Vec<ClusterResource> = match &resources {
        Some(rows) => rows
            .iter()
            .filter(|r| r.kind == "qemu" || r.kind == "lxc")
            .cloned()
            .collect(),
        None if wants_guests => per_node_guest_lists(api, &online, &mut snap.unlisted_guest_nodes),
        None => Vec::new(),
    };
    let guests: Vec<&ClusterResource> = rows
        .iter()
        .filter(|r| !is_template(r))
        .filter(|r| match r.kind.as_str() {
            "qemu" => settings.monitor_vms,
            "lxc" => settings.monitor_containers,
            _ => false,
        })
        .collect();

    if settings.monitor_storage {
        poll_storage(api, ctx, &mut snap, resources.as_deref(), &online);
    }

    // Live snapshot first: every guest with the details held so far.
    if wants_guests {
        build_guests(ctx, &guests, &mut snap, now_ms, true);
        early(&snap);
    }

    // Per-guest details, under the budget, neediest first. A second round spends what is
    // left on details the first one revealed (a VM status saying its agent is on).
    let mut wanted = wanted_details(ctx, &guests, &online, instance);
    let mut spent = 0u32;
    // At most half of a cycle's budget pays back the slow lanes, so no cycle goes without
    // detail reads.
    let budget = ctx.details.config.budget_per_cycle;
    let repay = ctx.slow_lane_debt.min(budget / 2);
    ctx.slow_lane_debt -= repay;
    let budget = budget - repay;
    for _round in 0..2 {
        let left = budget.saturating_sub(spent);
        let plan = ctx.details.plan_within(&wanted, now_ms, left);
        if plan.is_empty() {
            break;
        }
        let by_vmid = guests_by_vmid(&guests);
        let jobs: Vec<DetailJob> = plan
            .iter()
            .filter_map(|i| wanted.get(*i))
            .filter_map(|w| detail_job(w, &by_vmid))
            .collect();
        spent += jobs.iter().map(|j| j.kind.cost()).sum::<u32>();
        let results = fetcher.fetch_all(api, instance, &jobs);
        let revealing = jobs.iter().any(|j| j.kind == DetailKind::VmStatus);
        for (job, result) in jobs.iter().zip(results) {
            ctx.held.apply(job, result);
            ctx.details.record(&job.guest, job.kind, &job.state, now_ms);
        }
        if !revealing {
            break;
        }
        wanted = wanted_details(ctx, &guests, &online, instance);
    }
    ctx.last_detail_cost = spent;
    ctx.held.retain(&wanted, &mut ctx.details);
    ctx.detail_ages = ctx.details.oldest(&wanted, now_ms);

    let slow_lanes_from = node_calls.get();
    if wants_guests {
        snap.vms.clear();
        snap.containers.clear();
        build_guests(ctx, &guests, &mut snap, now_ms, false);
        snap.replication = super::poll_pve_replication::replication_jobs(
            api,
            instance,
            &snap,
            &mut ctx.replication_state,
            now_ms,
        );
    }

    let first = ctx.polls == 0;
    if !first
        && ctx
            .disks_polled_ms
            .is_none_or(|at| now_ms - at >= ctx.slow.interval_ms)
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
    let config = ctx.storage_config.as_deref().unwrap_or_default();
    let slow = ctx.slow;
    super::poll_pve_zfs::poll(api, &mut ctx.zfs, slow, config, &mut snap, &online, now_ms);
    ctx.zfs.retain(|n| listed.iter().any(|r| r.node == n));

    let snapshots = if ctx.backups_wanted() && ctx.held.snapshots_changed {
        ctx.held.snapshots_changed = false;
        Some(ctx.held.all_snapshots())
    } else {
        None
    };
    if ctx.backups_wanted() && !first && backups_due(ctx, now_ms) {
        let mut update = poll_pve_backups(api, instance, &online, &snap.storage, &[]);
        update.guest_snapshots = snapshots;
        snap.backups = Some(update);
        ctx.backups_listed_ms = Some(now_ms);
    } else if snapshots.is_some() {
        snap.backups = Some(PveBackupsUpdate {
            guest_snapshots: snapshots,
            ..PveBackupsUpdate::default()
        });
    }
    ctx.slow_lane_debt = ctx
        .slow_lane_debt
        .saturating_add(node_calls.get() - slow_lanes_from);
    ctx.polls = ctx.polls.wrapping_add(1);
    ctx.node_rrd
        .retain(|n, _| listed.iter().any(|r| &r.node == n));
    ctx.node_used
        .retain(|n, _| listed.iter().any(|r| &r.node == n));
    Ok(snap)
}

/// Whether this (not first) poll lists backups: on the system's interval when one is set,
/// else every [`BACKUP_EVERY_POLLS`]th poll; never when backup polling is off system-wide.
fn backups_due(ctx: &PvePollContext, now_ms: i64) -> bool {
    let policy = ctx.backup_policy;
    if !policy.enabled {
        return false;
    }
    if policy.interval_ms > 0 {
        return ctx
            .backups_listed_ms
            .is_none_or(|at| now_ms - at >= policy.interval_ms);
    }
    (ctx.polls - 1).is_multiple_of(BACKUP_EVERY_POLLS)
}

/// Storage from the `/cluster/resources` storage rows (one request for the whole cluster);
/// per-node listings only when the resources call failed or carried none.
fn poll_storage(
    api: &mut dyn PveApi,
    ctx: &mut PvePollContext,
    snap: &mut PveSnapshot,
    resources: Option<&[ClusterResource]>,
    online: &[String],
) {
    let instance = ctx.settings.instance.clone();
    if ctx.storage_config.is_none() || ctx.polls.is_multiple_of(STORAGE_CONFIG_EVERY_POLLS) {
        if let Ok(cfg) = api.storage_config() {
            ctx.storage_config = Some(cfg);
        }
    }
    let config_rows = ctx.storage_config.as_deref().unwrap_or_default();
    let rows: Vec<&ClusterResource> = resources
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == "storage")
        .collect();
    if rows.is_empty() {
        for node in online {
            let Ok(list) = api.node_storage(node) else {
                continue;
            };
            snap.storage_nodes.insert(node.clone());
            for row in &list {
                let cfg = config_rows.iter().find(|c| c.storage == row.storage);
                snap.storage.push(build_storage(&instance, node, row, cfg));
            }
        }
    } else {
        for r in rows {
            let (Some(node), Some(name)) = (r.node.as_deref(), r.storage.as_deref()) else {
                continue;
            };
            if !online.iter().any(|n| n == node) {
                continue;
            }
            snap.storage_nodes.insert(node.to_string());
            let row = storage_from_resource(r, name);
            let cfg = config_rows.iter().find(|c| c.storage == name);
            snap.storage.push(build_storage(&instance, node, &row, cfg));
        }
    }
    let has_ceph = config_rows
        .iter()
        .map(|c| c.kind.as_str())
        .chain(snap.storage.iter().map(|s| s.kind.as_str()))
        .any(|k| CEPH_STORAGE_TYPES.contains(&k));
    let storage_known = ctx.storage_config.is_some() || !snap.storage_nodes.is_empty();
    snap.ceph = if has_ceph {
        // A failed status read keeps the previous picture (None); df is optional.
        api.ceph_status().ok().map(|status| {
            vec![build_ceph(
                &instance,
                &status,
                api.ceph_df().ok().as_ref(),
                crate::util::time::now_ms(),
            )]
        })
    } else if storage_known {
        Some(Vec::new())
    } else {
        None
    };
}

/// A `/cluster/resources` storage row in the shape of a node's storage listing. pvestatd
/// broadcasts active storages only, so a listed one with `status: available` is active.
fn storage_from_resource(r: &ClusterResource, name: &str) -> NodeStorage {
    let total = r.maxdisk.unwrap_or(0);
    let used = r.disk.unwrap_or(0);
    NodeStorage {
        storage: name.to_string(),
        kind: r.plugintype.clone(),
        content: r.content.clone(),
        active: Some(r.status.as_deref() == Some("available")),
        enabled: None,
        shared: r.shared,
        total: Some(total),
        used: Some(used),
        avail: Some(total.saturating_sub(used)),
        ..NodeStorage::default()
    }
}

/// Which details the live rows call for: memory for running VMs, agent data for running
/// VMs whose (held) status says the agent is on, network identity for running containers,
/// snapshots for every guest. Guests of nodes that are not online are left alone (their
/// calls would only time out).
fn wanted_details(
    ctx: &PvePollContext,
    guests: &[&ClusterResource],
    online: &[String],
    instance: &str,
) -> Vec<Wanted> {
    let mut out = Vec::new();
    for res in guests {
        let (Some(node), Some(id)) = (res.node.as_deref(), resource_guest_id(instance, res)) else {
            continue;
        };
        if !online.iter().any(|n| n == node) {
            continue;
        }
        let state = res.status.clone().unwrap_or_default();
        let running = state == "running";
        let held = ctx.held.vm_status.get(&id);
        let memory = held.is_none_or(status_corrects_memory);
        let mut want = |kind| {
            out.push(Wanted {
                guest: id.clone(),
                kind,
                memory: memory && kind == DetailKind::VmStatus,
                state: state.clone(),
            })
        };
        match res.kind.as_str() {
            "qemu" if running => {
                want(DetailKind::VmStatus);
                let agent_on = ctx
                    .held
                    .vm_status
                    .get(&id)
                    .and_then(|s| s.agent)
                    .unwrap_or(0)
                    > 0;
                if agent_on {
                    want(DetailKind::VmFilesystems);
                    want(DetailKind::VmAgentMeta);
                }
            }
            "lxc" if running => want(DetailKind::CtNetwork),
            _ => {}
        }
        if ctx.backups_wanted() {
            want(DetailKind::Snapshots);
        }
    }
    out
}

/// True when a VM's `status/current` carries guest-side figures that correct the live `mem`
/// (the balloon driver's `freemem`, or a balloon target below `maxmem`); without them the
/// derivation would use the status `mem`, which is the live figure.
fn status_corrects_memory(s: &QemuStatus) -> bool {
    let ballooned = matches!((s.balloon, s.maxmem), (Some(b), Some(m)) if b > 0 && b < m);
    s.freemem.is_some_and(|f| f > 0) || ballooned || s.meminfo.is_some()
}

/// Live rows by VMID (unique within a cluster; a list, in case two instances' rows ever mix).
fn guests_by_vmid<'r>(guests: &[&'r ClusterResource]) -> HashMap<u32, Vec<&'r ClusterResource>> {
    let mut map: HashMap<u32, Vec<&ClusterResource>> = HashMap::with_capacity(guests.len());
    for g in guests {
        if let Some(vmid) = g.vmid {
            map.entry(vmid).or_default().push(g);
        }
    }
    map
}

/// The request for a wanted detail, from the guest's live row (found by the VMID the id ends
/// with: a scan of 3,000 rows per job cost more than the rest of the poll's planning).
fn detail_job(w: &Wanted, by_vmid: &HashMap<u32, Vec<&ClusterResource>>) -> Option<DetailJob> {
    let vmid: u32 = w.guest.rsplit('-').next()?.parse().ok()?;
    let res = by_vmid
        .get(&vmid)?
        .iter()
        .find(|r| resource_guest_id_matches(r, &w.guest))?;
    Some(DetailJob {
        guest: w.guest.clone(),
        node: res.node.clone()?,
        vmid: res.vmid?,
        kind: w.kind,
        state: w.state.clone(),
        guest_kind: if res.kind == "qemu" { "qemu" } else { "lxc" },
    })
}

/// Guest ids end in `-{node}-{vmid}`; cheaper than rebuilding the id for every row.
fn resource_guest_id_matches(res: &ClusterResource, id: &str) -> bool {
    match (res.node.as_deref(), res.vmid) {
        (Some(node), Some(vmid)) => {
            let tail = format!("-{node}-{vmid}");
            id.ends_with(&tail)
        }
        _ => false,
    }
}

/// Builds the VMs and containers from the live rows and the held details. Rates advance
/// once per cycle (`count_rates`, the early build); the final build reuses them.
fn build_guests(
    ctx: &mut PvePollContext,
    guests: &[&ClusterResource],
    snap: &mut PveSnapshot,
    now_ms: i64,
    count_rates: bool,
) {
    let instance = ctx.settings.instance.clone();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for res in guests {
        let Some(id) = resource_guest_id(&instance, res) else {
            continue;
        };
        let running = res.status.as_deref() == Some("running");
        let counters = if res.kind == "qemu" {
            vm_counters(res, None)
        } else {
            container_counters(res)
        };
        let rates = if count_rates {
            ctx.rates.update(&id, counters, now_ms)
        } else {
            ctx.rates.peek(&id)
        };
        if res.kind == "qemu" {
            let status = ctx.held.vm_status.get(&id);
            let agent_on = status.and_then(|s| s.agent).unwrap_or(0) > 0;
            let fs = ctx.held.vm_fs.get(&id);
            let fsinfo = match (running, status, fs) {
                (false, _, _) | (true, None, _) => FsInfo::NotAsked,
                (true, Some(_), _) if !agent_on => FsInfo::AgentDisabled,
                (true, Some(_), Some(Ok(list))) => FsInfo::Listed(list),
                (true, Some(_), Some(Err(reason))) => FsInfo::Failed(reason),
                (true, Some(_), None) => FsInfo::NotAsked,
            };
            let input = VmInputs {
                status,
                fsinfo,
                meta: ctx.held.meta.get(&id).filter(|_| agent_on),
            };
            if let Some(mut vm) = build_vm(&instance, res, input, rates, now_ms) {
                let age = ctx.details.age_ms(&id, DetailKind::VmStatus, now_ms);
                if age.is_some_and(|a| a > 0) {
                    rebase_vm_memory(&mut vm, res, status);
                }
                seen.insert(id);
                snap.vms.push(vm);
            }
        } else {
            let network = ctx.held.meta.get(&id).filter(|_| running);
            if let Some(ct) = build_container(&instance, res, None, network, rates, now_ms) {
                seen.insert(id);
                snap.containers.push(ct);
            }
        }
    }
    if count_rates {
        ctx.rates.retain(|id| seen.contains(id));
    }
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
