//! The monitoring core end to end over real HTTP on 127.0.0.1: a tiny Proxmox stand-in serves
//! captured responses; `MonitorCore` schedules, the real `PveClient` polls on a worker thread,
//! and `/api/state` plus the scheduler health reflect what happened, including injected outages.

use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{MonitorCore, PollOutcome, SchedulerConfig};
use pulse::proxmox::{ClientConfig, Product};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn fixture(name: &str) -> Option<String> {
    let path = format!(
        "{}/../shared/fixtures/proxmox/pve/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).ok()
}

/// Maps an API path to a captured response (the same capture for every node and guest).
fn answer(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix("/api2/json")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let file = match parts.as_slice() {
        ["nodes"] => "nodes.json",
        ["nodes", _, "status"] => "nodes_node_status.json",
        ["nodes", _, "rrddata"] => "nodes_node_rrddata.json",
        ["cluster", "resources"] => "cluster_resources.json",
        ["nodes", _, "qemu", _, "status", "current"] => "nodes_node_qemu_vmid_status_current.json",
        ["nodes", _, "qemu", _, "agent", "get-fsinfo"] => {
            "nodes_node_qemu_vmid_agent_get-fsinfo.json"
        }
        ["nodes", _, "qemu", _, "agent", "network-get-interfaces"] => {
            "nodes_node_qemu_vmid_agent_network-get-interfaces.json"
        }
        ["nodes", _, "storage"] => "nodes_node_storage.json",
        ["storage"] => {
            return Some(
                json!({"data": [{"storage": "synology", "type": "nfs", "shared": 1}]}).to_string(),
            )
        }
        _ => return None,
    };
    fixture(file)
}

struct FakePve {
    url: String,
    down: Arc<AtomicBool>,
}

fn start_fake_pve() -> FakePve {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let down = Arc::new(AtomicBool::new(false));
    let flag = down.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let flag = flag.clone();
            std::thread::spawn(move || serve_fake_pve(stream, &flag));
        }
    });
    FakePve {
        url: format!("http://127.0.0.1:{port}"),
        down,
    }
}

/// One keep-alive connection to the stand-in: GET requests without bodies, JSON answers.
fn serve_fake_pve(stream: std::net::TcpStream, down: &AtomicBool) {
    use std::io::{BufRead, BufReader, Write};
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut authorized = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("authorization")
                    && v.trim() == "PVEAPIToken=monitor@pve!pulse=s3cret"
                {
                    authorized = true;
                }
            }
        }
        let url = request_line.split(' ').nth(1).unwrap_or("/");
        let (code, body) = if down.load(Ordering::SeqCst) {
            (503, "{\"data\":null}".to_string())
        } else if !authorized {
            (401, "{\"data\":null}".to_string())
        } else {
            match answer(url) {
                Some(body) => (200, body),
                None => (404, "{\"data\":null}".to_string()),
            }
        };
        let head = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = reader.get_mut();
        if s.write_all(head.as_bytes()).is_err() || s.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn client_config(url: &str, secret: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(Product::Pve, url);
    cfg.token_name = "monitor@pve!pulse".into();
    cfg.token_value = secret.into();
    cfg.timeout = Duration::from_secs(5);
    cfg
}

/// Runs every due job on its own worker thread, as the event loop's pool would.
fn poll_round(core: &mut MonitorCore, now: i64) -> usize {
    let jobs = core.start_due(now, 8);
    let n = jobs.len();
    let handles: Vec<std::thread::JoinHandle<PollOutcome>> = jobs
        .into_iter()
        .map(|job| std::thread::spawn(move || job.run(now)))
        .collect();
    for h in handles {
        let outcome = h.join().expect("worker thread");
        core.finish(outcome, now + 100);
    }
    n
}

fn state(core: &MonitorCore) -> Value {
    serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or(Value::Null)
}

fn health(core: &MonitorCore, now: i64) -> Value {
    serde_json::from_slice(&core.health_json(now)).unwrap_or(Value::Null)
}

#[test]
fn polls_over_http_fill_state_and_outages_show_in_health() {
    let pve = start_fake_pve();
    let mut core = MonitorCore::new(SchedulerConfig::default(), 3);
    let key = core
        .add_pve(
            &client_config(&pve.url, "s3cret"),
            PveSettings::new("lab", &pve.url),
            T0,
        )
        .expect("config ok");

    assert_eq!(poll_round(&mut core, T0), 1);
    let v = state(&core);
    let nodes: Vec<&str> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(nodes, ["lab-node1", "lab-node2", "lab-node3", "lab-node4"]);
    // PVE 7 status memory + PVE 9 RRD capture: memavailable from the RRD wins over `used`.
    assert_eq!(
        v["nodes"][0]["memory"]["used"],
        65_919_459_328u64 - 9_764_272_810
    );
    let vm = v["vms"]
        .as_array()
        .and_then(|a| a.iter().find(|g| g["id"] == "lab-node2-100"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(vm["memory"]["used"], 2_097_152_000u64 - 887_222_272);
    assert_eq!(vm["disk"]["total"], 1_916_223_488u64);
    assert!(
        v["vms"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|g| g["vmid"] != 101),
        "template skipped"
    );
    // Storage comes from the storage rows of the same /cluster/resources answer (this
    // capture's cluster has local storage only), not from a listing per node.
    let zfs = v["storage"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == "lab-node1-local-zfs"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (zfs["total"].as_i64(), zfs["used"].as_i64()),
        (Some(955_016_175_616), Some(14_446_702_592))
    );
    assert_eq!(v["storage"].as_array().map(Vec::len), Some(12));
    assert_eq!(v["connectionHealth"]["lab"], true);
    assert_eq!(core.next_deadline(), Some(T0 + 10_000));

    // The host goes away: three failures open the breaker; state keeps the last picture in grace.
    pve.down.store(true, Ordering::SeqCst);
    let mut now = T0 + 10_000;
    for _ in 0..3 {
        now = now.max(core.next_deadline().expect("scheduled"));
        assert_eq!(poll_round(&mut core, now), 1);
    }
    let h = health(&core, now);
    assert_eq!(h["instances"][0]["key"], "pve::lab");
    assert_eq!(h["instances"][0]["breaker"]["state"], "open");
    assert_eq!(h["instances"][0]["pollStatus"]["consecutiveFailures"], 3);
    assert_eq!(
        h["instances"][0]["pollStatus"]["lastError"]["category"],
        "transient"
    );
    assert_eq!(state(&core)["connectionHealth"]["lab"], false);
    assert_eq!(core.scheduler().consecutive_failures(&key), 3);

    // Back: one success closes the breaker.
    pve.down.store(false, Ordering::SeqCst);
    now = now.max(core.next_deadline().expect("scheduled"));
    assert_eq!(poll_round(&mut core, now), 1);
    let h = health(&core, now);
    assert_eq!(h["instances"][0]["breaker"]["state"], "closed");
    assert!(h.get("breakers").is_none());
    assert_eq!(state(&core)["connectionHealth"]["lab"], true);
}

#[test]
fn wrong_token_is_permanent_and_parked() {
    let pve = start_fake_pve();
    let mut core = MonitorCore::new(SchedulerConfig::default(), 3);
    core.add_pve(
        &client_config(&pve.url, "wrong"),
        PveSettings::new("lab", &pve.url),
        T0,
    )
    .expect("config ok");
    assert_eq!(poll_round(&mut core, T0), 1);
    let h = health(&core, T0 + 100);
    assert_eq!(
        h["instances"][0]["pollStatus"]["lastError"]["category"],
        "permanent"
    );
    assert_eq!(
        h["instances"][0]["deadLetter"]["reason"],
        "permanent_failure"
    );
    assert_eq!(
        poll_round(&mut core, T0 + 60_000),
        0,
        "parked: not polled every cycle"
    );
}

#[test]
fn removed_instance_discards_its_running_poll() {
    let pve = start_fake_pve();
    let mut core = MonitorCore::new(SchedulerConfig::default(), 3);
    let key = core
        .add_pve(
            &client_config(&pve.url, "s3cret"),
            PveSettings::new("lab", &pve.url),
            T0,
        )
        .expect("config ok");
    let jobs = core.start_due(T0, 8);
    assert_eq!(jobs.len(), 1);
    core.remove(&key);
    for job in jobs {
        let outcome = job.run(T0);
        core.finish(outcome, T0 + 100);
    }
    assert_eq!(state(&core)["nodes"], json!([]));
    assert_eq!(core.next_deadline(), None);
}

#[test]
fn unreachable_pbs_is_listed_offline() {
    // A loopback port nobody listens on: connection refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let mut cfg = ClientConfig::new(Product::Pbs, format!("http://127.0.0.1:{port}"));
    cfg.token_name = "monitor@pbs!pulse".into();
    cfg.token_value = "s3cret".into();
    let mut core = MonitorCore::new(SchedulerConfig::default(), 3);
    core.add_pbs("backup", &cfg, T0).expect("config ok");
    assert_eq!(poll_round(&mut core, T0), 1);
    let v = state(&core);
    assert_eq!(v["pbs"][0]["id"], "pbs-backup");
    assert_eq!(v["pbs"][0]["status"], "offline");
    assert_eq!(v["pbs"][0]["host"], format!("http://127.0.0.1:{port}"));
    assert_eq!(v["connectionHealth"]["pbs-backup"], false);
    let h = health(&core, T0 + 100);
    assert_eq!(h["instances"][0]["key"], "pbs::backup");
    assert_eq!(
        h["instances"][0]["pollStatus"]["lastError"]["category"],
        "transient"
    );
}
