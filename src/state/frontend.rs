//! The `/api/state` document (Go's `StateFrontend`): a borrowed, sorted view of the store.
//! Every key is always present and every list is an array, never `null`; `metrics` is an
//! empty object as in the original; `performance` and `stats` carry Pulse's own figures
//! (`core::self_metrics`), `{}` in a state no loop has published.

use super::backups::{BackupTask, GuestSnapshot, PBSBackup, PMGBackup, StorageBackup};
pub use super::backups_json::PveBackupsView;
use super::ceph::CephClusterFrontend;
use super::guest::{ContainerFrontend, VMFrontend};
use super::node::NodeFrontend;
use super::pbs::PBSInstance;
use super::physical_disk::PhysicalDisk;
use super::pmg::PMGInstance;
use super::replication::ReplicationJobFrontend;
use super::storage::StorageFrontend;
use super::store::{ExtraArea, LiveState};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFrontend<'a> {
    /// Borrowed from the poll result, or a copy with a host agent's temperature.
    pub nodes: Vec<std::borrow::Cow<'a, NodeFrontend>>,
    pub vms: Vec<&'a VMFrontend>,
    pub containers: Vec<&'a ContainerFrontend>,
    pub docker_hosts: &'a [Value],
    pub removed_docker_hosts: &'a [Value],
    pub hosts: &'a [Value],
    pub storage: Vec<&'a StorageFrontend>,
    pub ceph_clusters: Vec<&'a CephClusterFrontend>,
    pub physical_disks: Vec<&'a PhysicalDisk>,
    pub pbs: Vec<&'a PBSInstance>,
    pub pmg: Vec<&'a PMGInstance>,
    pub pbs_backups: Vec<&'a PBSBackup>,
    pub pmg_backups: Vec<&'a PMGBackup>,
    pub backups: BackupsView<'a>,
    pub replication_jobs: Vec<&'a ReplicationJobFrontend>,
    pub active_alerts: Items<'a>,
    /// Alerts resolved in the last 5 minutes (Go keeps them out of this document; the UI reads
    /// the key when present).
    pub recently_resolved: Items<'a>,
    /// Trends of storages, PBS datastores and guest disks from the metric history
    /// (`history::forecast`), refreshed every few minutes.
    pub forecasts: &'a [Value],
    pub metrics: EmptyObject,
    pub pve_backups: PveBackupsView<'a>,
    pub performance: Block<'a>,
    pub connection_health: &'a BTreeMap<String, bool>,
    pub stats: Block<'a>,
    /// Unix milliseconds.
    pub last_update: i64,
    pub temperature_monitoring_enabled: bool,
}

/// A list area: values, or (the alerts) an array serialised beforehand and copied as is.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Items<'a> {
    Values(&'a [Value]),
    Json(&'a RawValue),
}

/// Serialises as `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EmptyObject {}

/// `performance` / `stats`: Pulse's figures once the loop has set them, else `{}`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Block<'a> {
    Empty(EmptyObject),
    Filled(&'a Value),
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupsView<'a> {
    pub pve: PveBackupsView<'a>,
    pub pbs: Vec<&'a PBSBackup>,
    pub pmg: Vec<&'a PMGBackup>,
}

const NO_VALUES: &[Value] = &[];

impl LiveState {
    /// The sorted `/api/state` view (also the `rawData` WebSocket payload).
    pub fn frontend(&self) -> StateFrontend<'_> {
        let pve = || self.pve.values();

        let mut nodes: Vec<&NodeFrontend> = pve().flat_map(|p| &p.nodes).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let nodes = nodes.into_iter().map(|n| self.node_view(n)).collect();
        let mut vms: Vec<&VMFrontend> = pve().flat_map(|p| &p.vms).collect();
        vms.sort_by(|a, b| a.vmid.cmp(&b.vmid).then_with(|| a.id.cmp(&b.id)));
        let mut containers: Vec<&ContainerFrontend> = pve().flat_map(|p| &p.containers).collect();
        containers.sort_by(|a, b| a.vmid.cmp(&b.vmid).then_with(|| a.id.cmp(&b.id)));
        let mut storage: Vec<&StorageFrontend> = pve().flat_map(|p| &p.storage).collect();
        storage.sort_by(|a, b| {
            (a.instance.as_str(), a.name.as_str(), a.id.as_str()).cmp(&(
                b.instance.as_str(),
                b.name.as_str(),
                b.id.as_str(),
            ))
        });
        let mut ceph: Vec<&CephClusterFrontend> = pve().flat_map(|p| &p.ceph).collect();
        ceph.sort_by(|a, b| (&a.instance, &a.name, &a.id).cmp(&(&b.instance, &b.name, &b.id)));
        let mut disks: Vec<&PhysicalDisk> = pve().flat_map(|p| &p.physical_disks).collect();
        disks.sort_by(|a, b| (&a.node, &a.dev_path, &a.id).cmp(&(&b.node, &b.dev_path, &b.id)));

        let mut tasks: Vec<&BackupTask> = pve().flat_map(|p| &p.backups.backup_tasks).collect();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.start_time));
        let mut storage_backups: Vec<&StorageBackup> =
            pve().flat_map(|p| &p.backups.storage_backups).collect();
        storage_backups.sort_by_key(|b| std::cmp::Reverse(b.time));
        let mut snapshots: Vec<&GuestSnapshot> =
            pve().flat_map(|p| &p.backups.guest_snapshots).collect();
        snapshots.sort_by_key(|s| std::cmp::Reverse(s.time));
        let pve_backups = PveBackupsView {
            backup_tasks: tasks,
            storage_backups,
            guest_snapshots: snapshots,
            cache: Some((
                &self.pve_backups_json,
                pve().map(|p| std::sync::Arc::clone(&p.backups)).collect(),
            )),
        };

        let mut pbs_backups: Vec<&PBSBackup> =
            self.pbs_backups.values().flat_map(|b| b.iter()).collect();
        pbs_backups.sort_by_key(|b| std::cmp::Reverse(b.backup_time));
        let mut pmg_backups: Vec<&PMGBackup> =
            self.pmg_backups.values().flat_map(|b| b.iter()).collect();
        pmg_backups.sort_by_key(|b| std::cmp::Reverse(b.backup_time));

        let mut replication_jobs: Vec<&ReplicationJobFrontend> =
            pve().flat_map(|p| &p.replication).collect();
        replication_jobs.sort_by(|a, b| {
            (&a.instance, a.guest_id, a.job_number, &a.job_id, &a.id).cmp(&(
                &b.instance,
                b.guest_id,
                b.job_number,
                &b.job_id,
                &b.id,
            ))
        });

        let extra = |area: ExtraArea| {
            self.extra
                .get(area.key())
                .map_or(NO_VALUES, |v| v.as_slice())
        };
        let items = |area: ExtraArea| match self.extra_json.get(area.key()) {
            Some(json) => Items::Json(json),
            None => Items::Values(extra(area)),
        };
        StateFrontend {
            nodes,
            vms,
            containers,
            docker_hosts: extra(ExtraArea::DockerHosts),
            removed_docker_hosts: extra(ExtraArea::RemovedDockerHosts),
            hosts: extra(ExtraArea::Hosts),
            storage,
            ceph_clusters: ceph,
            physical_disks: disks,
            pbs: self.pbs.values().collect(),
            pmg: self.pmg.values().collect(),
            backups: BackupsView {
                pve: pve_backups.clone(),
                pbs: pbs_backups.clone(),
                pmg: pmg_backups.clone(),
            },
            pbs_backups,
            pmg_backups,
            replication_jobs,
            active_alerts: items(ExtraArea::ActiveAlerts),
            recently_resolved: items(ExtraArea::RecentlyResolved),
            forecasts: extra(ExtraArea::Forecasts),
            metrics: EmptyObject {},
            pve_backups,
            performance: self
                .performance_stats
                .as_ref()
                .map_or(Block::Empty(EmptyObject {}), |b| Block::Filled(&b.0)),
            connection_health: &self.connection_health,
            stats: self
                .performance_stats
                .as_ref()
                .map_or(Block::Empty(EmptyObject {}), |b| Block::Filled(&b.1)),
            last_update: self.last_update_ms,
            temperature_monitoring_enabled: self.temperature_monitoring_enabled,
        }
    }

    /// `GET /api/state` body.
    pub fn to_frontend_json(&self) -> Vec<u8> {
        self.to_frontend_json_sized(0)
    }

    /// `GET /api/state` body, written into a buffer of `capacity` bytes to start with.
    pub fn to_frontend_json_sized(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        self.write_frontend_json(&mut out);
        out
    }

    /// The `GET /api/state` body appended to `out`.
    pub fn write_frontend_json(&self, out: &mut Vec<u8>) {
        // Plain structs of numbers and strings: serialising cannot fail, and every f64 the
        // derivations produce is finite (checked in `values::percent` and the derivations).
        let start = out.len();
        if serde_json::to_writer(&mut *out, &self.frontend()).is_err() {
            out.truncate(start);
            out.extend_from_slice(b"{}");
        }
    }

    /// `GET /api/storage/`: all storage entries, sorted as in `/api/state`.
    pub fn storage_list(&self) -> Vec<&StorageFrontend> {
        self.frontend().storage
    }
}
