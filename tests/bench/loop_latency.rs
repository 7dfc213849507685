//! Loop latency under disk writes (issue #10).

use super::*;

// ---- Loop latency under disk writes (issue #10: "a loop that truly never blocks") ----------

/// The loop-latency probe: one client hammering `GET /api/health` on a single keep-alive
/// connection from its own thread. Every answer needs one turn of the event loop, so the
/// round-trip time is an upper bound on how long the loop was unavailable; the largest one is
/// the worst stall. The probe's address is a trusted-proxy client of its own (`10.8.0.1`).
pub(crate) struct LoopProbe {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Duration>>,
}

impl LoopProbe {
    pub(crate) fn start(addr: std::net::SocketAddr) -> LoopProbe {
        use std::io::{Read, Write};
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut rtts = Vec::new();
            let mut s = std::net::TcpStream::connect(addr).expect("probe connect");
            s.set_nodelay(true).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let req = format!(
                "GET /api/health HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: 10.8.0.1\r\n\r\n"
            );
            let mut buf = vec![0u8; 16 * 1024];
            let deadline = Instant::now() + Duration::from_secs(300);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let t0 = Instant::now();
                if s.write_all(req.as_bytes()).is_err() {
                    break;
                }
                // Read one response: head, then Content-Length bytes of body.
                let mut got = Vec::new();
                let complete = loop {
                    let Ok(n) = s.read(&mut buf) else { break false };
                    if n == 0 {
                        break false;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .split("\r\n")
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break true;
                        }
                    }
                };
                if !complete {
                    break;
                }
                rtts.push(t0.elapsed());
            }
            rtts
        });
        LoopProbe { stop, thread }
    }

    /// Stops the probe: (requests, p50, p99, max) of the round trips in ms.
    pub(crate) fn finish(self) -> (usize, f64, f64, f64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut rtts = self.thread.join().expect("probe thread");
        rtts.sort();
        let max = rtts.last().copied().unwrap_or_default();
        (
            rtts.len(),
            util::ms(percentile(&rtts, 0.5)),
            util::ms(percentile(&rtts, 0.99)),
            util::ms(max),
        )
    }
}

/// Runs `work` while the probe measures the loop; prints one table row.
pub(crate) fn probed(pulse: &PulseProc, label: &str, work: impl FnOnce() -> String) {
    let probe = LoopProbe::start(pulse.addr);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let detail = work();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let (n, p50, p99, max) = probe.finish();
    println!(
        "| {label} | {detail} in {:.0} ms | {n} | {p50:.2} | {p99:.2} | {max:.2} |",
        util::ms(took)
    );
}

/// `count` requests from `clients` threads at once, each with its own `X-Forwarded-For`;
/// returns how many got each status.
pub(crate) fn burst(
    pulse: &PulseProc,
    clients: usize,
    count: usize,
    make: impl Fn(usize) -> (&'static str, String, Vec<(String, String)>, Option<String>) + Send + Sync,
) -> std::collections::BTreeMap<u16, usize> {
    let make = &make;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let (method, path, headers, body) = make(i);
                let xff = format!("10.7.{}.{}", i / 250, i % 250 + 1);
                let mut h: Vec<(&str, &str)> = vec![("X-Forwarded-For", xff.as_str())];
                h.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let r = util::http(
                    pulse.addr,
                    method,
                    &path,
                    &h,
                    body.as_deref().map(str::as_bytes),
                );
                *statuses.lock().unwrap().entry(r.status).or_insert(0) += 1;
            });
        }
    });
    statuses.into_inner().unwrap()
}

pub(crate) fn summary(statuses: &std::collections::BTreeMap<u16, usize>) -> String {
    statuses
        .iter()
        .map(|(s, n)| format!("{n}× {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
#[ignore]
pub(crate) fn loop_latency_during_saves_audit_and_demo_toggle() {
    const PASSWORD: &str = "bench horse battery staple";
    const TOKEN: &str = "bench-token-000000000000000001";
    // Cost 4: the burst measures the audit appends and session saves, not bcrypt's CPU (which
    // runs on the CPU pool and would only starve the 2-core machine).
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let pulse = PulseProc::start(&[
        TRUST_LOOPBACK,
        ("PULSE_AUTH_USER", "admin"),
        ("PULSE_AUTH_PASS", hash.as_str()),
        ("API_TOKENS", TOKEN),
    ]);
    let json = |v: serde_json::Value| Some(v.to_string());
    let auth = || {
        vec![
            ("X-API-Token".to_string(), TOKEN.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ]
    };
    println!("| phase | work | probe requests | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    probed(&pulse, "idle", || {
        std::thread::sleep(Duration::from_secs(2));
        "nothing".to_string()
    });
    // Config save bursts: every answer waits for the writer's fsync; the loop must not.
    probed(&pulse, "node config saves", || {
        let st = burst(&pulse, 2, 25, |i| {
            let body = json!({"type":"pve","name":format!("n{i}"),"host":format!("127.0.0.{}:9", i + 2),
                              "tokenName":"root@pam!pulse","tokenValue":"00000000-0000-0000-0000-000000000000"});
            ("POST", "/api/config/nodes".to_string(), auth(), json(body))
        });
        format!("25 POST /api/config/nodes ({})", summary(&st))
    });
    probed(&pulse, "settings saves", || {
        let st = burst(&pulse, 2, 300, |i| {
            let theme = if i % 2 == 0 { "dark" } else { "light" };
            let body = json!({"theme": theme});
            (
                "POST",
                "/api/system/settings/update".to_string(),
                auth(),
                json(body),
            )
        });
        format!("300 settings updates ({})", summary(&st))
    });
    probed(&pulse, "guest metadata saves", || {
        let st = burst(&pulse, 2, 500, |i| {
            let body = json!({"description": format!("guest {i}")});
            (
                "PUT",
                format!("/api/guests/metadata/pve1-{}", 100 + i),
                auth(),
                json(body),
            )
        });
        format!("500 metadata PUTs ({})", summary(&st))
    });
    // Audit burst: failed logins (unknown users, one audit append each) and real logins
    // (bcrypt on the CPU pool, a session save and an audit append each).
    probed(&pulse, "audit burst", || {
        let st = burst(&pulse, 2, 300, |i| {
            let body = if i % 10 == 0 {
                json!({"username":"admin","password":PASSWORD})
            } else {
                json!({"username":format!("nobody{i}"),"password":"wrong password"})
            };
            let h = vec![("Content-Type".to_string(), "application/json".to_string())];
            ("POST", "/api/login".to_string(), h, json(body))
        });
        format!("300 logins, 1 in 10 valid ({})", summary(&st))
    });
    let audit_lines = std::fs::read_to_string(pulse.dir.join("audit.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0);
    println!("\naudit.log lines after the burst: {audit_lines}\n");
    probed(&pulse, "demo toggle", || {
        let mut out = Vec::new();
        for enabled in [true, false, true, false] {
            let r = util::http(
                pulse.addr,
                "POST",
                "/api/system/mock-mode",
                &[
                    ("X-API-Token", TOKEN),
                    ("Content-Type", "application/json"),
                    ("X-Forwarded-For", "10.6.0.1"),
                ],
                Some(json!({ "enabled": enabled }).to_string().as_bytes()),
            );
            out.push(r.status.to_string());
            std::thread::sleep(Duration::from_millis(500));
        }
        format!("mock-mode on/off ×2 ({})", out.join(","))
    });
}
