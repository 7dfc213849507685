//! Failover that cannot condemn a healthy instance: cluster member addresses that answer 404,
//! reset the connection or hang never park the instance while the configured host (the
//! project's simulator) answers; a 404 is never a permanent failure.

use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{ErrorClass, MonitorCore, PollOutcome, SchedulerConfig};
use pulse::proxmox::{Product, PveClient};
use pulse::sim::{SimClientConfig, SimConfig, SimHandle, Simulator};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fn sim() -> SimHandle {
    Simulator::start(SimConfig {
        nodes: 3,
        guests: 30,
        seed: 9,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// A member address that answers every request with `404 Not Found`.
fn answers_404() -> String {
    serve(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"data\":null}",
        );
    })
}

/// A member address that resets every connection.
fn resets() -> String {
    serve(drop)
}

/// A member address that accepts and never answers.
fn hangs() -> String {
    serve(|s| {
        std::thread::sleep(Duration::from_secs(30));
        drop(s);
    })
}

fn serve(handle: fn(std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || handle(s));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn poll_round(core: &mut MonitorCore, now_ms: i64) -> usize {
    let jobs = core.start_due(now_ms, 8);
    let n = jobs.len();
    let outcomes: Vec<PollOutcome> = jobs
        .into_iter()
        .map(|job| std::thread::spawn(move || job.run(now_ms)))
        .filter_map(|h| h.join().ok())
        .collect();
    for o in outcomes {
        core.finish(o, now_ms);
    }
    n
}

#[test]
fn bad_member_addresses_never_park_the_instance() {
    let sim = sim();
    let mut cfg = sim.token_config(Product::Pve);
    cfg.timeout = Duration::from_secs(2);
    cfg.cluster_endpoints = vec![cfg.host.clone(), answers_404(), resets(), hangs()];
    let mut core = MonitorCore::new(SchedulerConfig::default(), 4);
    let url = cfg.host.clone();
    let key = core
        .add_pve(&cfg, PveSettings::new("lab", &url), 0)
        .expect("config ok");
    let mut now = 1_700_000_000_000i64;
    for round in 0..6 {
        assert_eq!(poll_round(&mut core, now), 1, "round {round}");
        assert_eq!(
            core.scheduler().consecutive_failures(&key),
            0,
            "round {round}: the configured host answers, so the poll succeeds"
        );
        now = core.next_deadline().expect("scheduled").max(now + 10_000);
    }
    let state: serde_json::Value =
        serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or_default();
    assert_eq!(state["nodes"].as_array().map(Vec::len), Some(3));
    let health: serde_json::Value =
        serde_json::from_slice(&core.health_json(now)).unwrap_or_default();
    assert_eq!(health["deadLetter"]["count"], 0, "nothing parked: {health}");
}

#[test]
fn a_404_member_is_skipped_and_a_404_everywhere_is_not_permanent() {
    let sim = sim();
    let good = sim.token_config(Product::Pve);

    // The configured host is a wrong address (404) and a member answers: calls succeed, and
    // the 404 address is skipped afterwards.
    let mut cfg = good.clone();
    cfg.timeout = Duration::from_secs(2);
    let wrong = answers_404();
    cfg.host = wrong.clone();
    cfg.cluster_endpoints = vec![wrong.clone(), good.host.clone()];
    let mut client = PveClient::new(&cfg).expect("client");
    for _ in 0..5 {
        assert!(client.nodes().is_ok());
    }
    let health = client.endpoint_health();
    let bad = health.iter().find(|h| h.endpoint.contains(&wrong[7..]));
    assert!(
        bad.is_some_and(|h| !h.healthy),
        "the 404 member is skipped: {health:?}"
    );

    // Every candidate answers 404: the poll fails, transiently (retried, never parked).
    let mut cfg = good.clone();
    let (a, b) = (answers_404(), answers_404());
    cfg.host = a.clone();
    cfg.cluster_endpoints = vec![a.clone(), b];
    let mut core = MonitorCore::new(SchedulerConfig::default(), 5);
    let key = core
        .add_pve(&cfg, PveSettings::new("lab", &a), 0)
        .expect("config ok");
    assert_eq!(poll_round(&mut core, 1_700_000_000_000), 1);
    assert_eq!(core.scheduler().consecutive_failures(&key), 1);
    let health: serde_json::Value =
        serde_json::from_slice(&core.health_json(1_700_000_000_000)).unwrap_or_default();
    assert_eq!(
        health["instances"][0]["pollStatus"]["lastError"]["category"],
        ErrorClass::Transient.as_str(),
        "{health}"
    );
}
