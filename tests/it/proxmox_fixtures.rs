//! Conformance: every real Proxmox capture in `../shared/fixtures/proxmox/` decodes through the
//! client types with the values a human reads in the file. When the folder is absent (a bare
//! checkout), each test says so and checks nothing it cannot.

use pulse::proxmox::flex::{Envelope, Wearout};
use pulse::proxmox::pbs_types::*;
use pulse::proxmox::pve_types::*;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/proxmox"
    ))
}

/// Decodes `<product>/<name>.json` through the `{"data": ...}` envelope, or returns `None`
/// (after saying so) when the fixture folder is not there.
fn load<T: DeserializeOwned>(rel: &str) -> Option<T> {
    let path = fixture_dir().join(rel);
    if !fixture_dir().is_dir() {
        eprintln!(
            "fixtures folder {} absent: skipping {rel}",
            fixture_dir().display()
        );
        return None;
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env: Envelope<T> =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(env.data.unwrap_or_else(|| panic!("{rel}: data is null")))
}

#[test]
fn pve_version() {
    let Some(v) = load::<Version>("pve/version.json") else {
        return;
    };
    assert_eq!(v.version.as_deref(), Some("7.2-3"));
    assert_eq!(v.release.as_deref(), Some("7.2"));
}

#[test]
fn pve_nodes() {
    let Some(nodes) = load::<Vec<NodeListEntry>>("pve/nodes.json") else {
        return;
    };
    assert_eq!(nodes.len(), 4);
    let n1 = nodes.iter().find(|n| n.node == "node1").expect("node1");
    assert_eq!(n1.maxmem, Some(33_568_288_768));
    assert_eq!(n1.maxcpu, Some(12));
    assert_eq!(n1.status.as_deref(), Some("online"));
    assert!(n1
        .ssl_fingerprint
        .as_deref()
        .is_some_and(|f| f.starts_with("80:D4")));
}

#[test]
fn pve_node_status_pve7_has_no_available() {
    let Some(s) = load::<NodeStatus>("pve/nodes_node_status.json") else {
        return;
    };
    let mem = s.memory.expect("memory");
    assert_eq!(mem.total, Some(65_919_459_328));
    assert_eq!(mem.used, Some(8_095_399_936));
    assert_eq!(mem.available, None);
    assert_eq!(s.loadavg, vec![0.0, 0.0, 0.0]);
    let cpu = s.cpuinfo.expect("cpuinfo");
    assert_eq!(cpu.cores, Some(4));
    assert_eq!(cpu.cpus, Some(8));
    assert_eq!(cpu.mhz.as_deref(), Some("3400.000"));
    assert_eq!(s.rootfs.and_then(|r| r.total), Some(948_338_819_072));
    assert!(s.pveversion.is_some_and(|v| v.contains("7.4-16")));
}

#[test]
fn pve_cluster_status() {
    let Some(rows) = load::<Vec<ClusterStatusEntry>>("pve/cluster_status.json") else {
        return;
    };
    let cluster = rows
        .iter()
        .find(|r| r.kind == "cluster")
        .expect("cluster row");
    assert_eq!(cluster.name.as_deref(), Some("clustername"));
    assert_eq!(cluster.quorate, Some(true));
    assert_eq!(cluster.nodes, Some(4));
    let local = rows
        .iter()
        .find(|r| r.local == Some(true))
        .expect("local node");
    assert_eq!(local.name.as_deref(), Some("node1"));
    assert_eq!(local.ip.as_deref(), Some("192.168.1.1"));
}

#[test]
fn pve_cluster_resources() {
    let Some(rows) = load::<Vec<ClusterResource>>("pve/cluster_resources.json") else {
        return;
    };
    assert_eq!(rows.len(), 20);
    let vms: Vec<_> = rows.iter().filter(|r| r.kind == "qemu").collect();
    assert_eq!(vms.len(), 4);
    let tpl = vms.iter().find(|r| r.vmid == Some(101)).expect("vm 101");
    assert_eq!(tpl.template, Some(true));
    let running = vms.iter().find(|r| r.vmid == Some(100)).expect("vm 100");
    assert_eq!(running.status.as_deref(), Some("running"));
    assert_eq!(running.maxmem, Some(1_073_741_824));
    assert_eq!(running.netin, Some(2_456_116_121));
    assert!(vms
        .iter()
        .any(|r| r.tags.as_deref() == Some("go-proxmox+cloud-init")));
    let zfs = rows
        .iter()
        .find(|r| r.id == "storage/node1/local-zfs")
        .expect("storage row");
    assert_eq!(zfs.plugintype.as_deref(), Some("zfspool"));
    assert_eq!(zfs.shared, Some(false));
    assert_eq!(zfs.vmid, None);
}

#[test]
fn pve_qemu_list_numeric_vmid() {
    let Some(rows) = load::<Vec<GuestListEntry>>("pve/nodes_node_qemu.json") else {
        return;
    };
    assert_eq!(
        rows.iter().map(|r| r.vmid).collect::<Vec<_>>(),
        vec![101, 100]
    );
    assert_eq!(rows[1].name.as_deref(), Some("pxe.home.arpa"));
}

#[test]
fn pve_lxc_list_string_vmid_and_template() {
    let Some(rows) = load::<Vec<GuestListEntry>>("pve/nodes_node_lxc.json") else {
        return;
    };
    assert_eq!(
        rows.iter().map(|r| r.vmid).collect::<Vec<_>>(),
        vec![106, 105, 101]
    );
    assert_eq!(rows[2].template, Some(true));
    assert_eq!(rows[0].kind.as_deref(), Some("lxc"));
}

#[test]
fn pve_qemu_status_current_balloon() {
    let Some(s) = load::<QemuStatus>("pve/nodes_node_qemu_vmid_status_current.json") else {
        return;
    };
    assert_eq!(s.vmid, Some(101));
    assert_eq!(s.balloon, Some(2_097_152_000));
    assert_eq!(s.freemem, Some(887_222_272));
    assert_eq!(s.mem, Some(1_127_792_640));
    assert_eq!(s.agent, Some(1));
    assert_eq!(s.ballooninfo.and_then(|b| b.total_mem), Some(2_015_014_912));
    assert!(s.meminfo.is_none());
    assert_eq!(s.running_qemu.as_deref(), Some("8.0.2"));
}

#[test]
fn pve_agent_fsinfo() {
    let Some(fs) = load::<AgentFsInfoList>("pve/nodes_node_qemu_vmid_agent_get-fsinfo.json") else {
        return;
    };
    assert_eq!(fs.result.len(), 2);
    assert_eq!(fs.result[0].fs_type.as_deref(), Some("squashfs"));
    assert!(fs.result[0].disk.is_empty());
    assert_eq!(fs.result[1].mountpoint.as_deref(), Some("/boot"));
    assert_eq!(fs.result[1].total_bytes, Some(1_916_223_488));
    assert_eq!(fs.result[1].disk[0].dev.as_deref(), Some("/dev/sda2"));
}

#[test]
fn pve_agent_network_interfaces() {
    let path = "pve/nodes_node_qemu_vmid_agent_network-get-interfaces.json";
    let Some(ifs) = load::<AgentInterfaces>(path) else {
        return;
    };
    assert_eq!(ifs.result.len(), 3);
    let eth0 = ifs.result.iter().find(|i| i.name == "eth0").expect("eth0");
    assert_eq!(eth0.ip_addresses[0].ip_address, "10.1.2.3");
    assert_eq!(eth0.ip_addresses[0].prefix, Some(24));
    assert_eq!(
        eth0.statistics.as_ref().and_then(|s| s.rx_bytes),
        Some(324_105)
    );
}

#[test]
fn pve_lxc_status_current_pve6_quirks() {
    let Some(s) = load::<LxcStatus>("pve/nodes_node_lxc_vmid_status_current.json") else {
        return;
    };
    assert_eq!(s.cpus, Some(1.0)); // "cpus": "1"
    assert_eq!(s.maxmem, Some(1_073_741_824));
    let ha = s.ha.expect("ha");
    assert_eq!(ha.managed, Some(true));
    assert_eq!(ha.group.as_deref(), Some("null"));
}

#[test]
fn pve_node_storage() {
    let Some(rows) = load::<Vec<NodeStorage>>("pve/nodes_node_storage.json") else {
        return;
    };
    let nfs = rows.iter().find(|r| r.storage == "synology").expect("nfs");
    assert_eq!(nfs.kind.as_deref(), Some("nfs"));
    assert_eq!(nfs.shared, Some(true));
    assert_eq!(nfs.total, Some(1_915_211_874_304));
    let local = rows.iter().find(|r| r.storage == "local").expect("local");
    assert_eq!(local.avail, Some(9_956_425_728));
}

#[test]
fn pve_storage_content() {
    let path = "pve/nodes_node_storage_storage_content.json";
    let Some(rows) = load::<Vec<StorageContent>>(path) else {
        return;
    };
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].vmid, Some(931));
    assert_eq!(rows[0].format.as_deref(), Some("pbs-vm"));
    assert_eq!(rows[0].ctime, Some(1_702_528_474));
}

#[test]
fn pve_ceph_status() {
    let Some(s) = load::<CephStatus>("pve/cluster_ceph_status.json") else {
        return;
    };
    let health = s.health.expect("health");
    assert_eq!(health.status.as_deref(), Some("HEALTH_WARN"));
    assert_eq!(
        health.checks["OSD_NEARFULL"]
            .summary
            .as_ref()
            .and_then(|x| x.message.as_deref()),
        Some("3 nearfull osd(s)")
    );
    assert_eq!(s.osdmap.and_then(|o| o.num_up_osds), Some(21));
    let pg = s.pgmap.expect("pgmap");
    assert_eq!(pg.num_pgs, Some(577));
    assert_eq!(pg.bytes_total, Some(51_850_204_151_808));
    assert_eq!(
        s.fsid.as_deref(),
        Some("d11c6ea1-7ab2-41fa-99c5-b85f4d7ffd49")
    );
}

#[test]
fn pve_disks_list_wearout_na_and_string_osdid() {
    let Some(rows) = load::<Vec<PhysicalDisk>>("pve/nodes_node_disks_list.json") else {
        return;
    };
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|d| d.wearout == Some(Wearout::NotAvailable)));
    assert_eq!(rows[2].osdid, Some(0)); // "osdid": "0"
    assert_eq!(rows[0].osdid, Some(-1));
    assert_eq!(rows[0].rpm, Some(-1));
    assert_eq!(rows[0].size, Some(34_359_738_368));
    assert_eq!(rows[0].health.as_deref(), Some("OK"));
}

#[test]
fn pve_tasks() {
    let Some(rows) = load::<Vec<Task>>("pve/nodes_node_tasks.json") else {
        return;
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].status.as_deref(), Some("OK"));
    assert!(rows[1]
        .status
        .as_deref()
        .is_some_and(|s| s.contains("failed")));
    assert_eq!(rows[0].kind.as_deref(), Some("srvreload"));
    assert_eq!(rows[0].starttime, Some(1_629_092_709));
}

#[test]
fn pve_backup_jobs() {
    let Some(rows) = load::<Vec<BackupJob>>("pve/cluster_backup.json") else {
        return;
    };
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].vmid.as_deref(), Some("100,101,102"));
    assert_eq!(rows[0].enabled, Some(true));
}

#[test]
fn pve_access_ticket() {
    let Some(t) = load::<pulse::proxmox::auth::TicketResponse>("pve/access_ticket.json") else {
        return;
    };
    assert!(t.ticket.starts_with("PVE:root@pam:64E10CBA"));
    assert!(t
        .csrf_prevention_token
        .as_deref()
        .is_some_and(|c| c.starts_with("64E10CBA:")));
}

#[test]
fn pve_node_rrd_pve9() {
    let Some(rows) = load::<Vec<NodeRrdPoint>>("pve/nodes_node_rrddata.json") else {
        return;
    };
    assert_eq!(rows.len(), 12);
    let last = rows.last().expect("rows");
    assert!(last
        .memavailable
        .is_some_and(|v| (v - 9_764_272_810.666_66).abs() < 1.0));
    assert_eq!(last.memtotal, Some(16_535_748_608.0));
}

#[test]
fn pve_guest_rrd_sparse_rows() {
    let Some(rows) = load::<Vec<GuestRrdPoint>>("pve/nodes_node_qemu_vmid_rrddata.json") else {
        return;
    };
    let first = rows.first().expect("rows");
    assert!(first.memhost.is_some());
    let last = rows.last().expect("rows");
    assert_eq!(last.mem, None); // stopped period: keys omitted
    assert_eq!(last.maxmem, Some(2_147_483_648.0));
}

#[test]
fn pbs_version() {
    let Some(v) = load::<Version>("pbs/version.json") else {
        return;
    };
    assert_eq!(v.version.as_deref(), Some("4.2"));
    assert_eq!(v.release.as_deref(), Some("1"));
}

#[test]
fn pbs_node_status_numeric_loadavg() {
    let Some(s) = load::<PbsNodeStatus>("pbs/nodes_localhost_status.json") else {
        return;
    };
    assert_eq!(s.loadavg, vec![0.02, 0.03, 0.04]);
    assert_eq!(s.memory.and_then(|m| m.total), Some(8_195_104_768));
    assert_eq!(s.uptime, Some(803));
}

#[test]
fn pbs_datastore_usage() {
    let Some(rows) = load::<Vec<DatastoreUsage>>("pbs/status_datastore-usage.json") else {
        return;
    };
    assert_eq!(rows[0].store, "slow-xfs");
    assert_eq!(rows[0].total, Some(7_999_425_155_072));
    assert_eq!(rows[0].backend_type.as_deref(), Some("filesystem"));
}

#[test]
fn pbs_snapshots() {
    let Some(rows) = load::<Vec<BackupSnapshot>>("pbs/admin_datastore_store_snapshots.json") else {
        return;
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].backup_id, "152");
    assert_eq!(rows[0].backup_time, 1_791_087_763);
    assert!(rows[0].verified());
    assert_eq!(rows[0].owner.as_deref(), Some("pve@pbs!saruman"));
    assert!(rows[0].files.is_empty());
}

#[test]
fn pbs_verify_jobs() {
    let Some(rows) = load::<Vec<VerifyJob>>("pbs/admin_verify.json") else {
        return;
    };
    assert_eq!(rows[0].store.as_deref(), Some("erebor"));
    assert_eq!(rows[0].ignore_verified, Some(true));
    assert!(rows[0]
        .last_run_upid
        .as_deref()
        .is_some_and(|u| u.contains("\\x3a")));
}

#[test]
fn pbs_gc() {
    let Some(rows) = load::<Vec<GcStatus>>("pbs/admin_gc.json") else {
        return;
    };
    assert_eq!(rows[0].index_data_bytes, Some(575_554_027_520));
    assert_eq!(rows[0].disk_bytes, Some(115_363_386_675));
    assert!(matches!(rows[0].upid, Some(Some(_))));
}

#[test]
fn every_fixture_file_is_covered() {
    let dir = fixture_dir();
    if !dir.is_dir() {
        eprintln!("fixtures folder {} absent: nothing to check", dir.display());
        return;
    }
    let covered = [
        "pve/version.json",
        "pve/nodes.json",
        "pve/nodes_node_status.json",
        "pve/cluster_status.json",
        "pve/cluster_resources.json",
        "pve/nodes_node_qemu.json",
        "pve/nodes_node_lxc.json",
        "pve/nodes_node_qemu_vmid_status_current.json",
        "pve/nodes_node_qemu_vmid_agent_get-fsinfo.json",
        "pve/nodes_node_qemu_vmid_agent_network-get-interfaces.json",
        "pve/nodes_node_lxc_vmid_status_current.json",
        "pve/nodes_node_storage.json",
        "pve/nodes_node_storage_storage_content.json",
        "pve/cluster_ceph_status.json",
        "pve/nodes_node_disks_list.json",
        "pve/nodes_node_tasks.json",
        "pve/cluster_backup.json",
        "pve/access_ticket.json",
        "pve/nodes_node_rrddata.json",
        "pve/nodes_node_qemu_vmid_rrddata.json",
        "pbs/version.json",
        "pbs/nodes_localhost_status.json",
        "pbs/status_datastore-usage.json",
        "pbs/admin_datastore_store_snapshots.json",
        "pbs/admin_verify.json",
        "pbs/admin_gc.json",
    ];
    for product in ["pve", "pbs", "pmg"] {
        let Ok(entries) = std::fs::read_dir(dir.join(product)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = format!("{product}/{}", entry.file_name().to_string_lossy());
            assert!(
                covered.contains(&rel.as_str()),
                "new fixture {rel} has no conformance test"
            );
        }
    }
}
