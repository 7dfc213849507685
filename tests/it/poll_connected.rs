//! `ConfigState.connected` follows poll results, so `GET /api/config/nodes` keeps showing a
//! healthily polled node as connected after the two-minute registration grace (issue #10 c).

use crate::support;

use pulse::config::model::nodes::NodeType;
use pulse::config::state::ConfigState;
use pulse::core::polling::connected_keys;
use pulse::core::writer::Writer;
use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{MonitorCore, SchedulerConfig};
use pulse::proxmox::Product;
use pulse::sim::{Fault, SimClientConfig, SimConfig, Simulator};
use pulse::util::time::UtcTime;
use std::time::{Duration, Instant};

fn poll_round(core: &mut MonitorCore, now_ms: i64) {
    for job in core.start_due(now_ms, 8) {
        let outcome = std::thread::spawn(move || job.run(now_ms))
            .join()
            .expect("poll thread");
        core.finish(outcome, now_ms);
    }
}

#[test]
fn polled_nodes_stay_connected_past_the_registration_grace() {
    let sim = Simulator::start(SimConfig {
        nodes: 2,
        guests: 6,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let dir = support::temp_dir("connected");
    let writer = Writer::start(16).expect("writer starts");
    let mut config = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0), writer.handle());
    let registered = Instant::now();
    config.mark_registered(NodeType::Pve, "lab", registered);
    let past_grace = registered + Duration::from_secs(600);
    assert!(
        !config.is_connected(NodeType::Pve, "lab", past_grace),
        "without a poll result the grace runs out"
    );

    let mut core = MonitorCore::new(SchedulerConfig::default(), 1);
    let cfg = sim.token_config(Product::Pve);
    let url = cfg.host.clone();
    core.add_pve(&cfg, PveSettings::new("lab", &url), 0)
        .expect("config ok");
    let mut now = 1_700_000_000_000i64;
    poll_round(&mut core, now);
    config.connected = connected_keys(&core);
    assert!(config.is_connected(NodeType::Pve, "lab", past_grace));
    assert!(!config.is_connected(NodeType::Pbs, "lab", past_grace));

    // The node stops answering: no longer connected once a poll failed.
    sim.set_fault("/", Fault::Status { status: 503 });
    now = core.next_deadline().expect("scheduled").max(now + 10_000);
    poll_round(&mut core, now);
    config.connected = connected_keys(&core);
    assert!(!config.is_connected(NodeType::Pve, "lab", past_grace));
    let _ = std::fs::remove_dir_all(&dir);
}
