//! Monitoring core at 50 nodes / 3,000 guests, and WebSocket fan-out.

use super::*;

/// `lastSuccess` of the only configured instance, from the scheduler health.
pub(crate) fn last_success(pulse: &PulseProc) -> String {
    pulse.get_json("/api/monitoring/scheduler/health")["instances"][0]["pollStatus"]["lastSuccess"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `lastSuccess` changes `cycles` times (or `limit` passes); returns when each
/// change was seen.
pub(crate) fn wait_cycles(pulse: &PulseProc, cycles: usize, limit: Duration) -> Vec<Instant> {
    let end = Instant::now() + limit;
    let mut last = last_success(pulse);
    let mut seen = Vec::new();
    while seen.len() < cycles && Instant::now() < end {
        // Once a second: asking ten times a second cost Pulse as much CPU as a fifth of what
        // the benches measure (a new connection and a scheduler-health document each time).
        std::thread::sleep(Duration::from_millis(1000));
        let now = last_success(pulse);
        if now != last && !now.is_empty() {
            seen.push(Instant::now());
            last = now;
        }
    }
    seen
}

pub(crate) fn state_row(label: &str, run: &Load) {
    println!(
        "| {label} | {} | {:.0} KiB | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
        run.lat.len(),
        run.mean_bytes() as f64 / 1024.0,
        run.p(0.5),
        run.p(0.99),
        run.p(1.0),
        run.rps(),
        run.errors
    );
}

/// One client, one request at a time: the service time without queueing.
pub(crate) fn state_serial(pulse: &PulseProc) -> (Load, Load) {
    let limit = Duration::from_secs(30);
    let plain = load(pulse.addr, "/api/state", &[], 1, 30, limit);
    let gzip = load(
        pulse.addr,
        "/api/state",
        &[("Accept-Encoding", "gzip")],
        1,
        100,
        limit,
    );
    (plain, gzip)
}

/// 64 concurrent clients on `/api/state`, plain and gzip.
pub(crate) fn state_load(pulse: &PulseProc) -> (Load, Load) {
    let plain = load(
        pulse.addr,
        "/api/state",
        &[],
        64,
        6,
        Duration::from_secs(60),
    );
    let gzip = load(
        pulse.addr,
        "/api/state",
        &[("Accept-Encoding", "gzip")],
        64,
        20,
        Duration::from_secs(60),
    );
    (plain, gzip)
}

/// An in-process simulator and a Pulse process with it configured through the API (token,
/// HTTPS, pinned fingerprint).
pub(crate) fn pulse_polling_sim(nodes: usize, guests: usize) -> (pulse::sim::SimHandle, PulseProc) {
    let sim = Simulator::start(SimConfig {
        nodes,
        guests,
        seed: 7,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let pulse = PulseProc::start(&[TRUST_LOOPBACK]);
    let body = json!({
        "type": "pve",
        "name": "sim",
        "host": sim.https_url(Product::Pve),
        "tokenName": TOKEN_ID,
        "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(),
        "verifySSL": true,
    })
    .to_string();
    let added = util::http(
        pulse.addr,
        "POST",
        "/api/config/nodes",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(
        added.status,
        201,
        "{}",
        String::from_utf8_lossy(&added.body)
    );
    (sim, pulse)
}

#[test]
#[ignore]
pub(crate) fn monitoring_core_50_nodes_3000_guests() {
    const NODES: usize = 50;
    const GUESTS: usize = 3000;
    const CYCLES: usize = 5;
    let (sim, pulse) = pulse_polling_sim(NODES, GUESTS);
    let idle_rss = pulse.status("VmRSS");
    // First cycle: logins, discovery, every guest's details (the cold cost).
    let cold_cpu0 = pulse.cpu_secs();
    let t0 = Instant::now();
    assert_eq!(
        wait_cycles(&pulse, 1, Duration::from_secs(180)).len(),
        1,
        "first poll did not finish"
    );
    let first_cycle = t0.elapsed();
    let cold_cpu = pulse.cpu_secs() - cold_cpu0;
    let state = pulse.get_json("/api/state");
    let (n_nodes, n_vms, n_cts) = (
        state["nodes"].as_array().map_or(0, Vec::len),
        state["vms"].as_array().map_or(0, Vec::len),
        state["containers"].as_array().map_or(0, Vec::len),
    );

    // Steady state: CPU between cycle boundaries.
    let _ = wait_cycles(&pulse, 1, Duration::from_secs(120));
    let cpu0 = pulse.cpu_secs();
    let threads0 = pulse.cpu_by_thread();
    let requests0 = sim.request_count();
    let w0 = Instant::now();
    let seen = wait_cycles(&pulse, CYCLES, Duration::from_secs(240));
    let cycles = seen.len().max(1);
    let steady_wall = seen.last().map_or(w0.elapsed(), |t| t.duration_since(w0));
    let steady_cpu = pulse.cpu_secs() - cpu0;
    let sim_requests = sim.request_count() - requests0;
    let by_thread: Vec<(String, f64)> = pulse
        .cpu_by_thread()
        .into_iter()
        .map(|(name, secs)| {
            let before = threads0.get(&name).copied().unwrap_or(0.0);
            (name, (secs - before) / cycles as f64)
        })
        .filter(|(_, per_cycle)| *per_cycle >= 0.005)
        .collect();
    let rss = pulse.status("VmRSS");
    let hwm_before_load = pulse.status("VmHWM");

    let (one_plain, one_gzip) = state_serial(&pulse);
    let (plain, gzip) = state_load(&pulse);
    let hwm_after_load = pulse.status("VmHWM");

    // One node answers after 30 s; measure while the poller is stuck on it.
    let slow = "/nodes/pve7/";
    sim.set_fault(slow, Fault::Latency { ms: 30_000 });
    std::thread::sleep(Duration::from_secs(4));
    let fault_started = Instant::now();
    let (slow_plain, slow_gzip) = state_load(&pulse);
    let load_during_fault = fault_started.elapsed();
    let stuck_since = last_success(&pulse);
    let slow_cycle = wait_cycles(&pulse, 1, Duration::from_secs(120));
    let slow_cycle_end = slow_cycle
        .first()
        .map(|t| {
            format!(
                "{:.1} s",
                t.duration_since(fault_started).as_secs_f64() + 4.0
            )
        })
        .unwrap_or_else(|| format!("none within 120 s (lastSuccess stayed {stuck_since})"));
    sim.clear_faults();
    let final_hwm = pulse.status("VmHWM");
    drop(pulse);

    println!("\n#### Monitoring core: {NODES} nodes, {GUESTS} guests (PVE simulator over HTTPS, pinned fingerprint)\n");
    println!("| measure | value |\n|---|---|");
    println!("| state polled | {n_nodes} nodes, {n_vms} VMs, {n_cts} containers |");
    println!("| RSS at start-up, node just added (first poll running) | {idle_rss} |");
    println!(
        "| first (cold) cycle | {:.1} s wall, {cold_cpu:.2} CPU s |",
        first_cycle.as_secs_f64()
    );
    println!(
        "| steady cycles measured | {} (in {:.1} s, {:.1} s per cycle) |",
        seen.len(),
        steady_wall.as_secs_f64(),
        steady_wall.as_secs_f64() / cycles as f64
    );
    println!(
        "| CPU per steady cycle (utime+stime) | {:.3} s ({:.1} % of one core over the cycle) |",
        steady_cpu / cycles as f64,
        100.0 * steady_cpu / steady_wall.as_secs_f64().max(1e-9)
    );
    println!(
        "| simulator requests per steady cycle | {:.0} |",
        sim_requests as f64 / cycles as f64
    );
    let threads: Vec<String> = by_thread
        .iter()
        .map(|(n, s)| format!("{n} {s:.3}"))
        .collect();
    println!("| CPU s per cycle by thread | {} |", threads.join(", "));
    println!("| VmRSS after the steady cycles | {rss} |");
    println!("| VmHWM after the steady cycles | {hwm_before_load} |");
    println!("| VmHWM after the /api/state load | {hwm_after_load} |");
    println!("| VmHWM at the end (after the slow-node run) | {final_hwm} |");
    println!(
        "| cycle with one node answering after 30 s | finished {slow_cycle_end} after the fault was set |"
    );
    println!(
        "\n`/api/state`, new connection per request; 64 concurrent clients unless noted (load during the fault ran {:.1} s):\n",
        load_during_fault.as_secs_f64()
    );
    println!("| run | requests | body | p50 ms | p99 ms | max ms | req/s | errors |\n|---|---|---|---|---|---|---|---|");
    state_row("1 client, identity", &one_plain);
    state_row("1 client, gzip", &one_gzip);
    state_row("no fault, identity", &plain);
    state_row("no fault, gzip", &gzip);
    state_row("pve7 answers after 30 s, identity", &slow_plain);
    state_row("pve7 answers after 30 s, gzip", &slow_gzip);
    println!(
        "\n(gzip run: `Content-Encoding: {}`)",
        if gzip.encoding.is_empty() {
            "none"
        } else {
            &gzip.encoding
        }
    );
}

pub(crate) fn print_fanout(
    title: &str,
    f: &util::Fanout,
    before: (String, String),
    cpu: f64,
    wall: Duration,
    hwm: &str,
) {
    println!("\n#### {title}\n");
    println!("| measure | value |\n|---|---|");
    println!(
        "| clients connected / failed | {} / {} (in {:.1} s) |",
        f.connected,
        f.failed,
        f.connect_wall.as_secs_f64()
    );
    println!("| `rawData` frame size | {} bytes |", f.frame_bytes);
    println!(
        "| RSS / threads before clients | {} / {} |",
        before.0, before.1
    );
    println!(
        "| RSS / threads with all clients | {:.1} MiB / {} |",
        mib(f.rss_kb),
        f.threads
    );
    println!("| VmHWM at the end | {hwm} |");
    println!(
        "| Pulse CPU during the run | {cpu:.2} s in {:.1} s |",
        wall.as_secs_f64()
    );
    println!("\nLatency from `lastUpdate` (the poll result applied on the loop) to each client's receipt:\n");
    println!("| broadcast (lastUpdate) | received by | p50 ms | p99 ms | max ms | first→last spread ms |\n|---|---|---|---|---|---|");
    for b in &f.broadcasts {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            b.last_update_ms,
            b.lat_us.len(),
            percentile(&b.lat_us, 0.5) as f64 / 1000.0,
            percentile(&b.lat_us, 0.99) as f64 / 1000.0,
            percentile(&b.lat_us, 1.0) as f64 / 1000.0,
            b.spread_us as f64 / 1000.0
        );
    }
}

/// Fans out while measuring Pulse's CPU and memory around it.
pub(crate) fn measured_fanout(
    pulse: &PulseProc,
    clients: usize,
    broadcasts: usize,
) -> (util::Fanout, (String, String), f64, Duration, String) {
    let before = (pulse.status("VmRSS"), pulse.status("Threads"));
    let cpu0 = pulse.cpu_secs();
    let w0 = Instant::now();
    let f = util::ws_fanout(pulse, clients, 4, broadcasts, Duration::from_secs(120));
    let cpu = pulse.cpu_secs() - cpu0;
    (f, before, cpu, w0.elapsed(), pulse.status("VmHWM"))
}

#[test]
#[ignore]
pub(crate) fn websocket_fanout_1000_clients() {
    const CLIENTS: usize = 1000;
    let fd_limit = util::raise_fd_limit();
    let pulse = PulseProc::start(&[TRUST_LOOPBACK, ("PULSE_MOCK_MODE", "true")]);
    let end = Instant::now() + Duration::from_secs(60);
    while pulse.get_json("/api/state")["lastUpdate"]
        .as_i64()
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < end, "demo state never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (f, before, cpu, wall, hwm) = measured_fanout(&pulse, CLIENTS, 6);
    drop(pulse);
    println!("\n(fd limit, soft raised to hard: {fd_limit})");
    print_fanout(
        &format!("WebSocket fan-out: {CLIENTS} clients, demo estate (7 nodes, 91 guests)"),
        &f,
        before,
        cpu,
        wall,
        &hwm,
    );
}

/// The same fan-out with the 50-node / 3,000-guest state, to show how it scales with the
/// frame size (fewer clients: each one receives megabytes per broadcast).
#[test]
#[ignore]
pub(crate) fn websocket_fanout_large_state_100_clients() {
    const CLIENTS: usize = 100;
    util::raise_fd_limit();
    let (_sim, pulse) = pulse_polling_sim(50, 3000);
    assert_eq!(
        wait_cycles(&pulse, 1, Duration::from_secs(180)).len(),
        1,
        "first poll did not finish"
    );
    let (f, before, cpu, wall, hwm) = measured_fanout(&pulse, CLIENTS, 3);
    drop(pulse);
    print_fanout(
        &format!("WebSocket fan-out: {CLIENTS} clients, 50 nodes / 3,000 guests"),
        &f,
        before,
        cpu,
        wall,
        &hwm,
    );
}
