//! The HTTP front door: throughput, threads, latency under attack (issue #19).

use super::*;

/// Open descriptors of a process.
pub(crate) fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `/api/health` latencies on fresh connections while something else goes on: p50, max
/// (ms) and how many did not answer 200.
pub(crate) fn health_probe(pulse: &PulseProc, n: usize) -> (f64, f64, usize) {
    let mut errors = 0;
    let mut lat: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = util::http(pulse.addr, "GET", "/api/health", &[], None);
            if r.status != 200 {
                errors += 1;
            }
            t.elapsed()
        })
        .collect();
    lat.sort();
    (
        util::ms(percentile(&lat, 0.5)),
        util::ms(percentile(&lat, 1.0)),
        errors,
    )
}

/// The HTTP front door (issue #19): threads, RSS and descriptors with 3,000 idle connections
/// and with 2,000 WebSocket clients, and `/api/health` / gzip `/api/state` at 64 clients.
/// Run it against any binary (`PULSE_BENCH_BIN`) to compare before and after; the
/// `PULSE_HTTP_*` variables raise the connection cap so that all 3,000 are held (the default
/// cap of 1,024 would refuse the rest, which is the point in production, not here).
#[test]
#[ignore]
pub(crate) fn http_front_door() {
    const IDLE: usize = 3000;
    const WS: usize = 2000;
    let fd_limit = util::raise_fd_limit();
    let pulse = PulseProc::start(&[
        TRUST_LOOPBACK,
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_HTTP_MAX_CONNECTIONS", "4000"),
        ("PULSE_HTTP_HEAD_TIMEOUT_MS", "600000"),
    ]);
    let end = Instant::now() + Duration::from_secs(60);
    while pulse.get_json("/api/state")["lastUpdate"]
        .as_i64()
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < end, "demo state never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = pulse.pid();
    let base = (
        pulse.status("VmRSS"),
        pulse.status("Threads"),
        fd_count(pid),
    );

    // 3,000 connections that never send a byte.
    let t = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        match std::net::TcpStream::connect(pulse.addr) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    let opened = idle.len();
    std::thread::sleep(Duration::from_secs(2));
    let held = (
        pulse.status("VmRSS"),
        pulse.status("Threads"),
        fd_count(pid),
    );
    let during = health_probe(&pulse, 50);
    let connect_wall = t.elapsed();
    drop(idle);
    std::thread::sleep(Duration::from_secs(3));
    let after_idle = (
        pulse.status("VmRSS"),
        pulse.status("Threads"),
        fd_count(pid),
    );

    // Throughput and tails at 64 clients (new connection per request, as the other runs).
    let health = load(
        pulse.addr,
        "/api/health",
        &[],
        64,
        300,
        Duration::from_secs(60),
    );
    let state = load(
        pulse.addr,
        "/api/state",
        &[("Accept-Encoding", "gzip")],
        64,
        60,
        Duration::from_secs(60),
    );
    let after_load = (pulse.status("VmRSS"), pulse.status("Threads"));

    // 2,000 WebSocket clients.
    let (f, _before, _cpu, _wall, hwm) = measured_fanout(&pulse, WS, 2);
    std::thread::sleep(Duration::from_secs(3));
    let after_ws = (
        pulse.status("VmRSS"),
        pulse.status("Threads"),
        fd_count(pid),
    );
    drop(pulse);

    println!(
        "\n(binary {}, fd limit raised to {fd_limit})",
        util::bench_bin()
    );
    println!("\n| measure | RSS | threads | fds |\n|---|---|---|---|");
    println!(
        "| idle, demo state | {} | {} | {} |",
        base.0, base.1, base.2
    );
    println!(
        "| {opened} idle connections held (opened in {:.1} s) | {} | {} | {} |",
        connect_wall.as_secs_f64(),
        held.0,
        held.1,
        held.2
    );
    println!(
        "| 3 s after they closed | {} | {} | {} |",
        after_idle.0, after_idle.1, after_idle.2
    );
    println!(
        "| after the 64-client loads | {} | {} | – |",
        after_load.0, after_load.1
    );
    println!(
        "| {} of {WS} WebSocket clients connected ({} failed) | {:.1} MiB | {} | – |",
        f.connected,
        f.failed,
        mib(f.rss_kb),
        f.threads
    );
    println!(
        "| 3 s after they left (VmHWM {hwm}) | {} | {} | {} |",
        after_ws.0, after_ws.1, after_ws.2
    );
    println!(
        "\n`/api/health` on a fresh connection while the {opened} idle ones were held: p50 {:.2} ms, max {:.2} ms, {} of 50 failed",
        during.0, during.1, during.2
    );
    println!("\n| 64 clients, new connection each | requests | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|");
    for (label, run) in [("/api/health", &health), ("/api/state gzip", &state)] {
        println!(
            "| {label} | {} | {:.0} | {:.2} | {:.2} | {} |",
            run.lat.len(),
            run.rps(),
            run.p(0.5),
            run.p(0.99),
            run.errors
        );
    }
}

// ---- issue #19: the front door under attack ----

use crate::support::raw_client;

/// `n` sequential `/api/health` requests from 127.0.0.2 (a fresh connection each, 2 s limit):
/// sorted latencies of the answered ones, and how many were not answered in time.
pub(crate) fn health_samples(addr: std::net::SocketAddr, n: usize) -> (Vec<Duration>, usize) {
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    let end = Instant::now() + Duration::from_secs(60);
    for _ in 0..n {
        if Instant::now() > end {
            break;
        }
        let t0 = Instant::now();
        match raw_client::health_from(addr, raw_client::BYSTANDER, Duration::from_secs(2)) {
            Some(200) => lat.push(t0.elapsed()),
            _ => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    lat.sort();
    (lat, failed)
}

pub(crate) fn health_row(label: &str, (lat, failed): &(Vec<Duration>, usize)) {
    println!(
        "| {label} | {} | {:.2} | {:.2} | {:.2} | {failed} |",
        lat.len(),
        util::ms(percentile(lat, 0.5)),
        util::ms(percentile(lat, 0.99)),
        util::ms(percentile(lat, 1.0)),
    );
}

/// `/api/health` from another address (p50/p99) while the front door is attacked: 3,000 idle
/// connections (from 30 addresses, 100 each, so the per-address cap alone does not refuse
/// them), then a header flood (8 connections streaming an endless header line, reconnecting
/// after each answer). Also threads and RSS while the idle connections are held.
#[test]
#[ignore]
pub(crate) fn health_latency_under_attack() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let fd_limit = util::raise_fd_limit();
    let pulse = PulseProc::start(&[]);
    std::thread::sleep(Duration::from_secs(1));
    let base = (pulse.status("VmRSS"), pulse.status("Threads"));
    let quiet = health_samples(pulse.addr, 300);

    // 3,000 idle connections, none sending a byte.
    let t0 = Instant::now();
    let mut idle = Vec::with_capacity(3000);
    let mut refused = 0;
    for i in 0..3000u32 {
        let from = std::net::Ipv4Addr::new(127, 0, 3, 1 + (i / 100) as u8);
        match raw_client::connect_from(from, pulse.addr, Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(_) => refused += 1,
        }
    }
    let connect_wall = t0.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let held = (pulse.status("VmRSS"), pulse.status("Threads"));
    let under_idle = health_samples(pulse.addr, 300);
    let still_open = idle
        .iter()
        .filter(|s| {
            let mut s: &std::net::TcpStream = s;
            s.set_nonblocking(true).ok();
            let mut b = [0u8; 64];
            matches!(std::io::Read::read(&mut s, &mut b),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    drop(idle);
    std::thread::sleep(Duration::from_secs(2));
    let after_idle = (pulse.status("VmRSS"), pulse.status("Threads"));

    // Header flood: endless header lines on 8 connections, each reconnecting when answered.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let sent_total = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..8u8)
        .map(|t| {
            let (stop, answered, sent_total) = (stop.clone(), answered.clone(), sent_total.clone());
            let addr = pulse.addr;
            std::thread::spawn(move || {
                let from = std::net::Ipv4Addr::new(127, 0, 4, 1 + t);
                let chunk = vec![b'a'; 64 * 1024];
                let end = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                    let Ok(mut s) = raw_client::connect_from(from, addr, Duration::from_secs(2))
                    else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    let mut r = s.try_clone().expect("clone");
                    let reader = std::thread::spawn(move || {
                        raw_client::read_status(&mut r, Duration::from_secs(10))
                    });
                    s.set_write_timeout(Some(Duration::from_secs(2))).ok();
                    let _ = s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Flood: ");
                    let mut sent = 0;
                    while sent < 16 * 1024 * 1024 && !stop.load(Ordering::SeqCst) {
                        if s.write_all(&chunk).is_err() {
                            break;
                        }
                        sent += chunk.len();
                    }
                    sent_total.fetch_add(sent, Ordering::SeqCst);
                    drop(s);
                    if reader.join().ok().flatten().is_some() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let flood_rss = pulse.status("VmRSS");
    let under_flood = health_samples(pulse.addr, 300);
    let flood_rss_late = pulse.status("VmRSS");
    stop.store(true, Ordering::SeqCst);
    for f in flooders {
        let _ = f.join();
    }
    let hwm = pulse.status("VmHWM");
    drop(pulse);

    println!("\n#### `/api/health` from 127.0.0.2 under attack (fresh connection per request, 2 s limit)\n");
    println!("| phase | answered | p50 ms | p99 ms | max ms | not answered in 2 s |\n|---|---|---|---|---|---|");
    health_row("quiet", &quiet);
    health_row("3,000 idle connections held", &under_idle);
    health_row("header flood, 8 connections", &under_flood);
    println!("\n| measure | value |\n|---|---|");
    println!("| fd limit (soft raised to hard) | {fd_limit} |");
    println!("| RSS / threads before | {} / {} |", base.0, base.1);
    println!(
        "| 3,000 idle: connected / refused at connect, in | {} / {refused}, {:.1} s |",
        3000 - refused,
        connect_wall.as_secs_f64()
    );
    println!("| idle connections still open after 1 s | {still_open} |");
    println!("| RSS / threads with them held | {} / {} |", held.0, held.1);
    println!(
        "| RSS / threads 2 s after they left | {} / {} |",
        after_idle.0, after_idle.1
    );
    println!(
        "| header flood: answers / MiB sent | {} / {:.0} |",
        answered.load(Ordering::SeqCst),
        sent_total.load(Ordering::SeqCst) as f64 / 1048576.0
    );
    println!("| RSS during the flood (start / end) | {flood_rss} / {flood_rss_late} |");
    println!("| VmHWM at the end | {hwm} |");
}

/// 2,000 authenticated WebSocket clients (the adversarial test holds 500): threads and RSS
/// with them connected and after they leave, and `/api/health` from 127.0.0.2 meanwhile.
/// Each client comes through loopback as a trusted proxy with its own `X-Forwarded-For`, so
/// per-client rate limits see 2,000 clients on any server version.
#[test]
#[ignore]
pub(crate) fn websocket_2000_authenticated_clients_threads_and_rss() {
    const CLIENTS: usize = 2000;
    const TOKEN: &str = "bench-websocket-token-000000001";
    let fd_limit = util::raise_fd_limit();
    let pulse = PulseProc::start(&[TRUST_LOOPBACK, ("API_TOKENS", TOKEN)]);
    std::thread::sleep(Duration::from_secs(1));
    let base = (pulse.status("VmRSS"), pulse.status("Threads"));
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    let mut failed = 0;
    for i in 0..CLIENTS {
        let xff = format!("10.77.{}.{}", i / 250, 1 + i % 250);
        let headers = [("X-API-Token", TOKEN), ("X-Forwarded-For", xff.as_str())];
        match std::net::TcpStream::connect(pulse.addr)
            .map_err(tungstenite::Error::Io)
            .and_then(|s| support::ws_connect_on(s, pulse.addr, "/ws", &headers))
        {
            Ok(ws) => clients.push(ws),
            Err(_) => failed += 1,
        }
    }
    let connect_wall = t0.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let with = (pulse.status("VmRSS"), pulse.status("Threads"));
    let during = health_samples(pulse.addr, 200);
    let connected = clients.len();
    drop(clients);
    std::thread::sleep(Duration::from_secs(3));
    let after = (pulse.status("VmRSS"), pulse.status("Threads"));
    let hwm = pulse.status("VmHWM");
    drop(pulse);

    println!("\n#### {CLIENTS} authenticated WebSocket clients\n");
    println!("| measure | value |\n|---|---|");
    println!("| fd limit (soft raised to hard) | {fd_limit} |");
    println!(
        "| connected / failed, in | {connected} / {failed}, {:.1} s |",
        connect_wall.as_secs_f64()
    );
    println!("| RSS / threads before | {} / {} |", base.0, base.1);
    println!(
        "| RSS / threads with the clients | {} / {} |",
        with.0, with.1
    );
    println!(
        "| RSS / threads 3 s after they left | {} / {} |",
        after.0, after.1
    );
    println!("| VmHWM | {hwm} |");
    println!("\n| phase | answered | p50 ms | p99 ms | max ms | not answered in 2 s |\n|---|---|---|---|---|---|");
    health_row("/api/health with the clients connected", &during);
}
