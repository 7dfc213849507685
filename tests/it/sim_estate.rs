//! The simulator's estate: deterministic from the seed under a frozen clock, moving with
//! simulated time, and carrying the payload variants of real PVE releases and guests.

use pulse::proxmox::flex::Wearout;
use pulse::proxmox::{Product, ProxmoxError, PveClient};
use pulse::sim::{SimClientConfig, SimClock, SimConfig, SimHandle, Simulator};

const T0: i64 = 1_790_000_000;

fn frozen(seed: u64) -> SimHandle {
    let cfg = SimConfig {
        seed,
        clock: SimClock::Frozen(T0),
        ..SimConfig::default()
    };
    Simulator::start(cfg).unwrap_or_else(|e| panic!("simulator: {e}"))
}

fn client(s: &SimHandle) -> PveClient {
    PveClient::new(&s.token_config(Product::Pve)).unwrap_or_else(|e| panic!("client: {e}"))
}

#[test]
fn same_seed_same_estate_and_time_moves_values() {
    let (a, b, other) = (frozen(7), frozen(7), frozen(8));
    let ra = client(&a).cluster_resources_vms().expect("a");
    assert_eq!(ra, client(&b).cluster_resources_vms().expect("b"));
    assert_ne!(ra, client(&other).cluster_resources_vms().expect("other"));

    let before = ra
        .iter()
        .find(|r| r.vmid == Some(100))
        .cloned()
        .expect("vm 100");
    a.advance(120);
    let after = client(&a).cluster_resources_vms().expect("after");
    let after = after.iter().find(|r| r.vmid == Some(100)).expect("vm 100");
    assert!(after.netin > before.netin, "counters grow");
    assert!(after.uptime > before.uptime);
    assert_ne!(after.cpu, before.cpu, "cpu varies");
}

#[test]
fn node_payloads_follow_the_pve_release() {
    let s = frozen(1);
    let mut c = client(&s);
    // Default flavors: pve1 = PVE 9, pve2 = PVE 8.4, pve3 = PVE 7.
    let mem =
        |c: &mut PveClient, n: &str| c.node_status(n).expect("status").memory.expect("memory");
    assert!(mem(&mut c, "pve1").available.is_some());
    assert!(
        mem(&mut c, "pve2").available.is_none(),
        "8.4 has no memory.available"
    );
    assert!(mem(&mut c, "pve3").available.is_none());
    let last_avail = |c: &mut PveClient, n: &str| {
        c.node_rrd_memory(n)
            .expect("rrd")
            .last()
            .and_then(|p| p.memavailable)
    };
    assert!(
        last_avail(&mut c, "pve2").is_some(),
        "8.4: RRD is the cache-aware source"
    );
    assert!(
        last_avail(&mut c, "pve3").is_none(),
        "7: no memavailable in the RRD"
    );
    // The RRD figure excludes cache: it is larger than total - used from the status.
    let st = mem(&mut c, "pve2");
    let naive_avail = st.total.unwrap_or(0) - st.used.unwrap_or(0);
    assert!(last_avail(&mut c, "pve2").unwrap_or(0.0) > naive_avail as f64);
    assert!(c
        .node_status("pve3")
        .expect("status")
        .pveversion
        .is_some_and(|v| v.contains("7.4")));
}

#[test]
fn guest_variants_are_present() {
    let s = frozen(1);
    let mut c = client(&s);
    let res = c.cluster_resources_vms().expect("resources");
    let node_of = |vmid: u32| {
        res.iter()
            .find(|r| r.vmid == Some(vmid))
            .and_then(|r| r.node.clone())
            .unwrap_or_else(|| panic!("vmid {vmid} missing"))
    };
    // Ballooned Linux VM: balloon figures only, no `meminfo` (qemu-server has no producer).
    let st = c.qemu_status(&node_of(116), 116).expect("ballooned");
    assert!(st.balloon.unwrap_or(0) < st.maxmem.unwrap_or(0));
    assert!(st.meminfo.is_none() && st.freemem.is_some());
    // Windows VM: only freemem, fsinfo with total-bytes-privileged and System Reserved.
    let win = c.qemu_status(&node_of(104), 104).expect("windows");
    assert!(win.freemem.is_some() && win.meminfo.is_none());
    let fs = c
        .agent_fsinfo(&node_of(104), 104)
        .expect("win fsinfo")
        .result;
    assert!(fs
        .iter()
        .any(|f| f.mountpoint.as_deref() == Some("C:\\") && f.total_bytes_privileged.is_some()));
    assert!(fs
        .iter()
        .any(|f| f.mountpoint.as_deref() == Some("System Reserved")));
    // Linux docker host: bind mounts repeat /dev/sda1; tmpfs and /boot/efi present.
    let fs = c.agent_fsinfo(&node_of(100), 100).expect("fsinfo").result;
    let sda1 = fs
        .iter()
        .filter(|f| f.disk.first().and_then(|d| d.dev.as_deref()) == Some("/dev/sda1"));
    assert!(sda1.count() >= 3);
    assert!(fs.iter().any(|f| f.fs_type.as_deref() == Some("tmpfs")));
    assert!(fs
        .iter()
        .any(|f| f.mountpoint.as_deref() == Some("/boot/efi")));
    // Template and stopped guests.
    let tpl = res.iter().find(|r| r.vmid == Some(112)).expect("template");
    assert_eq!(tpl.template, Some(true));
    let stopped = res.iter().find(|r| r.vmid == Some(106)).expect("stopped");
    assert_eq!(stopped.status.as_deref(), Some("stopped"));
    let err = c.agent_osinfo(&node_of(106), 106).err();
    assert!(
        matches!(err, Some(ProxmoxError::Http { status: 500, ref excerpt }) if excerpt.contains("is not running")),
        "{err:?}"
    );
    // Container on the PVE 7 node sends cpus as a string; it still decodes.
    assert_eq!(node_of(102), "pve3");
    assert!(c.lxc_status("pve3", 102).expect("lxc").cpus.is_some());
    // Snapshots with a parent chain.
    let snaps = c.qemu_snapshots(&node_of(101), 101).expect("snapshots");
    assert_eq!(snaps.len(), 3);
    assert_eq!(
        snaps
            .iter()
            .find(|s| s.name == "current")
            .and_then(|s| s.parent.as_deref()),
        Some("weekly")
    );
}

#[test]
fn disk_and_storage_variants() {
    let s = frozen(1);
    let mut c = client(&s);
    let disks = c.disks("pve3").expect("disks");
    assert!(disks
        .iter()
        .any(|d| d.wearout == Some(Wearout::NotAvailable)));
    assert!(
        disks
            .iter()
            .any(|d| d.wearout == Some(Wearout::Percent(8.0))),
        "quoted \"8\""
    );
    assert!(disks
        .iter()
        .any(|d| matches!(d.wearout, Some(Wearout::Percent(p)) if p > 50.0)));
    let storage = c.node_storage("pve1").expect("storage");
    let disabled = storage
        .iter()
        .find(|s| s.storage == "old-nfs")
        .expect("disabled storage");
    assert_eq!(disabled.enabled, Some(false));
    assert!(storage
        .iter()
        .any(|s| s.kind.as_deref() == Some("rbd") && s.shared == Some(true)));
    let err = c.storage_content("pve1", "old-nfs").err();
    assert!(
        matches!(err, Some(ProxmoxError::Http { status: 500, .. })),
        "{err:?}"
    );
    let tasks = c.node_tasks("pve1").expect("tasks");
    assert!(tasks
        .iter()
        .any(|t| t.kind.as_deref() == Some("vzdump") && t.status.as_deref() != Some("OK")));
}

#[test]
fn guests_can_be_stopped_and_started() {
    let s = frozen(1);
    let mut c = client(&s);
    assert!(s.set_guest_running(100, false));
    assert_eq!(
        c.qemu_status("pve1", 100)
            .expect("status")
            .status
            .as_deref(),
        Some("stopped")
    );
    assert!(s.set_guest_running(100, true));
    assert!(!s.set_guest_running(112, true), "templates cannot run");
    assert_eq!(s.node_names(), vec!["pve1", "pve2", "pve3"]);
}

#[test]
fn replication_zfs_and_backup_jobs() {
    let s = frozen(1);
    let mut c = client(&s);
    let jobs = c.replication_jobs().expect("replication");
    let job = jobs
        .iter()
        .find(|j| j.guest().as_deref() == Some("100"))
        .expect("job of vm 100");
    assert_eq!(job.id().as_deref(), Some("100-0"));
    assert_eq!(job.target().as_deref(), Some("pve2"));
    assert!(job.enabled());
    let status = c.node_replication("pve1").expect("node replication");
    let st = status
        .iter()
        .find(|j| j.guest().as_deref() == Some("100"))
        .expect("status");
    assert!(st.last_sync().is_some() && st.next_sync().is_some());
    assert_eq!(st.fail_count(), Some(0));
    let failing = c.node_replication("pve1").expect("node replication");
    assert!(failing
        .iter()
        .any(|j| j.error().is_some() && j.fail_count() == Some(2)));

    let pools = c.zfs_pools("pve1").expect("zfs");
    assert_eq!(
        pools.first().and_then(|p| p.health.as_deref()),
        Some("ONLINE")
    );
    // Default 3 nodes: none degraded; a 5-node estate degrades pve5.
    let big = Simulator::start(SimConfig {
        nodes: 5,
        clock: SimClock::Frozen(T0),
        ..SimConfig::default()
    })
    .expect("sim");
    let mut bc = client(&big);
    let detail = bc.zfs_pool("pve5", "rpool").expect("zfs detail");
    assert_eq!(detail.state.as_deref(), Some("DEGRADED"));
    let mirror = detail
        .children
        .first()
        .and_then(|r| r.children.first())
        .expect("mirror");
    assert!(mirror
        .children
        .iter()
        .any(|d| d.state.as_deref() == Some("FAULTED") && d.read == Some(3)));

    let backup_jobs = c.backup_jobs().expect("backup jobs");
    assert_eq!(backup_jobs.len(), 2);
    assert_eq!(backup_jobs[1].enabled, Some(false));
}
