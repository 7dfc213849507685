//! Requests per cycle against the project's simulator, counted by the simulator per path
//! family: the live part of a cycle costs the same for 100 and for 1,000 guests, per-guest
//! detail requests never exceed the budget, and detail ages stay bounded.

use pulse::monitor::poll_pve::{poll_pve, BackupPolicy, PvePollContext, PveSettings};
use pulse::proxmox::{Product, PveClient};
use pulse::sim::{SimClientConfig, SimClock, SimConfig, SimHandle, Simulator};
use std::collections::BTreeMap;

const EPOCH: i64 = 1_750_000_000;
const T0: i64 = EPOCH * 1000;

fn sim(nodes: usize, guests: usize) -> SimHandle {
    Simulator::start(SimConfig {
        nodes,
        guests,
        seed: 11,
        clock: SimClock::Frozen(EPOCH),
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

fn settings(sim: &SimHandle) -> PveSettings {
    PveSettings {
        is_cluster: true,
        cluster_name: "sim-cluster".into(),
        ..PveSettings::new("sim", &sim.https_url(Product::Pve))
    }
}

/// (live, per-guest) PVE requests of one count snapshot: a per-guest path names a vmid.
fn split(counts: &BTreeMap<String, u64>) -> (u64, u64) {
    let pve = counts.iter().filter(|(k, _)| k.starts_with("pve "));
    let (mut live, mut guest) = (0, 0);
    for (k, n) in pve {
        if k.contains("{vmid}") {
            guest += n;
        } else {
            live += n;
        }
    }
    (live, guest)
}

/// Each cycle's (live, per-guest) request counts and its live requests by path family.
type CycleCounts = (Vec<(u64, u64)>, Vec<BTreeMap<String, u64>>);

/// Runs `cycles` polls 10 s apart.
fn run(sim: &SimHandle, ctx: &mut PvePollContext, cycles: i64) -> CycleCounts {
    let mut client = PveClient::new(&sim.token_config(Product::Pve)).expect("client");
    let mut per_cycle = Vec::new();
    let mut families = Vec::new();
    for c in 0..cycles {
        sim.reset_request_counts();
        poll_pve(&mut client, ctx, T0 + c * 10_000).expect("poll succeeds");
        let counts = sim.request_counts();
        per_cycle.push(split(&counts));
        families.push(
            counts
                .into_iter()
                .filter(|(k, _)| !k.contains("{vmid}"))
                .collect(),
        );
    }
    (per_cycle, families)
}

#[test]
fn live_part_is_the_same_for_100_and_1000_guests_and_details_keep_the_budget() {
    let (small, large) = (sim(5, 100), sim(5, 1_000));
    let mut small_ctx = PvePollContext::new(settings(&small), 1);
    let mut large_ctx = PvePollContext::new(settings(&large), 1);
    let budget = u64::from(large_ctx.details.config.budget_per_cycle);
    let (small_counts, small_families) = run(&small, &mut small_ctx, 4);
    let (large_counts, large_families) = run(&large, &mut large_ctx, 4);
    for c in 0..4 {
        assert_eq!(
            small_families[c], large_families[c],
            "cycle {c}: live requests by path family"
        );
        let ((small_live, small_guest), (large_live, large_guest)) =
            (small_counts[c], large_counts[c]);
        assert_eq!(small_live, large_live);
        assert!(
            small_live > 0 && small_live < 40,
            "{small_live} live requests for 5 nodes"
        );
        assert!(
            small_guest <= budget && large_guest <= budget,
            "cycle {c}: budget"
        );
    }
    // The large estate has more details to read than one budget: it spends it.
    assert!(large_counts[0].1 > budget / 2, "{:?}", large_counts[0]);
    assert!(
        large_ctx.last_detail_cost <= large_ctx.details.config.budget_per_cycle,
        "planned cost within the budget"
    );
}

#[test]
fn a_smaller_budget_is_respected_and_detail_ages_stay_bounded() {
    let s = sim(3, 300);
    let mut ctx = PvePollContext::new(settings(&s), 2);
    ctx.details.config.budget_per_cycle = 40;
    let (counts, _) = run(&s, &mut ctx, 3);
    for (c, (_, guest)) in counts.iter().enumerate() {
        assert!(*guest <= 40, "cycle {c}: {guest} detail requests");
    }

    // Default budget, 300 guests, a quarter of an hour of cycles: after the start-up backlog every
    // running VM's memory detail is at most a minute old and everything else at most 5.
    let mut ctx = PvePollContext::new(settings(&s), 3);
    let mut client = PveClient::new(&s.token_config(Product::Pve)).expect("client");
    let mut worst = (0, 0);
    for c in 0..100i64 {
        poll_pve(&mut client, &mut ctx, T0 + c * 10_000).expect("poll");
        let ages = ctx.detail_ages;
        if c >= 30 {
            assert_eq!(ages.memory.missing + ages.other.missing, 0, "{ages:?}");
            worst.0 = worst.0.max(ages.memory.oldest_ms);
            worst.1 = worst.1.max(ages.other.oldest_ms);
        }
    }
    assert!(ctx.detail_ages.memory.wanted > 50, "{:?}", ctx.detail_ages);
    assert!(worst.0 <= 60_000, "memory details up to {} ms old", worst.0);
    assert!(worst.1 <= 300_000, "other details up to {} ms old", worst.1);
}

/// Requests of one path family in one cycle's counts.
fn family(counts: &BTreeMap<String, u64>, name: &str) -> u64 {
    counts.get(&format!("pve {name}")).copied().unwrap_or(0)
}

#[test]
fn slow_lanes_are_paid_from_the_budget_so_the_average_stays_at_live_plus_budget() {
    // 1,000 guests on 5 nodes with a budget the details never run out of work for: without
    // the slow lanes (backups every 10th poll, disks every 5 min, replication state) sharing
    // the budget, every cycle would spend the whole budget on top of them.
    let s = sim(5, 1_000);
    let mut ctx = PvePollContext::new(settings(&s), 4);
    ctx.details.config.budget_per_cycle = 50;
    let budget = u64::from(ctx.details.config.budget_per_cycle);
    // 30 cycles: the detail backlog lasts longer than that at this budget.
    let (counts, families) = run(&s, &mut ctx, 30);
    let slow_lane = |f: &BTreeMap<String, u64>| -> u64 {
        [
            "/nodes/{node}/tasks",
            "/nodes/{node}/storage/{storage}/content",
            "/nodes/{node}/disks/list",
            "/nodes/{node}/replication",
            "/nodes/{node}/disks/zfs",
            "/nodes/{node}/disks/zfs/{name}",
        ]
        .iter()
        .map(|name| family(f, name))
        .sum()
    };
    let slow: u64 = families.iter().map(slow_lane).sum();
    let details: u64 = counts.iter().map(|(_, guest)| *guest).sum();
    assert!(slow >= 30, "backups and disks were listed: {slow} requests");
    // What the last cycle's slow lanes cost is paid by the cycles after it.
    let unpaid = slow_lane(&families[families.len() - 1]);
    assert!(
        details + slow <= budget * counts.len() as u64 + unpaid,
        "{details} detail + {slow} slow-lane requests in {} cycles (budget {budget} each)",
        counts.len()
    );
    // And the details still got most of it.
    assert!(details >= budget * 25, "{details} detail requests");
}

#[test]
fn backup_listing_follows_the_system_backup_settings() {
    let s = sim(3, 60);
    let tasks_per_cycle = |policy: BackupPolicy, cycles: i64| -> Vec<u64> {
        let mut ctx = PvePollContext::new(settings(&s), 5);
        ctx.backup_policy = policy;
        let (_, families) = run(&s, &mut ctx, cycles);
        families
            .iter()
            .map(|f| family(f, "/nodes/{node}/tasks"))
            .collect()
    };
    // Default: the second poll, then every 10th.
    let listed: Vec<usize> = tasks_per_cycle(BackupPolicy::default(), 25)
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, _)| c)
        .collect();
    assert_eq!(listed, vec![1, 11, 21]);
    // An interval of 60 s: every 6th cycle of 10 s.
    let every_minute = BackupPolicy {
        enabled: true,
        interval_ms: 60_000,
    };
    let listed: Vec<usize> = tasks_per_cycle(every_minute, 14)
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, _)| c)
        .collect();
    assert_eq!(listed, vec![1, 7, 13]);
    // Off: never, and no snapshot lists either.
    let off = BackupPolicy {
        enabled: false,
        interval_ms: 0,
    };
    let mut ctx = PvePollContext::new(settings(&s), 6);
    ctx.backup_policy = off;
    let (_, families) = run(&s, &mut ctx, 15);
    for (c, f) in families.iter().enumerate() {
        assert_eq!(family(f, "/nodes/{node}/tasks"), 0, "cycle {c}");
        assert_eq!(
            family(f, "/nodes/{node}/storage/{storage}/content"),
            0,
            "cycle {c}"
        );
    }
    assert!(!ctx.backups_wanted());
}

/// ZFS requests (pool lists, pool details) of each cycle.
fn zfs_per_cycle(families: &[BTreeMap<String, u64>]) -> Vec<(u64, u64)> {
    let get = |f: &BTreeMap<String, u64>, k: &str| f.get(k).copied().unwrap_or(0);
    families
        .iter()
        .map(|f| {
            (
                get(f, "pve /nodes/{node}/disks/zfs"),
                get(f, "pve /nodes/{node}/disks/zfs/{name}"),
            )
        })
        .collect()
}

#[test]
fn zfs_pools_are_read_on_the_slow_cadence_only() {
    // Five nodes, each with `local-zfs` on one pool: one list and one detail per node, on the
    // first cycle and again 5 minutes (30 cycles) later, never in between.
    let s = sim(5, 50);
    let mut ctx = PvePollContext::new(settings(&s), 4);
    let (_, families) = run(&s, &mut ctx, 32);
    let zfs = zfs_per_cycle(&families);
    for (c, counts) in zfs.iter().enumerate() {
        let want = if c == 0 || c == 30 { (5, 5) } else { (0, 0) };
        assert_eq!(*counts, want, "cycle {c}: ZFS (lists, details)");
    }
    // The disks keep their own cadence beside it (second cycle, then 5 minutes later).
    let disks: Vec<u64> = families
        .iter()
        .map(|f| f.get("pve /nodes/{node}/disks/list").copied().unwrap_or(0))
        .collect();
    assert_eq!((disks[1], disks[2], disks[31]), (5, 0, 5), "{disks:?}");

    // A large cluster's reads spread over cycles: at most 8 nodes per cycle, every node read
    // once per interval.
    let big = sim(20, 40);
    let mut ctx = PvePollContext::new(settings(&big), 5);
    let (_, families) = run(&big, &mut ctx, 30);
    let zfs = zfs_per_cycle(&families);
    assert!(zfs.iter().all(|(l, d)| *l <= 8 && *d <= 8), "{zfs:?}");
    let lists: u64 = zfs.iter().map(|(l, _)| l).sum();
    assert_eq!(lists, 20, "each node once in 5 minutes: {zfs:?}");
    assert_eq!(zfs[0], (8, 8));

    // Switched off (`PULSE_DISABLE_ZFS_MONITORING`): no request at all.
    let mut ctx = PvePollContext::new(settings(&s), 6);
    ctx.slow.zfs = false;
    let (_, families) = run(&s, &mut ctx, 3);
    assert!(zfs_per_cycle(&families).iter().all(|c| *c == (0, 0)));
}

/// The monitor hands the system's backup settings to every PVE poll it starts.
#[test]
fn the_monitor_applies_the_backup_settings_to_running_instances() {
    use pulse::monitor::{MonitorCore, SchedulerConfig};
    let s = sim(3, 30);
    let tasks_over = |policy: Option<BackupPolicy>| -> u64 {
        let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
        core.add_pve(&s.token_config(Product::Pve), settings(&s), T0)
            .expect("instance added");
        if let Some(p) = policy {
            // Set after the instance exists: it applies from its next poll on.
            core.set_pve_backup_policy(p);
        }
        s.reset_request_counts();
        for c in 0..4 {
            let now = T0 + c * 10_000;
            for job in core.start_due(now, 4) {
                let outcome = job.run(now);
                core.finish(outcome, now + 100);
            }
        }
        family(&s.request_counts(), "/nodes/{node}/tasks")
    };
    assert!(tasks_over(None) > 0, "backups listed by default");
    let off = BackupPolicy {
        enabled: false,
        interval_ms: 0,
    };
    assert_eq!(tasks_over(Some(off)), 0);
}

#[test]
fn the_detail_budget_is_configurable_per_monitor() {
    use pulse::monitor::{MonitorCore, SchedulerConfig};
    let s = sim(3, 300);
    let details_per_cycle = |budget: Option<u32>| -> Vec<u64> {
        let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
        core.set_detail_budget(budget);
        core.add_pve(&s.token_config(Product::Pve), settings(&s), T0)
            .expect("instance added");
        (0..3)
            .map(|c| {
                s.reset_request_counts();
                let now = T0 + c * 10_000;
                for job in core.start_due(now, 4) {
                    let outcome = job.run(now);
                    core.finish(outcome, now + 100);
                }
                split(&s.request_counts()).1
            })
            .collect()
    };
    let small = details_per_cycle(Some(12));
    assert!(small.iter().all(|n| *n <= 12), "{small:?}");
    assert!(
        small.iter().any(|n| *n > 0),
        "it still reads details: {small:?}"
    );
    let default = details_per_cycle(None);
    assert!(default.iter().any(|n| *n > 12), "{default:?}");
}
