//! One poll of a Proxmox Backup Server: version (or, failing that, the datastore listing),
//! node CPU and memory, datastores with usage, deduplication and namespaces.
//! Runs on a poll worker thread. Backup snapshots ([`poll_pbs_backups`]) are listed every few polls.

use super::derive_pve::{bytes, cpu_fraction};
use super::poll_pve::classify;
use super::scheduler::PollError;
use crate::proxmox::pbs_types::{
    BackupGroup, BackupSnapshot, DatastoreListEntry, DatastoreStatus, GcStatus, Namespace,
    PbsNodeStatus,
};
use crate::proxmox::pve_types::Version;
use crate::proxmox::ProxmoxError;
use crate::state::backups::PBSBackup;
use crate::state::pbs::{PBSDatastore, PBSInstance, PBSNamespace};
use crate::state::values::percent;
use crate::util::time::UtcTime;

/// The PBS calls a poll makes (the real `PbsClient` has the same methods).
pub trait PbsApi {
    fn version(&mut self) -> Result<Version, ProxmoxError>;
    fn node_status(&mut self) -> Result<PbsNodeStatus, ProxmoxError>;
    fn datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError>;
    fn datastore_status(&mut self, store: &str) -> Result<DatastoreStatus, ProxmoxError>;
    fn datastore_gc(&mut self, store: &str) -> Result<GcStatus, ProxmoxError>;
    fn namespaces(&mut self, store: &str) -> Result<Vec<Namespace>, ProxmoxError>;
    fn groups(&mut self, store: &str, ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError>;
    fn snapshots(
        &mut self,
        store: &str,
        ns: &str,
        backup_type: &str,
        backup_id: &str,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError>;
    /// `/admin/{sync,verify,prune,gc}`: job listings with their state (see `pbs_jobs`).
    fn job_list(&mut self, _kind: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        Ok(Vec::new())
    }
}

/// Snapshots kept per datastore, the newest (~640 bytes each in the state: ~12 MiB): a
/// datastore with 100,000 snapshots costs what one with 20,000 does. The rest are counted in
/// a warning, not listed.
pub const MAX_SNAPSHOTS_PER_DATASTORE: usize = 20_000;

/// Keeps the `cap` newest of `list` (by backup time, then id, so the choice is stable).
fn keep_newest(list: &mut Vec<PBSBackup>, cap: usize) {
    if list.len() > cap {
        list.sort_unstable_by(|a, b| {
            b.backup_time
                .unix_ms()
                .cmp(&a.backup_time.unix_ms())
                .then_with(|| a.id.cmp(&b.id))
        });
        list.truncate(cap);
    }
}

/// Every backup snapshot of every namespace of the given datastores, at most
/// [`MAX_SNAPSHOTS_PER_DATASTORE`] (the newest) per datastore. `None` when no datastore
/// could be listed at all (the store then keeps the previous list); a datastore or group that
/// fails is skipped.
pub fn poll_pbs_backups(
    api: &mut dyn PbsApi,
    name: &str,
    stores: &[String],
) -> Option<Vec<PBSBackup>> {
    poll_pbs_backups_capped(api, name, stores, MAX_SNAPSHOTS_PER_DATASTORE)
}

/// [`poll_pbs_backups`] with the per-datastore cap given. One request per backup group (a
/// bounded page: PBS lists a group's snapshots, never the datastore's at once); the kept list
/// is trimmed to the newest `cap` whenever it reaches twice that, so the poll holds at most
/// `2 × cap` snapshots of a datastore at any time, whatever its size.
pub fn poll_pbs_backups_capped(
    api: &mut dyn PbsApi,
    name: &str,
    stores: &[String],
    cap: usize,
) -> Option<Vec<PBSBackup>> {
    let mut out = Vec::new();
    let mut any_ok = false;
    for store in stores {
        let Ok(namespaces) = api.namespaces(store) else {
            continue;
        };
        any_ok = true;
        let mut kept: Vec<PBSBackup> = Vec::new();
        let mut seen = 0usize;
        for ns in namespaces.iter().map(|n| n.ns.clone()) {
            let Ok(groups) = api.groups(store, &ns) else {
                continue;
            };
            for g in groups {
                let Ok(snaps) = api.snapshots(store, &ns, &g.backup_type, &g.backup_id) else {
                    continue;
                };
                seen += snaps.len();
                kept.extend(snaps.iter().map(|s| {
                    PBSBackup {
                        id: format!(
                            "pbs-{name}-{store}-{ns}-{}-{}-{}",
                            s.backup_type, s.backup_id, s.backup_time
                        ),
                        instance: name.to_string(),
                        datastore: store.clone(),
                        namespace: ns.clone(),
                        backup_type: s.backup_type.clone(),
                        vmid: s.backup_id.clone(),
                        backup_time: UtcTime::from_unix(s.backup_time),
                        size: bytes(s.size),
                        protected: s.protected.unwrap_or(false),
                        verified: s.verified(),
                        verification: s
                            .verification
                            .as_ref()
                            .and_then(|v| v.state())
                            .unwrap_or("none")
                            .to_string(),
                        comment: s.comment.clone().unwrap_or_default(),
                        files: s.files.iter().map(|f| f.filename().to_string()).collect(),
                        owner: s.owner.clone().unwrap_or_default(),
                    }
                }));
                if kept.len() >= 2 * cap {
                    keep_newest(&mut kept, cap);
                }
            }
        }
        keep_newest(&mut kept, cap);
        if seen > kept.len() {
            crate::log_warn!(
                "PBS datastore has more snapshots than Pulse lists; the newest are kept",
                instance = name,
                datastore = store,
                snapshots = seen,
                kept = kept.len()
            );
        }
        out.append(&mut kept);
    }
    any_ok.then_some(out)
}

/// Polls one PBS. `Err` when neither `/version` nor the datastore listing answers, or on an
/// authentication failure (which the scheduler parks).
pub fn poll_pbs(
    api: &mut dyn PbsApi,
    name: &str,
    host: &str,
    now_ms: i64,
) -> Result<PBSInstance, PollError> {
    let (version, stores) = match api.version() {
        Ok(v) => (v.version.unwrap_or_else(|| "unknown".to_string()), None),
        Err(e) if e.is_auth() => return Err(classify(&e)),
        Err(e) => match api.datastores() {
            Ok(list) => ("connected".to_string(), Some(list)),
            Err(_) => return Err(classify(&e)),
        },
    };
    let mut inst = PBSInstance {
        id: format!("pbs-{name}"),
        name: name.to_string(),
        host: host.to_string(),
        status: "online".to_string(),
        version,
        connection_health: "healthy".to_string(),
        last_seen: UtcTime::from_unix_ms(now_ms),
        ..PBSInstance::default()
    };
    // 403 for tokens without Sys.Audit: the node figures stay 0, the poll still counts.
    if let Ok(status) = api.node_status() {
        // The UI shows PBS cpu as a percentage (PBS itself reports a fraction).
        inst.cpu = cpu_fraction(status.cpu) * 100.0;
        if let Some(mem) = status.memory {
            inst.memory_total = bytes(mem.total);
            inst.memory_used = bytes(mem.used).min(inst.memory_total);
            inst.memory = percent(inst.memory_used, inst.memory_total);
        }
        inst.uptime = bytes(status.uptime);
    }
    let stores = match stores {
        Some(list) => list,
        None => api.datastores().map_err(|e| classify(&e))?,
    };
    inst.datastores = stores.iter().map(|s| datastore(api, &s.store)).collect();
    super::pbs_jobs::fill_jobs(&mut inst, &mut |kind| api.job_list(kind));
    Ok(inst)
}

fn datastore(api: &mut dyn PbsApi, store: &str) -> PBSDatastore {
    let status = match api.datastore_status(store) {
        Ok(s) => s,
        Err(e) => {
            return PBSDatastore {
                name: store.to_string(),
                status: "unavailable".to_string(),
                error: e.to_string(),
                ..PBSDatastore::default()
            }
        }
    };
    let used = bytes(status.used.or(status.used_space));
    let avail = bytes(status.avail.or(status.avail_space));
    let mut total = bytes(status.total.or(status.total_space));
    if total == 0 {
        total = used.saturating_add(avail);
    }
    let dedup = status
        .deduplication_factor
        .filter(|f| f.is_finite() && *f > 0.0)
        .or_else(|| {
            let gc = status
                .gc_status
                .clone()
                .or_else(|| api.datastore_gc(store).ok())?;
            let (index, disk) = (gc.index_data_bytes?, gc.disk_bytes?);
            (disk > 0).then(|| index as f64 / disk as f64)
        });
    let namespaces = api
        .namespaces(store)
        .map(|list| {
            list.into_iter()
                .map(|n| PBSNamespace {
                    // As Pulse computes it (the UI indents by it): separators in the path.
                    depth: n.ns.matches('/').count() as i64,
                    parent: n.parent.unwrap_or_default(),
                    path: n.ns,
                })
                .collect()
        })
        .unwrap_or_default();
    PBSDatastore {
        name: store.to_string(),
        total,
        used,
        free: avail,
        usage: percent(used, total),
        status: "available".to_string(),
        error: String::new(),
        namespaces,
        deduplication_factor: dedup,
        garbage_collection: None,
    }
}

impl PbsApi for crate::proxmox::PbsClient {
    fn version(&mut self) -> Result<Version, ProxmoxError> {
        crate::proxmox::PbsClient::version(self)
    }
    fn node_status(&mut self) -> Result<PbsNodeStatus, ProxmoxError> {
        crate::proxmox::PbsClient::node_status(self)
    }
    fn datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError> {
        crate::proxmox::PbsClient::datastores(self)
    }
    fn datastore_status(&mut self, store: &str) -> Result<DatastoreStatus, ProxmoxError> {
        crate::proxmox::PbsClient::datastore_status(self, store)
    }
    fn datastore_gc(&mut self, store: &str) -> Result<GcStatus, ProxmoxError> {
        crate::proxmox::PbsClient::datastore_gc(self, store)
    }
    fn namespaces(&mut self, store: &str) -> Result<Vec<Namespace>, ProxmoxError> {
        crate::proxmox::PbsClient::namespaces(self, store)
    }
    fn groups(&mut self, store: &str, ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError> {
        crate::proxmox::PbsClient::groups(self, store, ns)
    }
    fn snapshots(
        &mut self,
        store: &str,
        ns: &str,
        backup_type: &str,
        backup_id: &str,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError> {
        crate::proxmox::PbsClient::snapshots(self, store, ns, backup_type, backup_id)
    }
    fn job_list(&mut self, kind: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        crate::proxmox::PbsClient::job_list(self, kind)
    }
}
