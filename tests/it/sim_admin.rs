//! The simulator's admin endpoints (`/__sim/...`), as demo scripts and benchmarks drive it.

use pulse::proxmox::{Product, ProxmoxError, PveClient};
use pulse::sim::{SimClientConfig, SimClock, SimConfig, Simulator};

fn post(agent: &ureq::Agent, url: &str) -> u16 {
    agent
        .post(url)
        .send_empty()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn admin_endpoints_move_the_estate() {
    let s = Simulator::start(SimConfig {
        clock: SimClock::Frozen(1_790_000_000),
        ..SimConfig::default()
    })
    .expect("simulator");
    let base = s.http_url(Product::Pbs); // admin paths work on every listener
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut c = PveClient::new(&s.token_config(Product::Pve)).expect("client");

    assert_eq!(
        post(&agent, &format!("{base}/__sim/nodes/pve3/offline")),
        200
    );
    let err = c.node_status("pve3").err();
    assert!(
        matches!(err, Some(ProxmoxError::Http { status: 595, .. })),
        "{err:?}"
    );
    assert_eq!(
        post(&agent, &format!("{base}/__sim/nodes/pve3/online")),
        200
    );
    assert!(c.node_status("pve3").is_ok());
    assert_eq!(
        post(&agent, &format!("{base}/__sim/nodes/nope/offline")),
        404
    );

    // A guest's CPU held at a fraction (over an alert threshold), then moving again.
    let cpu_of = |c: &mut PveClient| {
        c.cluster_resources()
            .expect("resources")
            .into_iter()
            .find(|r| r.vmid == Some(100))
            .and_then(|r| r.cpu)
    };
    assert_eq!(
        post(&agent, &format!("{base}/__sim/guests/100/cpu?value=0.97")),
        200
    );
    assert_eq!(cpu_of(&mut c), Some(0.97));
    assert_eq!(
        post(&agent, &format!("{base}/__sim/guests/100/cpu?value=7")),
        400
    );
    assert_eq!(
        post(&agent, &format!("{base}/__sim/guests/99999/cpu?value=0.5")),
        404
    );
    let unpinned = agent
        .delete(&format!("{base}/__sim/guests/100/cpu"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(unpinned, 200);
    assert_ne!(cpu_of(&mut c), Some(0.97));
    assert!(s.set_guest_cpu(100, Some(0.5)));
    assert_eq!(cpu_of(&mut c), Some(0.5));
    assert!(!s.set_guest_cpu(99_999, Some(0.5)));

    // A node's ZFS pool degraded and healed (pve1 is healthy by the index rule).
    let zfs_state = |c: &mut PveClient| {
        let listed = c.zfs_pools("pve1").expect("zfs list");
        let detail = c.zfs_pool("pve1", "rpool").expect("zfs detail");
        (listed[0].health.clone(), detail.state)
    };
    let degraded = (Some("DEGRADED".to_string()), Some("DEGRADED".to_string()));
    assert_eq!(
        post(
            &agent,
            &format!("{base}/__sim/nodes/pve1/zfs?state=degraded")
        ),
        200
    );
    assert_eq!(zfs_state(&mut c), degraded);
    assert_eq!(
        post(&agent, &format!("{base}/__sim/nodes/pve1/zfs?state=broken")),
        400
    );
    let healed = agent
        .delete(&format!("{base}/__sim/nodes/pve1/zfs"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(healed, 200);
    assert_eq!(zfs_state(&mut c).1.as_deref(), Some("ONLINE"));
    assert!(s.set_zfs_degraded("pve1", Some(true)));
    assert_eq!(zfs_state(&mut c), degraded);
    assert!(s.set_zfs_degraded("pve1", Some(false)));
    assert_eq!(zfs_state(&mut c).0.as_deref(), Some("ONLINE"));
    assert!(!s.set_zfs_degraded("nope", None));

    let before = s.now();
    assert_eq!(post(&agent, &format!("{base}/__sim/advance?secs=300")), 200);
    assert_eq!(s.now(), before + 300);

    assert_eq!(
        post(&agent, &format!("{base}/__sim/ticket-lifetime?ms=0")),
        200
    );
    let mut pw = PveClient::new(&s.password_config(Product::Pve)).expect("client");
    // Every ticket is born expired. A 401 right after a fresh login is final (no retry).
    let err = pw.nodes().err();
    assert!(
        matches!(err, Some(ProxmoxError::Auth { status: 401, .. })),
        "{err:?}"
    );
    assert_eq!(s.login_count(Product::Pve), 1);
    // A 401 on an older ticket: one re-login, then the error, not a loop.
    let err = pw.nodes().err();
    assert!(
        matches!(err, Some(ProxmoxError::Auth { status: 401, .. })),
        "{err:?}"
    );
    assert_eq!(s.login_count(Product::Pve), 2);

    let text = agent
        .get(&format!("{base}/__sim/info"))
        .call()
        .expect("info")
        .body_mut()
        .read_to_string()
        .expect("body");
    let info: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(info["fingerprint"].as_str(), Some(s.fingerprint().as_str()));
    assert_eq!(
        post(&agent, &format!("{base}/__sim/faults")),
        400,
        "a fault needs a JSON body"
    );
}

#[test]
fn a_full_connection_pool_does_not_starve_new_clients() {
    let s = Simulator::start(SimConfig {
        max_connections: 2,
        ..SimConfig::default()
    })
    .expect("simulator");
    let mut cfg = s.token_config(Product::Pve);
    cfg.timeout = std::time::Duration::from_secs(5);
    // Each client keeps its keep-alive connection open; the third only gets served if idle
    // connections give way (the idle limit alone is 30 s, past the client timeout).
    let mut clients: Vec<PveClient> = (0..4)
        .map(|_| PveClient::new(&cfg).expect("client"))
        .collect();
    for round in 0..2 {
        for (i, c) in clients.iter_mut().enumerate() {
            assert!(c.version().is_ok(), "client {i} round {round}");
        }
    }
}
