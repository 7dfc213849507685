//! The slower half of a PVE poll: vzdump tasks, backup files on storage, and guest snapshots.
//! Run every few polls (Pulse: every 10th, ≈100 s) because it costs a call per guest.
//! A part that cannot be read at all is `None`, so the store keeps its previous listing
//! rather than showing the backups as deleted.

use super::poll_pve::PveApi;
use crate::proxmox::pve_types::{Snapshot, StorageContent, Task};
use crate::state::backups::{BackupTask, GuestSnapshot, PveBackupsUpdate, StorageBackup};
use crate::state::StorageFrontend;
use crate::util::time::UtcTime;
use std::collections::{BTreeMap, BTreeSet};

/// A guest the snapshot listing should cover.
#[derive(Debug, Clone)]
pub struct GuestRef {
    pub node: String,
    pub vmid: u32,
    /// `"qemu"` or `"lxc"`.
    pub kind: &'static str,
}

fn backup_task(instance: &str, t: &Task) -> Option<BackupTask> {
    if t.kind.as_deref() != Some("vzdump") {
        return None;
    }
    let status = t.status.clone().unwrap_or_default();
    let failed = !status.is_empty() && status != "OK";
    Some(BackupTask {
        id: format!("{instance}-{}", t.upid),
        node: t.node.clone().unwrap_or_default(),
        kind: "vzdump".to_string(),
        vmid: t
            .id
            .as_deref()
            .and_then(|id| id.trim().parse().ok())
            .unwrap_or(0),
        error: if failed {
            status.clone()
        } else {
            String::new()
        },
        status,
        start_time: t.starttime.map_or(UtcTime::ZERO, UtcTime::from_unix),
        end_time: t.endtime.map_or(UtcTime::ZERO, UtcTime::from_unix),
        size: 0,
    })
}

/// `qemu`, `lxc`, `host` or `unknown`, from what the volume says about itself.
fn backup_kind(c: &StorageContent) -> &'static str {
    let volid = c.volid.to_ascii_lowercase();
    let format = c.format.as_deref().unwrap_or("");
    match c.subtype.as_deref() {
        Some("qemu") => return "qemu",
        Some("lxc") => return "lxc",
        _ => {}
    }
    if c.vmid == Some(0) || volid.contains("/host/") {
        "host"
    } else if volid.contains("/vm/") || volid.contains("qemu") || format == "pbs-vm" {
        "qemu"
    } else if volid.contains("/ct/") || volid.contains("lxc") || format == "pbs-ct" {
        "lxc"
    } else {
        "unknown"
    }
}

fn storage_backup(
    instance: &str,
    st: &StorageFrontend,
    c: &StorageContent,
    guest_node: Option<&str>,
) -> StorageBackup {
    let ctime = c.ctime.unwrap_or(0);
    let verification = c
        .verification
        .as_ref()
        .and_then(|v| v.state())
        .unwrap_or("")
        .to_string();
    StorageBackup {
        id: format!("{instance}-{}", c.volid),
        storage: st.name.clone(),
        node: guest_node.unwrap_or(&st.node).to_string(),
        instance: instance.to_string(),
        kind: backup_kind(c).to_string(),
        vmid: i64::from(c.vmid.unwrap_or(0)),
        time: UtcTime::from_unix(ctime),
        ctime,
        size: super::derive_pve::bytes(c.size),
        format: c.format.clone().unwrap_or_default(),
        notes: c.notes.clone().unwrap_or_default(),
        protected: c.protected.unwrap_or(false),
        volid: c.volid.clone(),
        is_pbs: st.name.starts_with("pbs-") || st.kind == "pbs",
        verified: verification == "ok",
        verification,
    }
}

pub fn guest_snapshot(instance: &str, g: &GuestRef, s: &Snapshot) -> GuestSnapshot {
    GuestSnapshot {
        id: format!("{instance}-{}-{}-{}", g.node, g.vmid, s.name),
        name: s.name.clone(),
        node: g.node.clone(),
        instance: instance.to_string(),
        kind: g.kind.to_string(),
        vmid: i64::from(g.vmid),
        time: s.snaptime.map_or(UtcTime::ZERO, UtcTime::from_unix),
        description: s.description.clone().unwrap_or_default(),
        parent: s.parent.clone().unwrap_or_default(),
        vmstate: s.vmstate.unwrap_or(false),
        size_bytes: 0,
    }
}

/// Lists backups of one instance. `storage` is this poll's per-node storage (before merging);
/// each shared storage is read once. Templates should not be in `guests`.
pub fn poll_pve_backups(
    api: &mut dyn PveApi,
    instance: &str,
    online: &[String],
    storage: &[StorageFrontend],
    guests: &[GuestRef],
) -> PveBackupsUpdate {
    let mut tasks = Vec::new();
    let mut tasks_ok = false;
    for node in online {
        if let Ok(list) = api.node_tasks(node) {
            tasks_ok = true;
            tasks.extend(list.iter().filter_map(|t| backup_task(instance, t)));
        }
    }

    let guest_node: BTreeMap<u32, &str> =
        guests.iter().map(|g| (g.vmid, g.node.as_str())).collect();
    let mut backups = Vec::new();
    let mut storage_ok = false;
    let mut shared_done: BTreeSet<&str> = BTreeSet::new();
    for st in storage
        .iter()
        .filter(|s| s.content.split(',').any(|c| c == "backup") && s.active)
    {
        if st.shared && !shared_done.insert(st.name.as_str()) {
            continue;
        }
        let Ok(list) = api.storage_content(&st.node, &st.name) else {
            continue;
        };
        storage_ok = true;
        for c in list
            .iter()
            .filter(|c| c.content.as_deref() == Some("backup"))
        {
            let node = c.vmid.and_then(|v| guest_node.get(&v).copied());
            backups.push(storage_backup(instance, st, c, node));
        }
    }

    let mut snapshots = Vec::new();
    let mut snapshots_ok = guests.is_empty();
    for g in guests {
        let list = match g.kind {
            "qemu" => api.qemu_snapshots(&g.node, g.vmid),
            _ => api.lxc_snapshots(&g.node, g.vmid),
        };
        if let Ok(list) = list {
            snapshots_ok = true;
            snapshots.extend(
                list.iter()
                    .filter(|s| s.name != "current")
                    .map(|s| guest_snapshot(instance, g, s)),
            );
        }
    }

    PveBackupsUpdate {
        backup_tasks: tasks_ok.then_some(tasks),
        storage_backups: storage_ok.then_some(backups),
        guest_snapshots: snapshots_ok.then_some(snapshots),
    }
}
