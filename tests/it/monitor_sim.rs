//! The monitoring core against the project's Proxmox simulator over HTTPS (pinned
//! fingerprint): every derived number is checked against the raw payload the simulator served,
//! for each payload variant (PVE 7 / 8.4 / 9 nodes, balloon, Windows freemem, Linux freemem,
//! fsinfo with bind mounts, stopped, template, offline node, shared storage), plus ids, units,
//! key presence, and scheduler behaviour under injected faults.

use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{MonitorCore, PollOutcome, SchedulerConfig};
use pulse::proxmox::pve_types::ClusterResource;
use pulse::proxmox::{Product, PveClient};
use pulse::sim::{Fault, PveFlavor, SimClientConfig, SimClock, SimConfig, SimHandle, Simulator};
use serde_json::Value;
use std::sync::mpsc;
use std::time::Duration;

const EPOCH: i64 = 1_750_000_000;

fn sim(nodes: usize, guests: usize) -> SimHandle {
    let cfg = SimConfig {
        nodes,
        guests,
        seed: 42,
        flavors: vec![PveFlavor::Pve9, PveFlavor::Pve84, PveFlavor::Pve7],
        clock: SimClock::Frozen(EPOCH),
        max_connections: 32,
        hang_limit: Duration::from_secs(10),
        ..SimConfig::default()
    };
    Simulator::start(cfg).expect("simulator starts")
}

fn settings(sim: &SimHandle, name: &str) -> PveSettings {
    PveSettings {
        is_cluster: true,
        cluster_name: "sim-cluster".into(),
        ..PveSettings::new(name, &sim.https_url(Product::Pve))
    }
}

/// Runs every due job on its own thread, as the worker pool would.
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

fn by_id<'a>(v: &'a Value, key: &str, id: &str) -> &'a Value {
    v[key]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .unwrap_or(&Value::Null)
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(i64::MIN)
}

#[test]
fn derived_numbers_match_what_the_simulator_served() {
    let sim = sim(3, 40);
    let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
    core.add_pve(
        &sim.token_config(Product::Pve),
        settings(&sim, "sim"),
        EPOCH * 1000,
    )
    .expect("config ok");
    assert_eq!(poll_round(&mut core, EPOCH * 1000), 1);
    let v = state(&core);
    let mut raw = PveClient::new(&sim.token_config(Product::Pve)).expect("client");

    // Key presence and units.
    for key in [
        "nodes",
        "vms",
        "containers",
        "storage",
        "cephClusters",
        "physicalDisks",
        "pbs",
        "pmg",
        "dockerHosts",
        "hosts",
    ] {
        assert!(v[key].is_array(), "{key}");
    }
    assert_eq!(v["lastUpdate"], EPOCH * 1000);
    assert_eq!(v["connectionHealth"]["sim"], true);

    // Nodes: PVE 9 `available`, PVE 8.4 RRD `memavailable`, PVE 7 RRD `memused`.
    for name in ["pve1", "pve2", "pve3"] {
        let node = by_id(&v, "nodes", &format!("sim-{name}"));
        let status = raw.node_status(name).expect("node status");
        let mem = status.memory.clone().unwrap_or_default();
        let total = mem.total.unwrap_or(0) as i64;
        let expected_used = match mem.available {
            Some(avail) => total - avail as i64,
            None => {
                let rrd = raw.node_rrd_memory(name).expect("rrd");
                let last = rrd
                    .iter()
                    .rev()
                    .find(|p| p.memavailable.is_some() || p.memused.is_some())
                    .cloned()
                    .unwrap_or_default();
                match last.memavailable {
                    Some(avail) => total - avail as i64,
                    None => last.memused.unwrap_or(0.0) as i64,
                }
            }
        };
        assert_eq!(i(&node["memory"]["used"]), expected_used, "{name}");
        assert!(
            i(&node["memory"]["used"]) < total - mem.free.unwrap_or(0) as i64
                || mem.available.is_none() && name == "pve3",
            "{name}: page cache must not count as used"
        );
        assert_eq!(node["status"], "online");
        assert_eq!(node["isClusterMember"], true);
        assert_eq!(node["clusterName"], "sim-cluster");
        let cpu = node["cpu"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&cpu), "cpu is a fraction: {cpu}");
        assert_eq!(node["loadAverage"].as_array().map(Vec::len), Some(3));
    }

    // Guests, one variant at a time, against the raw status payloads.
    let resources: Vec<ClusterResource> = raw.cluster_resources_vms().expect("resources");
    let mut seen = [false; 6]; // balloon, windows, linux freemem, bind mounts, stopped, template
    for res in &resources {
        let (Some(node), Some(vmid)) = (res.node.clone(), res.vmid) else {
            continue;
        };
        let id = format!("sim-{node}-{vmid}");
        if res.template == Some(true) {
            assert_eq!(
                by_id(&v, "vms", &id),
                &Value::Null,
                "template {vmid} skipped"
            );
            assert_eq!(by_id(&v, "containers", &id), &Value::Null);
            seen[5] = true;
            continue;
        }
        let running = res.status.as_deref() == Some("running");
        if res.kind == "lxc" {
            let ct = by_id(&v, "containers", &id);
            assert_eq!(ct["type"], "lxc");
            let expected = if running {
                res.mem.unwrap_or(0) as i64
            } else {
                0
            };
            assert_eq!(i(&ct["memory"]["used"]), expected, "ct {vmid}");
            continue;
        }
        let vm = by_id(&v, "vms", &id);
        assert_eq!(vm["type"], "qemu", "{id}");
        if !running {
            assert_eq!(
                (i(&vm["memory"]["used"]), vm["cpu"].as_f64()),
                (0, Some(0.0)),
                "stopped {vmid}"
            );
            assert_eq!(vm["disk"]["usage"].as_f64(), Some(-1.0));
            seen[4] = true;
            continue;
        }
        let st = raw.qemu_status(&node, vmid).expect("qemu status");
        let maxmem = st.maxmem.unwrap_or(0) as i64;
        let balloon = st.balloon.unwrap_or(0) as i64;
        let total = if balloon > 0 && balloon < maxmem {
            balloon
        } else {
            maxmem
        };
        assert_eq!(i(&vm["memory"]["total"]), total, "vm {vmid} total");
        if balloon > 0 && balloon < maxmem {
            seen[0] = true;
        }
        let expected_used = match (st.meminfo.as_ref().and_then(|m| m.available), st.freemem) {
            (Some(avail), _) => {
                seen[2] = true;
                total - avail as i64
            }
            (None, Some(free)) => {
                let windows = vm["name"].as_str().unwrap_or_default().starts_with("win-");
                seen[1] |= windows;
                seen[2] |= !windows;
                total - free as i64
            }
            (None, None) => st.mem.unwrap_or(0) as i64,
        };
        assert_eq!(
            i(&vm["memory"]["used"]),
            expected_used.clamp(0, total),
            "vm {vmid} used"
        );

        if st.agent.unwrap_or(0) > 0 {
            let fs = raw.agent_fsinfo(&node, vmid).expect("fsinfo").result;
            let windows = fs.iter().any(|f| f.mountpoint.as_deref() == Some("C:\\"));
            let expected_total: i64 = if windows {
                fs.iter()
                    .filter(|f| f.mountpoint.as_deref() == Some("C:\\"))
                    .map(|f| f.total_bytes.or(f.total_bytes_privileged).unwrap_or(0) as i64)
                    .sum()
            } else {
                fs.iter()
                    .filter(|f| f.mountpoint.as_deref() == Some("/"))
                    .map(|f| f.total_bytes.unwrap_or(0) as i64)
                    .sum()
            };
            assert_eq!(
                i(&vm["disk"]["total"]),
                expected_total,
                "vm {vmid}: one device, pseudo/efi/snap skipped"
            );
            assert_eq!(
                vm["disks"].as_array().map(Vec::len),
                Some(1),
                "vm {vmid} disks"
            );
            if fs
                .iter()
                .filter(|f| f.name.as_deref() == Some("sda1"))
                .count()
                > 1
            {
                seen[3] = true;
            }
        } else {
            assert_eq!(
                vm["disk"]["usage"].as_f64(),
                Some(-1.0),
                "no agent: unknown usage"
            );
        }
    }
    assert_eq!(
        seen, [true; 6],
        "every variant covered: balloon, windows, linux freemem, bind mounts, stopped, template"
    );

    // Shared storage once per cluster; disabled storage shown as such.
    let nfs: Vec<&Value> = v["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == "nfs-backup")
        .collect();
    assert_eq!(nfs.len(), 1);
    assert_eq!(
        (nfs[0]["node"].as_str(), i(&nfs[0]["nodeCount"])),
        (Some("cluster"), 3)
    );
    assert_eq!(
        nfs[0]["nodeIds"],
        serde_json::json!(["sim-pve1", "sim-pve2", "sim-pve3"])
    );
    let locals = v["storage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == "local")
        .count();
    assert_eq!(locals, 3, "local storage stays per node");
    assert_eq!(v["cephClusters"].as_array().map(Vec::len), Some(1));
}

#[test]
fn offline_node_keeps_its_guests_through_grace_then_marks_them() {
    let sim = sim(3, 12);
    let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
    core.add_pve(
        &sim.token_config(Product::Pve),
        settings(&sim, "sim"),
        EPOCH * 1000,
    )
    .expect("config ok");
    let mut now = EPOCH * 1000;
    poll_round(&mut core, now);
    let before = state(&core);
    let guests_on_pve2: Vec<String> = before["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["node"] == "pve2")
        .filter_map(|g| g["id"].as_str().map(String::from))
        .collect();
    assert!(!guests_on_pve2.is_empty());

    assert!(sim.set_node_online("pve2", false));
    now += 10_000;
    sim.advance(10);
    poll_round(&mut core, now);
    let v = state(&core);
    assert_eq!(
        by_id(&v, "nodes", "sim-pve2")["status"],
        "online",
        "within the 60 s grace period"
    );
    for id in &guests_on_pve2 {
        assert_eq!(
            by_id(&v, "vms", id),
            by_id(&before, "vms", id),
            "{id} unchanged during grace"
        );
    }

    now += 70_000;
    sim.advance(70);
    poll_round(&mut core, now);
    let v = state(&core);
    let node = by_id(&v, "nodes", "sim-pve2");
    assert_eq!(
        (
            node["status"].as_str(),
            i(&node["uptime"]),
            node["connectionHealth"].as_str()
        ),
        (Some("offline"), 0, Some("error"))
    );
    for id in &guests_on_pve2 {
        let g = by_id(&v, "vms", id);
        assert_eq!(g["status"], "unknown", "{id} kept, not running");
        assert_eq!(
            g["memory"]["total"],
            by_id(&before, "vms", id)["memory"]["total"],
            "{id}: last known figures"
        );
        assert_eq!(g["cpu"].as_f64(), Some(0.0));
    }
    assert_eq!(by_id(&v, "nodes", "sim-pve1")["status"], "online");
}

#[test]
fn injected_outage_trips_the_breaker_and_health_shows_it() {
    let sim = sim(1, 4);
    let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
    core.add_pve(
        &sim.token_config(Product::Pve),
        settings(&sim, "sim"),
        EPOCH * 1000,
    )
    .expect("config ok");
    let mut now = EPOCH * 1000;
    poll_round(&mut core, now);
    sim.set_fault("/nodes", Fault::Status { status: 503 });
    for _ in 0..3 {
        now = now.max(core.next_deadline().expect("scheduled"));
        assert_eq!(poll_round(&mut core, now), 1);
    }
    let h: Value = serde_json::from_slice(&core.health_json(now)).unwrap_or(Value::Null);
    assert_eq!(h["breakers"][0]["state"], "open");
    assert_eq!(h["instances"][0]["pollStatus"]["consecutiveFailures"], 3);
    assert!(h["instances"][0]["pollStatus"]["lastError"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("503"));
    let v = state(&core);
    assert_eq!(v["connectionHealth"]["sim"], false);
    assert_eq!(
        by_id(&v, "nodes", "sim-pve1")["status"],
        "online",
        "last picture kept within grace"
    );

    sim.clear_faults();
    now = now.max(core.next_deadline().expect("scheduled"));
    poll_round(&mut core, now);
    let h: Value = serde_json::from_slice(&core.health_json(now)).unwrap_or(Value::Null);
    assert!(h.get("breakers").is_none());
    assert_eq!(state(&core)["connectionHealth"]["sim"], true);
}

#[test]
fn a_hanging_instance_does_not_delay_another() {
    let slow = sim(1, 2);
    let fast = sim(1, 2);
    slow.set_fault("/nodes", Fault::Hang);
    let mut cfg_slow = slow.token_config(Product::Pve);
    cfg_slow.timeout = Duration::from_secs(3);
    let mut core = MonitorCore::new(SchedulerConfig::default(), 9);
    core.add_pve(&cfg_slow, settings(&slow, "slow"), EPOCH * 1000)
        .expect("config ok");
    core.add_pve(
        &fast.token_config(Product::Pve),
        settings(&fast, "fast"),
        EPOCH * 1000,
    )
    .expect("config ok");

    let (tx, rx) = mpsc::channel();
    let mut now = EPOCH * 1000;
    let mut fast_polls = 0;
    for job in core.start_due(now, 8) {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(job.run(now));
        });
    }
    // Only the fast instance finishes while the slow one hangs; it is polled again and again.
    while fast_polls < 3 {
        let outcome = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("an outcome");
        assert_eq!(
            outcome.ticket.key.name, "fast",
            "the hung poll cannot finish first"
        );
        core.finish(outcome, now);
        fast_polls += 1;
        now += 10_000;
        for job in core.start_due(now, 8) {
            assert_eq!(
                job.key().name,
                "fast",
                "the slow instance is still in flight"
            );
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send(job.run(now));
            });
        }
    }
    assert_eq!(state(&core)["connectionHealth"]["fast"], true);
    assert!(core.scheduler().is_in_flight(&pulse::monitor::TaskKey::new(
        pulse::monitor::InstanceKind::Pve,
        "slow"
    )));
}
