//! Metric history at the size the issue names: 50 nodes, 3,000 guests, 100 storages, fed
//! in-process with synthetic samples on a simulated clock (10 s polls).

use pulse::history::{store, History, Kind};
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

const NODES: usize = 50;
const GUESTS: usize = 3000;
const STORAGES: usize = 100;

fn cycle(h: &mut History, ids: &[(String, Kind)], t: i64) {
    for (i, (id, kind)) in ids.iter().enumerate() {
        let x = ((t / 10 + i as i64) % 100) as f64;
        match kind {
            Kind::Guest => h.record(
                id,
                *kind,
                t,
                &[x, 40.0 + x / 4.0, 30.0, x * 1e4, x * 2e4, x * 3e5, x * 1e5],
            ),
            Kind::Node => h.record(id, *kind, t, &[x, 60.0, 20.0]),
            Kind::Storage => h.record(id, *kind, t, &[x / 2.0, 1e11 + x * 1e9, 4e12, 3e12]),
        }
    }
}

#[test]
#[ignore]
fn history_memory_cost_and_disk_size_at_3000_guests() {
    let ids: Vec<(String, Kind)> = (0..NODES)
        .map(|n| (format!("pve-node{n}"), Kind::Node))
        .chain((0..GUESTS).map(|g| (format!("pve-node{}-{}", g % NODES, 100 + g), Kind::Guest)))
        .chain((0..STORAGES).map(|s| (format!("pve-node{}-local-{s}", s % NODES), Kind::Storage)))
        .collect();
    let rss0 = rss_kib();
    let mut h = History::new();
    let start = 1_800_000_000i64;
    let mut t = start;
    let mut cycle_ns = Vec::new();
    let mut rss_1h = 0;
    let day = start + 86_400;
    while t < day {
        let c = Instant::now();
        cycle(&mut h, &ids, t);
        cycle_ns.push(c.elapsed().as_nanos() as u64);
        if t == start + 3600 {
            rss_1h = rss_kib();
        }
        t += 10;
    }
    let rss_day = rss_kib();
    cycle_ns.sort_unstable();
    let p50 = cycle_ns[cycle_ns.len() / 2] as f64 / 1e6;
    let p99 = cycle_ns[cycle_ns.len() * 99 / 100] as f64 / 1e6;
    // A save as the loop does it: 200 resources per tick.
    let mut partial = store::Partial::start(&h);
    let mut slices = Vec::new();
    loop {
        let c = Instant::now();
        let done = partial.step(&h, 200);
        slices.push(c.elapsed().as_secs_f64() * 1e3);
        if done {
            break;
        }
    }
    drop(partial.finish());
    let slice_max = slices.iter().cloned().fold(0.0, f64::max);
    let c = Instant::now();
    let bytes = store::encode(&h);
    let encode_ms = c.elapsed().as_secs_f64() * 1e3;
    let c = Instant::now();
    let back = store::decode(&bytes).expect("decodes");
    let decode_ms = c.elapsed().as_secs_f64() * 1e3;
    assert_eq!(back.resources.len(), ids.len());
    let c = Instant::now();
    let mut points = 0;
    for (id, kind) in &ids {
        for m in 0..kind.metrics().len() {
            points += h.points(id, m, 3, start, day).len();
        }
    }
    let read_ms = c.elapsed().as_secs_f64() * 1e3;
    let series: usize = ids.iter().map(|(_, k)| k.metrics().len()).sum();
    println!("| measure | value |\n|---|---|");
    println!("| resources / series | {} / {series} |", ids.len());
    println!(
        "| history RSS after 1 h (simulated) | {:.1} MiB |",
        (rss_1h - rss0) as f64 / 1024.0
    );
    println!(
        "| history RSS after 24 h (simulated) | {:.1} MiB |",
        (rss_day - rss0) as f64 / 1024.0
    );
    println!(
        "| RSS growth 1 h → 24 h | {} KiB |",
        rss_day as i64 - rss_1h as i64
    );
    println!(
        "| recording one full cycle (3,150 resources) p50 / p99 | {p50:.2} ms / {p99:.2} ms |"
    );
    println!(
        "| on disk | {:.1} MiB ({} bytes per series) |",
        bytes.len() as f64 / 1048576.0,
        bytes.len() / series
    );
    println!(
        "| a save on the loop: {} ticks of 200 resources, slowest | {slice_max:.1} ms |",
        slices.len()
    );
    println!("| whole encode + checksum (shutdown) / decode at start | {encode_ms:.1} ms / {decode_ms:.1} ms |");
    println!("| read 7 d tier of every series ({points} points) | {read_ms:.1} ms |");
}
