//! Storage, backups, tasks, physical disks and Ceph payloads of the simulated PVE cluster.

use super::estate::*;
use super::http::Response;
use serde_json::{json, Value};

const TIB: u64 = 1024 * GIB;

pub fn storage_config(e: &Estate) -> Value {
    let rows = e.storages.iter().map(|s| {
        let mut o = json!({"storage": s.name, "type": s.kind, "content": s.content,
                           "digest": "4f1c0fbb0b2fd2d2e7c5c9f0b0f5d6c3a2b1c0d9"});
        if s.shared {
            o["shared"] = json!(1);
        }
        if !s.enabled {
            o["disable"] = json!(1);
        }
        match s.kind {
            "dir" => o["path"] = json!("/var/lib/vz"),
            "lvmthin" => {
                o["vgname"] = json!("pve");
                o["thinpool"] = json!("data");
            }
            "nfs" => {
                o["server"] = json!("10.0.0.2");
                o["export"] = json!(format!("/export/{}", s.name));
                o["path"] = json!(format!("/mnt/pve/{}", s.name));
            }
            "rbd" => o["pool"] = json!("rbd"),
            "zfspool" => o["pool"] = json!("rpool/data"),
            _ => {}
        }
        o
    });
    Value::Array(rows.collect())
}

fn ceph_total(e: &Estate) -> u64 {
    e.nodes.len() as u64 * 2 * 2 * TIB
}

fn ceph_used(e: &Estate, t: i64) -> u64 {
    (ceph_total(e) as f64 * (0.3 + 0.1 * e.w(0xCE9, 1, t, 86_400))) as u64
}

/// Rows of `/nodes/{n}/storage` (also feeds `/cluster/resources` storage rows).
pub fn node_storage_rows(e: &Estate, n: &Node, t: i64) -> Vec<Value> {
    e.storages
        .iter()
        .map(|s| {
            let (total, used) = match s.name {
                _ if !s.enabled => (0, 0),
                "local" => {
                    let total = n.maxdisk * 3 / 10;
                    (total, (total as f64 * (0.2 + 0.3 * e.w(n.index as u64, 50, t, 86_400))) as u64)
                }
                "local-lvm" => {
                    let total = n.maxdisk * 6 / 10;
                    let used: u64 = e.guests_of(n).map(|g| g.maxdisk / 3).sum();
                    (total, used.min(total))
                }
                "local-zfs" => {
                    let (size, alloc) = zfs_space(e, n, t);
                    (size * 9 / 10, alloc)
                }
                "nfs-backup" => {
                    let total = 4 * TIB;
                    (total, (total as f64 * (0.4 + 0.2 * e.w(0xAF5, 51, t, 86_400))) as u64)
                }
                _ => (ceph_total(e) / 3, ceph_used(e, t) / 3),
            };
            let avail = total.saturating_sub(used);
            let mut o = json!({
                "storage": s.name, "type": s.kind, "content": s.content,
                "active": u8::from(s.enabled), "enabled": u8::from(s.enabled), "shared": u8::from(s.shared),
                "total": total, "used": used, "avail": avail,
            });
            if total > 0 {
                o["used_fraction"] = json!(used as f64 / total as f64);
            }
            o
        })
        .collect()
}

pub fn node_storage(e: &Estate, n: &Node, t: i64) -> Value {
    Value::Array(node_storage_rows(e, n, t))
}

/// `YYYY_MM_DD-HH_MM_SS` as vzdump names its archives.
fn vzdump_stamp(secs: i64) -> String {
    let iso = pulse_wire::time::format_rfc3339(secs, 0);
    iso.get(..19)
        .unwrap_or_default()
        .replace('-', "_")
        .replace('T', "-")
        .replace(':', "_")
}

/// Backups of `g`: (ctime, size), newest first.
fn backups_of(e: &Estate, g: &Guest) -> Vec<(i64, u64)> {
    let day = e.epoch - e.epoch.rem_euclid(86_400);
    (0..2)
        .map(|k| {
            let ctime = day - k * 86_400 + 3600 + (g.index as i64 * 37) % 3600;
            (
                ctime,
                g.maxdisk / 4 + (mix(u64::from(g.vmid) ^ k as u64) % GIB),
            )
        })
        .collect()
}

pub fn content(e: &Estate, n: &Node, _t: i64, storage: &str, filter: Option<&str>) -> Response {
    let Some(s) = e.storages.iter().find(|s| s.name == storage) else {
        return Response::error(500, &format!("storage '{storage}' does not exist"));
    };
    if !s.enabled {
        return Response::error(500, &format!("storage '{storage}' is disabled"));
    }
    let mut rows = Vec::new();
    match s.name {
        "local" => {
            rows.push(json!({"volid": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "content": "vztmpl",
                             "format": "tzst", "size": 126_322_378u64, "ctime": e.epoch - 90 * 86_400}));
            rows.push(json!({"volid": "local:iso/debian-12.8.0-amd64-netinst.iso", "content": "iso",
                             "format": "iso", "size": 661_651_456u64, "ctime": e.epoch - 60 * 86_400}));
        }
        "nfs-backup" => {
            for g in e.guests.iter().filter(|g| g.backed_up) {
                for (k, (ctime, size)) in backups_of(e, g).into_iter().enumerate() {
                    let (sub, ext) = match g.kind {
                        GuestKind::Qemu => ("qemu", "vma.zst"),
                        GuestKind::Lxc => ("lxc", "tar.zst"),
                    };
                    let mut o = json!({
                        "volid": format!("nfs-backup:backup/vzdump-{sub}-{}-{}.{ext}", g.vmid, vzdump_stamp(ctime)),
                        "content": "backup", "ctime": ctime, "format": ext, "size": size,
                        "subtype": sub, "vmid": g.vmid, "notes": g.name,
                    });
                    if k == 1 && g.index % 10 == 0 {
                        o["protected"] = json!(1);
                    }
                    rows.push(o);
                }
            }
        }
        _ => {
            for g in e.guests_of(n) {
                rows.push(json!({
                    "volid": format!("{}:vm-{}-disk-0", s.name, g.vmid), "content": "images",
                    "format": "raw", "size": g.maxdisk, "vmid": g.vmid, "ctime": g.boot,
                }));
            }
        }
    }
    if let Some(f) = filter {
        rows.retain(|r| r["content"] == json!(f));
    }
    Response::data(Value::Array(rows))
}

/// `/nodes/{n}/tasks`: recent vzdump runs of the node's guests plus a service reload,
/// newest first, at most 50 (PVE's default limit).
pub fn tasks(e: &Estate, n: &Node, _t: i64) -> Value {
    let mut rows: Vec<(i64, Value)> = Vec::new();
    for g in e.guests_of(n).filter(|g| g.backed_up) {
        if let Some((start, _)) = backups_of(e, g).first().copied() {
            let end = start + 60 + (g.maxdisk / GIB) as i64;
            let status = if g.index % 13 == 5 {
                format!(
                    "ERROR: Backup of VM {} failed - unable to create temporary directory",
                    g.vmid
                )
            } else {
                "OK".to_string()
            };
            let upid = format!(
                "UPID:{}:{:08X}:{:08X}:{:08X}:vzdump:{}:root@pam:",
                n.name,
                3000 + g.index,
                start as u64 * 100,
                start,
                g.vmid
            );
            rows.push((
                start,
                json!({
                    "upid": upid, "node": n.name, "pid": 3000 + g.index, "pstart": start * 100,
                    "starttime": start, "endtime": end, "type": "vzdump", "id": g.vmid.to_string(),
                    "user": "root@pam", "status": status,
                }),
            ));
        }
    }
    let reload = e.epoch - 3 * 86_400;
    rows.push((reload, json!({
        "upid": format!("UPID:{}:00000DD3:1C419D88:{:08X}:srvreload:networking:root@pam:", n.name, reload),
        "node": n.name, "pid": 3539, "pstart": 474_062_216u64, "starttime": reload, "endtime": reload + 1,
        "type": "srvreload", "id": "networking", "user": "root@pam", "status": "OK",
    })));
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Value::Array(rows.into_iter().take(50).map(|(_, v)| v).collect())
}

/// `/nodes/{n}/disks/list`: an NVMe with a SMART wear number, a spinning disk with `"N/A"`,
/// and on some nodes a worn SSD whose wearout arrives as a quoted string.
pub fn disks(e: &Estate, n: &Node) -> Value {
    let h = mix(e.seed ^ 0xD15C ^ n.index as u64);
    let mut list = vec![
        json!({
            "devpath": "/dev/nvme0n1", "model": "Samsung SSD 980 PRO 1TB", "serial": format!("S5GXNF0R{:06X}", h & 0xFF_FFFF),
            "type": "nvme", "health": "PASSED", "wearout": 100 - (h % 30), "size": 1_000_204_886_016u64,
            "rpm": 0, "used": "LVM", "vendor": "", "wwn": format!("eui.{:016x}", h), "gpt": 1,
            "osdid": -1, "by_id_link": "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB",
        }),
        json!({
            "devpath": "/dev/sda", "model": "ST4000VN008-2DR166", "serial": format!("ZGY{:05X}", h >> 40),
            "type": "hdd", "health": "PASSED", "wearout": "N/A", "size": 4_000_787_030_016u64,
            "rpm": 5980, "used": "ZFS", "vendor": "ATA     ", "wwn": format!("0x5000c500{:08x}", h >> 32), "gpt": 1,
            "osdid": -1, "by_id_link": "/dev/disk/by-id/ata-ST4000VN008-2DR166",
        }),
    ];
    if n.index % 4 == 2 {
        list.push(json!({
            "devpath": "/dev/sdb", "model": "CT500MX500SSD1", "serial": format!("2113E{:07X}", h & 0xFFF_FFFF),
            "type": "ssd", "health": "OK", "wearout": "\"8\"", "size": 500_107_862_016u64,
            "rpm": 0, "used": "mounted", "vendor": "ATA     ", "wwn": "unknown", "gpt": 0, "osdid": "-1",
        }));
    }
    Value::Array(list)
}

pub fn ceph_status(e: &Estate, t: i64) -> Value {
    let online: Vec<&Node> = e.nodes.iter().filter(|n| n.online).collect();
    let osds = e.nodes.len() * 2;
    let up = online.len() * 2;
    let mons: Vec<&Node> = e.nodes.iter().take(3).collect();
    let daemons = |kind: &str| {
        let mut m = serde_json::Map::new();
        m.insert("summary".into(), json!(""));
        for n in &mons {
            m.insert(
                n.name.clone(),
                json!({"hostname": n.name, "status": if n.online { "running" } else { "stopped" }, "start_stamp": "2025-03-01T10:00:00.000000+0000", "gid": 4000 + n.index, "addr": format!("{}:6789/0", n.ip), "metadata": {"ceph_release": kind}}),
            );
        }
        Value::Object(m)
    };
    let mut checks = serde_json::Map::new();
    if up < osds {
        checks.insert(
            "OSD_DOWN".into(),
            json!({
                "severity": "HEALTH_WARN", "muted": false,
                "summary": {"message": format!("{} osds down", osds - up), "count": osds - up},
                "detail": [{"message": "osd.1 is down"}],
            }),
        );
    }
    let total = ceph_total(e);
    let used = ceph_used(e, t);
    json!({
        "fsid": format!("{:08x}-7ab2-41fa-99c5-{:012x}", mix(e.seed) >> 32, mix(e.seed ^ 1) & 0xFFFF_FFFF_FFFF),
        "health": {"status": if checks.is_empty() { "HEALTH_OK" } else { "HEALTH_WARN" }, "checks": checks, "mutes": []},
        "quorum_names": mons.iter().filter(|n| n.online).map(|n| n.name.clone()).collect::<Vec<_>>(),
        "servicemap": {"epoch": 1_255_207, "modified": "2025-03-11T14:51:38.014476+0100",
                        "services": {"mon": {"daemons": daemons("reef")}, "mgr": {"daemons": daemons("reef")}}},
        "osdmap": {"epoch": 33_867, "num_osds": osds, "num_up_osds": up, "num_in_osds": osds, "num_remapped_pgs": 0},
        "pgmap": {"num_pgs": 129, "num_pools": 2, "num_objects": used / (4 * 1024 * 1024),
                  "bytes_total": total, "bytes_used": used, "bytes_avail": total - used, "data_bytes": used / 3,
                  "read_bytes_sec": 50_660, "write_bytes_sec": 2_697_932, "read_op_per_sec": 3, "write_op_per_sec": 211,
                  "pgs_by_state": [{"state_name": "active+clean", "count": 129}]},
    })
}

/// `/cluster/ceph/df` in the nested shape Pulse reads (`data.data.stats`, `data.data.pools`).
pub fn ceph_df(e: &Estate, t: i64) -> Value {
    let total = ceph_total(e);
    let used = ceph_used(e, t);
    json!({"data": {
        "stats": {"total_bytes": total, "total_used_bytes": used, "total_avail_bytes": total - used},
        "pools": [
            {"id": 1, "name": ".mgr", "stats": {"bytes_used": 2_000_000u64, "max_avail": (total - used) / 3, "objects": 2, "percent_used": 0.0}},
            {"id": 2, "name": "rbd", "stats": {"bytes_used": used, "max_avail": (total - used) / 3, "objects": used / (4 * 1024 * 1024),
                                                "percent_used": used as f64 / total as f64}},
        ],
    }})
}

fn zfs_space(e: &Estate, n: &Node, t: i64) -> (u64, u64) {
    let size = 2 * TIB;
    (
        size,
        (size as f64 * (0.2 + 0.3 * e.w(n.index as u64, 60, t, 86_400))) as u64,
    )
}

/// Every fifth node has a degraded mirror (one device faulted with read errors), unless a
/// test said otherwise for the node.
fn zfs_degraded(n: &Node) -> bool {
    n.zfs_degraded.unwrap_or(n.index % 5 == 4)
}

pub fn zfs_pools(e: &Estate, n: &Node, t: i64) -> Value {
    let (size, alloc) = zfs_space(e, n, t);
    let health = if zfs_degraded(n) {
        "DEGRADED"
    } else {
        "ONLINE"
    };
    json!([{"name": "rpool", "health": health, "size": size, "alloc": alloc, "free": size - alloc,
            "frag": 12, "dedup": 1.0}])
}

pub fn zfs_pool(n: &Node, pool: &str) -> Response {
    if pool != "rpool" {
        return Response::error(500, &format!("cannot open '{pool}': no such pool"));
    }
    let bad = zfs_degraded(n);
    let state = if bad { "DEGRADED" } else { "ONLINE" };
    let leaf = |name: &str, faulted: bool| {
        let mut o = json!({"name": name, "state": if faulted { "FAULTED" } else { "ONLINE" },
                           "read": if faulted { 3 } else { 0 }, "write": 0, "cksum": 0, "leaf": 1});
        if faulted {
            o["msg"] = json!("too many errors");
        }
        o
    };
    let mut detail = json!({
        "name": "rpool", "state": state,
        "scan": "scrub repaired 0B in 00:01:02 with 0 errors on Sun Nov  9 00:25:03 2025",
        "errors": "No known data errors",
        "children": [{"name": "rpool", "state": state, "read": 0, "write": 0, "cksum": 0, "children": [
            {"name": "mirror-0", "state": state, "read": 0, "write": 0, "cksum": 0, "children": [
                leaf("nvme0n1-part3", false), leaf("nvme1n1-part3", bad),
            ]},
        ]}],
    });
    if bad {
        detail["status"] =
            json!("One or more devices are faulted in response to persistent errors.");
        detail["action"] =
            json!("Replace the faulted device, or use 'zpool clear' to mark the device repaired.");
    }
    Response::data(detail)
}

/// Replication jobs: every ninth VM replicates to the next node (clusters only).
fn replicated<'a>(e: &'a Estate) -> impl Iterator<Item = &'a Guest> + 'a {
    e.guests.iter().filter(move |g| {
        e.is_cluster() && g.kind == GuestKind::Qemu && !g.template && g.index % 9 == 0
    })
}

fn replication_base(e: &Estate, g: &Guest) -> Value {
    let source = e
        .nodes
        .get(g.node)
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let target = e
        .nodes
        .get((g.node + 1) % e.nodes.len())
        .map(|n| n.name.clone())
        .unwrap_or_default();
    json!({"id": format!("{}-0", g.vmid), "guest": g.vmid, "jobnum": 0, "type": "local",
           "source": source, "target": target, "schedule": "*/15"})
}

pub fn replication_jobs(e: &Estate) -> Value {
    Value::Array(replicated(e).map(|g| replication_base(e, g)).collect())
}

pub fn node_replication(e: &Estate, n: &Node, t: i64) -> Value {
    let rows = replicated(e).filter(|g| g.node == n.index).map(|g| {
        let mut o = replication_base(e, g);
        let last = t - t.rem_euclid(900);
        o["last_sync"] = json!(last);
        o["next_sync"] = json!(last + 900);
        o["duration"] = json!(2.5 + (g.index % 7) as f64);
        if g.index % 18 == 9 {
            o["fail_count"] = json!(2);
            o["error"] = json!("command 'zfs snapshot rpool/data/vm-109-disk-0@__replicate_109-0__' failed: exit code 1");
        } else {
            o["fail_count"] = json!(0);
        }
        o
    });
    Value::Array(rows.collect())
}

pub fn backup_jobs(e: &Estate) -> Value {
    let ids: Vec<String> = e
        .guests
        .iter()
        .filter(|g| g.backed_up)
        .take(20)
        .map(|g| g.vmid.to_string())
        .collect();
    json!([
        {"id": "backup-83831498-c631", "type": "vzdump", "schedule": "06,18:30", "storage": "nfs-backup",
         "vmid": ids.join(","), "enabled": 1, "mode": "snapshot", "next-run": e.epoch + 3600,
         "mailnotification": "always", "notes-template": "{{guestname}}"},
        {"id": "backup-70025700-2302", "type": "vzdump", "schedule": "sat 15:00", "storage": "nfs-backup",
         "all": 1, "enabled": 0, "mode": "snapshot", "next-run": e.epoch + 86_400},
    ])
}
