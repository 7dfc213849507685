//! A poll as a value that can travel: the event loop hands a [`PollJob`] (the instance's
//! client and carried-over context, moved out of the core) to a worker thread; the worker
//! calls [`PollJob::run`] and sends the [`PollOutcome`] back, which returns client and context.

use super::cancel::Cancellable;
use super::lanes::Lanes;
use super::poll_pbs::{poll_pbs, poll_pbs_backups};
use super::poll_pmg::poll_pmg;
use super::poll_pve::{poll_pve_with, PvePollContext};
use super::scheduler::{PollError, PollTicket};
use super::task_key::TaskKey;
use crate::proxmox::{PbsClient, PmgClient, PveClient};
use crate::state::backups::{PBSBackup, PMGBackup};
use crate::state::pbs::PBSInstance;
use crate::state::pmg::PMGInstance;
use crate::state::PveSnapshot;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// PBS backup snapshots are listed on the first poll, then every this many (5 min at 60 s).
pub const PBS_BACKUP_EVERY_POLLS: u64 = 5;

/// An instance's client plus whatever its polls carry from one to the next.
pub enum PollTarget {
    Pve {
        client: Box<PveClient>,
        ctx: Box<PvePollContext>,
        /// Extra clients of the same instance, for detail requests in parallel.
        lanes: Vec<PveClient>,
    },
    /// `polls` counts polls so backups are listed only every [`PBS_BACKUP_EVERY_POLLS`].
    Pbs {
        client: Box<PbsClient>,
        host: String,
        polls: u64,
    },
    Pmg {
        client: Box<PmgClient>,
        host: String,
    },
}

/// What a successful poll produced.
#[derive(Debug)]
pub enum PollData {
    Pve(PveSnapshot),
    /// Backups are `None` on polls that did not list them (or could not).
    Pbs(PBSInstance, Option<Vec<PBSBackup>>),
    Pmg(PMGInstance, Option<Vec<PMGBackup>>),
}

pub struct PollJob {
    pub ticket: PollTicket,
    pub(super) target: PollTarget,
    /// Set by the core when the instance is removed or replaced: the poll stops at its next
    /// request and its outcome is discarded.
    pub(super) cancel: Arc<AtomicBool>,
}

pub struct PollOutcome {
    pub ticket: PollTicket,
    pub(super) target: PollTarget,
    pub result: Result<PollData, PollError>,
}

impl PollJob {
    pub fn key(&self) -> &TaskKey {
        &self.ticket.key
    }

    /// Performs the poll. Blocking network I/O: call on a worker thread, never the event loop.
    /// `now_ms` stamps the results (`lastSeen`) and drives rate computation.
    pub fn run(self, now_ms: i64) -> PollOutcome {
        self.run_with(now_ms, &mut |_| {})
    }

    /// [`PollJob::run`], handing the live part of an instance's first PVE poll to `early`
    /// (for [`super::MonitorCore::apply_early`]) before the per-guest details are fetched,
    /// so a newly added cluster shows every guest as soon as `/cluster/resources` answered.
    pub fn run_with(self, now_ms: i64, early: &mut dyn FnMut(PollData)) -> PollOutcome {
        let PollJob {
            ticket,
            mut target,
            cancel,
        } = self;
        let name = ticket.key.name.clone();
        let result = match &mut target {
            PollTarget::Pve { client, ctx, lanes } => {
                let first = ctx.is_first_poll();
                let mut on_live = |snap: &PveSnapshot| {
                    if first {
                        early(PollData::Pve(snap.clone()));
                    }
                };
                let mut fetcher = Lanes {
                    extra: lanes.as_mut_slice(),
                    cancel: cancel.clone(),
                };
                let mut api = Cancellable::new(client.as_mut(), cancel);
                poll_pve_with(&mut api, ctx, now_ms, &mut fetcher, &mut on_live).map(PollData::Pve)
            }
            PollTarget::Pbs {
                client,
                host,
                polls,
            } => {
                let due = polls.is_multiple_of(PBS_BACKUP_EVERY_POLLS);
                *polls = polls.wrapping_add(1);
                poll_pbs(client.as_mut(), &name, host, now_ms).map(|inst| {
                    let stores: Vec<String> =
                        inst.datastores.iter().map(|d| d.name.clone()).collect();
                    let backups = if due {
                        poll_pbs_backups(client.as_mut(), &name, &stores)
                    } else {
                        None
                    };
                    PollData::Pbs(inst, backups)
                })
            }
            PollTarget::Pmg { client, host } => poll_pmg(client.as_mut(), &name, host, now_ms)
                .map(|(inst, backups)| PollData::Pmg(inst, backups)),
        };
        PollOutcome {
            ticket,
            target,
            result,
        }
    }
}
