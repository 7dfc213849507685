//! Per-guest details on a budget.
//!
//! `/cluster/resources` gives every live figure of every guest in one request; what only a
//! per-guest call gives (VM `status/current` for balloon and `freemem`, guest-agent
//! filesystems, interfaces and OS, container network identity, snapshots) changes slowly or
//! only corrects a live figure. Asking for all of it every cycle is thousands of requests
//! against a `pveproxy` with three workers (issue #20). So each (guest, detail) pair has an
//! age, and every cycle a [`DetailPlanner`] picks the neediest pairs whose cost fits the
//! instance's request budget: a guest never seen before first, then one whose state changed
//! since its detail was read, then the oldest detail relative to its refresh interval.
//! Memory details are refreshed more often than the slow ones (OS, config, snapshots).
//!
//! Pure bookkeeping: times are passed in, nothing here does I/O.

use std::collections::HashMap;

/// What a detail refresh fetches. The variants' order is the tie-break among equally needy
/// details: memory first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetailKind {
    /// VM `status/current` (balloon target, `freemem`, agent flag): 1 request.
    VmStatus,
    /// Guest-agent `get-fsinfo` (VM disk usage): 1 request.
    VmFilesystems,
    /// Guest-agent interfaces, OS info and agent version: up to 3 requests.
    VmAgentMeta,
    /// Container `config` plus `interfaces` when the config names no address: up to 2.
    CtNetwork,
    /// The guest's snapshot list: 1 request.
    Snapshots,
}

/// How many kinds there are (the planner keeps one slot per kind and guest).
const KINDS: usize = 5;

impl DetailKind {
    /// The most requests one refresh of this detail makes.
    pub fn cost(self) -> u32 {
        match self {
            DetailKind::VmAgentMeta => 3,
            DetailKind::CtNetwork => 2,
            DetailKind::VmStatus | DetailKind::VmFilesystems | DetailKind::Snapshots => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DetailKind::VmStatus => "vmStatus",
            DetailKind::VmFilesystems => "vmFilesystems",
            DetailKind::VmAgentMeta => "vmAgentMeta",
            DetailKind::CtNetwork => "ctNetwork",
            DetailKind::Snapshots => "snapshots",
        }
    }
}

/// How much detail an instance may ask for, and how fresh it should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailConfig {
    /// Detail requests per poll cycle (on top of the live part, which grows with nodes only).
    pub budget_per_cycle: u32,
    /// A memory detail is not refreshed more often than this (small estates get this).
    pub memory_min_ms: i64,
    /// Any other detail is not refreshed more often than this.
    pub slow_min_ms: i64,
    /// The age a memory detail should stay under; with the other target it sets how the
    /// budget is shared when it is short (details are ranked by age ÷ target).
    pub memory_target_ms: i64,
    pub slow_target_ms: i64,
}

impl Default for DetailConfig {
    /// Sized for 50 nodes / 3,000 guests at a 10 s cycle: the live part is ~35 requests
    /// (`/nodes`, `/cluster/resources`, a third of the node statuses), and 150 requests for
    /// details and the slow lanes (backups, disks, replication state: ~20 of them on
    /// average, paid from this budget by the poll) keep a cycle under 200 on average; the
    /// ~130 left hold the memory details of ~1,000 ballooning VMs under 5 minutes and
    /// everything else under 15. A 300-guest estate refreshes at the minimum gaps instead
    /// (≤ 1 min and ≤ 5 min) and spends a fraction of the budget.
    fn default() -> DetailConfig {
        DetailConfig {
            budget_per_cycle: 150,
            memory_min_ms: 45_000,
            slow_min_ms: 240_000,
            memory_target_ms: 300_000,
            slow_target_ms: 900_000,
        }
    }
}

impl DetailConfig {
    fn min_gap_ms(&self, memory: bool) -> i64 {
        if memory {
            self.memory_min_ms
        } else {
            self.slow_min_ms
        }
    }

    fn target_ms(&self, memory: bool) -> i64 {
        if memory {
            self.memory_target_ms
        } else {
            self.slow_target_ms
        }
        .max(1)
    }
}

/// A detail the live rows say a guest should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub guest: String,
    pub kind: DetailKind,
    /// Held to the memory cadence: a VM status whose guest-side figures correct the live
    /// `mem` (balloon driver reports, ballooned below max, or not read yet). A VM without
    /// them has its memory truth in the live row, so its status is re-checked slowly.
    pub memory: bool,
    /// The guest's live state (`running`, `stopped`, …); a change makes the detail urgent.
    pub state: String,
}

#[derive(Debug, Clone)]
struct Done {
    at_ms: i64,
    state: String,
}

/// Remembers when each detail was last read and decides what to read next.
#[derive(Debug, Clone, Default)]
pub struct DetailPlanner {
    pub config: DetailConfig,
    /// By guest, one slot per kind: looked up by `&str` thousands of times per cycle, so no
    /// key is built per lookup.
    done: HashMap<String, [Option<Done>; KINDS]>,
}

/// Need classes, most urgent first.
const NEW: u8 = 0;
const CHANGED: u8 = 1;
const AGED: u8 = 2;

impl DetailPlanner {
    pub fn new(config: DetailConfig) -> DetailPlanner {
        DetailPlanner {
            config,
            done: HashMap::new(),
        }
    }

    /// The details to refresh this cycle, most needy first, as indexes into `wanted`. Their
    /// summed [`DetailKind::cost`] never exceeds the budget. A detail is eligible when it was
    /// never read, its guest's state changed, or it is older than its minimum gap; eligible
    /// details are ranked new → changed → oldest relative to their target, so a short budget
    /// ages every class evenly and large estates spread their refreshes over the cycles.
    pub fn plan(&self, wanted: &[Wanted], now_ms: i64) -> Vec<usize> {
        self.plan_within(wanted, now_ms, self.config.budget_per_cycle)
    }

    /// [`DetailPlanner::plan`] with what is left of this cycle's budget.
    pub fn plan_within(&self, wanted: &[Wanted], now_ms: i64, budget: u32) -> Vec<usize> {
        let mut ranked: Vec<(u8, i64, DetailKind, usize)> = Vec::new();
        for (i, w) in wanted.iter().enumerate() {
            let interval = self.config.target_ms(w.memory);
            let (class, age) = match self.done_of(&w.guest, w.kind) {
                None => (NEW, i64::MAX),
                Some(d) if d.state != w.state => (CHANGED, now_ms - d.at_ms),
                Some(d) => (AGED, now_ms - d.at_ms),
            };
            if class == AGED && age < self.config.min_gap_ms(w.memory) {
                continue;
            }
            // How far past its minimum gap, in thousandths of the span up to its target: a
            // memory detail 50 % of the way to its target outranks a slow one at 30 %.
            let min_gap = self.config.min_gap_ms(w.memory);
            let relative = if age == i64::MAX {
                i64::MAX
            } else {
                (age - min_gap)
                    .saturating_mul(1000)
                    .checked_div((interval - min_gap).max(1))
                    .unwrap_or(i64::MAX)
            };
            ranked.push((class, relative, w.kind, i));
        }
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        let mut left = budget;
        let mut picked = Vec::new();
        for (_, _, kind, i) in ranked {
            if kind.cost() <= left {
                left -= kind.cost();
                picked.push(i);
            }
            if left == 0 {
                break;
            }
        }
        picked
    }

    /// A detail was read (or its read failed: either way it is not asked again before its
    /// interval, so a broken agent cannot eat the budget).
    pub fn record(&mut self, guest: &str, kind: DetailKind, state: &str, now_ms: i64) {
        let done = Some(Done {
            at_ms: now_ms,
            state: state.to_string(),
        });
        match self.done.get_mut(guest) {
            Some(slots) => slots[kind as usize] = done,
            None => {
                let mut slots: [Option<Done>; KINDS] = Default::default();
                slots[kind as usize] = done;
                self.done.insert(guest.to_string(), slots);
            }
        }
    }

    fn done_of(&self, guest: &str, kind: DetailKind) -> Option<&Done> {
        self.done.get(guest)?[kind as usize].as_ref()
    }

    /// Age of a detail in ms, `None` if never read.
    pub fn age_ms(&self, guest: &str, kind: DetailKind, now_ms: i64) -> Option<i64> {
        self.done_of(guest, kind).map(|d| now_ms - d.at_ms)
    }

    /// Drops what is not wanted any more (guest gone, agent switched off, VM stopped).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, DetailKind) -> bool) {
        const ALL: [DetailKind; KINDS] = [
            DetailKind::VmStatus,
            DetailKind::VmFilesystems,
            DetailKind::VmAgentMeta,
            DetailKind::CtNetwork,
            DetailKind::Snapshots,
        ];
        self.done.retain(|g, slots| {
            for kind in ALL {
                if slots[kind as usize].is_some() && !keep(g, kind) {
                    slots[kind as usize] = None;
                }
            }
            slots.iter().any(Option::is_some)
        });
    }

    /// Oldest age (ms) per kind among `wanted`, never-read details counting as `None`
    /// (how the bench and the health endpoint report freshness).
    pub fn oldest(&self, wanted: &[Wanted], now_ms: i64) -> DetailAges {
        let mut ages = DetailAges::default();
        for w in wanted {
            let age = self.age_ms(&w.guest, w.kind, now_ms);
            let slot = if w.memory {
                &mut ages.memory
            } else {
                &mut ages.other
            };
            slot.wanted += 1;
            match age {
                Some(a) => slot.oldest_ms = slot.oldest_ms.max(a),
                None => slot.missing += 1,
            }
        }
        ages
    }
}

/// Freshness of one class of details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeSummary {
    pub wanted: usize,
    /// Never read yet.
    pub missing: usize,
    pub oldest_ms: i64,
}

/// Freshness of an instance's details: memory (running VMs) and everything else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailAges {
    pub memory: AgeSummary,
    pub other: AgeSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(n: usize, kind: DetailKind) -> Vec<Wanted> {
        (0..n)
            .map(|i| Wanted {
                guest: format!("g{i}"),
                kind,
                memory: kind == DetailKind::VmStatus,
                state: "running".into(),
            })
            .collect()
    }

    fn cost(w: &[Wanted], picked: &[usize]) -> u32 {
        picked
            .iter()
            .filter_map(|i| w.get(*i))
            .map(|w| w.kind.cost())
            .sum()
    }

    #[test]
    fn plan_respects_budget_and_orders_by_need() {
        let cfg = DetailConfig {
            budget_per_cycle: 10,
            memory_min_ms: 50_000,
            slow_min_ms: 150_000,
            memory_target_ms: 100_000,
            slow_target_ms: 300_000,
        };
        let mut p = DetailPlanner::new(cfg);
        let mut w = wanted(20, DetailKind::VmStatus);
        w.extend(wanted(20, DetailKind::VmAgentMeta));
        let picked = p.plan(&w, 0);
        assert!(cost(&w, &picked) <= 10);
        assert_eq!(picked.len(), 10, "all new: memory details first");
        for i in &picked {
            p.record(&w[*i].guest, w[*i].kind, "running", 0);
        }
        // New guests come first, then changed states.
        if let Some(x) = w.get_mut(0) {
            x.state = "stopped".into();
        }
        let picked = p.plan(&w, 1_000);
        assert!(!picked.contains(&0), "new details come before changed ones");
        assert!(cost(&w, &picked) <= 10);
    }

    #[test]
    fn changed_state_comes_before_aged() {
        let cfg = DetailConfig {
            budget_per_cycle: 1,
            memory_min_ms: 100,
            slow_min_ms: 100,
            memory_target_ms: 100,
            slow_target_ms: 100,
        };
        let mut p = DetailPlanner::new(cfg);
        let mut w = wanted(3, DetailKind::VmStatus);
        for x in &w {
            p.record(&x.guest, x.kind, "running", 0);
        }
        if let Some(x) = w.get_mut(2) {
            x.state = "stopped".into();
        }
        assert_eq!(p.plan(&w, 1_000), vec![2]);
        p.record("g2", DetailKind::VmStatus, "stopped", 1_000);
        assert_eq!(p.plan(&w, 1_010), vec![0], "then the oldest");
    }

    #[test]
    fn fresh_details_are_not_refetched() {
        let mut p = DetailPlanner::new(DetailConfig::default());
        let w = wanted(5, DetailKind::Snapshots);
        for x in &w {
            p.record(&x.guest, x.kind, "running", 0);
        }
        assert!(p.plan(&w, 1_000).is_empty());
        assert_eq!(p.plan(&w, 240_000).len(), 5, "past the minimum gap");
    }

    /// Runs `cycles` 10 s cycles, recording every planned detail; returns the worst
    /// (memory, other) ages seen after `warmup` cycles.
    /// What the default budget leaves the details at 50 nodes after the slow lanes' share.
    const DETAIL_SHARE_AT_50_NODES: u32 = 130;

    fn simulate(w: &[Wanted], cycles: i64, warmup: i64) -> (i64, i64) {
        let mut p = DetailPlanner::new(DetailConfig {
            budget_per_cycle: DETAIL_SHARE_AT_50_NODES,
            ..DetailConfig::default()
        });
        let mut worst = (0, 0);
        for cycle in 0..cycles {
            let now = cycle * 10_000;
            let picked = p.plan(w, now);
            assert!(
                cost(w, &picked) <= DETAIL_SHARE_AT_50_NODES,
                "budget exceeded"
            );
            for i in picked {
                let x = &w[i];
                p.record(&x.guest, x.kind, &x.state, now);
            }
            if cycle > warmup {
                let ages = p.oldest(w, now);
                assert_eq!(ages.memory.missing + ages.other.missing, 0);
                worst.0 = worst.0.max(ages.memory.oldest_ms);
                worst.1 = worst.1.max(ages.other.oldest_ms);
            }
        }
        worst
    }

    fn estate(
        memory_vms: usize,
        quiet_vms: usize,
        agents: usize,
        cts: usize,
        all: usize,
    ) -> Vec<Wanted> {
        let mut w = wanted(memory_vms, DetailKind::VmStatus);
        w.extend((0..quiet_vms).map(|i| Wanted {
            guest: format!("q{i}"),
            kind: DetailKind::VmStatus,
            memory: false,
            state: "running".into(),
        }));
        w.extend(wanted(agents, DetailKind::VmFilesystems));
        w.extend(wanted(agents, DetailKind::VmAgentMeta));
        w.extend(wanted(cts, DetailKind::CtNetwork));
        w.extend(wanted(all, DetailKind::Snapshots));
        w
    }

    #[test]
    fn ages_are_bounded_at_3000_guests_with_the_default_budget() {
        // The simulator's 3,000-guest estate: ~1,000 ballooning VMs, ~580 without guest
        // figures, ~870 with an agent, ~790 running containers, ~2,770 guests.
        let w = estate(1_000, 580, 870, 790, 2_770);
        let (memory, other) = simulate(&w, 600, 300);
        assert!(memory <= 300_000, "memory details {memory} ms old");
        assert!(other <= 900_000, "other details {other} ms old");
    }

    #[test]
    fn small_estates_are_fresher_and_cheaper() {
        let w = estate(100, 60, 90, 80, 280);
        let mut p = DetailPlanner::new(DetailConfig::default());
        let mut spent = 0u32;
        for cycle in 0..200i64 {
            let now = cycle * 10_000;
            let picked = p.plan(&w, now);
            if cycle >= 100 {
                spent += cost(&w, &picked);
            }
            for i in picked {
                let x = &w[i];
                p.record(&x.guest, x.kind, &x.state, now);
            }
            if cycle > 100 {
                let ages = p.oldest(&w, now);
                assert!(ages.memory.oldest_ms <= 60_000, "{ages:?}");
                assert!(ages.other.oldest_ms <= 300_000, "{ages:?}");
            }
        }
        assert!(
            spent / 100 < 60,
            "{} detail requests per cycle",
            spent / 100
        );
    }
}
