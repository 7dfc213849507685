//! The monitoring core the event loop owns: configured instances with their clients, the
//! scheduler, and the live state, behind four calls:
//!
//! ```text
//! for job in core.start_due(now_ms(), free_workers) { pool.run(move || tx.send(job.run(now_ms()))) }
//! on outcome:   core.finish(outcome, now_ms())
//! sleep until:  core.next_deadline()
//! serve:        core.state().to_frontend_json(), core.health_json(now_ms())
//! ```

use super::jobs::{PollData, PollJob, PollOutcome, PollTarget};
use super::poll_pve::{BackupPolicy, PvePollContext, PveSettings, SlowReads};
use super::scheduler::{PollTicket, Scheduler, SchedulerConfig};
use super::task_key::{InstanceKind, TaskKey};
use crate::proxmox::{ClientConfig, PbsClient, PmgClient, ProxmoxError, PveClient};
use crate::state::LiveState;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

enum Slot {
    Idle(PollTarget),
    /// The target is out with a worker; setting the flag asks that poll to stop early.
    Busy(PollTicket, Arc<AtomicBool>),
    /// The instance was removed or replaced while its poll was out: that poll was told to
    /// stop, and nothing else starts for this key until it has returned, so the upstream
    /// never serves two polls of one instance. `next` is the replacement, if any.
    Draining {
        old: PollTicket,
        next: Option<Pending>,
    },
}

/// A replacement waiting for the previous poll of its key to return.
struct Pending {
    kind: InstanceKind,
    name: String,
    host: String,
    target: PollTarget,
}

pub struct MonitorCore {
    scheduler: Scheduler,
    state: LiveState,
    slots: BTreeMap<TaskKey, Slot>,
    seed: u64,
    /// Instances whose last poll succeeded (what `/api/config/nodes` calls connected).
    reachable: BTreeSet<TaskKey>,
    /// The system's backup cadence, handed to every PVE poll as it starts.
    pve_backups: BackupPolicy,
    /// Given to every PVE instance added from now on.
    slow_reads: SlowReads,
    /// Detail requests per cycle for PVE instances added from now on (`None`: the default).
    detail_budget: Option<u32>,
}

impl MonitorCore {
    /// `seed` drives jitter (backoff, agent refresh); pass something clock-derived in production.
    pub fn new(config: SchedulerConfig, seed: u64) -> MonitorCore {
        MonitorCore {
            scheduler: Scheduler::new(config, seed),
            state: LiveState::new(),
            slots: BTreeMap::new(),
            seed,
            reachable: BTreeSet::new(),
            pve_backups: BackupPolicy::default(),
            slow_reads: SlowReads::default(),
            detail_budget: None,
        }
    }

    /// Follows `backupPollingEnabled` / `backupPollingInterval` from the next poll on.
    pub fn set_pve_backup_policy(&mut self, policy: BackupPolicy) {
        self.pve_backups = policy;
    }

    /// The slow reads (disks, ZFS) of PVE instances added from now on.
    pub fn set_slow_reads(&mut self, slow: SlowReads) {
        self.slow_reads = slow;
    }

    /// The per-cycle detail budget of PVE instances added from now on
    /// (`PULSE_PVE_DETAIL_BUDGET`; `None`: `DetailConfig`'s default).
    pub fn set_detail_budget(&mut self, budget: Option<u32>) {
        self.detail_budget = budget;
    }

    /// Adds (or replaces) a PVE instance; it is polled at once. No network I/O here.
    pub fn add_pve(
        &mut self,
        cfg: &ClientConfig,
        settings: PveSettings,
        now_ms: i64,
    ) -> Result<TaskKey, ProxmoxError> {
        let client = PveClient::new(cfg)?;
        let lanes = (1..settings.concurrency.max(1))
            .map(|_| PveClient::new(cfg))
            .collect::<Result<Vec<_>, _>>()?;
        self.seed = self.seed.wrapping_add(1);
        let name = settings.instance.clone();
        let mut ctx = PvePollContext::new(settings, self.seed);
        ctx.slow = self.slow_reads;
        if let Some(budget) = self.detail_budget {
            ctx.details.config.budget_per_cycle = budget;
        }
        let target = PollTarget::Pve {
            client: Box::new(client),
            ctx: Box::new(ctx),
            lanes,
        };
        Ok(self.insert(InstanceKind::Pve, &name, &cfg.host, target, now_ms))
    }

    pub fn add_pbs(
        &mut self,
        name: &str,
        cfg: &ClientConfig,
        now_ms: i64,
    ) -> Result<TaskKey, ProxmoxError> {
        let target = PollTarget::Pbs {
            client: Box::new(PbsClient::new(cfg)?),
            host: cfg.host.clone(),
            polls: 0,
        };
        Ok(self.insert(InstanceKind::Pbs, name, &cfg.host, target, now_ms))
    }

    pub fn add_pmg(
        &mut self,
        name: &str,
        cfg: &ClientConfig,
        now_ms: i64,
    ) -> Result<TaskKey, ProxmoxError> {
        let target = PollTarget::Pmg {
            client: Box::new(PmgClient::new(cfg)?),
            host: cfg.host.clone(),
        };
        Ok(self.insert(InstanceKind::Pmg, name, &cfg.host, target, now_ms))
    }

    fn insert(
        &mut self,
        kind: InstanceKind,
        name: &str,
        host: &str,
        target: PollTarget,
        now_ms: i64,
    ) -> TaskKey {
        let key = TaskKey::new(kind, name);
        // A changed configuration starts afresh: new client, no inherited backoff.
        self.scheduler.remove_instance(&key);
        let pending = Pending {
            kind,
            name: name.to_string(),
            host: host.to_string(),
            target,
        };
        match self.slots.remove(&key) {
            Some(Slot::Busy(old, cancel)) => {
                cancel.store(true, Ordering::SeqCst);
                let next = Some(pending);
                self.slots.insert(key.clone(), Slot::Draining { old, next });
            }
            Some(Slot::Draining { old, .. }) => {
                let next = Some(pending);
                self.slots.insert(key.clone(), Slot::Draining { old, next });
            }
            Some(Slot::Idle(_)) | None => self.activate(&key, pending, now_ms),
        }
        key
    }

    fn activate(&mut self, key: &TaskKey, p: Pending, now_ms: i64) {
        self.scheduler
            .add_instance(p.kind, &p.name, &p.host, now_ms);
        self.slots.insert(key.clone(), Slot::Idle(p.target));
    }

    /// Removes an instance and its data. A poll still running for it is told to stop, and
    /// its outcome is discarded when it returns.
    pub fn remove(&mut self, key: &TaskKey) {
        match self.slots.remove(key) {
            Some(Slot::Busy(old, cancel)) => {
                cancel.store(true, Ordering::SeqCst);
                self.slots
                    .insert(key.clone(), Slot::Draining { old, next: None });
            }
            Some(Slot::Draining { old, .. }) => {
                self.slots
                    .insert(key.clone(), Slot::Draining { old, next: None });
            }
            Some(Slot::Idle(_)) | None => {}
        }
        self.scheduler.remove_instance(key);
        self.state.remove_instance(key.kind, &key.name);
        self.reachable.remove(key);
    }

    /// The poll of `key` will never return (it panicked and took its client down): forgets
    /// the instance entirely, slot included, so a rebuilt one can be polled at once (a plain
    /// [`MonitorCore::remove`] would wait for that poll forever). A replacement queued while
    /// it was out is dropped too: the caller rebuilds from the current configuration.
    pub fn poll_lost(&mut self, key: &TaskKey) {
        self.slots.remove(key);
        self.scheduler.remove_instance(key);
        self.state.remove_instance(key.kind, &key.name);
        self.reachable.remove(key);
    }

    /// Instances whose last poll succeeded.
    pub fn reachable(&self) -> impl Iterator<Item = &TaskKey> {
        self.reachable.iter()
    }

    /// True while a poll of `key` is out with a worker (including one being drained).
    pub fn poll_in_flight(&self, key: &TaskKey) -> bool {
        matches!(
            self.slots.get(key),
            Some(Slot::Busy(..) | Slot::Draining { .. })
        )
    }

    /// Starts up to `limit` due polls. The jobs must be run and their outcomes passed to
    /// [`MonitorCore::finish`]; until then the instance is not polled again.
    pub fn start_due(&mut self, now_ms: i64, limit: usize) -> Vec<PollJob> {
        let mut jobs = Vec::new();
        for key in self.scheduler.due(now_ms).into_iter().take(limit) {
            let Some(slot) = self.slots.get_mut(&key) else {
                continue;
            };
            let Slot::Idle(_) = slot else { continue };
            let Some(ticket) = self.scheduler.started(&key, now_ms) else {
                continue;
            };
            let cancel = Arc::new(AtomicBool::new(false));
            let busy = Slot::Busy(ticket.clone(), cancel.clone());
            let Slot::Idle(mut target) = std::mem::replace(slot, busy) else {
                continue;
            };
            if let PollTarget::Pve { ctx, .. } = &mut target {
                ctx.backup_policy = self.pve_backups;
            }
            jobs.push(PollJob {
                ticket,
                target,
                cancel,
            });
        }
        jobs
    }

    /// Applies a finished poll: state, scheduler bookkeeping, and the client back in its slot.
    pub fn finish(&mut self, outcome: PollOutcome, now_ms: i64) {
        let PollOutcome {
            ticket,
            target,
            result,
        } = outcome;
        let key = ticket.key.clone();
        match self.slots.get(&key) {
            Some(Slot::Busy(current, _)) if *current == ticket => {}
            Some(Slot::Draining { old, .. }) if *old == ticket => {
                // Removed or replaced meanwhile: this outcome is stale, and the replacement
                // (if any) may start now that the old poll is back.
                if let Some(Slot::Draining { next: Some(p), .. }) = self.slots.remove(&key) {
                    self.activate(&key, p, now_ms);
                }
                return;
            }
            _ => return,
        }
        let host = match &target {
            PollTarget::Pve { ctx, .. } => ctx.settings.host.clone(),
            PollTarget::Pbs { host, .. } | PollTarget::Pmg { host, .. } => host.clone(),
        };
        self.slots.insert(key.clone(), Slot::Idle(target));
        match result {
            Ok(data) => {
                self.reachable.insert(key.clone());
                self.scheduler.finished(&ticket, Ok(()), now_ms);
                match data {
                    PollData::Pve(snap) => self.state.replace_pve_instance(&key.name, snap, now_ms),
                    PollData::Pbs(inst, backups) => {
                        self.state.replace_pbs_instance(inst, backups, now_ms)
                    }
                    PollData::Pmg(inst, backups) => {
                        self.state.replace_pmg_instance(inst, backups, now_ms)
                    }
                }
            }
            Err(err) => {
                self.reachable.remove(&key);
                self.scheduler.finished(&ticket, Err(err.clone()), now_ms);
                let failures = self.scheduler.consecutive_failures(&key);
                self.state
                    .mark_instance_failed(key.kind, &key.name, &host, &err, failures, now_ms);
            }
        }
    }

    /// Shows what the live part of a running poll found (see `PollJob::run_with`), unless
    /// the instance was removed or replaced meanwhile. The poll's final outcome follows.
    pub fn apply_early(&mut self, ticket: &PollTicket, data: PollData, now_ms: i64) {
        let current = matches!(self.slots.get(&ticket.key), Some(Slot::Busy(t, _)) if t == ticket);
        if !current {
            return;
        }
        if let PollData::Pve(snap) = data {
            self.state
                .replace_pve_instance(&ticket.key.name, snap, now_ms);
        }
    }

    /// When the next poll is due (Unix ms); `None` with no instances or all polls in flight.
    pub fn next_deadline(&self) -> Option<i64> {
        self.scheduler.next_deadline()
    }

    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// For the modules that fill the other areas of the state (agents, alerts, backups).
    pub fn state_mut(&mut self) -> &mut LiveState {
        &mut self.state
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    pub fn scheduler_mut(&mut self) -> &mut Scheduler {
        &mut self.scheduler
    }

    /// `GET /api/monitoring/scheduler/health` body. PVE instances also report their
    /// per-guest detail freshness and the detail requests of their last poll
    /// (`details`: memory / other ages, budget, spent), as of that poll.
    pub fn health_json(&self, now_ms: i64) -> Vec<u8> {
        let mut v = serde_json::to_value(self.scheduler.health(now_ms)).unwrap_or_default();
        if let Some(list) = v.get_mut("instances").and_then(|i| i.as_array_mut()) {
            for inst in list {
                let key = inst.get("key").and_then(|k| k.as_str()).unwrap_or_default();
                let ctx = self.slots.iter().find_map(|(k, slot)| match slot {
                    Slot::Idle(PollTarget::Pve { ctx, .. }) if k.to_string() == key => Some(ctx),
                    _ => None,
                });
                if let (Some(ctx), Some(obj)) = (ctx, inst.as_object_mut()) {
                    obj.insert(
                        "details".into(),
                        serde_json::json!({
                            "ages": ctx.detail_ages,
                            "budgetPerCycle": ctx.details.config.budget_per_cycle,
                            "lastCycleCost": ctx.last_detail_cost,
                        }),
                    );
                }
            }
        }
        serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec())
    }
}
