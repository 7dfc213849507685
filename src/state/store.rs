//! The live state: the latest poll results of every configured instance, owned by the event
//! loop. Each poll replaces everything of its instance ("replace per instance"); the store adds
//! the continuity rules that keep the picture honest when a node or an instance goes away.

use super::backups::{PBSBackup, PMGBackup, PVEBackups, PveBackupsUpdate};
use super::ceph::CephClusterFrontend;
use super::guest::{ContainerFrontend, Guest, VMFrontend};
use super::instance::{ErrorClass, InstanceKind, PollError};
use super::node::NodeFrontend;
use super::pbs::PBSInstance;
use super::physical_disk::PhysicalDisk;
use super::pmg::PMGInstance;
use super::replication::ReplicationJobFrontend;
use super::snapshot::PveSnapshot;
use super::storage::{merge_shared_storage, StorageFrontend};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A node reported offline within this long of last being seen online still counts as online
/// (PVE briefly reports nodes offline during corosync hiccups and pveproxy restarts).
pub const NODE_OFFLINE_GRACE_MS: i64 = 60_000;
/// Consecutive authentication failures after which an instance's data is dropped.
pub const AUTH_FAILURE_LIMIT: u32 = 5;

/// Areas filled by other modules (agents, alerts): the store keeps their
/// already-shaped JSON and only guarantees the key is present and an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraArea {
    DockerHosts,
    RemovedDockerHosts,
    Hosts,
    ActiveAlerts,
    RecentlyResolved,
    /// Storage, datastore and guest-disk trends ("full in N days", `history::forecast`).
    Forecasts,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PveInstanceState {
    pub(super) nodes: Vec<NodeFrontend>,
    pub(super) vms: Vec<VMFrontend>,
    pub(super) containers: Vec<ContainerFrontend>,
    /// Per node, before merging; kept to preserve entries of nodes not listed this time.
    storage_raw: Vec<StorageFrontend>,
    pub(super) storage: Vec<StorageFrontend>,
    pub(super) ceph: Vec<CephClusterFrontend>,
    pub(super) physical_disks: Vec<PhysicalDisk>,
    /// Shared with the next poll's state when that poll brings no backup listing.
    pub(super) backups: Arc<PVEBackups>,
    pub(super) replication: Vec<ReplicationJobFrontend>,
    /// Node id → last time PVE reported it online (Unix ms).
    last_online_ms: BTreeMap<String, i64>,
}

/// The big parts sit behind `Arc`s that a change replaces rather than edits, so `clone()` is
/// cheap (a few map entries and reference counts, never 3,000 guests): the loop hands such a
/// clone to a worker, which serialises the `/api/state` document from it while the loop goes
/// on changing its own copy (`core::state_feed`).
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub(super) pve: BTreeMap<String, Arc<PveInstanceState>>,
    pub(super) pbs: BTreeMap<String, PBSInstance>,
    pub(super) pmg: BTreeMap<String, PMGInstance>,
    pub(super) pbs_backups: BTreeMap<String, Arc<Vec<PBSBackup>>>,
    pub(super) pmg_backups: BTreeMap<String, Arc<Vec<PMGBackup>>>,
    pub(super) extra: BTreeMap<&'static str, Arc<Vec<Value>>>,
    /// Areas their owner hands over already serialised (the alerts: see
    /// `Alerts::publication`); an area is in this map or in `extra`, never both.
    pub(super) extra_json: BTreeMap<&'static str, Arc<Box<RawValue>>>,
    pub(super) connection_health: BTreeMap<String, bool>,
    pub(super) last_update_ms: i64,
    pub(super) temperature_monitoring_enabled: bool,
    /// PVE instance name → its `temperatureMonitoringEnabled` (`node_temperature.rs`).
    pub(super) temperature_per_instance: BTreeMap<String, bool>,
    /// Host agents' temperatures by short lower-case hostname (`node_temperature.rs`).
    pub(super) host_temperatures: BTreeMap<String, super::values::Temperature>,
    /// The `performance` and `stats` blocks (Pulse's own figures, set by the loop just before
    /// each serialisation; `{}` until then).
    pub(super) performance_stats: Option<(Value, Value)>,
    /// The PVE backup listing's JSON, made once per listing (`backups_json`).
    pub(super) pve_backups_json: super::backups_json::BackupsJsonCache,
    /// Instance states replaced since the caller last took them: freeing 3,000 guests'
    /// strings is a few ms the event loop hands to a worker (`take_retired`).
    retired: Vec<Arc<PveInstanceState>>,
    /// Bumped by every change, so callers can cache the serialised document.
    revision: u64,
}

/// Instance states a change replaced: only to be dropped.
pub struct Retired(#[allow(dead_code)] Vec<Arc<PveInstanceState>>);

impl Retired {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `connectionHealth` key of an instance: bare name for PVE, prefixed for PBS and PMG.
pub fn connection_key(kind: InstanceKind, name: &str) -> String {
    match kind {
        InstanceKind::Pve => name.to_string(),
        InstanceKind::Pbs => format!("pbs-{name}"),
        InstanceKind::Pmg => format!("pmg-{name}"),
    }
}

impl ExtraArea {
    pub(super) fn key(self) -> &'static str {
        match self {
            ExtraArea::DockerHosts => "dockerHosts",
            ExtraArea::RemovedDockerHosts => "removedDockerHosts",
            ExtraArea::Hosts => "hosts",
            ExtraArea::ActiveAlerts => "activeAlerts",
            ExtraArea::RecentlyResolved => "recentlyResolved",
            ExtraArea::Forecasts => "forecasts",
        }
    }
}

impl LiveState {
    pub fn new() -> LiveState {
        LiveState::default()
    }

    pub(super) fn bump_revision(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }

    pub fn set_temperature_monitoring_enabled(&mut self, enabled: bool) {
        self.revision = self.revision.wrapping_add(1);
        self.temperature_monitoring_enabled = enabled;
    }

    /// Sets the `performance` and `stats` blocks. Not a change of its own (no new revision):
    /// the loop refreshes them right before it serialises a changed state.
    pub fn set_performance_and_stats(&mut self, performance: Value, stats: Value) {
        self.performance_stats = Some((performance, stats));
    }

    /// The JSON items of an area the loop writes whole (`dockerHosts`, `hosts`...).
    pub fn extra(&self, area: ExtraArea) -> &[Value] {
        self.extra.get(area.key()).map_or(&[], |v| v.as_slice())
    }

    pub fn set_extra(&mut self, area: ExtraArea, items: Vec<Value>) {
        self.revision = self.revision.wrapping_add(1);
        self.extra_json.remove(area.key());
        self.extra.insert(area.key(), Arc::new(items));
    }

    /// An area set with [`LiveState::set_extra`] (empty when unset or set as JSON).
    pub fn extra_items(&self, area: ExtraArea) -> &[Value] {
        self.extra.get(area.key()).map_or(&[], |v| v.as_slice())
    }

    /// As [`LiveState::set_extra`] with the area's JSON array already serialised.
    pub fn set_extra_json(&mut self, area: ExtraArea, json: Arc<Box<RawValue>>) {
        self.revision = self.revision.wrapping_add(1);
        self.extra.remove(area.key());
        self.extra_json.insert(area.key(), json);
    }

    /// An immutable copy for serialising off the loop: shares every instance's data with
    /// this state (reference counts), so it costs microseconds however big the estate is.
    pub fn snapshot(&self) -> LiveState {
        LiveState {
            retired: Vec::new(),
            ..self.clone()
        }
    }

    /// Sets (`Some`) or removes (`None`) one `connectionHealth` entry (agents: `docker-<id>`,
    /// `host-<id>`).
    pub fn set_connection_health(&mut self, key: String, healthy: Option<bool>) {
        self.revision = self.revision.wrapping_add(1);
        match healthy {
            Some(h) => self.connection_health.insert(key, h),
            None => self.connection_health.remove(&key),
        };
    }

    /// Changes with every mutation: cache `to_frontend_json()` per revision (the document is
    /// megabytes for a few thousand guests; serialising it per request would dominate).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Unix ms of the last change.
    pub fn last_update_ms(&self) -> i64 {
        self.last_update_ms
    }

    /// Applies a successful PVE poll of `instance` at `now_ms`.
    /// The replaced instance states, to be dropped wherever the caller likes (off the loop).
    pub fn take_retired(&mut self) -> Retired {
        Retired(std::mem::take(&mut self.retired))
    }

    pub fn replace_pve_instance(&mut self, instance: &str, snap: PveSnapshot, now_ms: i64) {
        self.revision = self.revision.wrapping_add(1);
        // `prev` may also be held by a snapshot being serialised: it is only read here, and
        // what carries over is cloned piecewise (guests only for nodes that keep them).
        let prev: Arc<PveInstanceState> = self.pve.remove(instance).unwrap_or_default();
        if snap.nodes.is_empty() && !prev.nodes.is_empty() {
            // An empty node list from a working API is not "all nodes deleted": treat it as an outage.
            self.pve.insert(instance.to_string(), prev);
            self.mark_pve_unreachable(instance, now_ms);
            return;
        }
        let mut next = PveInstanceState {
            last_online_ms: prev.last_online_ms.clone(),
            backups: Arc::clone(&prev.backups),
            ..PveInstanceState::default()
        };

        // Nodes, with the offline grace period.
        let mut keep_guests_of: BTreeSet<String> = snap.unlisted_guest_nodes.clone();
        let mut offline: BTreeSet<String> = BTreeSet::new();
        let mut known: BTreeSet<String> = BTreeSet::new();
        for mut node in snap.nodes {
            node.sync_aliases();
            known.insert(node.name.clone());
            if node.is_online() {
                next.last_online_ms.insert(node.id.clone(), now_ms);
                next.nodes.push(node);
                continue;
            }
            let recently_online = next
                .last_online_ms
                .get(&node.id)
                .is_some_and(|t| now_ms - t <= NODE_OFFLINE_GRACE_MS);
            match prev.nodes.iter().find(|p| p.id == node.id && p.is_online()) {
                Some(previous) if recently_online => {
                    keep_guests_of.insert(node.name.clone());
                    next.nodes.push(previous.clone());
                }
                _ => {
                    offline.insert(node.name.clone());
                    next.nodes.push(node);
                }
            }
        }
        next.last_online_ms
            .retain(|id, _| next.nodes.iter().any(|n| &n.id == id));

        next.vms = carry_guests(snap.vms, &prev.vms, &keep_guests_of, &offline, &known);
        next.containers = carry_guests(
            snap.containers,
            &prev.containers,
            &keep_guests_of,
            &offline,
            &known,
        );

        // Storage: entries of nodes not listed this time (offline, failed) are kept.
        let mut raw = snap.storage;
        raw.extend(
            prev.storage_raw
                .iter()
                .filter(|s| known.contains(&s.node) && !snap.storage_nodes.contains(&s.node))
                .cloned(),
        );
        next.storage = merge_shared_storage(raw.clone());
        next.storage_raw = raw;

        if let Some(update) = snap.backups {
            next.backups = Arc::new(prev.backups.applied(update));
        }
        next.replication = snap.replication.unwrap_or_else(|| prev.replication.clone());
        next.ceph = snap.ceph.unwrap_or_else(|| prev.ceph.clone());
        next.physical_disks = match snap.physical_disks {
            None => prev.physical_disks.clone(),
            Some(mut disks) => {
                let polled: BTreeSet<String> = disks.iter().map(|d| d.node.clone()).collect();
                disks.extend(
                    prev.physical_disks
                        .iter()
                        .filter(|d| !polled.contains(&d.node) && known.contains(&d.node))
                        .cloned(),
                );
                disks
            }
        };

        self.pve.insert(instance.to_string(), Arc::new(next));
        self.connection_health
            .insert(instance.to_string(), snap.connection_healthy);
        self.last_update_ms = now_ms;
        self.retired.push(prev);
    }

    /// Applies PVE backup listings of `instance` obtained outside a regular poll.
    pub fn update_pve_backups(&mut self, instance: &str, update: PveBackupsUpdate, now_ms: i64) {
        self.revision = self.revision.wrapping_add(1);
        let inst = Arc::make_mut(self.pve.entry(instance.to_string()).or_default());
        inst.backups = Arc::new(inst.backups.applied(update));
        self.last_update_ms = now_ms;
    }

    /// Applies a PBS poll. `backups: None` keeps the previous backup list.
    pub fn replace_pbs_instance(
        &mut self,
        instance: PBSInstance,
        backups: Option<Vec<PBSBackup>>,
        now_ms: i64,
    ) {
        self.revision = self.revision.wrapping_add(1);
        let healthy = instance.status == "online";
        self.connection_health
            .insert(connection_key(InstanceKind::Pbs, &instance.name), healthy);
        if let Some(b) = backups {
            self.pbs_backups.insert(instance.name.clone(), Arc::new(b));
        }
        self.pbs.insert(instance.name.clone(), instance);
        self.last_update_ms = now_ms;
    }

    /// Applies a PMG poll. `backups: None` keeps the previous backup list.
    pub fn replace_pmg_instance(
        &mut self,
        instance: PMGInstance,
        backups: Option<Vec<PMGBackup>>,
        now_ms: i64,
    ) {
        self.revision = self.revision.wrapping_add(1);
        let healthy = instance.status == "online";
        self.connection_health
            .insert(connection_key(InstanceKind::Pmg, &instance.name), healthy);
        if let Some(b) = backups {
            self.pmg_backups.insert(instance.name.clone(), Arc::new(b));
        }
        self.pmg.insert(instance.name.clone(), instance);
        self.last_update_ms = now_ms;
    }

    /// Records a failed poll. Data is kept (marked unreachable once the grace period is over);
    /// after [`AUTH_FAILURE_LIMIT`] consecutive permanent failures the instance's data is dropped
    /// (PVE: replaced by one offline placeholder node), so revoked access does not leave a
    /// frozen picture behind.
    pub fn mark_instance_failed(
        &mut self,
        kind: InstanceKind,
        name: &str,
        host: &str,
        error: &PollError,
        consecutive_failures: u32,
        now_ms: i64,
    ) {
        self.revision = self.revision.wrapping_add(1);
        let give_up =
            error.class == ErrorClass::Permanent && consecutive_failures >= AUTH_FAILURE_LIMIT;
        self.connection_health
            .insert(connection_key(kind, name), false);
        self.last_update_ms = now_ms;
        match kind {
            InstanceKind::Pve if give_up => {
                let placeholder = NodeFrontend {
                    id: format!("{name}-failed"),
                    node: name.to_string(),
                    name: name.to_string(),
                    display_name: name.to_string(),
                    instance: name.to_string(),
                    status: "offline".to_string(),
                    kind: "node".to_string(),
                    connection_health: "error".to_string(),
                    last_seen: now_ms,
                    ..NodeFrontend::default()
                };
                self.pve.insert(
                    name.to_string(),
                    Arc::new(PveInstanceState {
                        nodes: vec![placeholder],
                        ..Default::default()
                    }),
                );
            }
            InstanceKind::Pve => self.mark_pve_unreachable(name, now_ms),
            InstanceKind::Pbs if give_up => {
                self.pbs.remove(name);
                self.pbs_backups.remove(name);
            }
            InstanceKind::Pbs => {
                // Never reached yet: still list it, offline, so the UI shows the configured server.
                let p = self
                    .pbs
                    .entry(name.to_string())
                    .or_insert_with(|| PBSInstance {
                        id: format!("pbs-{name}"),
                        name: name.to_string(),
                        host: host.to_string(),
                        version: "unknown".to_string(),
                        ..PBSInstance::default()
                    });
                p.status = "offline".to_string();
                p.connection_health = "error".to_string();
            }
            InstanceKind::Pmg if give_up => {
                self.pmg.remove(name);
                self.pmg_backups.remove(name);
            }
            InstanceKind::Pmg => {
                let p = self
                    .pmg
                    .entry(name.to_string())
                    .or_insert_with(|| PMGInstance {
                        id: format!("pmg-{name}"),
                        name: name.to_string(),
                        host: host.to_string(),
                        version: "unknown".to_string(),
                        ..PMGInstance::default()
                    });
                p.status = "offline".to_string();
                p.connection_health = "unhealthy".to_string();
            }
        }
    }

    /// Forgets an instance entirely (removed from the configuration).
    pub fn remove_instance(&mut self, kind: InstanceKind, name: &str) {
        self.revision = self.revision.wrapping_add(1);
        match kind {
            InstanceKind::Pve => {
                self.pve.remove(name);
            }
            InstanceKind::Pbs => {
                self.pbs.remove(name);
                self.pbs_backups.remove(name);
            }
            InstanceKind::Pmg => {
                self.pmg.remove(name);
                self.pmg_backups.remove(name);
            }
        }
        self.connection_health.remove(&connection_key(kind, name));
    }

    /// Nodes past the grace period become offline; their guests stay, shown as not running.
    fn mark_pve_unreachable(&mut self, instance: &str, now_ms: i64) {
        let Some(shared) = self.pve.get_mut(instance) else {
            return;
        };
        // Copies the instance only if a snapshot being serialised still holds it (a failed
        // poll overlapping a build: rare, and bounded by one copy per failure).
        let st = Arc::make_mut(shared);
        let mut gone = BTreeSet::new();
        for node in &mut st.nodes {
            let recent = st
                .last_online_ms
                .get(&node.id)
                .is_some_and(|t| now_ms - t <= NODE_OFFLINE_GRACE_MS);
            if recent && node.is_online() {
                continue;
            }
            node.status = "offline".to_string();
            node.connection_health = "error".to_string();
            node.uptime = 0;
            node.cpu = 0.0;
            gone.insert(node.name.clone());
        }
        st.vms
            .iter_mut()
            .filter(|g| gone.contains(&g.node))
            .for_each(Guest::mark_unreachable);
        st.containers
            .iter_mut()
            .filter(|g| gone.contains(&g.node))
            .for_each(Guest::mark_unreachable);
    }

    /// One storage entry by id (`GET /api/storage/<id>`).
    pub fn storage_by_id(&self, id: &str) -> Option<&StorageFrontend> {
        self.pve
            .values()
            .flat_map(|p| p.storage.iter())
            .find(|s| s.id == id)
    }

    /// One node by id (`"<instance>-<node>"`).
    pub fn node(&self, id: &str) -> Option<&NodeFrontend> {
        self.pve
            .values()
            .flat_map(|p| p.nodes.iter())
            .find(|n| n.id == id)
    }
}

/// Guests of one instance after a poll:
/// - nodes in `keep_of` (grace period, listing failed): previous guests, unchanged;
/// - offline nodes: their last known guests, marked unreachable (PVE itself only lists them
///   as `unknown` without figures), plus any guest seen there for the first time; a guest that
///   HA moved to another node shows only there;
/// - everything else: what the poll returned. Guests of nodes no longer in the cluster go.
fn carry_guests<G: Guest + Clone>(
    fresh: Vec<G>,
    prev: &[G],
    keep_of: &BTreeSet<String>,
    offline: &BTreeSet<String>,
    known: &BTreeSet<String>,
) -> Vec<G> {
    // Every node answered (nearly every poll): nothing carries over, and the set lookups
    // and moves below would cost ~1 ms per poll on the loop at 3,000 guests.
    if keep_of.is_empty() && offline.is_empty() {
        let mut out = fresh;
        out.iter_mut().for_each(Guest::sync_aliases);
        return out;
    }
    let running_elsewhere: BTreeSet<u32> = fresh
        .iter()
        .filter(|g| !offline.contains(g.node()) && !keep_of.contains(g.node()))
        .map(Guest::vmid)
        .collect();
    let carried: Vec<G> = prev
        .iter()
        .filter(|g| known.contains(g.node()))
        .filter_map(|g| {
            if keep_of.contains(g.node()) {
                Some(g.clone())
            } else if offline.contains(g.node()) && !running_elsewhere.contains(&g.vmid()) {
                let mut g = g.clone();
                g.mark_unreachable();
                Some(g)
            } else {
                None
            }
        })
        .collect();
    let carried_ids: BTreeSet<&str> = carried.iter().map(Guest::id).collect();
    let mut out: Vec<G> = fresh
        .into_iter()
        .filter(|g| !keep_of.contains(g.node()) && !carried_ids.contains(g.id()))
        .collect();
    out.iter_mut().for_each(Guest::sync_aliases);
    out.extend(carried);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(instance: &str, vmids: &[u32]) -> PveSnapshot {
        PveSnapshot {
            nodes: vec![NodeFrontend {
                id: format!("{instance}-n1"),
                name: "n1".into(),
                instance: instance.into(),
                status: "online".into(),
                ..NodeFrontend::default()
            }],
            vms: vmids
                .iter()
                .map(|v| VMFrontend {
                    id: format!("{instance}-n1-{v}"),
                    vmid: *v,
                    node: "n1".into(),
                    instance: instance.into(),
                    status: "running".into(),
                    ..VMFrontend::default()
                })
                .collect(),
            connection_healthy: true,
            ..PveSnapshot::default()
        }
    }

    #[test]
    fn replaced_instance_states_are_handed_out_to_be_dropped_elsewhere() {
        let mut state = LiveState::new();
        state.replace_pve_instance("a", poll("a", &[100]), 1_000);
        let first = Arc::downgrade(&state.pve["a"]);
        assert!(state.snapshot().retired.is_empty());
        state.replace_pve_instance("a", poll("a", &[100, 101]), 2_000);
        // Still alive: the state kept it for the caller rather than freeing it here.
        assert!(first.upgrade().is_some());
        let retired = state.take_retired();
        assert!(!retired.is_empty() && state.take_retired().is_empty());
        drop(retired);
        assert!(first.upgrade().is_none());
    }

    #[test]
    fn a_snapshot_shares_the_data_and_keeps_it_while_the_state_moves_on() {
        let mut state = LiveState::new();
        state.replace_pve_instance("a", poll("a", &[100]), 1_000);
        state.replace_pve_instance("b", poll("b", &[200]), 1_000);
        let snap = state.snapshot();
        // Shared, not copied: the hand-off costs reference counts.
        assert!(Arc::ptr_eq(&state.pve["a"], &snap.pve["a"]));
        let before = snap.to_frontend_json();
        assert_eq!(before, state.to_frontend_json());

        // The loop goes on: a new poll of `a`, `b` failing, alerts published.
        state.replace_pve_instance("a", poll("a", &[100, 101]), 2_000);
        let err = PollError::transient("timeout");
        state.mark_instance_failed(InstanceKind::Pve, "b", "h", &err, 1, 200_000);
        state.set_extra(
            ExtraArea::ActiveAlerts,
            vec![serde_json::json!({"id": "x"})],
        );
        assert_eq!(state.vms().count(), 3);

        // The snapshot still serialises exactly what it was taken from.
        assert_eq!(snap.to_frontend_json(), before);
        assert_eq!(snap.vms().count(), 2);
        assert_ne!(state.to_frontend_json(), before);
        // `a` was replaced and `b` copied on write: neither was edited under the snapshot.
        assert!(!Arc::ptr_eq(&state.pve["a"], &snap.pve["a"]));
        assert!(!Arc::ptr_eq(&state.pve["b"], &snap.pve["b"]));
        assert_eq!(snap.pve["b"].nodes[0].status, "online");
        assert_eq!(state.pve["b"].nodes[0].status, "offline");
    }
}
