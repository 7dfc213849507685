//! The live state as the alert engine reads it: one observation per node, guest, storage and
//! PBS / PMG instance, with figures in the units thresholds use (percent, MB/s, °C).
//!
//! Built on the loop for each evaluation; borrows from the state, so it costs one small
//! vector per resource and no string copies.

use super::alert::{Observation, Presence, ResourceKind};
use super::checks_zfs;
use super::conditions;
use super::config::AlertConfig;
use super::host_disks;
use super::threshold::Metric;
use crate::state::instance::InstanceKind;
use crate::state::store::{connection_key, ExtraArea, LiveState};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const MB: f64 = 1024.0 * 1024.0;

/// Strings the observations borrow that the state does not hold as such: split guest tags
/// (PVE separates them with `;`, `,` or spaces) and composite ids. Kept between evaluations
/// so their buffers are reused.
pub struct Scratch {
    tags: Vec<Vec<String>>,
    ids: Vec<String>,
    /// `host:<id>`, `docker:<id>`, `docker:<id>/<container>` in the order they are observed.
    agent_ids: Vec<String>,
    /// Each host's disks (`host:<id>/disk:<label>`), in the order of the hosts.
    host_disks: Vec<Vec<host_disks::HostDisk>>,
    /// Newest backup per guest, rebuilt only when a backup listing changed.
    backups: NewestBackups,
}

/// The newest backup time (ms) per guest: PVE storage backups by (instance, VMID), PBS
/// backups by (type, VMID) as PBS does not know the PVE instance.
#[derive(Default)]
struct NewestBackups {
    /// Addresses and lengths of the listings this was built from.
    key: Vec<(usize, usize)>,
    pve: HashMap<String, HashMap<i64, i64>>,
    pbs: HashMap<(bool, i64), i64>,
    /// Per PVE instance and VMID: the newest backup task's start (ms) and its error (empty
    /// when it succeeded or is still running).
    tasks: HashMap<String, HashMap<i64, (i64, String)>>,
}

impl NewestBackups {
    fn refresh(&mut self, state: &LiveState) {
        let key: Vec<(usize, usize)> = state
            .pve_backup_listings()
            .map(|(_, b)| {
                let n = b.storage_backups.len() + b.backup_tasks.len();
                (Arc::as_ptr(b) as usize, n)
            })
            .chain(
                state
                    .pbs_backup_lists()
                    .map(|b| (Arc::as_ptr(b) as usize, b.len())),
            )
            .collect();
        if key == self.key {
            return;
        }
        self.key = key;
        self.pve.clear();
        self.pbs.clear();
        self.tasks.clear();
        for (instance, b) in state.pve_backup_listings() {
            for sb in &b.storage_backups {
                let t = sb.time.unix_ms();
                let e = self
                    .pve
                    .entry(instance.to_string())
                    .or_default()
                    .entry(sb.vmid)
                    .or_insert(t);
                *e = (*e).max(t);
            }
            let tasks = self.tasks.entry(instance.to_string()).or_default();
            for task in b.backup_tasks.iter().filter(|t| t.vmid > 0) {
                let start = task.start_time.unix_ms();
                let e = tasks
                    .entry(task.vmid)
                    .or_insert_with(|| (start, task.error.clone()));
                if start > e.0 {
                    *e = (start, task.error.clone());
                }
            }
        }
        for list in state.pbs_backup_lists() {
            for pb in list.iter() {
                let Ok(vmid) = pb.vmid.parse::<i64>() else {
                    continue;
                };
                let t = pb.backup_time.unix_ms();
                let e = self.pbs.entry((pb.backup_type == "ct", vmid)).or_insert(t);
                *e = (*e).max(t);
            }
        }
    }

    /// The error of the guest's newest backup task, if that task failed.
    fn failed_task(&self, instance: &str, vmid: u32) -> Option<&str> {
        let (_, error) = self.tasks.get(instance)?.get(&i64::from(vmid))?;
        (!error.is_empty()).then_some(error.as_str())
    }

    /// The newest backup of a guest, if it has any.
    fn newest(&self, instance: &str, vmid: u32, container: bool) -> Option<i64> {
        let vmid = i64::from(vmid);
        let pve = self.pve.get(instance).and_then(|m| m.get(&vmid)).copied();
        let pbs = self.pbs.get(&(container, vmid)).copied();
        pve.max(pbs)
    }
}

/// Only `pulse-*` tags steer alerts, so a guest without one costs no allocation.
fn split_tags(tags: &str) -> Vec<String> {
    if !tags
        .as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"pulse-"))
    {
        return Vec::new();
    }
    tags.split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Percent from a fraction (PVE's cpu), unknown stays unknown.
fn pct(fraction: f64) -> f64 {
    if fraction.is_finite() && fraction >= 0.0 {
        fraction * 100.0
    } else {
        -1.0
    }
}

fn rate(bytes_per_s: i64) -> f64 {
    if bytes_per_s < 0 {
        -1.0
    } else {
        bytes_per_s as f64 / MB
    }
}

/// Observations of the whole estate, borrowing from `state` and `scratch`; `cfg` judges the
/// checks that are not trigger/clear pairs (PMG counts).
pub fn observe<'a>(
    state: &'a LiveState,
    scratch: &'a mut Scratch,
    cfg: &AlertConfig,
    now_ms: i64,
) -> Vec<Observation<'a>> {
    scratch.tags.clear();
    scratch
        .tags
        .extend(state.vms().map(|g| split_tags(&g.tags)));
    scratch
        .tags
        .extend(state.containers().map(|g| split_tags(&g.tags)));
    scratch.ids.clear();
    for p in state.pbs_instances() {
        scratch
            .ids
            .extend(p.datastores.iter().map(|d| format!("{}-{}", p.id, d.name)));
    }
    scratch.agent_ids.clear();
    let hosts = state.extra_items(ExtraArea::Hosts);
    let docker_hosts = state.extra_items(ExtraArea::DockerHosts);
    scratch.host_disks.clear();
    for h in hosts {
        let id = format!("host:{}", text(h, "id"));
        let name = first_text(h, &["displayName", "hostname"]);
        scratch.host_disks.push(host_disks::collect(&id, name, h));
        scratch.agent_ids.push(id);
    }
    for d in docker_hosts {
        let id = text(d, "id");
        scratch.agent_ids.push(format!("docker:{id}"));
        for c in containers(d, cfg) {
            scratch
                .agent_ids
                .push(format!("docker:{id}/{}", text(c, "id")));
        }
    }
    let backup_checks = cfg.backup_defaults.enabled;
    if backup_checks {
        scratch.backups.refresh(state);
    }
    let backups = &scratch.backups;
    let backup_condition = |id: &str, instance: &str, vmid: u32, container: bool, name: &str| {
        if !backup_checks {
            return Vec::new();
        }
        let kind = if container { "Container" } else { "VM" };
        let age = backups.newest(instance, vmid, container).and_then(|t| {
            conditions::backup_age(id, (kind, name, vmid), t, &cfg.backup_defaults, now_ms)
        });
        let failed = backups
            .failed_task(instance, vmid)
            .map(|error| conditions::backup_failed(id, (kind, name, vmid), error));
        age.into_iter().chain(failed).collect()
    };
    let sets = &scratch.tags;
    let mut datastore_ids = scratch.ids.iter();
    let mut agent_ids = scratch.agent_ids.iter().map(String::as_str);
    let mut disks_of_hosts = scratch.host_disks.iter();
    let stale = |instance: &str| state.connection_healthy(instance) == Some(false);
    let sample = state.last_update_ms();
    let mut out = Vec::new();
    for n in state.nodes() {
        let mut metrics = vec![
            (Metric::Cpu, pct(n.cpu)),
            (Metric::Memory, n.memory.usage),
            (Metric::Disk, n.disk.usage),
        ];
        // Its own, or a host agent's on the same machine; none while monitoring is off.
        if let Some(t) = state.node_temperature(n).and_then(hottest) {
            metrics.push((Metric::Temperature, t));
        }
        out.push(Observation {
            id: &n.id,
            name: &n.name,
            kind: ResourceKind::Node,
            node: &n.name,
            instance: &n.instance,
            vmid: None,
            tags: &[],
            presence: if n.status == "online" {
                Presence::Up
            } else {
                Presence::Offline
            },
            template: false,
            stale: stale(&n.instance),
            sample_ms: sample,
            metrics,
            conditions: Vec::new(),
        });
    }
    let mut set = sets.iter();
    for g in state.vms() {
        out.push(Observation {
            id: &g.id,
            name: &g.name,
            kind: ResourceKind::Vm,
            node: &g.node,
            instance: &g.instance,
            vmid: Some(g.vmid),
            tags: set.next().map_or(&[][..], |v| v.as_slice()),
            presence: if g.status == "running" {
                Presence::Up
            } else {
                Presence::Stopped
            },
            template: g.template,
            stale: stale(&g.instance),
            sample_ms: sample,
            metrics: vec![
                (Metric::Cpu, pct(g.cpu)),
                (Metric::Memory, g.memory.usage),
                (Metric::Disk, g.disk.usage),
                (Metric::DiskRead, rate(g.disk_read)),
                (Metric::DiskWrite, rate(g.disk_write)),
                (Metric::NetworkIn, rate(g.network_in)),
                (Metric::NetworkOut, rate(g.network_out)),
            ],
            conditions: if g.template {
                Vec::new()
            } else {
                backup_condition(&g.id, &g.instance, g.vmid, false, &g.name)
            },
        });
    }
    for g in state.containers() {
        out.push(Observation {
            id: &g.id,
            name: &g.name,
            kind: ResourceKind::Container,
            node: &g.node,
            instance: &g.instance,
            vmid: Some(g.vmid),
            tags: set.next().map_or(&[][..], |v| v.as_slice()),
            presence: if g.status == "running" {
                Presence::Up
            } else {
                Presence::Stopped
            },
            template: g.template,
            stale: stale(&g.instance),
            sample_ms: sample,
            metrics: vec![
                (Metric::Cpu, pct(g.cpu)),
                (Metric::Memory, g.memory.usage),
                (Metric::Disk, g.disk.usage),
                (Metric::DiskRead, rate(g.disk_read)),
                (Metric::DiskWrite, rate(g.disk_write)),
                (Metric::NetworkIn, rate(g.network_in)),
                (Metric::NetworkOut, rate(g.network_out)),
            ],
            conditions: if g.template {
                Vec::new()
            } else {
                backup_condition(&g.id, &g.instance, g.vmid, true, &g.name)
            },
        });
    }
    for s in state.storages().filter(|s| s.enabled) {
        out.push(Observation {
            id: &s.id,
            name: &s.name,
            kind: ResourceKind::Storage,
            node: &s.node,
            instance: &s.instance,
            vmid: None,
            tags: &[],
            presence: if s.active && s.status != "unavailable" {
                Presence::Up
            } else {
                Presence::Offline
            },
            template: false,
            stale: stale(&s.instance),
            sample_ms: sample,
            metrics: vec![(Metric::Usage, if s.total > 0 { s.usage } else { -1.0 })],
            conditions: s
                .zfs_pool
                .as_ref()
                .map_or_else(Vec::new, |p| checks_zfs::zfs_pool(&s.id, p)),
        });
    }
    for d in state.physical_disks() {
        out.push(Observation {
            id: &d.id,
            name: &d.dev_path,
            kind: ResourceKind::PhysicalDisk,
            node: &d.node,
            instance: &d.instance,
            vmid: None,
            tags: &[],
            presence: Presence::Up,
            template: false,
            stale: stale(&d.instance),
            sample_ms: sample,
            metrics: Vec::new(),
            conditions: conditions::physical_disk(d),
        });
    }
    if cfg.snapshot_defaults.enabled {
        for s in state.guest_snapshots() {
            out.push(Observation {
                id: &s.id,
                name: &s.name,
                kind: ResourceKind::Snapshot,
                node: &s.node,
                instance: &s.instance,
                vmid: None,
                tags: &[],
                presence: Presence::Up,
                template: false,
                stale: stale(&s.instance),
                sample_ms: sample,
                metrics: Vec::new(),
                conditions: conditions::snapshot_age(s, &cfg.snapshot_defaults, now_ms)
                    .into_iter()
                    .collect(),
            });
        }
    }
    for p in state.pbs_instances() {
        let key = connection_key(InstanceKind::Pbs, &p.name);
        let healthy = state.connection_healthy(&key) != Some(false);
        out.push(Observation {
            id: &p.id,
            name: &p.name,
            kind: ResourceKind::PbsInstance,
            node: &p.name,
            instance: &p.name,
            vmid: None,
            tags: &[],
            presence: if healthy {
                Presence::Up
            } else {
                Presence::Offline
            },
            template: false,
            stale: false,
            sample_ms: sample,
            metrics: Vec::new(),
            conditions: conditions::pbs_jobs(p),
        });
        for d in &p.datastores {
            out.push(Observation {
                id: datastore_ids.next().map_or("", String::as_str),
                name: &d.name,
                kind: ResourceKind::PbsDatastore,
                node: &p.name,
                instance: &p.name,
                vmid: None,
                tags: &[],
                presence: Presence::Up,
                template: false,
                stale: !healthy,
                sample_ms: sample,
                metrics: vec![(Metric::Usage, if d.total > 0 { d.usage } else { -1.0 })],
                conditions: Vec::new(),
            });
        }
    }
    for p in state.pmg_instances() {
        let key = connection_key(InstanceKind::Pmg, &p.name);
        let healthy = state.connection_healthy(&key) != Some(false);
        out.push(Observation {
            id: &p.id,
            name: &p.name,
            kind: ResourceKind::PmgInstance,
            node: &p.name,
            instance: &p.name,
            vmid: None,
            tags: &[],
            presence: if healthy {
                Presence::Up
            } else {
                Presence::Offline
            },
            template: false,
            stale: false,
            sample_ms: sample,
            metrics: Vec::new(),
            conditions: conditions::pmg(p, &cfg.pmg_defaults),
        });
    }
    // Agents: their reports arrive on their own schedule, so each evaluation is a sample for
    // the offline confirmations (the agents code already waited for missed reports before
    // calling a host offline).
    for h in hosts {
        let id = agent_ids.next().unwrap_or("");
        let name = first_text(h, &["displayName", "hostname"]);
        out.push(Observation {
            id,
            name,
            kind: ResourceKind::Host,
            node: text(h, "hostname"),
            instance: text(h, "id"),
            vmid: None,
            tags: &[],
            presence: presence(h),
            template: false,
            stale: false,
            sample_ms: now_ms,
            metrics: vec![
                (Metric::Cpu, number(h, "cpuUsage")),
                (
                    Metric::Memory,
                    h["memory"]["usage"].as_f64().unwrap_or(-1.0),
                ),
            ],
            conditions: Vec::new(),
        });
        // Disks are resources of their own (`host:<id>/disk:<label>`).
        if let Some(disks) = disks_of_hosts.next() {
            let online = presence(h) == Presence::Up;
            host_disks::observe(
                disks,
                text(h, "id"),
                text(h, "hostname"),
                online,
                now_ms,
                &mut out,
            );
        }
    }
    for d in docker_hosts {
        let host_name = first_text(d, &["displayName", "hostname"]);
        let online = presence(d) == Presence::Up;
        out.push(Observation {
            id: agent_ids.next().unwrap_or(""),
            name: host_name,
            kind: ResourceKind::DockerHost,
            node: text(d, "hostname"),
            instance: text(d, "id"),
            vmid: None,
            tags: &[],
            presence: presence(d),
            template: false,
            stale: false,
            sample_ms: now_ms,
            metrics: Vec::new(),
            // Restart loops, OOM kills, memory limits and Swarm services, as the host's
            // report derived them (state and health are judged per container below).
            conditions: if d["issues"].as_array().is_some_and(|i| !i.is_empty()) {
                conditions::docker_issues(&format!("docker-host-{}", text(d, "id")), d, cfg)
            } else {
                Vec::new()
            },
        });
        for c in containers(d, cfg) {
            let id = agent_ids.next().unwrap_or("");
            let name = text(c, "name");
            out.push(Observation {
                id,
                name,
                kind: ResourceKind::DockerContainer,
                node: host_name,
                instance: text(d, "id"),
                vmid: None,
                tags: &[],
                presence: if text(c, "state").eq_ignore_ascii_case("running") {
                    Presence::Up
                } else {
                    Presence::Stopped
                },
                template: false,
                // An offline host's last report is not news: hold its containers' alerts.
                stale: !online,
                sample_ms: now_ms,
                metrics: vec![
                    (Metric::Cpu, number(c, "cpuPercent")),
                    (Metric::Memory, number(c, "memoryPercent")),
                ],
                conditions: conditions::container_health(id, name, text(c, "health"))
                    .into_iter()
                    .collect(),
            });
        }
    }
    out
}

/// The CPU temperature a node is judged by: the hottest of package, max and core readings
/// (the figure the UI shows).
fn hottest(t: &crate::state::values::Temperature) -> Option<f64> {
    t.cpu_package
        .into_iter()
        .chain(t.cpu_max)
        .chain(t.cores.iter().map(|c| c.temp))
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

fn first_text<'v>(v: &'v Value, keys: &[&str]) -> &'v str {
    keys.iter()
        .map(|k| text(v, k))
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// A figure the agent reported, or unknown.
fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().filter(|x| x.is_finite()).unwrap_or(-1.0)
}

fn presence(agent: &Value) -> Presence {
    if text(agent, "status") == "offline" {
        Presence::Offline
    } else {
        Presence::Up
    }
}

/// A Docker host's containers, less those `dockerIgnoredContainerPrefixes` names.
fn containers<'v, 'c>(
    host: &'v Value,
    cfg: &'c AlertConfig,
) -> impl Iterator<Item = &'v Value> + use<'v, 'c> {
    host["containers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|c| !cfg.docker_container_ignored(text(c, "name"), text(c, "id")))
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            tags: Vec::new(),
            ids: Vec::new(),
            agent_ids: Vec::new(),
            host_disks: Vec::new(),
            backups: NewestBackups::default(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}
