//! The event loop's own cost per poll cycle at 50 nodes / 3,000 guests, and its longest stall
//! (issue #10: the `/api/state` snapshot is serialised and gzipped off the loop).

use super::loop_latency::LoopProbe;
use super::*;

/// CPU seconds of the threads whose name starts with `prefix`.
fn cpu_of(threads: &std::collections::BTreeMap<String, f64>, prefix: &str) -> f64 {
    threads
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, s)| s)
        .sum()
}

#[test]
#[ignore]
pub(crate) fn state_feed_loop_cpu_3000_guests() {
    const NODES: usize = 50;
    const GUESTS: usize = 3000;
    // Thread CPU comes in 10 ms clock ticks: over 12 cycles a tick is 0.8 ms per cycle.
    const CYCLES: usize = 12;
    const PROBED_CYCLES: usize = 3;
    let (_sim, pulse) = monitoring::pulse_polling_sim(NODES, GUESTS);
    assert_eq!(
        wait_cycles(&pulse, 2, Duration::from_secs(180)).len(),
        2,
        "polls did not finish"
    );
    let body = util::http(pulse.addr, "GET", "/api/state", &[], None)
        .body
        .len();
    // CPU first, with nothing else talking to the loop.
    let cpu0 = pulse.cpu_secs();
    let t0 = pulse.cpu_by_thread();
    let w0 = Instant::now();
    let seen = wait_cycles(&pulse, CYCLES, Duration::from_secs(180));
    let wall = w0.elapsed();
    let cpu = pulse.cpu_secs() - cpu0;
    let t1 = pulse.cpu_by_thread();
    // Then the stalls: the probe keeps the loop busy itself, so it runs on its own.
    let probe = LoopProbe::start(pulse.addr);
    let probed = wait_cycles(&pulse, PROBED_CYCLES, Duration::from_secs(120)).len();
    let (probes, p50, p99, max) = probe.finish();
    drop(pulse);
    let c = seen.len().max(1) as f64;
    let delta = |prefix: &str| (cpu_of(&t1, prefix) - cpu_of(&t0, prefix)) / c;
    println!("\n#### Event loop per poll cycle: {NODES} nodes, {GUESTS} guests\n");
    println!("| measure | value |\n|---|---|");
    println!("| `/api/state` body | {:.0} KiB |", body as f64 / 1024.0);
    println!(
        "| cycles measured | {} in {:.1} s |",
        seen.len(),
        wall.as_secs_f64()
    );
    println!(
        "| event-loop CPU per cycle | {:.1} ms |",
        1000.0 * delta("event-loop")
    );
    println!(
        "| task pool CPU per cycle (snapshot JSON + gzip + frame) | {:.1} ms |",
        1000.0 * delta("task-")
    );
    println!(
        "| poll workers CPU per cycle | {:.1} ms |",
        1000.0 * delta("poll")
    );
    println!(
        "| whole process CPU per cycle | {:.1} ms |",
        1000.0 * cpu / c
    );
    println!(
        "| loop probe over {probed} more cycles (`GET /api/health` keep-alive, {probes} round trips) | p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms |"
    );
}
