//! Alerts: evaluation cost per cycle at 3,000 guests (measured in-process on a `LiveState`
//! polled from the simulator, exactly what the loop evaluates after each poll), and the size
//! of the history on disk after 100,000 alerts.
//!
//! `cargo test --release --test bench alerts_ -- --ignored --nocapture`

use pulse::alerts::config::AlertConfig;
use pulse::alerts::history::{self, History, Query};
use pulse::alerts::service::Alerts;
use pulse::alerts::threshold::Threshold;
use pulse::core::writer::Write;
use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{MonitorCore, PollOutcome, SchedulerConfig};
use pulse::proxmox::Product;
use pulse::sim::{SimClientConfig, SimClock, SimConfig, Simulator};
use pulse::state::store::ExtraArea;
use std::time::{Duration, Instant};

const EPOCH: i64 = 1_780_000_000;
/// The PVE poll interval: one evaluation per poll.
const CYCLE_MS: i64 = 10_000;

fn poll_round(core: &mut MonitorCore, now_ms: i64) {
    let jobs = core.start_due(now_ms, 8);
    let handles: Vec<std::thread::JoinHandle<PollOutcome>> = jobs
        .into_iter()
        .map(|job| std::thread::spawn(move || job.run(now_ms)))
        .collect();
    for h in handles {
        core.finish(h.join().expect("poll thread"), now_ms);
    }
}

/// CPU time this thread has run (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time it does not
/// count the time other processes on the shared cores took. (`/proc/thread-self/schedstat`,
/// used before, only moves at scheduler ticks for a running thread: its figures were
/// multiples of the 4 ms tick.)
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Run {
    samples: Vec<Duration>,
    cpu: Vec<Duration>,
    events: usize,
    active: usize,
}

fn pct(samples: &[Duration], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort();
    crate::util::ms(crate::util::percentile(&s, q))
}

impl Run {
    fn row(&self, label: &str) {
        println!(
            "| {label} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            self.samples.len(),
            self.active,
            pct(&self.cpu, 0.5),
            pct(&self.cpu, 0.99),
            pct(&self.samples, 0.5),
            pct(&self.samples, 0.99),
            pct(&self.samples, 1.0),
            self.events
        );
    }
}

/// `cycles` evaluations of the same estate, each on a new state revision (as after a poll).
fn evaluate(core: &mut MonitorCore, alerts: &mut Alerts, start_ms: i64, cycles: usize) -> Run {
    let mut run = Run {
        samples: Vec::with_capacity(cycles),
        cpu: Vec::with_capacity(cycles),
        events: 0,
        active: 0,
    };
    for i in 0..cycles {
        core.state_mut().set_extra(ExtraArea::Hosts, Vec::new());
        let now = start_ms + i as i64 * CYCLE_MS;
        let (t, c) = (Instant::now(), thread_cpu());
        let changes = alerts.evaluate(core.state(), now);
        // What the loop does next: `activeAlerts` / `recentlyResolved` into the state (one
        // serialisation, which the active-alerts file shares) and the file once it is due.
        if !changes.events.is_empty() || alerts.active().next().is_some() {
            std::hint::black_box(alerts.publication());
        }
        std::hint::black_box(alerts.active_file_due(now));
        run.samples.push(t.elapsed());
        run.cpu.push(thread_cpu().saturating_sub(c));
        run.events += changes.events.len();
    }
    run.active = alerts.active().count();
    run
}

fn active_config(tweak: impl FnOnce(&mut AlertConfig)) -> Vec<u8> {
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    tweak(&mut cfg);
    serde_json::to_vec(&cfg).unwrap()
}

fn open_with(dir: &std::path::Path, cfg: Vec<u8>, now_ms: i64) -> Alerts {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("alerts.json"), cfg).unwrap();
    Alerts::open(dir, now_ms).0
}

#[test]
#[ignore]
fn alerts_evaluation_3000_guests_and_history_size() {
    const NODES: usize = 50;
    const GUESTS: usize = 3000;
    const CYCLES: usize = 200;
    let sim = Simulator::start(SimConfig {
        nodes: NODES,
        guests: GUESTS,
        clock: SimClock::Frozen(EPOCH),
        ..SimConfig::default()
    })
    .expect("simulator");
    let now = EPOCH * 1000;
    let mut core = MonitorCore::new(SchedulerConfig::default(), 7);
    let settings = PveSettings {
        is_cluster: true,
        cluster_name: "sim".into(),
        ..PveSettings::new("bench", &sim.https_url(Product::Pve))
    };
    core.add_pve(&sim.token_config(Product::Pve), settings, now)
        .expect("instance");
    let t = Instant::now();
    poll_round(&mut core, now);
    let polled = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&core.state().to_frontend_json()).unwrap();
    let count = |k: &str| v[k].as_array().map_or(0, Vec::len);
    let (nodes, vms, cts, storages) = (
        count("nodes"),
        count("vms"),
        count("containers"),
        count("storage"),
    );
    let dir = std::env::temp_dir().join(format!("pulse-bench-alerts-{}", std::process::id()));

    // 1. Every default active, the estate as the simulator makes it (a few breaches).
    let mut alerts = open_with(&dir, active_config(|_| {}), now);
    let quiet = evaluate(&mut core, &mut alerts, now, CYCLES);

    // 2. Every metric on (the I/O rates too, off by default), low enough that every running
    //    guest breaches cpu, memory and disk: the first cycles start grace periods and fire
    //    thousands of alerts; then the steady state with all of them active.
    let mut alerts = open_with(
        &dir,
        active_config(|c| {
            let low = Some(Threshold::new(0.1, 0.05));
            let g = &mut c.guest_defaults;
            (g.cpu, g.memory, g.disk) = (low, low, low);
            (g.disk_read, g.disk_write) = (low, low);
            (g.network_in, g.network_out) = (low, low);
        }),
        now,
    );
    let pending = evaluate(&mut core, &mut alerts, now, 1);
    let t = Instant::now();
    let fire_start = now + CYCLE_MS;
    let fired = evaluate(&mut core, &mut alerts, fire_start, 1);
    let fire_total = t.elapsed();
    let steady = evaluate(&mut core, &mut alerts, fire_start + CYCLE_MS, CYCLES);
    let count = alerts.active().count();
    // A fresh serialisation (a new state revision invalidates the cached one).
    core.state_mut().set_extra(ExtraArea::Hosts, Vec::new());
    alerts.evaluate(core.state(), fire_start + (CYCLES as i64 + 1) * CYCLE_MS);
    let t = Instant::now();
    let (published, _) = alerts.publication();
    let publish = t.elapsed();
    let active_bytes = published.get().len();
    let sample = alerts.active().next().cloned().expect("an active alert");
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n#### Alert evaluation: {nodes} nodes, {vms} VMs, {cts} containers, {storages} storages (one in-process poll of the simulator, {:.1} s)\n", polled.as_secs_f64());
    println!("Per cycle = what the loop runs after a poll: `Alerts::evaluate` on a new state revision (observe the state, run the state machine, history lines for the writer), then `activeAlerts` / `recentlyResolved` serialised once for the state, and the active-alerts file (a copy of those bytes) when due.\n");
    println!(
        "Load average while measuring: {}.\n",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| run | cycles | active alerts | CPU p50 ms | CPU p99 ms | wall p50 ms | wall p99 ms | wall max ms | events |\n|---|---|---|---|---|---|---|---|---|");
    quiet.row("every default active, simulator estate as is");
    pending.row("every metric on and breached: first cycle (grace periods start)");
    fired.row("... second cycle: every alert fires");
    steady.row("... steady state, all of them active (cooldown holds reminders)");
    println!(
        "\nSerialising the {} active alerts for the state's `activeAlerts` (the file shares the bytes): {:.2} ms, {} KiB; the firing cycle including its writes: {:.1} ms.",
        count,
        crate::util::ms(publish),
        active_bytes / 1024,
        crate::util::ms(fire_total)
    );

    // History: 100,000 alerts, each fired and resolved (two lines), appended in batches of
    // 100 as an evaluation hands them to the writer, with its rotation.
    const ALERTS: usize = 100_000;
    let hdir = std::env::temp_dir().join(format!("pulse-bench-hist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&hdir);
    std::fs::create_dir_all(&hdir).unwrap();
    let path = hdir.join(history::FILE);
    let mut written = 0u64;
    let mut line_bytes = 0u64;
    let t = Instant::now();
    let mut mem = History::default();
    for batch in 0..ALERTS / 100 {
        let mut bytes = Vec::new();
        for i in 0..100 {
            let n = batch * 100 + i;
            let mut a = sample.clone();
            a.id = format!("bench-pve{}-{}-cpu", n % 50 + 1, 100 + n % 3000);
            a.resource_id = a.id.trim_end_matches("-cpu").to_string();
            let at = now + n as i64 * 1000;
            a.start_time = pulse::util::time::UtcTime::from_unix_ms(at);
            a.last_seen = a.start_time;
            let fired = mem.record(&a, at);
            line_bytes += fired.len() as u64;
            bytes.extend(fired);
            a.resolved_time = Some(pulse::util::time::UtcTime::from_unix_ms(at + 60_000));
            bytes.extend(mem.resolve(&a).unwrap_or_default());
        }
        written += bytes.len() as u64;
        Write::Append {
            path: path.clone(),
            bytes,
            mode: 0o600,
            rotate_at: Some(history::ROTATE_AT),
        }
        .perform()
        .expect("append");
    }
    let append_total = t.elapsed();
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let (cur, old) = (
        size(&path),
        size(&hdir.join(format!("{}.1", history::FILE))),
    );
    let t = Instant::now();
    let loaded = History::load(&hdir, now + ALERTS as i64 * 1000);
    let load = t.elapsed();
    let oldest = loaded
        .query(&Query::default())
        .last()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&hdir);

    println!("\n#### Alert history after {ALERTS} alerts (each fired and resolved)\n");
    println!("| measure | value |\n|---|---|");
    println!(
        "| one history line (fired) | {} bytes |",
        line_bytes / ALERTS as u64
    );
    println!(
        "| appended in total (fired + resolved lines) | {:.1} MiB in {} appends of 100 alerts, {:.1} s (one fsync each) |",
        written as f64 / 1048576.0,
        ALERTS / 100,
        append_total.as_secs_f64()
    );
    println!(
        "| on disk: `{}` + `.1` (rotated at {} MiB) | {:.2} MiB + {:.2} MiB |",
        history::FILE,
        history::ROTATE_AT / 1048576,
        cur as f64 / 1048576.0,
        old as f64 / 1048576.0
    );
    println!(
        "| loaded at start-up | {} entries kept in memory (cap {}), {:.0} ms; oldest kept `{oldest}` |",
        loaded.len(),
        history::MEMORY_CAP,
        crate::util::ms(load)
    );
    drop(sim);
}
