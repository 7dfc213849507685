//! Pure derivations from decoded PVE responses to the `/api/state` model. "Numbers must be
//! true": memory used means what the kernel inside means by it (total − available), never
//! page cache; disk usage unknown is −1, never a made-up 0; rates are never negative.

use crate::proxmox::pve_types::{
    AgentFsInfo, ClusterResource, GuestRrdPoint, NodeListEntry, NodeMemory, NodeRrdPoint,
    NodeStatus, NodeStorage, QemuStatus, StorageConfig,
};
use crate::state::values::{percent, CpuInfo};
use crate::state::{node_id, storage_id, Disk, Memory, NodeFrontend, StorageFrontend};

/// Saturating conversion for byte counters (Proxmox never sends > i64::MAX, but a broken
/// response must not wrap into a negative number).
pub fn bytes(v: Option<u64>) -> i64 {
    v.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn nonzero(v: Option<u64>) -> Option<i64> {
    v.filter(|n| *n > 0).map(|n| bytes(Some(n)))
}

fn f64_bytes(v: Option<f64>) -> Option<i64> {
    v.filter(|f| f.is_finite() && *f > 0.0).map(|f| f as i64)
}

/// Finite fraction in 0..=1 (PVE's `cpu`), 0 for garbage.
pub fn cpu_fraction(v: Option<f64>) -> f64 {
    v.filter(|f| f.is_finite())
        .map_or(0.0, |f| f.clamp(0.0, 1.0))
}

/// Where a memory figure came from (diagnostics; also what the tests pin down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemorySource {
    /// `memory.available` (PVE 9) or `memory.avail`.
    AvailableField,
    /// RRD `memavailable` (PVE 8.4 without the status field).
    RrdAvailable,
    /// `free + buffers + cached` from the status.
    FreeBuffersCached,
    /// RRD `memused`.
    RrdUsed,
    /// Status `used` as reported (may include page cache: only when nothing better exists).
    StatusUsed,
    /// `/nodes` `mem`/`maxmem` (status call failed, no previous value).
    NodesEndpoint,
    /// Status call failed: previous poll's value.
    Previous,
    /// VM: the balloon driver's `freemem` (all Windows guests report).
    GuestFreeMem,
    /// Guest not running: nothing is used.
    PoweredOff,
}

/// True when the status carries no figure that separates page cache from used memory, so the
/// poller should fetch the node RRD (`memavailable`).
pub fn node_needs_rrd(mem: Option<&NodeMemory>) -> bool {
    mem.is_none_or(|m| {
        [m.available, m.avail, m.buffers, m.cached]
            .iter()
            .all(|v| v.unwrap_or(0) == 0)
    })
}

/// The last RRD row that has memory data (the newest rows are often still empty).
pub fn last_node_rrd(points: &[NodeRrdPoint]) -> Option<&NodeRrdPoint> {
    points
        .iter()
        .rev()
        .find(|p| p.memavailable.is_some() || p.memused.is_some())
}

pub fn last_guest_rrd(points: &[GuestRrdPoint]) -> Option<&GuestRrdPoint> {
    points
        .iter()
        .rev()
        .find(|p| p.memavailable.is_some() || p.memused.is_some())
}

/// Node memory: total − available, with `available` from the best source there is.
pub fn node_memory(
    list: &NodeListEntry,
    status: Option<&NodeMemory>,
    rrd: Option<&NodeRrdPoint>,
    previous_used: Option<i64>,
) -> (Memory, MemorySource) {
    let list_total = bytes(list.maxmem);
    let Some(m) = status else {
        return match previous_used {
            Some(used) if list_total > 0 => {
                (Memory::from_used(list_total, used), MemorySource::Previous)
            }
            _ => (
                Memory::from_used(list_total, bytes(list.mem)),
                MemorySource::NodesEndpoint,
            ),
        };
    };
    let total = nonzero(m.total).unwrap_or(list_total);
    let from_available = |avail: i64| total - avail.min(total);

    let (used, source) = if let Some(avail) = nonzero(m.available).or_else(|| nonzero(m.avail)) {
        (from_available(avail), MemorySource::AvailableField)
    } else if let Some(avail) = rrd.and_then(|r| f64_bytes(r.memavailable)) {
        (from_available(avail), MemorySource::RrdAvailable)
    } else if m.buffers.unwrap_or(0) > 0 || m.cached.unwrap_or(0) > 0 {
        let avail = bytes(m.free)
            .saturating_add(bytes(m.buffers))
            .saturating_add(bytes(m.cached));
        (from_available(avail), MemorySource::FreeBuffersCached)
    } else if let Some(used) = rrd.and_then(|r| f64_bytes(r.memused)) {
        (used, MemorySource::RrdUsed)
    } else if let Some(used) = m.used {
        (bytes(Some(used)), MemorySource::StatusUsed)
    } else {
        (bytes(list.mem), MemorySource::NodesEndpoint)
    };
    (Memory::from_used(total, used), source)
}

/// Node root filesystem: status `rootfs`, else `/nodes` `disk`/`maxdisk`.
pub fn node_disk(list: &NodeListEntry, status: Option<&NodeStatus>) -> Disk {
    match status
        .and_then(|s| s.rootfs.as_ref())
        .filter(|r| r.total.unwrap_or(0) > 0)
    {
        Some(r) => Disk::from_used(bytes(r.total), bytes(r.used)),
        None => Disk::from_used(bytes(list.maxdisk), bytes(list.disk)),
    }
}

/// How a node belongs to its configured instance (from configuration, not from the poll).
#[derive(Debug, Clone, Default)]
pub struct NodeContext {
    pub instance: String,
    /// Configured host URL (or the cluster endpoint of this node).
    pub host: String,
    pub display_name: String,
    pub is_cluster: bool,
    pub cluster_name: String,
    /// `"healthy"` or `"degraded"` for reachable nodes (cluster endpoint health).
    pub connection_health: String,
}

/// One node of `/api/state`. `status` is `None` when `/nodes/{n}/status` was not fetched
/// (node offline) or failed.
pub fn build_node(
    ctx: &NodeContext,
    list: &NodeListEntry,
    status: Option<&NodeStatus>,
    memory: Memory,
    now_ms: i64,
) -> NodeFrontend {
    let pve_status = list.status.clone().unwrap_or_else(|| "unknown".to_string());
    let online = pve_status == "online";
    let info = status.and_then(|s| s.cpuinfo.as_ref());
    let mut swap_memory = memory;
    if let Some(swap) = status.and_then(|s| s.swap.as_ref()) {
        swap_memory.swap_total = bytes(swap.total);
        swap_memory.swap_used = bytes(swap.used);
    }
    let mut node = NodeFrontend {
        id: node_id(&ctx.instance, &list.node),
        node: list.node.clone(),
        name: list.node.clone(),
        display_name: if ctx.display_name.is_empty() {
            list.node.clone()
        } else {
            ctx.display_name.clone()
        },
        instance: ctx.instance.clone(),
        host: ctx.host.clone(),
        status: pve_status,
        kind: "node".to_string(),
        cpu: if online { cpu_fraction(list.cpu) } else { 0.0 },
        memory: swap_memory,
        disk: node_disk(list, status),
        uptime: if online {
            bytes(status.and_then(|s| s.uptime).or(list.uptime))
        } else {
            0
        },
        load_average: status
            .map(|s| {
                s.loadavg
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect()
            })
            .unwrap_or_default(),
        kernel_version: status.and_then(|s| s.kversion.clone()).unwrap_or_default(),
        pve_version: status
            .and_then(|s| s.pveversion.clone())
            .unwrap_or_default(),
        cpu_info: CpuInfo {
            model: info.and_then(|i| i.model.clone()).unwrap_or_default(),
            cores: bytes(list.maxcpu.or(info.and_then(|i| i.cores))),
            sockets: bytes(info.and_then(|i| i.sockets)),
            mhz: info
                .and_then(|i| i.mhz.clone())
                .map(|m| format_mhz(&m))
                .unwrap_or_default(),
        },
        last_seen: now_ms,
        connection_health: if online {
            if ctx.connection_health.is_empty() {
                "healthy".to_string()
            } else {
                ctx.connection_health.clone()
            }
        } else {
            "error".to_string()
        },
        is_cluster_member: ctx.is_cluster,
        cluster_name: ctx.cluster_name.clone(),
        ..NodeFrontend::default()
    };
    node.sync_aliases();
    node
}

/// `"3400.000"` → `"3400"` (Go formats the number with `%.0f`).
fn format_mhz(raw: &str) -> String {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => format!("{v:.0}"),
        _ => raw.to_string(),
    }
}

/// VM memory. Total is the balloon target when the VM was ballooned below its maximum (the
/// guest cannot use more); used comes from inside the guest when it tells us, because the
/// host-side `mem` counts memory the guest merely touched once (page cache included).
pub fn vm_memory(
    res: &ClusterResource,
    status: Option<&QemuStatus>,
    running: bool,
) -> (Memory, MemorySource) {
    let maxmem = nonzero(status.and_then(|s| s.maxmem)).unwrap_or_else(|| bytes(res.maxmem));
    let balloon = nonzero(status.and_then(|s| s.balloon)).unwrap_or(0);
    let total = if balloon > 0 && balloon < maxmem {
        balloon
    } else {
        maxmem
    };
    if !running {
        let mut mem = Memory::from_used(total, 0);
        mem.balloon = balloon;
        return (mem, MemorySource::PoweredOff);
    }
    let meminfo = status.and_then(|s| s.meminfo.as_ref());
    let (used, source) = if let Some(avail) = meminfo.and_then(|m| nonzero(m.available)) {
        (total - avail.min(total), MemorySource::AvailableField)
    } else if let Some(m) =
        meminfo.filter(|m| m.buffers.unwrap_or(0) > 0 || m.cached.unwrap_or(0) > 0)
    {
        let avail = bytes(m.free)
            .saturating_add(bytes(m.buffers))
            .saturating_add(bytes(m.cached));
        (total - avail.min(total), MemorySource::FreeBuffersCached)
    } else if let Some(free) = status.and_then(|s| nonzero(s.freemem)) {
        (total - free.min(total), MemorySource::GuestFreeMem)
    } else if let Some(mem) = status.and_then(|s| s.mem) {
        (bytes(Some(mem)), MemorySource::StatusUsed)
    } else {
        (bytes(res.mem), MemorySource::NodesEndpoint)
    };
    let mut mem = Memory::from_used(total, used);
    mem.balloon = balloon;
    (mem, source)
}

/// VM memory from the live row and the last detail (`status/current`), which may be minutes
/// old. The detail tells what the guest's `mem` hides (page cache the balloon driver counts,
/// a balloon target below `maxmem`); the live `mem` tells how usage moved since. So the
/// detail's correction (its derived used − its own `mem`) is applied to the live `mem`:
/// with a detail read this cycle (live `mem` = detail `mem`) this is exactly
/// [`vm_memory`], and between refreshes the figure follows the guest instead of freezing
/// or dropping back to the raw host-side value.
pub fn vm_memory_live(
    res: &ClusterResource,
    detail: Option<&QemuStatus>,
    running: bool,
) -> (Memory, MemorySource) {
    let (mem, source) = vm_memory(res, detail, running);
    let detail_mem = detail.and_then(|d| d.mem);
    let (Some(live), Some(then)) = (res.mem, detail_mem) else {
        return (mem, source);
    };
    if !running || source == MemorySource::PoweredOff || mem.total <= 0 {
        return (mem, source);
    }
    let offset = mem.used - bytes(Some(then));
    let used = bytes(Some(live)).saturating_add(offset).clamp(0, mem.total);
    if used == mem.used {
        return (mem, source);
    }
    let mut moved = Memory::from_used(mem.total, used);
    moved.balloon = mem.balloon;
    (moved, source)
}

/// Container memory: `maxmem − memavailable` from the container's RRD, else RRD `memused`,
/// else the cluster-resources `mem`.
pub fn lxc_memory(
    res: &ClusterResource,
    rrd: Option<&GuestRrdPoint>,
    running: bool,
) -> (Memory, MemorySource) {
    let total = bytes(res.maxmem);
    if !running {
        return (Memory::from_used(total, 0), MemorySource::PoweredOff);
    }
    if let Some(avail) = rrd
        .and_then(|r| f64_bytes(r.memavailable))
        .filter(|a| *a <= total)
    {
        return (
            Memory::from_used(total, total - avail),
            MemorySource::RrdAvailable,
        );
    }
    if let Some(used) = rrd.and_then(|r| f64_bytes(r.memused)) {
        return (Memory::from_used(total, used), MemorySource::RrdUsed);
    }
    (
        Memory::from_used(total, bytes(res.mem)),
        MemorySource::NodesEndpoint,
    )
}

const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "cgroup",
    "cgroup2",
    "sysfs",
    "proc",
    "devpts",
    "securityfs",
    "debugfs",
    "tracefs",
    "fusectl",
    "configfs",
    "pstore",
    "hugetlbfs",
    "mqueue",
    "bpf",
    "autofs",
    "binfmt_misc",
    "efivarfs",
    "ramfs",
    "nsfs",
    "rpc_pipefs",
];
/// Network and FUSE filesystems: space that is not this VM's disk.
const FOREIGN_FS_PARTS: &[&str] = &["fuse", "9p", "nfs", "cifs", "smb"];
const READ_ONLY_FS: &[&str] = &[
    "erofs", "squashfs", "iso9660", "cdfs", "udf", "cramfs", "romfs",
];
const SKIPPED_MOUNT_PREFIXES: &[&str] =
    &["/dev", "/proc", "/sys", "/run", "/var/lib/docker", "/snap"];

fn counts_as_vm_disk(fs: &AgentFsInfo, total: i64, used: i64) -> bool {
    let kind = fs.fs_type.as_deref().unwrap_or("").to_ascii_lowercase();
    let mount = fs.mountpoint.as_deref().unwrap_or("");
    if total <= 0
        || PSEUDO_FS.contains(&kind.as_str())
        || FOREIGN_FS_PARTS.iter().any(|p| kind.contains(p))
        || READ_ONLY_FS.contains(&kind.as_str())
        || (kind == "overlay" && used >= total)
    {
        return false;
    }
    if mount == "/boot/efi" || mount.contains("System Reserved") {
        return false;
    }
    !SKIPPED_MOUNT_PREFIXES
        .iter()
        .any(|p| mount == *p || mount.starts_with(&format!("{p}/")))
}

/// The device a filesystem lives on; bind mounts and btrfs subvolumes share it.
fn device_key(fs: &AgentFsInfo) -> String {
    let first = fs.disk.first();
    first
        .and_then(|d| d.dev.clone())
        .or_else(|| fs.name.clone())
        .or_else(|| first.and_then(|d| d.serial.clone()))
        .or_else(|| first.and_then(|d| Some(format!("{}-{}", d.bus_type.as_deref()?, d.target?))))
        .unwrap_or_else(|| fs.mountpoint.clone().unwrap_or_default())
}

/// VM disk usage from the guest agent's filesystem list: real filesystems only, each device
/// once (the shortest mount point names it). `None` when nothing countable is left, which the
/// caller shows as usage −1.
pub fn vm_filesystems(list: &[AgentFsInfo]) -> Option<(Disk, Vec<Disk>)> {
    let mut kept: Vec<(String, Disk)> = Vec::new();
    for fs in list {
        let total = bytes(
            fs.total_bytes
                .filter(|t| *t > 0)
                .or(fs.total_bytes_privileged),
        );
        let used = bytes(fs.used_bytes);
        if !counts_as_vm_disk(fs, total, used) {
            continue;
        }
        let key = device_key(fs);
        let mut disk = Disk::from_used(total, used);
        disk.mountpoint = fs.mountpoint.clone().unwrap_or_default();
        disk.kind = fs.fs_type.clone().unwrap_or_default();
        disk.device = fs
            .disk
            .first()
            .and_then(|d| d.dev.clone())
            .or_else(|| fs.name.clone())
            .unwrap_or_default();
        match kept.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => {
                if disk.mountpoint.len() < existing.mountpoint.len() {
                    *existing = disk;
                }
            }
            None => kept.push((key, disk)),
        }
    }
    if kept.is_empty() {
        return None;
    }
    let disks: Vec<Disk> = kept.into_iter().map(|(_, d)| d).collect();
    let total = disks
        .iter()
        .map(|d| d.total)
        .fold(0i64, i64::saturating_add);
    let used = disks.iter().map(|d| d.used).fold(0i64, i64::saturating_add);
    Some((Disk::from_used(total, used), disks))
}

/// PVE tags (`"a;b"`, older `"a+b"` or `"a,b"`) joined the way the frontend expects: `"a,b"`.
pub fn join_tags(raw: Option<&str>) -> String {
    raw.unwrap_or("")
        .split([';', ',', '+', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// A node's view of one storage. `config` is the cluster-wide entry of the same storage.
pub fn build_storage(
    instance: &str,
    node: &str,
    row: &NodeStorage,
    config: Option<&StorageConfig>,
) -> StorageFrontend {
    let total = bytes(row.total);
    let used = bytes(row.used);
    let avail = bytes(row.avail);
    let active = row.active.unwrap_or(false);
    let enabled = row
        .enabled
        .unwrap_or_else(|| !config.and_then(|c| c.disable).unwrap_or(false));
    let shared = config
        .and_then(|c| c.shared)
        .or(row.shared)
        .unwrap_or(false);
    let mut content: Vec<&str> = row
        .content
        .as_deref()
        .or(config.and_then(|c| c.content.as_deref()))
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    content.sort_unstable();
    content.dedup();
    StorageFrontend {
        id: storage_id(instance, node, &row.storage),
        storage: row.storage.clone(),
        name: row.storage.clone(),
        node: node.to_string(),
        instance: instance.to_string(),
        kind: row
            .kind
            .clone()
            .or_else(|| config.map(|c| c.kind.clone()))
            .unwrap_or_default(),
        status: if active {
            "available"
        } else if enabled {
            "inactive"
        } else {
            "disabled"
        }
        .to_string(),
        total,
        used,
        avail,
        free: avail,
        usage: percent(used, total),
        content: content.join(","),
        shared,
        enabled,
        active,
        ..StorageFrontend::default()
    }
}
