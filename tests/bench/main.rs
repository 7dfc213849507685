//! Benchmarks (`make bench`), ignored by `make test`. Each prints a Markdown table for
//! BENCHMARKS.md. Timing is measured here and only here: tests assert behaviour, not speed.
//!
//! Pulse runs as a separate process (the static binary `make bench` builds); the Proxmox
//! simulator runs in this process and is polled over HTTPS with a pinned fingerprint. All
//! traffic stays on 127.0.0.1, and every load loop is bounded in count and in time.

// The integration tests' support module (temp dirs, raw HTTP and WebSocket clients).
#[path = "../it/support/mod.rs"]
mod support;
mod util;

mod agents;
mod alerts;
mod backups;
mod front_door;
mod history;
mod loop_latency;
mod monitoring;
mod notify;
mod polling;
mod state_feed;
mod tls;
mod ui;

use monitoring::{measured_fanout, wait_cycles};

use pulse::proxmox::Product;
use pulse::sim::{Fault, SimClientConfig, SimConfig, Simulator, TOKEN_ID};
use serde_json::json;
use std::time::{Duration, Instant};
use util::{load, mib, percentile, Load, PulseProc};

/// Loopback is a trusted proxy, so each load client can bring its own `X-Forwarded-For`
/// and per-IP rate limits see distinct clients.
const TRUST_LOOPBACK: (&str, &str) = ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32");

#[test]
#[ignore]
fn foundation_size_rss_and_health_latency() {
    let bin = util::bench_bin();
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    let file = std::process::Command::new("file")
        .arg(&bin)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let pulse = PulseProc::start(&[TRUST_LOOPBACK]);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = pulse.status("VmRSS");
    let idle_threads = pulse.status("Threads");

    let (clients, per_client) = (8, 500);
    let run = load(
        pulse.addr,
        "/api/health",
        &[],
        clients,
        per_client,
        Duration::from_secs(60),
    );
    let busy_rss = pulse.status("VmRSS");
    drop(pulse);

    println!("\n| measure | value |\n|---|---|");
    println!("| binary | `{bin}` |");
    println!(
        "| size | {size} bytes ({:.2} MiB) |",
        size as f64 / 1048576.0
    );
    println!(
        "| file | {} |",
        file.trim().split(": ").nth(1).unwrap_or("")
    );
    println!("| idle RSS after start-up (2 s) | {idle_rss} |");
    println!("| idle threads | {idle_threads} |");
    println!("| RSS after load | {busy_rss} |");
    println!(
        "| /api/health, {clients} clients x {per_client}, new connection each | p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s, {} errors |",
        run.p(0.5),
        run.p(0.99),
        run.rps(),
        run.errors
    );
}

#[test]
#[ignore]
fn ui_first_load_and_render_at_3000_guests() {
    ui::ui_first_load_and_render_at_3000_guests();
}
