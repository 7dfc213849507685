//! Ceph cluster health and capacity (`/cluster/ceph/status` + `/cluster/ceph/df`), and the
//! physical disks of a node (`/nodes/{n}/disks/list`).

use super::derive_pve::bytes;
use crate::proxmox::flex::Wearout;
use crate::proxmox::pve_types::{CephDf, CephStatus, PhysicalDisk as PveDisk};
use crate::state::ceph::{CephClusterFrontend, CephPool, CephService};
use crate::state::physical_disk::PhysicalDisk;
use crate::state::values::percent;
use crate::util::time::UtcTime;

fn count(n: Option<u64>) -> i64 {
    bytes(n)
}

/// One Ceph cluster as PVE sees it. `df` may be missing (older PVE, permissions): the
/// totals then come from the status `pgmap`.
pub fn build_ceph(
    instance: &str,
    status: &CephStatus,
    df: Option<&CephDf>,
    now_ms: i64,
) -> CephClusterFrontend {
    let fsid = status.fsid.clone().unwrap_or_default();
    let health = status.health.as_ref();
    let mut messages: Vec<String> = health
        .map(|h| {
            h.summary
                .iter()
                .filter_map(|s| s.summary.clone())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(h) = health {
        for (name, check) in &h.checks {
            if let Some(msg) = check.summary.as_ref().and_then(|s| s.message.as_deref()) {
                messages.push(format!("{name}: {msg}"));
            }
        }
    }
    let stats = df
        .and_then(|d| d.data.as_ref())
        .and_then(|d| d.stats.as_ref())
        .filter(|s| s.total_bytes.unwrap_or(0) > 0);
    let pg = status.pgmap.as_ref();
    let (total, used, avail) = match stats {
        Some(s) => (
            bytes(s.total_bytes),
            bytes(s.total_used_bytes),
            bytes(s.total_avail_bytes),
        ),
        None => (
            bytes(pg.and_then(|p| p.bytes_total)),
            bytes(pg.and_then(|p| p.bytes_used)),
            bytes(pg.and_then(|p| p.bytes_avail)),
        ),
    };
    let pools = df
        .and_then(|d| d.data.as_ref())
        .map(|d| {
            d.pools
                .iter()
                .map(|p| {
                    let st = p.stats.as_ref();
                    CephPool {
                        id: p.id.unwrap_or(0),
                        name: p.name.clone().unwrap_or_default(),
                        stored_bytes: bytes(st.and_then(|s| s.bytes_used)),
                        available_bytes: bytes(st.and_then(|s| s.max_avail)),
                        objects: bytes(st.and_then(|s| s.objects)),
                        percent_used: st
                            .and_then(|s| s.percent_used)
                            .filter(|f| f.is_finite())
                            .unwrap_or(0.0),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut services = Vec::new();
    let (mut mons, mut mgrs) = (0i64, 0i64);
    if let Some(map) = &status.servicemap {
        for (kind, svc) in &map.services {
            let total = svc.daemons.len() as i64;
            let offline: Vec<String> = svc
                .daemons
                .iter()
                .filter(|(_, d)| !matches!(d.status.as_deref(), Some("running" | "active")))
                .map(|(name, d)| format!("{name}@{}", d.hostname.as_deref().unwrap_or("?")))
                .collect();
            match kind.as_str() {
                "mon" => mons = total,
                "mgr" => mgrs = total,
                _ => {}
            }
            services.push(CephService {
                kind: kind.clone(),
                running: total - offline.len() as i64,
                total,
                message: if offline.is_empty() {
                    String::new()
                } else {
                    format!("Offline: {}", offline.join(", "))
                },
            });
        }
    }
    if mons == 0 {
        // Monitors rarely appear in the service map; the quorum lists them.
        mons = status.quorum_names.len() as i64;
    }
    let osd = status.osdmap.as_ref();
    CephClusterFrontend {
        id: if fsid.is_empty() {
            instance.to_string()
        } else {
            format!("{instance}-{fsid}")
        },
        instance: instance.to_string(),
        name: "Ceph".to_string(),
        fsid,
        health: health
            .and_then(|h| h.status.clone())
            .unwrap_or_else(|| "HEALTH_UNKNOWN".to_string()),
        health_message: messages.join("; "),
        total_bytes: total,
        used_bytes: used,
        available_bytes: avail,
        usage_percent: percent(used, total),
        num_mons: mons,
        num_mgrs: mgrs,
        num_osds: count(osd.and_then(|o| o.num_osds)),
        num_osds_up: count(osd.and_then(|o| o.num_up_osds)),
        num_osds_in: count(osd.and_then(|o| o.num_in_osds)),
        num_pgs: count(pg.and_then(|p| p.num_pgs)),
        pools,
        services,
        last_updated: now_ms,
    }
}

/// A node's disk for `physicalDisks`: wear normalised to 0–100 (−1 unknown).
pub fn build_physical_disk(
    instance: &str,
    node: &str,
    disk: &PveDisk,
    now_ms: i64,
) -> PhysicalDisk {
    let wearout = match disk.wearout {
        Some(Wearout::Percent(p)) if p.is_finite() => p.clamp(0.0, 100.0) as i64,
        _ => -1,
    };
    PhysicalDisk {
        id: format!("{instance}-{node}-{}", disk.devpath.replace('/', "-")),
        node: node.to_string(),
        instance: instance.to_string(),
        dev_path: disk.devpath.clone(),
        model: disk.model.clone().unwrap_or_default().trim().to_string(),
        serial: disk.serial.clone().unwrap_or_default(),
        kind: disk.kind.clone().unwrap_or_default(),
        size: bytes(disk.size),
        health: disk.health.clone().unwrap_or_else(|| "UNKNOWN".to_string()),
        wearout,
        temperature: 0,
        rpm: disk.rpm.unwrap_or(0).max(0),
        used: disk.used.clone().unwrap_or_default(),
        last_checked: UtcTime::from_unix_ms(now_ms),
    }
}
