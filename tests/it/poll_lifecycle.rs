//! One poll per instance, ever: replacing or removing an instance while its poll is out tells
//! that poll to stop and starts nothing for the key until it has returned, so the upstream
//! never serves two polls of one instance. A slow Proxmox stand-in on 127.0.0.1 records which
//! configuration (API token) each request came from and how many ran at once.

use pulse::monitor::poll_pve::PveSettings;
use pulse::monitor::{MonitorCore, PollJob, PollOutcome, SchedulerConfig, TaskKey};
use pulse::proxmox::{ClientConfig, Product};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

#[derive(Default)]
struct Seen {
    by_token: BTreeMap<String, usize>,
    in_flight: BTreeMap<String, usize>,
    /// Most configurations (tokens) with requests in flight at the same moment.
    max_overlap: usize,
}

struct SlowPve {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

/// Every request takes `delay`; 40 running guests on one node. A plain std server (one
/// thread per connection, keep-alive) so that slow answers overlap as a real pveproxy's would.
fn start_slow_pve(delay: Duration) -> SlowPve {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let accept_seen = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = accept_seen.clone();
            std::thread::spawn(move || serve_slow(stream, &seen, delay));
        }
    });
    SlowPve {
        url: format!("http://127.0.0.1:{port}"),
        seen,
    }
}

/// Answers requests on one connection until the peer closes it.
fn serve_slow(stream: TcpStream, seen: &Mutex<Seen>, delay: Duration) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut token = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    token = value.trim().to_string();
                }
            }
        }
        if let Ok(mut s) = seen.lock() {
            *s.by_token.entry(token.clone()).or_default() += 1;
            *s.in_flight.entry(token.clone()).or_default() += 1;
            let overlap = s.in_flight.values().filter(|n| **n > 0).count();
            s.max_overlap = s.max_overlap.max(overlap);
        }
        std::thread::sleep(delay);
        let path = target.split('?').next().unwrap_or_default();
        let data = match path.trim_start_matches("/api2/json") {
            "/nodes" => json!([{"node": "n1", "status": "online", "maxmem": 1000, "mem": 10}]),
            "/cluster/resources" => json!((0..40)
                .map(
                    |i| json!({"id": format!("qemu/{}", 100 + i), "type": "qemu",
                    "node": "n1", "vmid": 100 + i, "status": "running", "mem": 5, "maxmem": 10})
                )
                .collect::<Vec<_>>()),
            _ => json!([]),
        };
        if let Ok(mut s) = seen.lock() {
            if let Some(n) = s.in_flight.get_mut(&token) {
                *n -= 1;
            }
        }
        let body = json!({ "data": data }).to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn config(url: &str, secret: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(Product::Pve, url);
    cfg.token_name = "monitor@pve!pulse".into();
    cfg.token_value = secret.into();
    cfg.timeout = Duration::from_secs(5);
    cfg
}

fn token(secret: &str) -> String {
    format!("PVEAPIToken=monitor@pve!pulse={secret}")
}

fn requests(pve: &SlowPve, secret: &str) -> usize {
    pve.seen
        .lock()
        .map(|s| s.by_token.get(&token(secret)).copied().unwrap_or(0))
        .unwrap_or(0)
}

fn spawn(job: PollJob) -> std::thread::JoinHandle<PollOutcome> {
    std::thread::spawn(move || job.run(T0))
}

fn add(core: &mut MonitorCore, pve: &SlowPve, secret: &str) -> TaskKey {
    core.add_pve(
        &config(&pve.url, secret),
        PveSettings::new("lab", &pve.url),
        T0,
    )
    .expect("config ok")
}

/// Waits until the old poll has made a few requests (it is really out and talking).
fn wait_for_requests(pve: &SlowPve, secret: &str, n: usize) {
    for _ in 0..200 {
        if requests(pve, secret) >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the poll never reached {n} requests");
}

#[test]
fn replacing_an_instance_waits_for_and_stops_its_running_poll() {
    let pve = start_slow_pve(Duration::from_millis(60));
    let mut core = MonitorCore::new(SchedulerConfig::default(), 1);
    let key = add(&mut core, &pve, "old");
    let mut jobs = core.start_due(T0, 8);
    assert_eq!(jobs.len(), 1);
    let old = spawn(jobs.remove(0));
    wait_for_requests(&pve, "old", 3);

    // The configuration changes while the old poll is out.
    let key2 = add(&mut core, &pve, "new");
    assert_eq!(key, key2);
    assert!(core.poll_in_flight(&key));
    assert!(
        core.start_due(T0 + 60_000, 8).is_empty(),
        "nothing starts for the key while its old poll is out"
    );
    assert_eq!(
        core.next_deadline(),
        None,
        "and the loop does not spin on it"
    );

    let outcome = old.join().expect("old poll thread");
    let old_requests = requests(&pve, "old");
    // Cancelled: the 40 guest details were not fetched after the flag was set.
    assert!(
        old_requests < 10,
        "the old poll stopped early ({old_requests} requests)"
    );
    core.finish(outcome, T0 + 1_000);
    let v: serde_json::Value =
        serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or_default();
    assert_eq!(v["nodes"], json!([]), "the old poll's result is discarded");

    // Now the replacement runs, alone.
    let mut jobs = core.start_due(T0 + 1_000, 8);
    assert_eq!(jobs.len(), 1);
    let outcome = spawn(jobs.remove(0)).join().expect("new poll thread");
    core.finish(outcome, T0 + 2_000);
    assert!(requests(&pve, "new") > 0);
    assert_eq!(
        requests(&pve, "old"),
        old_requests,
        "nothing more from the old configuration"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or_default();
    assert_eq!(v["vms"].as_array().map(Vec::len), Some(40));
    let overlap = pve.seen.lock().map(|s| s.max_overlap).unwrap_or(0);
    assert_eq!(overlap, 1, "the upstream never served two polls at once");
}

#[test]
fn removing_an_instance_stops_its_poll_and_discards_the_result() {
    let pve = start_slow_pve(Duration::from_millis(60));
    let mut core = MonitorCore::new(SchedulerConfig::default(), 2);
    let key = add(&mut core, &pve, "gone");
    let mut jobs = core.start_due(T0, 8);
    let old = spawn(jobs.remove(0));
    wait_for_requests(&pve, "gone", 2);
    core.remove(&key);
    // Re-added at once (a quick delete + add in the UI): still waits for the old poll.
    add(&mut core, &pve, "again");
    assert!(core.start_due(T0 + 60_000, 8).is_empty());
    let outcome = old.join().expect("old poll thread");
    assert!(requests(&pve, "gone") < 10);
    core.finish(outcome, T0 + 1_000);
    let mut jobs = core.start_due(T0 + 1_000, 8);
    assert_eq!(
        jobs.len(),
        1,
        "the re-added instance starts after the old poll returned"
    );
    let outcome = spawn(jobs.remove(0)).join().expect("poll thread");
    core.finish(outcome, T0 + 2_000);

    core.remove(&key);
    assert!(core.start_due(T0 + 120_000, 8).is_empty());
    let v: serde_json::Value =
        serde_json::from_slice(&core.state().to_frontend_json()).unwrap_or_default();
    assert_eq!(v["vms"], json!([]));
}

#[test]
fn a_backwards_wall_clock_step_does_not_stall_polling() {
    use pulse::core::polling::MonoClock;
    use std::time::Instant;
    let pve = start_slow_pve(Duration::from_millis(0));
    let mut core = MonitorCore::new(SchedulerConfig::default(), 3);
    let start = Instant::now();
    let wall_at_start = T0;
    let clock = MonoClock::new(wall_at_start);
    add(&mut core, &pve, "clock");
    let now = clock.at(start);
    let mut jobs = core.start_due(now, 8);
    assert_eq!(jobs.len(), 1);
    let outcome = spawn(jobs.remove(0)).join().expect("poll thread");
    core.finish(outcome, now);
    let deadline = core.next_deadline().expect("scheduled");

    // Eleven seconds later the wall clock has been stepped back an hour. Read from the wall
    // clock, nothing would be due for an hour; the monotonic schedule clock is unaffected.
    let later = start + Duration::from_secs(11);
    let wall_now = wall_at_start + 11_000 - 3_600_000;
    assert!(
        wall_now < deadline,
        "the wall clock would stall the schedule"
    );
    let mono_now = clock.at(later);
    assert!(mono_now >= deadline);
    assert_eq!(core.start_due(mono_now, 8).len(), 1, "the next poll is due");
}
