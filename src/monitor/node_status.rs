//! Node `status` on its own cadence.
//!
//! `/nodes` gives every node's live figures (cpu, mem, disk, uptime) in one request each
//! cycle; `nodes/{node}/status` adds what changes slowly (load average, swap, versions, CPU
//! model, `memory.available` on PVE 9) and costs one request per node. Reading it for every
//! node every cycle was a quarter of a 50-node cluster's requests (issue #20), so each node's
//! status is re-read every [`NODE_STATUS_INTERVAL_MS`], the reads spread evenly over the
//! cycles in between. Between reads the memory figure stays true by applying the last read's
//! correction to the live `/nodes` value (`pve-polling.md` §4: both are the same `memused`
//! within ~10 s, except that PVE 9's `available` is more exact).
//!
//! Pure bookkeeping: times are passed in, nothing here does I/O.

use crate::proxmox::pve_types::{NodeListEntry, NodeStatus};
use std::collections::{BTreeSet, HashMap};

/// How often a node's `status` is read.
pub const NODE_STATUS_INTERVAL_MS: i64 = 30_000;

#[derive(Debug, Clone)]
struct Held {
    at_ms: i64,
    status: NodeStatus,
    /// Derived used memory minus the `/nodes` `mem` of the same cycle.
    used_offset: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct NodeStatusCache {
    held: HashMap<String, Held>,
    last_poll_ms: Option<i64>,
}

impl NodeStatusCache {
    /// The online nodes whose status is read this cycle: every node never read, then the
    /// oldest reads at least the interval old, no more than the share of nodes the time
    /// since the last poll is of the interval (so a 10 s cycle reads a third of them).
    pub fn due(&mut self, online: &[&str], now_ms: i64) -> BTreeSet<String> {
        let elapsed = self.last_poll_ms.map_or(i64::MAX, |t| (now_ms - t).max(0));
        self.last_poll_ms = Some(now_ms);
        let mut due: BTreeSet<String> = online
            .iter()
            .filter(|n| !self.held.contains_key(**n))
            .map(|n| n.to_string())
            .collect();
        let share = if elapsed >= NODE_STATUS_INTERVAL_MS {
            online.len()
        } else {
            let n = online.len() as i64;
            ((n * elapsed + NODE_STATUS_INTERVAL_MS - 1) / NODE_STATUS_INTERVAL_MS) as usize
        };
        let mut aged: Vec<(i64, &str)> = online
            .iter()
            .filter_map(|n| self.held.get(*n).map(|h| (h.at_ms, *n)))
            .filter(|(at, _)| now_ms - at >= NODE_STATUS_INTERVAL_MS)
            .collect();
        aged.sort_unstable();
        due.extend(aged.iter().take(share).map(|(_, n)| n.to_string()));
        due
    }

    /// Keeps a fresh read and the memory correction it implies.
    pub fn store(&mut self, node: &str, status: &NodeStatus, list: &NodeListEntry, used: i64) {
        let used_offset = list
            .mem
            .and_then(|m| i64::try_from(m).ok())
            .map(|m| used - m);
        self.held.insert(
            node.to_string(),
            Held {
                at_ms: self.last_poll_ms.unwrap_or(0),
                status: status.clone(),
                used_offset,
            },
        );
    }

    /// The last read, for a cycle that did not read it: the slow fields as they were, the
    /// fields `/nodes` has live (uptime, root filesystem) left out so the live ones are used,
    /// and used memory as the live `mem` plus the last read's correction.
    pub fn held(&self, node: &str, list: &NodeListEntry) -> Option<(NodeStatus, Option<i64>)> {
        let h = self.held.get(node)?;
        let mut status = h.status.clone();
        status.uptime = None;
        status.rootfs = None;
        let used = match (h.used_offset, list.mem.and_then(|m| i64::try_from(m).ok())) {
            (Some(offset), Some(mem)) => Some(mem.saturating_add(offset).max(0)),
            _ => None,
        };
        Some((status, used))
    }

    /// Forgets nodes that are no longer online (an offline node's next status is read fresh).
    pub fn retain_online(&mut self, online: &[String]) {
        self.held.retain(|n, _| online.iter().any(|o| o == n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("pve{i}")).collect()
    }

    #[test]
    fn reads_spread_over_the_interval_and_every_node_stays_fresh() {
        let nodes = names(50);
        let online: Vec<&str> = nodes.iter().map(String::as_str).collect();
        let mut cache = NodeStatusCache::default();
        let list = NodeListEntry::default();
        let mut last_read: HashMap<String, i64> = HashMap::new();
        let mut per_cycle = Vec::new();
        for cycle in 0..60i64 {
            let now = cycle * 10_000;
            let due = cache.due(&online, now);
            per_cycle.push(due.len());
            for n in &due {
                cache.store(n, &NodeStatus::default(), &list, 0);
                last_read.insert(n.clone(), now);
            }
            if cycle > 6 {
                for n in &nodes {
                    let age = now - last_read[n];
                    assert!(age <= NODE_STATUS_INTERVAL_MS + 10_000, "{n}: {age} ms");
                }
            }
        }
        assert_eq!(per_cycle[0], 50, "every node read on the first poll");
        let steady: usize = per_cycle[10..].iter().sum();
        assert!(
            steady <= 50 * 50 / 3 + 50,
            "{steady} reads over 50 cycles: {per_cycle:?}"
        );
        assert!(per_cycle[10..].iter().all(|n| *n <= 17), "{per_cycle:?}");
    }

    #[test]
    fn held_memory_follows_the_live_figure_with_the_last_correction() {
        let mut cache = NodeStatusCache::default();
        let _ = cache.due(&["a"], 0);
        let at_read = NodeListEntry {
            mem: Some(4_000),
            ..NodeListEntry::default()
        };
        cache.store("a", &NodeStatus::default(), &at_read, 3_500);
        let later = NodeListEntry {
            mem: Some(5_000),
            ..NodeListEntry::default()
        };
        let (_, used) = cache.held("a", &later).expect("held");
        assert_eq!(used, Some(4_500));
        cache.retain_online(&[]);
        assert!(cache.held("a", &later).is_none());
    }

    #[test]
    fn a_longer_poll_interval_reads_every_node_each_time() {
        let mut cache = NodeStatusCache::default();
        let list = NodeListEntry::default();
        for cycle in 0..3i64 {
            let due = cache.due(&["a", "b", "c"], cycle * 60_000);
            assert_eq!(due.len(), 3, "cycle {cycle}");
            for n in &due {
                cache.store(n, &NodeStatus::default(), &list, 0);
            }
        }
    }
}
