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
use super::poll_pve::{PvePollContext, PveSettings};
use super::scheduler::{PollTicket, Scheduler, SchedulerConfig};
use super::task_key::{InstanceKind, TaskKey};
use crate::proxmox::{ClientConfig, PbsClient, PmgClient, ProxmoxError, PveClient};
use crate::state::LiveState;
use std::collections::BTreeMap;

enum Slot {
    Idle(PollTarget),
    /// The target is out with a worker.
    Busy(PollTicket),
}

pub struct MonitorCore {
    scheduler: Scheduler,
    state: LiveState,
    slots: BTreeMap<TaskKey, Slot>,
    seed: u64,
}

impl MonitorCore {
    /// `seed` drives jitter (backoff, agent refresh); pass something clock-derived in production.
    pub fn new(config: SchedulerConfig, seed: u64) -> MonitorCore {
        MonitorCore {
            scheduler: Scheduler::new(config, seed),
            state: LiveState::new(),
            slots: BTreeMap::new(),
            seed,
        }
    }

    /// Adds (or replaces) a PVE instance; it is polled at once. No network I/O here.
    pub fn add_pve(
        &mut self,
        cfg: &ClientConfig,
        settings: PveSettings,
        now_ms: i64,
    ) -> Result<TaskKey, ProxmoxError> {
        let client = PveClient::new(cfg)?;
        self.seed = self.seed.wrapping_add(1);
        let name = settings.instance.clone();
        let ctx = PvePollContext::new(settings, self.seed);
        let target = PollTarget::Pve {
            client: Box::new(client),
            ctx: Box::new(ctx),
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
        if self.slots.contains_key(&key) {
            // A changed configuration starts afresh: new client, no inherited backoff.
            self.scheduler.remove_instance(&key);
        }
        self.scheduler.add_instance(kind, name, host, now_ms);
        self.slots.insert(key.clone(), Slot::Idle(target));
        key
    }

    /// Removes an instance and its data. A poll still running for it is discarded when it returns.
    pub fn remove(&mut self, key: &TaskKey) {
        self.slots.remove(key);
        self.scheduler.remove_instance(key);
        self.state.remove_instance(key.kind, &key.name);
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
            let Slot::Idle(target) = std::mem::replace(slot, Slot::Busy(ticket.clone())) else {
                continue;
            };
            jobs.push(PollJob { ticket, target });
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
            Some(Slot::Busy(current)) if *current == ticket => {}
            // Removed or replaced meanwhile: this outcome is stale.
            _ => return,
        }
        let host = match &target {
            PollTarget::Pve { ctx, .. } => ctx.settings.host.clone(),
            PollTarget::Pbs { host, .. } | PollTarget::Pmg { host, .. } => host.clone(),
        };
        self.slots.insert(key.clone(), Slot::Idle(target));
        match result {
            Ok(data) => {
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
                self.scheduler.finished(&ticket, Err(err.clone()), now_ms);
                let failures = self.scheduler.consecutive_failures(&key);
                self.state
                    .mark_instance_failed(key.kind, &key.name, &host, &err, failures, now_ms);
            }
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

    /// `GET /api/monitoring/scheduler/health` body.
    pub fn health_json(&self, now_ms: i64) -> Vec<u8> {
        serde_json::to_vec(&self.scheduler.health(now_ms)).unwrap_or_else(|_| b"{}".to_vec())
    }
}
