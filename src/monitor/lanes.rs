//! A few detail requests in flight per instance: the poll's own connection plus up to
//! `concurrency − 1` extra clients of the same instance, each on a scoped thread for the
//! duration of the detail phase (so at most `POLL_THREADS × concurrency` threads exist, and
//! none outlives its poll). Lanes take jobs from one queue and prefer a node no other lane
//! is talking to, so requests spread over nodes and one slow node holds one lane, not all:
//! a node that answers slowly is skipped by that lane for the rest of the poll.

use super::cancel::Cancellable;
use super::poll_pve::{DetailFetcher, PveApi};
use super::poll_pve_details::{fetch, DetailJob, DetailResult};
use super::slow_nodes::SlowNodeGuard;
use crate::proxmox::PveClient;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Default requests in flight per instance.
pub const DEFAULT_CONCURRENCY: usize = 4;

pub struct Lanes<'a> {
    pub extra: &'a mut [PveClient],
    pub cancel: Arc<AtomicBool>,
}

struct Queue {
    /// Jobs not taken yet (indexes into the job list).
    waiting: Vec<usize>,
    /// Lanes currently talking to each node.
    busy: BTreeMap<String, usize>,
}

impl Queue {
    /// The next job, preferring a node no lane is busy with.
    fn take(&mut self, jobs: &[DetailJob]) -> Option<usize> {
        let pos = self
            .waiting
            .iter()
            .position(|i| {
                jobs.get(*i)
                    .is_some_and(|j| !self.busy.contains_key(&j.node))
            })
            .or(if self.waiting.is_empty() {
                None
            } else {
                Some(0)
            })?;
        let i = self.waiting.remove(pos);
        if let Some(j) = jobs.get(i) {
            *self.busy.entry(j.node.clone()).or_default() += 1;
        }
        Some(i)
    }

    fn done(&mut self, node: &str) {
        if let Some(n) = self.busy.get_mut(node) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(node);
            }
        }
    }
}

fn lane(
    api: &mut dyn PveApi,
    instance: &str,
    jobs: &[DetailJob],
    queue: &Mutex<Queue>,
    results: &Mutex<Vec<Option<DetailResult>>>,
) {
    loop {
        let next = queue.lock().map(|mut q| q.take(jobs)).unwrap_or(None);
        let Some(i) = next else { return };
        let Some(job) = jobs.get(i) else { return };
        let result = fetch(api, instance, job);
        if let Ok(mut q) = queue.lock() {
            q.done(&job.node);
        }
        if let Ok(mut r) = results.lock() {
            if let Some(slot) = r.get_mut(i) {
                *slot = Some(result);
            }
        }
    }
}

impl DetailFetcher for Lanes<'_> {
    fn fetch_all(
        &mut self,
        api: &mut dyn PveApi,
        instance: &str,
        jobs: &[DetailJob],
    ) -> Vec<DetailResult> {
        if self.extra.is_empty() || jobs.len() < 2 {
            return jobs.iter().map(|j| fetch(api, instance, j)).collect();
        }
        let queue = Mutex::new(Queue {
            waiting: (0..jobs.len()).collect(),
            busy: BTreeMap::new(),
        });
        let results: Mutex<Vec<Option<DetailResult>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        let lanes = self.extra.len().min(jobs.len() - 1);
        std::thread::scope(|s| {
            for client in self.extra.iter_mut().take(lanes) {
                let (queue, results, cancel) = (&queue, &results, self.cancel.clone());
                let spawned = std::thread::Builder::new()
                    .name("poll-lane".into())
                    .spawn_scoped(s, move || {
                        let mut cancellable = Cancellable::new(client, cancel);
                        let mut guard = SlowNodeGuard::new(&mut cancellable);
                        lane(&mut guard, instance, jobs, queue, results);
                    });
                if spawned.is_err() {
                    // No thread: the poll's own lane does the work.
                    break;
                }
            }
            lane(api, instance, jobs, &queue, &results);
        });
        let results = results.into_inner().unwrap_or_default();
        results
            .into_iter()
            .zip(jobs)
            .map(|(r, job)| r.unwrap_or_else(|| fetch(api, instance, job)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::details::DetailKind;

    fn job(node: &str, vmid: u32) -> DetailJob {
        DetailJob {
            guest: format!("x-{node}-{vmid}"),
            node: node.into(),
            vmid,
            kind: DetailKind::VmStatus,
            state: "running".into(),
            guest_kind: "qemu",
        }
    }

    #[test]
    fn queue_spreads_lanes_over_nodes() {
        let jobs = vec![job("a", 1), job("a", 2), job("b", 3), job("c", 4)];
        let mut q = Queue {
            waiting: (0..4).collect(),
            busy: BTreeMap::new(),
        };
        assert_eq!(q.take(&jobs), Some(0));
        assert_eq!(q.take(&jobs), Some(2), "node a is busy: b next");
        assert_eq!(q.take(&jobs), Some(3));
        assert_eq!(q.take(&jobs), Some(1), "only a is left: taken anyway");
        assert_eq!(q.take(&jobs), None);
        q.done("a");
        assert!(q.busy.contains_key("a"), "a second lane still on a");
        q.done("a");
        assert!(!q.busy.contains_key("a"));
    }
}
