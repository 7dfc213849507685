//! Derived numbers from real captured Proxmox responses (and variants of them for the PVE
//! versions and guest kinds the captures do not cover): memory as total − available, balloon
//! targets, guest-agent filesystems, stopped guests, templates, storage.

use pulse::monitor::derive_guest::{build_container, build_vm, is_template, FsInfo, VmInputs};
use pulse::monitor::derive_pve::{
    build_node, build_storage, join_tags, last_node_rrd, node_memory, node_needs_rrd,
    vm_filesystems, MemorySource, NodeContext,
};
use pulse::monitor::rates::IoRates;
use pulse::proxmox::pve_types::{
    AgentFsInfo, AgentFsInfoList, ClusterResource, GuestRrdPoint, NodeListEntry, NodeRrdPoint,
    NodeStatus, NodeStorage, QemuStatus,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000_000;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/proxmox/pve/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    v["data"].clone()
}

fn decode<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap_or_else(|e| panic!("decode: {e}"))
}

fn node_row(name: &str) -> NodeListEntry {
    let rows: Vec<NodeListEntry> = decode(fixture("nodes.json"));
    rows.into_iter()
        .find(|n| n.node == name)
        .unwrap_or_else(|| panic!("node {name} in fixture"))
}

fn resource(vmid: u32) -> ClusterResource {
    let rows: Vec<ClusterResource> = decode(fixture("cluster_resources.json"));
    rows.into_iter()
        .find(|r| r.vmid == Some(vmid))
        .unwrap_or_else(|| panic!("vmid {vmid} in fixture"))
}

fn ctx() -> NodeContext {
    NodeContext {
        instance: "lab".into(),
        host: "https://pve:8006".into(),
        ..NodeContext::default()
    }
}

#[test]
fn pve7_node_without_available_uses_reported_used_and_asks_for_rrd() {
    let status: NodeStatus = decode(fixture("nodes_node_status.json"));
    let list = node_row("node1");
    assert!(
        node_needs_rrd(status.memory.as_ref()),
        "PVE 7 sends only total/used/free"
    );
    let (mem, source) = node_memory(&list, status.memory.as_ref(), None, None);
    assert_eq!(source, MemorySource::StatusUsed);
    assert_eq!(
        (mem.total, mem.used, mem.free),
        (65_919_459_328, 8_095_399_936, 57_824_059_392)
    );

    let node = build_node(&ctx(), &list, Some(&status), mem, NOW);
    assert_eq!(node.id, "lab-node1");
    assert_eq!(node.status, "online");
    assert!(
        (node.cpu - 0.003_486_055_776_892_43).abs() < 1e-12,
        "cpu stays a 0-1 fraction"
    );
    assert_eq!(node.cpu_info.cores, 12, "logical CPUs from /nodes maxcpu");
    assert_eq!(node.cpu_info.mhz, "3400");
    assert_eq!(node.load_average, vec![0.0, 0.0, 0.0]);
    assert_eq!(node.pve_version, "pve-manager/7.4-16/0f39f621");
    assert_eq!(
        node.disk.total, 948_338_819_072,
        "rootfs preferred over /nodes maxdisk"
    );
    assert_eq!(node.mem, node.memory.used);
    assert_eq!(node.last_seen, NOW);
}

#[test]
fn pve84_node_uses_rrd_memavailable_not_page_cache() {
    let mut raw = fixture("nodes_node_status.json");
    raw["memory"] =
        json!({"total": 16_535_748_608u64, "used": 15_000_000_000u64, "free": 1_535_748_608u64});
    let status: NodeStatus = decode(raw);
    let rrd: Vec<NodeRrdPoint> = decode(fixture("nodes_node_rrddata.json"));
    let point = last_node_rrd(&rrd);
    let (mem, source) = node_memory(&node_row("node3"), status.memory.as_ref(), point, None);
    assert_eq!(source, MemorySource::RrdAvailable);
    // memavailable 9 764 272 810.67 → used = total − available, not the 15 GB "used" (page cache).
    assert_eq!(mem.used, 16_535_748_608 - 9_764_272_810);
    assert!((mem.usage - 40.95).abs() < 0.01, "{}", mem.usage);
}

#[test]
fn pve9_node_available_field_wins_and_buffers_cached_fallback() {
    let mut raw = fixture("nodes_node_status.json");
    raw["memory"]["available"] = json!(60_000_000_000u64);
    let status: NodeStatus = decode(raw);
    assert!(!node_needs_rrd(status.memory.as_ref()));
    let (mem, source) = node_memory(&node_row("node1"), status.memory.as_ref(), None, None);
    assert_eq!(source, MemorySource::AvailableField);
    assert_eq!(mem.used, 65_919_459_328 - 60_000_000_000);

    let mut raw = fixture("nodes_node_status.json");
    raw["memory"] =
        json!({"total": "1000", "used": "900", "free": "100", "buffers": "50", "cached": "350"});
    let status: NodeStatus = decode(raw);
    let (mem, source) = node_memory(&node_row("node1"), status.memory.as_ref(), None, None);
    assert_eq!(source, MemorySource::FreeBuffersCached);
    assert_eq!((mem.used, mem.free, mem.usage), (500, 500, 50.0));

    // Status call failed: previous value, re-clamped to /nodes maxmem.
    let (mem, source) = node_memory(&node_row("node1"), None, None, Some(1 << 40));
    assert_eq!(source, MemorySource::Previous);
    assert_eq!(mem.used, mem.total);
}

#[test]
fn offline_node_reads_zero_cpu_and_uptime() {
    let list: NodeListEntry =
        decode(json!({"node": "node9", "status": "offline", "id": "node/node9", "type": "node"}));
    let (mem, _) = node_memory(&list, None, None, None);
    let node = build_node(&ctx(), &list, None, mem, NOW);
    assert_eq!(
        (node.status.as_str(), node.cpu, node.uptime),
        ("offline", 0.0, 0)
    );
    assert_eq!(node.connection_health, "error");
    let v = serde_json::to_value(&node).expect("serialise");
    assert!(
        v.get("memory").is_none() && v.get("disk").is_none(),
        "unknown totals are omitted"
    );
    assert_eq!(v["loadAverage"], json!([]));
}

#[test]
fn vm_memory_freemem_balloon_and_meminfo() {
    let res = resource(100);
    let status: QemuStatus = decode(fixture("nodes_node_qemu_vmid_status_current.json"));
    let input = VmInputs {
        status: Some(&status),
        fsinfo: FsInfo::AgentDisabled,
        meta: None,
    };
    let vm = build_vm("lab", &res, input, IoRates::default(), NOW).expect("vm");
    // balloon == maxmem: total is maxmem; used = total − freemem (balloon driver figure, Windows too).
    assert_eq!(vm.memory.total, 2_097_152_000);
    assert_eq!(vm.memory.used, 2_097_152_000 - 887_222_272);
    assert_eq!(vm.memory.balloon, 2_097_152_000);
    assert_eq!(vm.id, "lab-node2-100");
    assert_eq!(vm.disk.usage, -1.0, "no agent data: unknown, not 0");
    assert_eq!(vm.disk.total, 34_359_738_368);
    assert_eq!(vm.disk_status_reason.as_deref(), Some("agent-disabled"));

    let mut raw = fixture("nodes_node_qemu_vmid_status_current.json");
    raw["balloon"] = json!(1_073_741_824u64);
    raw["meminfo"] = json!({"total": 1_000_000_000u64, "used": 900_000_000u64, "free": 100_000_000u64, "available": 600_000_000u64});
    let status: QemuStatus = decode(raw);
    let input = VmInputs {
        status: Some(&status),
        fsinfo: FsInfo::AgentDisabled,
        meta: None,
    };
    let vm = build_vm("lab", &res, input, IoRates::default(), NOW).expect("vm");
    assert_eq!(
        vm.memory.total, 1_073_741_824,
        "ballooned below max: the balloon target is the total"
    );
    assert_eq!(
        vm.memory.used,
        1_073_741_824 - 600_000_000,
        "used from guest meminfo.available"
    );
    assert_eq!(vm.maxmem, 1_073_741_824);
}

#[test]
fn stopped_vm_reads_zero_and_templates_are_recognised() {
    let res = resource(102);
    let input = VmInputs {
        status: None,
        fsinfo: FsInfo::NotAsked,
        meta: None,
    };
    let vm = build_vm(
        "lab",
        &res,
        input,
        IoRates {
            net_in: 5,
            ..IoRates::default()
        },
        NOW,
    )
    .expect("vm");
    assert_eq!(vm.status, "stopped");
    assert_eq!(
        (
            vm.memory.used,
            vm.memory.usage,
            vm.cpu,
            vm.network_in,
            vm.uptime
        ),
        (0, 0.0, 0.0, 0, 0)
    );
    assert_eq!(vm.memory.total, 8_388_608_000);
    assert_eq!(vm.disk.usage, -1.0);
    assert_eq!(vm.tags, "go-proxmox,cloud-init");
    assert!(is_template(&resource(101)));
    assert!(!is_template(&res));
    assert_eq!(join_tags(Some("prod;web")), "prod,web");
}

#[test]
fn fsinfo_skips_pseudo_and_read_only_and_counts_devices_once() {
    let list: AgentFsInfoList = decode(fixture("nodes_node_qemu_vmid_agent_get-fsinfo.json"));
    let (total, disks) = vm_filesystems(&list.result).expect("the ext4 /boot counts");
    assert_eq!(disks.len(), 1, "squashfs snap mount skipped");
    assert_eq!((total.total, total.used), (1_916_223_488, 275_972_096));
    assert_eq!(disks[0].mountpoint, "/boot");
    assert_eq!(disks[0].device, "/dev/sda2");

    let fs = |name: &str, kind: &str, mount: &str, total: u64, used: u64, dev: &str| {
        json!({"name": name, "type": kind, "mountpoint": mount, "total-bytes": total, "used-bytes": used,
               "disk": if dev.is_empty() { json!([]) } else { json!([{"dev": dev}]) }})
    };
    let list: Vec<AgentFsInfo> = decode(json!([
        fs("sda1", "ext4", "/srv/data", 100_000, 40_000, "/dev/sda1"),
        fs("sda1", "ext4", "/", 100_000, 40_000, "/dev/sda1"),
        fs(
            "sda1",
            "ext4",
            "/var/lib/bind",
            100_000,
            40_000,
            "/dev/sda1"
        ),
        fs("sdb1", "xfs", "/data", 50_000, 10_000, "/dev/sdb1"),
        fs("sda15", "vfat", "/boot/efi", 500, 100, "/dev/sda15"),
        fs("tmpfs", "tmpfs", "/tmp", 9_000, 1_000, ""),
        fs("share", "nfs4", "/mnt/nas", 9_000_000, 1_000, ""),
        fs("cd", "iso9660", "/media/cd", 700, 700, "/dev/sr0"),
        fs("ov", "overlay", "/var/lib/docker/overlay2/x", 100, 100, ""),
    ]));
    let (total, disks) = vm_filesystems(&list).expect("real filesystems");
    assert_eq!(
        (total.total, total.used),
        (150_000, 50_000),
        "bind mounts of sda1 counted once"
    );
    let mounts: Vec<&str> = disks.iter().map(|d| d.mountpoint.as_str()).collect();
    assert_eq!(mounts, ["/", "/data"]);
    assert!((total.usage - 33.333).abs() < 0.01);

    // Windows: only total-bytes-privileged, numbers as strings.
    let win: Vec<AgentFsInfo> = decode(json!([
        {"name": "C:\\", "type": "NTFS", "mountpoint": "C:\\", "total-bytes-privileged": "64000", "used-bytes": "16000", "disk": []},
        {"name": "System Reserved", "type": "NTFS", "mountpoint": "System Reserved", "total-bytes": 500, "used-bytes": 30}
    ]));
    let (total, _) = vm_filesystems(&win).expect("C: counts");
    assert_eq!(
        (total.total, total.used, total.usage),
        (64_000, 16_000, 25.0)
    );

    // Only pseudo filesystems: unknown (−1), with a reason.
    let only_tmp: Vec<AgentFsInfo> = decode(json!([fs("tmpfs", "tmpfs", "/run", 10, 1, "")]));
    assert!(vm_filesystems(&only_tmp).is_none());
    let res = resource(100);
    let status: QemuStatus = decode(fixture("nodes_node_qemu_vmid_status_current.json"));
    let input = VmInputs {
        status: Some(&status),
        fsinfo: FsInfo::Listed(&only_tmp),
        meta: None,
    };
    let vm = build_vm("lab", &res, input, IoRates::default(), NOW).expect("vm");
    assert_eq!(vm.disk.usage, -1.0);
    assert_eq!(
        vm.disk_status_reason.as_deref(),
        Some("special-filesystems-only")
    );
    let input = VmInputs {
        status: Some(&status),
        fsinfo: FsInfo::Listed(&list),
        meta: None,
    };
    let vm = build_vm("lab", &res, input, IoRates::default(), NOW).expect("vm");
    assert_eq!(
        (vm.disk.total, vm.disk.used, vm.disks.len()),
        (150_000, 50_000, 2)
    );
    assert!(vm.disk_status_reason.is_none());
}

#[test]
fn container_memory_from_rrd_memavailable() {
    let res: ClusterResource = decode(json!({
        "id": "lxc/200", "type": "lxc", "node": "node1", "vmid": 200, "name": "ct", "status": "running",
        "maxmem": 1_073_741_824u64, "mem": 900_000_000u64, "maxdisk": 8_000_000_000u64, "disk": 2_000_000_000u64,
        "maxcpu": 2, "cpu": 0.1, "uptime": 99, "template": 0
    }));
    let rrd: GuestRrdPoint = decode(
        json!({"time": 1, "memavailable": 773_741_824.4, "memused": 800_000_000.0, "maxmem": 1_073_741_824.0}),
    );
    let ct = build_container("node1", &res, Some(&rrd), None, IoRates::default(), NOW).expect("ct");
    assert_eq!(
        ct.id, "node1-200",
        "instance named after its node: short id"
    );
    assert_eq!(
        ct.memory.used, 300_000_000,
        "maxmem − memavailable, not the 900 MB host figure"
    );
    assert_eq!((ct.disk.used, ct.disk.usage), (2_000_000_000, 25.0));
    assert_eq!(ct.disks[0].mountpoint, "/");
    let ct = build_container("lab", &res, None, None, IoRates::default(), NOW).expect("ct");
    assert_eq!(ct.memory.used, 900_000_000, "no RRD: the resources figure");
    let mut stopped = res.clone();
    stopped.status = Some("stopped".into());
    let ct =
        build_container("lab", &stopped, Some(&rrd), None, IoRates::default(), NOW).expect("ct");
    assert_eq!((ct.memory.used, ct.cpu, ct.disk.usage), (0, 0.0, -1.0));
}

#[test]
fn node_storage_rows() {
    let rows: Vec<NodeStorage> = decode(fixture("nodes_node_storage.json"));
    let local = build_storage("lab", "node1", &rows[0], None);
    assert_eq!(local.id, "lab-node1-local");
    assert_eq!(local.status, "available");
    assert_eq!(local.content, "backup,iso,vztmpl");
    assert_eq!(
        (local.total, local.used, local.free, local.avail),
        (
            100_861_726_720,
            85_734_563_840,
            9_956_425_728,
            9_956_425_728
        )
    );
    assert!((local.usage - 85.0).abs() < 0.01);
    assert!(local.enabled && local.active && !local.shared);
    let nfs = build_storage("node1", "node1", &rows[1], None);
    assert_eq!(nfs.id, "node1-synology");
    assert!(nfs.shared);
}

#[test]
fn vm_memory_between_two_detail_refreshes_follows_the_live_row() {
    use pulse::monitor::derive_pve::{vm_memory, vm_memory_live};
    let status: QemuStatus = decode(fixture("nodes_node_qemu_vmid_status_current.json"));
    let detail_mem = status.mem.unwrap_or(0);
    let mut res = resource(100);

    // Read this cycle (the live mem is the detail's): exactly today's derivation.
    res.mem = Some(detail_mem);
    let (fresh, _) = vm_memory(&res, Some(&status), true);
    let (live, _) = vm_memory_live(&res, Some(&status), true);
    assert_eq!(live, fresh);
    assert_eq!(fresh.used, 2_097_152_000 - 887_222_272, "total − freemem");

    // Two minutes later the guest uses 100 MB more: the detail's correction (page cache the
    // balloon figure counts, balloon target) is kept, the movement comes from the live row.
    res.mem = Some(detail_mem + 100_000_000);
    let (between, _) = vm_memory_live(&res, Some(&status), true);
    assert_eq!(between.used, fresh.used + 100_000_000);
    assert_eq!(between.total, fresh.total);
    assert_eq!(between.balloon, fresh.balloon);

    // Never past the total, never below 0, and a stopped VM uses nothing.
    res.mem = Some(u64::MAX / 4);
    assert_eq!(
        vm_memory_live(&res, Some(&status), true).0.used,
        fresh.total
    );
    res.mem = Some(0);
    assert!(vm_memory_live(&res, Some(&status), true).0.used >= 0);
    assert_eq!(vm_memory_live(&res, Some(&status), false).0.used, 0);

    // No detail yet: the live row as is.
    res.mem = Some(123_456_789);
    assert_eq!(vm_memory_live(&res, None, true).0.used, 123_456_789);
}
