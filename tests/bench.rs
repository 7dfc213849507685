//! Benchmarks (`make bench`), ignored by `make test`. They print a Markdown table for
//! BENCHMARKS.md. Timing is measured here and only here: tests assert behaviour, not speed.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bench_bin() -> String {
    std::env::var("PULSE_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pulse").to_string())
}

fn proc_status(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
#[ignore]
fn foundation_size_rss_and_health_latency() {
    let bin = bench_bin();
    let size = std::fs::metadata(&bin).unwrap().len();
    let file = Command::new("file")
        .arg(&bin)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let dir = support::temp_dir("bench");
    let mut child = Command::new(&bin)
        .env("PULSE_DATA_DIR", &dir)
        .env("FRONTEND_PORT", "0")
        .env("PULSE_BIND_ADDRESS", "127.0.0.1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.split("addr=").nth(1) {
            break a
                .split_whitespace()
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = proc_status(child.id(), "VmRSS:");
    let idle_threads = proc_status(child.id(), "Threads:");

    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let clients = 8;
    let per_client = 500;
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                (0..per_client)
                    .map(|_| {
                        let t = Instant::now();
                        let r = support::request(addr, "GET", "/api/health", &[], None);
                        assert_eq!(r.status, 200);
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = started.elapsed();
    lat.sort();
    let busy_rss = proc_status(child.id(), "VmRSS:");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();

    println!("\n| measure | value |\n|---|---|");
    println!("| binary | `{}` |", bin);
    println!(
        "| size | {} bytes ({:.2} MiB) |",
        size,
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
        "| /api/health, {clients} clients x {per_client}, new connection each | p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s |",
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        lat.len() as f64 / wall.as_secs_f64()
    );
}
