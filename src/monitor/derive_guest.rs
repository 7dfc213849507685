//! Assembling VMs and containers for `/api/state` from `/cluster/resources` rows and the
//! per-guest calls (status, guest agent, RRD). Pure: the poll executor gathers the inputs.

use super::derive_pve::{
    bytes, cpu_fraction, join_tags, lxc_memory, vm_filesystems, vm_memory, vm_memory_live,
};
use super::guest_agent::AgentMeta;
use super::rates::{IoCounters, IoRates};
use crate::proxmox::pve_types::{AgentFsInfo, ClusterResource, GuestRrdPoint, QemuStatus};
use crate::state::{guest_id, ContainerFrontend, Disk, VMFrontend};

/// What became of the guest-agent filesystem query for a VM.
#[derive(Debug, Clone, Copy)]
pub enum FsInfo<'a> {
    /// VM not running: nothing asked.
    NotAsked,
    /// `agent` is off in the VM config.
    AgentDisabled,
    /// The call failed; the reason is one of `agent-not-running`, `agent-timeout`,
    /// `permission-denied`, `agent-error`.
    Failed(&'static str),
    Listed(&'a [AgentFsInfo]),
}

/// A VM's inputs besides its `/cluster/resources` row.
#[derive(Debug, Clone, Copy)]
pub struct VmInputs<'a> {
    /// The last `status/current` detail (possibly minutes old): it corrects memory; the
    /// live row stays the truth for state, CPU and uptime.
    pub status: Option<&'a QemuStatus>,
    pub fsinfo: FsInfo<'a>,
    pub meta: Option<&'a AgentMeta>,
}

pub fn is_template(res: &ClusterResource) -> bool {
    res.template.unwrap_or(false)
}

/// Counters for the rate tracker: a status read this cycle when given, else the live row
/// (never a held detail: its counters are minutes old).
pub fn vm_counters(res: &ClusterResource, status: Option<&QemuStatus>) -> IoCounters {
    let pick = |s: Option<u64>, r: Option<u64>| s.or(r).unwrap_or(0);
    IoCounters {
        disk_read: pick(status.and_then(|s| s.diskread), res.diskread),
        disk_write: pick(status.and_then(|s| s.diskwrite), res.diskwrite),
        net_in: pick(status.and_then(|s| s.netin), res.netin),
        net_out: pick(status.and_then(|s| s.netout), res.netout),
    }
}

pub fn container_counters(res: &ClusterResource) -> IoCounters {
    IoCounters {
        disk_read: res.diskread.unwrap_or(0),
        disk_write: res.diskwrite.unwrap_or(0),
        net_in: res.netin.unwrap_or(0),
        net_out: res.netout.unwrap_or(0),
    }
}

/// The guest id of a `/cluster/resources` row (`None` for rows without node or vmid).
pub fn resource_guest_id(instance: &str, res: &ClusterResource) -> Option<String> {
    Some(guest_id(instance, res.node.as_deref()?, res.vmid?))
}

fn vm_disk(
    res: &ClusterResource,
    running: bool,
    fsinfo: FsInfo<'_>,
) -> (Disk, Vec<Disk>, Option<&'static str>) {
    let maxdisk = bytes(res.maxdisk);
    if !running {
        return (Disk::unknown_usage(maxdisk), Vec::new(), Some("vm-stopped"));
    }
    let fallback = || {
        let used = bytes(res.disk);
        if used > 0 && maxdisk > 0 {
            Disk::from_used(maxdisk, used)
        } else {
            Disk::unknown_usage(maxdisk)
        }
    };
    match fsinfo {
        FsInfo::Listed(list) => match vm_filesystems(list) {
            Some((total, disks)) => (total, disks, None),
            None if list.is_empty() => (fallback(), Vec::new(), Some("no-filesystems")),
            None => (fallback(), Vec::new(), Some("special-filesystems-only")),
        },
        FsInfo::AgentDisabled => (fallback(), Vec::new(), Some("agent-disabled")),
        FsInfo::Failed(reason) => (fallback(), Vec::new(), Some(reason)),
        FsInfo::NotAsked => (fallback(), Vec::new(), Some("no-agent")),
    }
}

/// One VM. `None` for rows that are not a usable VM (no node or vmid).
pub fn build_vm(
    instance: &str,
    res: &ClusterResource,
    input: VmInputs<'_>,
    rates: IoRates,
    now_ms: i64,
) -> Option<VMFrontend> {
    let node = res.node.clone()?;
    let vmid = res.vmid?;
    let status = res
        .status
        .clone()
        .or_else(|| input.status.and_then(|s| s.status.clone()))
        .unwrap_or_default();
    let running = status == "running";
    let (memory, _) = vm_memory(res, input.status, running);
    let (disk, disks, reason) = vm_disk(res, running, input.fsinfo);
    let meta = input.meta.filter(|_| running);
    let rates = if running { rates } else { IoRates::default() };
    let mut vm = VMFrontend {
        id: guest_id(instance, &node, vmid),
        vmid,
        name: res.name.clone().unwrap_or_default(),
        node,
        instance: instance.to_string(),
        status,
        kind: "qemu".to_string(),
        cpu: if running {
            cpu_fraction(res.cpu.or(input.status.and_then(|s| s.cpu)))
        } else {
            0.0
        },
        cpus: res
            .maxcpu
            .or(input.status.and_then(|s| s.cpus))
            .filter(|c| c.is_finite())
            .map_or(0, |c| c as i64),
        memory,
        disk,
        disks,
        disk_status_reason: reason.map(str::to_string),
        os_name: meta.map(|m| m.os_name.clone()).unwrap_or_default(),
        os_version: meta.map(|m| m.os_version.clone()).unwrap_or_default(),
        agent_version: meta.map(|m| m.agent_version.clone()).unwrap_or_default(),
        network_interfaces: meta.map(|m| m.interfaces.clone()).unwrap_or_default(),
        ip_addresses: meta.map(|m| m.ip_addresses.clone()).unwrap_or_default(),
        network_in: rates.net_in.max(0),
        network_out: rates.net_out.max(0),
        disk_read: rates.disk_read.max(0),
        disk_write: rates.disk_write.max(0),
        uptime: if running {
            bytes(res.uptime.or(input.status.and_then(|s| s.uptime)))
        } else {
            0
        },
        template: false,
        tags: join_tags(res.tags.as_deref()),
        lock: res.lock.clone().filter(|l| !l.is_empty()),
        last_seen: now_ms,
        ..VMFrontend::default()
    };
    vm.mem = vm.memory.used;
    vm.maxmem = vm.memory.total;
    Some(vm)
}

/// Rebases a VM's memory on the live row when its detail is from an earlier cycle (see
/// [`vm_memory_live`]); a detail read this cycle is fresher than the row and stays as is.
pub fn rebase_vm_memory(vm: &mut VMFrontend, res: &ClusterResource, held: Option<&QemuStatus>) {
    let (memory, _) = vm_memory_live(res, held, vm.status == "running");
    vm.memory = memory;
    vm.mem = vm.memory.used;
    vm.maxmem = vm.memory.total;
}

/// One container. Disk numbers come from PVE itself (it can see inside a container);
/// `network` is the (throttled) interface and address data of a running container.
pub fn build_container(
    instance: &str,
    res: &ClusterResource,
    rrd: Option<&GuestRrdPoint>,
    network: Option<&AgentMeta>,
    rates: IoRates,
    now_ms: i64,
) -> Option<ContainerFrontend> {
    let node = res.node.clone()?;
    let vmid = res.vmid?;
    let status = res.status.clone().unwrap_or_default();
    let running = status == "running";
    let (memory, _) = lxc_memory(res, rrd, running);
    let maxdisk = bytes(res.maxdisk);
    let disk = if running {
        Disk::from_used(maxdisk, bytes(res.disk))
    } else {
        Disk::unknown_usage(maxdisk)
    };
    let disks = if running && disk.total > 0 {
        vec![Disk {
            mountpoint: "/".to_string(),
            kind: "rootfs".to_string(),
            ..disk.clone()
        }]
    } else {
        Vec::new()
    };
    let rates = if running { rates } else { IoRates::default() };
    let mut ct = ContainerFrontend {
        id: guest_id(instance, &node, vmid),
        vmid,
        name: res.name.clone().unwrap_or_default(),
        node,
        instance: instance.to_string(),
        status,
        kind: "lxc".to_string(),
        cpu: if running { cpu_fraction(res.cpu) } else { 0.0 },
        cpus: res.maxcpu.filter(|c| c.is_finite()).map_or(0, |c| c as i64),
        memory,
        disk,
        disks,
        network_interfaces: network.map(|m| m.interfaces.clone()).unwrap_or_default(),
        ip_addresses: network.map(|m| m.ip_addresses.clone()).unwrap_or_default(),
        network_in: rates.net_in.max(0),
        network_out: rates.net_out.max(0),
        disk_read: rates.disk_read.max(0),
        disk_write: rates.disk_write.max(0),
        uptime: if running { bytes(res.uptime) } else { 0 },
        template: false,
        tags: join_tags(res.tags.as_deref()),
        lock: res.lock.clone().filter(|l| !l.is_empty()),
        last_seen: now_ms,
        ..ContainerFrontend::default()
    };
    ct.mem = ct.memory.used;
    ct.maxmem = ct.memory.total;
    Some(ct)
}
