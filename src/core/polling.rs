//! The monitor on the event loop: keeps the poll schedule in step with the node
//! configuration (and demo mode), hands due polls to the poll workers, applies their results,
//! and hands the changed state to `core::state_feed`.
//!
//! Data flows one way: poll workers → `Msg::Apply(finish)` → `MonitorCore` (scheduler +
//! live state) → `core::state_feed` (built off the loop) → `/api/state` and `rawData`.

use crate::config::model::node_edit::Node;
use crate::config::model::nodes::{NodesConfig, PveInstance};
use crate::core::app::App;
use crate::core::event_loop::Msg;
use crate::core::workers::WorkerPool;
use crate::monitor::demo::{Demo, DemoSizes};
use crate::monitor::poll_pve::PveSettings;
use crate::monitor::runtime::MonitorCore;
use crate::monitor::scheduler::SchedulerConfig;
use crate::monitor::task_key::TaskKey;
use crate::proxmox::ClientConfig;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Poll workers: enough that a few hung instances cannot starve the others.
pub const POLL_THREADS: usize = 4;
const POLL_QUEUE: usize = 4;

/// The schedule's clock: Unix ms read from the wall clock once, then advanced by a
/// monotonic [`Instant`], so a wall-clock step (NTP, a VM resumed, an admin's `date -s`)
/// neither stalls polling (a step back would push every deadline an hour out) nor fires
/// every poll at once. Results shown to users keep wall-clock stamps (`job.run`).
#[derive(Debug, Clone, Copy)]
pub struct MonoClock {
    anchor: Instant,
    anchor_ms: i64,
}

impl MonoClock {
    /// Anchored at `wall_ms` now (the one wall-clock read).
    pub fn new(wall_ms: i64) -> MonoClock {
        MonoClock {
            anchor: Instant::now(),
            anchor_ms: wall_ms,
        }
    }

    /// Schedule time at a given monotonic instant (what tests inject).
    pub fn at(&self, now: Instant) -> i64 {
        let elapsed = now.saturating_duration_since(self.anchor).as_millis();
        self.anchor_ms
            .saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    pub fn now_ms(&self) -> i64 {
        self.at(Instant::now())
    }
}

/// A test seam: runs on the poll worker just before each poll, inside the same panic guard
/// (tests make a poll panic with it). `None` in production.
pub type PollHook = std::sync::Arc<dyn Fn(&TaskKey) + Send + Sync>;

pub struct Polling {
    pub core: MonitorCore,
    /// Every schedule decision uses this clock, never the wall clock directly.
    pub clock: MonoClock,
    pub demo: Option<Demo>,
    pub demo_sizes: DemoSizes,
    /// `Some(enabled)` while the demo cluster is being started or stopped on a worker
    /// (`core::demo`).
    pub demo_change: Option<bool>,
    pub poll_hook: Option<PollHook>,
    pool: WorkerPool,
    in_flight: usize,
    /// Configured instances: key → the config they were built from (to notice edits).
    configured: BTreeMap<TaskKey, String>,
    synced_nodes_revision: Option<u64>,
    timeout: Duration,
}

impl Polling {
    pub fn new(timeout: Duration, demo_sizes: DemoSizes) -> std::io::Result<Polling> {
        let seed = crate::util::time::now_ms() as u64;
        Ok(Polling {
            core: MonitorCore::new(SchedulerConfig::default(), seed),
            clock: MonoClock::new(crate::util::time::now_ms()),
            demo: None,
            demo_sizes,
            demo_change: None,
            poll_hook: None,
            pool: WorkerPool::new("poll", POLL_THREADS, POLL_QUEUE, 1024 * 1024)?,
            in_flight: 0,
            configured: BTreeMap::new(),
            synced_nodes_revision: None,
            timeout,
        })
    }

    pub fn shutdown(&mut self) {
        self.pool.shutdown();
        if let Some(demo) = self.demo.take() {
            // Shutting down: the loop may wait for the simulator's threads now.
            demo.stop(&mut self.core).shut_down();
        }
    }
}

fn pve_client(p: &PveInstance, timeout: Duration) -> (ClientConfig, PveSettings) {
    // Host, credentials and TLS policy exactly as the connection test uses them.
    let mut c = Node::Pve(p.clone()).client_config(timeout);
    let endpoint_url = |e: &crate::config::model::nodes::ClusterEndpoint| {
        let h = if e.ip.is_empty() { &e.host } else { &e.ip };
        if h.starts_with("http") {
            h.clone()
        } else {
            format!("https://{h}:8006")
        }
    };
    if p.is_cluster {
        // The host the user configured is always a candidate: member addresses reported by
        // the cluster may not be reachable from where Pulse runs (NAT, another VLAN).
        let mut endpoints = vec![p.host.clone()];
        endpoints.extend(
            p.cluster_endpoints
                .iter()
                .filter(|e| !e.host.is_empty() || !e.ip.is_empty())
                .map(endpoint_url)
                .filter(|u| *u != p.host),
        );
        c.cluster_endpoints = endpoints;
    }
    let mut s = PveSettings::new(&p.name, &p.host);
    s.is_cluster = p.is_cluster;
    s.cluster_name = p.cluster_name.clone();
    s.monitor_vms = p.monitor_vms;
    s.monitor_containers = p.monitor_containers;
    s.monitor_storage = p.monitor_storage;
    s.monitor_backups = p.monitor_backups;
    s.node_hosts = p
        .cluster_endpoints
        .iter()
        .map(|e| (e.node_name.clone(), endpoint_url(e)))
        .collect();
    (c, s)
}

/// `<type>-<name>` of every instance whose last poll succeeded.
pub fn connected_keys(core: &MonitorCore) -> std::collections::HashSet<String> {
    core.reachable()
        .map(|k| format!("{}-{}", k.kind.as_str(), k.name))
        .collect()
}

/// Adds one configured instance to the monitor (built from its config, run on the loop).
type AddInstance = Box<dyn FnOnce(&mut MonitorCore) -> Result<TaskKey, String>>;

/// A stable description of an instance's config, to notice edits (never logged).
fn fingerprint_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl App {
    /// Brings the poll schedule in line with the saved node configuration: new instances
    /// are polled at once, edited ones rebuilt, removed ones dropped (and their state with them).
    pub fn sync_monitor_with_config(&mut self) {
        let revision = self.config.nodes_revision;
        if self.polling.synced_nodes_revision == Some(revision) {
            return;
        }
        self.polling.synced_nodes_revision = Some(revision);
        self.sync_temperature_settings();
        let nodes: NodesConfig = self.config.nodes.clone();
        let now = self.polling.clock.now_ms();
        let timeout = self.polling.timeout;
        let mut wanted: BTreeMap<String, (String, AddInstance)> = BTreeMap::new();
        for p in &nodes.pve {
            let (c, s) = pve_client(p, timeout);
            let fp = fingerprint_of(p);
            wanted.insert(
                format!("pve::{}", p.name),
                (
                    fp,
                    Box::new(move |core| core.add_pve(&c, s, now).map_err(|e| e.to_string())),
                ),
            );
        }
        for p in &nodes.pbs {
            let c = Node::Pbs(p.clone()).client_config(timeout);
            let name = p.name.clone();
            wanted.insert(
                format!("pbs::{}", p.name),
                (
                    fingerprint_of(p),
                    Box::new(move |core| core.add_pbs(&name, &c, now).map_err(|e| e.to_string())),
                ),
            );
        }
        for p in &nodes.pmg {
            let c = Node::Pmg(p.clone()).client_config(timeout);
            let name = p.name.clone();
            wanted.insert(
                format!("pmg::{}", p.name),
                (
                    fingerprint_of(p),
                    Box::new(move |core| core.add_pmg(&name, &c, now).map_err(|e| e.to_string())),
                ),
            );
        }
        let stale: Vec<TaskKey> = self
            .polling
            .configured
            .iter()
            .filter(|(k, fp)| wanted.get(&k.to_string()).is_none_or(|(w, _)| w != *fp))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            crate::log_info!("stopped polling", instance = key);
            self.polling.core.remove(&key);
            self.polling.configured.remove(&key);
        }
        for (name, (fp, add)) in wanted {
            if self
                .polling
                .configured
                .keys()
                .any(|k| k.to_string() == name)
            {
                continue;
            }
            match add(&mut self.polling.core) {
                Ok(key) => {
                    crate::log_info!("polling", instance = key);
                    self.polling.configured.insert(key, fp);
                }
                Err(e) => crate::log_warn!("cannot poll instance", instance = name, error = e),
            }
        }
        self.sync_connected();
    }

    /// Applies the settings the monitor follows at run time (PBS/PMG polling intervals).
    pub fn apply_runtime_settings(&mut self) {
        use crate::monitor::task_key::InstanceKind;
        let sys = &self.config.system;
        let (pbs, pmg) = (
            sys.pbs_polling_interval.max(10),
            sys.pmg_polling_interval.max(10),
        );
        self.polling
            .core
            .set_pve_backup_policy(crate::monitor::poll_pve::BackupPolicy {
                enabled: sys.backup_polling_enabled.unwrap_or(true),
                interval_ms: sys.backup_polling_interval.max(0) * 1000,
            });
        let scheduler = self.polling.core.scheduler_mut();
        scheduler.set_interval_ms(InstanceKind::Pbs, pbs * 1000);
        scheduler.set_interval_ms(InstanceKind::Pmg, pmg * 1000);
        self.sync_temperature_settings();
    }

    /// Hands every due poll to a worker (never more than the pool can take at once).
    pub fn start_due_polls(&mut self) {
        let capacity = POLL_THREADS + POLL_QUEUE;
        let free = capacity.saturating_sub(self.polling.in_flight);
        if free == 0 {
            return;
        }
        let now = self.polling.clock.now_ms();
        for job in self.polling.core.start_due(now, free) {
            let handle = self.handle.clone();
            let key = job.key().clone();
            let early_handle = self.handle.clone();
            let ticket = job.ticket.clone();
            let hook = self.polling.poll_hook.clone();
            let submitted = self.polling.pool.try_submit(Box::new(move || {
                // The live part of a first poll is shown before its details are fetched.
                let mut early = |data: crate::monitor::jobs::PollData| {
                    let ticket = ticket.clone();
                    let apply: Box<dyn FnOnce(&mut App) + Send> = Box::new(move |app: &mut App| {
                        let now = app.polling.clock.now_ms();
                        app.polling.core.apply_early(&ticket, data, now);
                        app.retire_replaced_state();
                    });
                    early_handle.post(Msg::Apply(apply));
                };
                let run = std::panic::AssertUnwindSafe(|| {
                    if let Some(hook) = &hook {
                        hook(&key);
                    }
                    job.run_with(crate::util::time::now_ms(), &mut early)
                });
                let msg: Box<dyn FnOnce(&mut App) + Send> = match std::panic::catch_unwind(run) {
                    Ok(outcome) => Box::new(move |app: &mut App| app.poll_finished(outcome)),
                    Err(_) => Box::new(move |app: &mut App| app.poll_panicked(key)),
                };
                handle.post(Msg::Apply(msg));
            }));
            match submitted {
                Ok(()) => self.polling.in_flight += 1,
                // Cannot happen while `free` is respected (the pool takes threads + queue).
                Err(_) => crate::log_error!("poll queue unexpectedly full"),
            }
        }
    }

    /// A poll panicked (a bug, never bad input by design): its client went down with it, so
    /// the instance is rebuilt: a configured one from its configuration on the next sync, a
    /// demo one from the running simulator. Either is polled again at once.
    fn poll_panicked(&mut self, key: TaskKey) {
        crate::log_error!("poll panicked; rebuilding the instance", instance = key);
        self.polling.in_flight = self.polling.in_flight.saturating_sub(1);
        self.polling.core.poll_lost(&key);
        let now = self.polling.clock.now_ms();
        let demo = self.polling.demo.as_ref();
        if !demo.is_some_and(|d| d.rebuild(&key, &mut self.polling.core, now)) {
            self.polling.configured.remove(&key);
            self.polling.synced_nodes_revision = None;
        }
        self.sync_connected();
    }

    fn poll_finished(&mut self, outcome: crate::monitor::jobs::PollOutcome) {
        self.polling.in_flight = self.polling.in_flight.saturating_sub(1);
        let key = outcome.ticket.key.clone();
        let started = self.polling.core.scheduler().in_flight_since(&key);
        let ok = outcome.result.is_ok();
        let now = self.polling.clock.now_ms();
        self.polling.core.finish(outcome, now);
        self.retire_replaced_state();
        if let Some(at) = started {
            let seconds = (now - at).max(0) as f64 / 1000.0;
            self.self_metrics.poll_done(&key, seconds, ok);
        }
        self.record_history(&key);
        self.sync_connected();
        self.start_due_polls();
    }

    /// The instance states a poll replaced are freed on the task pool (thousands of guests'
    /// strings: milliseconds the loop need not spend), or here if the pool is full.
    pub fn retire_replaced_state(&mut self) {
        let retired = self.polling.core.state_mut().take_retired();
        if retired.is_empty() {
            return;
        }
        let _ = self.tasks.try_submit(Box::new(move || drop(retired)));
    }

    /// `ConfigState.connected` follows the poll results: an instance is connected while its
    /// last poll succeeded (keys `<type>-<name>`, as `is_connected` looks them up).
    pub fn sync_connected(&mut self) {
        self.config.connected = connected_keys(&self.polling.core);
    }

    /// The next time the scheduler wants to run something. `None` while every poll worker
    /// is busy: the loop must not wake for polls it cannot start (a finishing poll wakes it).
    pub fn next_poll_deadline(&self) -> Option<std::time::Instant> {
        if self.polling.in_flight >= POLL_THREADS + POLL_QUEUE {
            return None;
        }
        let at = self.polling.core.next_deadline()?;
        let wait = (at - self.polling.clock.now_ms()).max(0) as u64;
        Some(std::time::Instant::now() + Duration::from_millis(wait))
    }
}
