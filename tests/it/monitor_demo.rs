//! Demo mode: the in-process simulator polled through the real clients and scheduler fills a
//! live, changing state; stopping the demo removes it again.

use pulse::monitor::demo::{Demo, DemoSizes, DEMO_PBS, DEMO_PMG, DEMO_PVE};
use pulse::monitor::{MonitorCore, PollOutcome, SchedulerConfig};
use serde_json::Value;

fn poll_round(core: &mut MonitorCore, now_ms: i64) -> usize {
    let jobs = core.start_due(now_ms, 8);
    let n = jobs.len();
    let handles: Vec<std::thread::JoinHandle<PollOutcome>> = jobs
        .into_iter()
        .map(|job| std::thread::spawn(move || job.run(now_ms)))
        .collect();
    for h in handles {
        let outcome = h.join().expect("worker thread");
        core.finish(outcome, now_ms);
    }
    n
}

fn state(core: &MonitorCore) -> Value {
    serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or(Value::Null)
}

#[test]
fn sizes_come_from_the_mock_environment() {
    let env = |k: &str| match k {
        "PULSE_MOCK_NODES" => Some("3".to_string()),
        "PULSE_MOCK_VMS_PER_NODE" => Some("not a number".to_string()),
        "PULSE_MOCK_LXCS_PER_NODE" => Some("0".to_string()),
        _ => None,
    };
    assert_eq!(
        DemoSizes::from_lookup(env),
        DemoSizes {
            nodes: 3,
            vms_per_node: 5,
            lxcs_per_node: 0
        }
    );
    assert_eq!(
        DemoSizes::from_lookup(|_| Some("0".into())).nodes,
        7,
        "at least one node"
    );
}

#[test]
fn demo_estate_is_polled_like_real_servers() {
    let mut core = MonitorCore::new(SchedulerConfig::default(), 5);
    let now = pulse::util::time::now_ms();
    let demo = Demo::start(
        &mut core,
        DemoSizes {
            nodes: 2,
            vms_per_node: 2,
            lxcs_per_node: 1,
        },
        7,
        now,
    )
    .expect("demo starts");
    assert_eq!(poll_round(&mut core, now), 3, "PVE, PBS and PMG polled");
    let v = state(&core);
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(2));
    let guests =
        v["vms"].as_array().map_or(0, Vec::len) + v["containers"].as_array().map_or(0, Vec::len);
    assert_eq!(
        guests, 6,
        "2 × (2 + 1) guests, none a template at this size"
    );
    assert_eq!(v["nodes"][0]["id"], format!("{DEMO_PVE}-pve1"));
    assert_eq!(v["pbs"][0]["id"], format!("pbs-{DEMO_PBS}"));
    assert_eq!(v["pmg"][0]["id"], format!("pmg-{DEMO_PMG}"));
    assert_eq!(v["connectionHealth"][DEMO_PVE], true);
    assert!(
        v["pbsBackups"].as_array().is_some_and(|b| !b.is_empty()),
        "PBS backups listed on the first poll"
    );
    // PVE backups are listed from the second cycle on (the first puts guests on screen).
    let next = core.next_deadline().expect("scheduled");
    assert!(poll_round(&mut core, next) >= 1);
    let v = state(&core);
    assert!(v["backups"]["pve"]["storageBackups"]
        .as_array()
        .is_some_and(|b| !b.is_empty()));
    assert!(!demo
        .simulator()
        .https_url(pulse::proxmox::Product::Pve)
        .is_empty());

    demo.stop(&mut core);
    let v = state(&core);
    assert_eq!(v["nodes"], serde_json::json!([]));
    assert_eq!(v["pbs"], serde_json::json!([]));
    assert_eq!(core.next_deadline(), None);
}

#[test]
fn mock_mode_wire_format() {
    use pulse::monitor::demo::{MockModeRequest, MockModeResponse};
    let v =
        serde_json::to_value(MockModeResponse::new(true, DemoSizes::default())).unwrap_or_default();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["config"]["NodeCount"], 7);
    assert_eq!(v["config"]["VMsPerNode"], 5);
    assert_eq!(v["config"]["LXCsPerNode"], 8);
    assert_eq!(v["config"]["HighLoadNodes"], Value::Null);

    let req: MockModeRequest =
        serde_json::from_str(r#"{"enabled":true,"config":{"nodeCount":2,"vmsPerNode":0}}"#)
            .unwrap_or_default();
    let sizes = req.config.as_ref().map(|c| c.apply(DemoSizes::default()));
    assert_eq!(
        sizes,
        Some(Ok(DemoSizes {
            nodes: 2,
            vms_per_node: 0,
            lxcs_per_node: 8
        }))
    );
    let bad: MockModeRequest =
        serde_json::from_str(r#"{"config":{"nodeCount":0}}"#).unwrap_or_default();
    assert!(bad
        .config
        .map(|c| c.apply(DemoSizes::default()))
        .is_some_and(|r| r.is_err()));
}
