//! A simulator that a test server polls: the set-up several suites share.

use super::TestServer;
use pulse::monitor::task_key::{InstanceKind, TaskKey};
use pulse::proxmox::Product;
use pulse::sim::{SimConfig, SimHandle, Simulator};

/// A one-node simulator with `guests` guests, added to `s` as PVE instance `lab` and polled
/// every second from now on.
pub fn polled_sim(s: &TestServer, guests: usize) -> SimHandle {
    let sim = Simulator::start(SimConfig {
        nodes: 1,
        guests,
        ..SimConfig::default()
    })
    .expect("simulator");
    add_pve(s, &sim);
    s.apply(|app| {
        let sched = app.polling.core.scheduler_mut();
        sched.set_interval_ms(InstanceKind::Pve, 1000);
        sched.retry_now(
            &TaskKey::new(InstanceKind::Pve, "lab"),
            pulse::util::time::now_ms(),
        );
    });
    sim
}

/// Adds `sim`'s PVE as instance `lab` through the API (token auth, pinned fingerprint).
pub fn add_pve(s: &TestServer, sim: &SimHandle) {
    let body = serde_json::json!({
        "type": "pve",
        "name": "lab",
        "host": sim.https_url(Product::Pve),
        "tokenName": pulse::sim::TOKEN_ID,
        "tokenValue": sim.token_secret(),
        "fingerprint": sim.fingerprint(),
    });
    let r = s.req(
        "POST",
        "/api/config/nodes",
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert!(r.status == 200 || r.status == 201, "{r:?}");
}
