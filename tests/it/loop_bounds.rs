//! The loop's promised bounds and failure paths, through real HTTP requests on 127.0.0.1:
//! a full inbox and a full worker pool answer 503, deferred work past its deadline answers 504,
//! a full writer queue answers 503 with nothing written, and a panic on the loop aborts the
//! process instead of leaving it hanging. The limits are shrunk through `PULSE_LIMIT_*`; test-only
//! routes (added with `core::start_with`) stall the loop, hold the writer, or panic.

use crate::support;

use pulse::core::app::App;
use pulse::core::outcome::Outcome;
use pulse::http::reply::Reply;
use pulse::http::request::Method;
use pulse::http::router::{Access, Csrf, Ctx, Route};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::{request, Response, TestServer};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// Blocks the event loop itself for a second: what every blocking call on it would do.
fn stall(_: &mut App, _: &Ctx) -> Outcome {
    thread::sleep(Duration::from_millis(1000));
    Reply::json(200, &json!({"stalled": true})).into()
}

fn panic_on_loop(_: &mut App, _: &Ctx) -> Outcome {
    panic!("test route panics on the loop");
}

/// Open while `true`: the writer thread waits in a job queued by `hold_writer` until released.
static WRITER_GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

fn hold_writer(app: &mut App, _: &Ctx) -> Outcome {
    *WRITER_GATE.0.lock().unwrap() = true;
    let queued = app.writer().after_queued(Box::new(|| {
        let (lock, cv) = &WRITER_GATE;
        let held = lock.lock().unwrap();
        let _unused = cv
            .wait_timeout_while(held, Duration::from_secs(20), |held| *held)
            .unwrap();
    }));
    assert!(queued.is_ok());
    Reply::json(200, &json!({"held": true})).into()
}

fn release_writer() {
    *WRITER_GATE.0.lock().unwrap() = false;
    WRITER_GATE.1.notify_all();
}

fn route(pattern: &'static str, handler: fn(&mut App, &Ctx) -> Outcome) -> Route {
    Route {
        methods: &[Method::Get, Method::Post],
        pattern,
        access: Access::Public,
        csrf: Csrf::Required,
        handler,
    }
}

fn test_routes() -> Vec<Route> {
    vec![
        route("/api/test/stall", stall),
        route("/api/test/panic", panic_on_loop),
        route("/api/test/hold-writer", hold_writer),
    ]
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], None)
}

fn post(addr: SocketAddr, path: &str, body: serde_json::Value) -> Response {
    request(
        addr,
        "POST",
        path,
        &[JSON],
        Some(body.to_string().as_bytes()),
    )
}

/// A TCP server that accepts and never answers: a host that hangs a connection test. `release`
/// closes every accepted connection so the stuck workers are freed at once.
struct Blackhole {
    addr: SocketAddr,
    /// `None` once released: later connections are closed at once.
    held: Arc<Mutex<Option<Vec<TcpStream>>>>,
}

impl Blackhole {
    fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(Mutex::new(Some(Vec::new())));
        let keep = Arc::clone(&held);
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                if let Some(streams) = keep.lock().unwrap().as_mut() {
                    streams.push(s);
                }
            }
        });
        Blackhole { addr, held }
    }

    fn release(&self) {
        for s in self.held.lock().unwrap().take().unwrap_or_default() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn connection_test(addr: SocketAddr, target: SocketAddr) -> Response {
    post(
        addr,
        "/api/config/nodes/test-connection",
        json!({"type":"pve","name":"hang","host":format!("https://{target}"),
               "user":"root@pam","password":"pw"}),
    )
}

/// Requests no longer pass through the loop's inbox (the loop serves HTTP itself), so a tiny
/// inbox cannot refuse them: while the loop is stalled they wait in the kernel's backlog and
/// are all answered, in full, once it turns again.
#[test]
fn a_stalled_loop_with_a_tiny_inbox_still_answers_every_request_afterwards() {
    let s = TestServer::start_with(&[("PULSE_LIMIT_INBOX", "1")], test_routes());
    let addr = s.addr;
    let stalled = thread::spawn(move || get(addr, "/api/test/stall"));
    thread::sleep(Duration::from_millis(200));
    let probes: Vec<_> = (0..6)
        .map(|_| thread::spawn(move || get(addr, "/api/health")))
        .collect();
    let statuses: Vec<u16> = probes
        .into_iter()
        .map(|p| p.join().unwrap().status)
        .collect();
    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(stalled.join().unwrap().status, 200);
    assert_eq!(
        get(addr, "/api/health").status,
        200,
        "the loop serves again"
    );
}

#[test]
fn a_full_worker_pool_answers_503_and_overdue_work_504() {
    let hole = Blackhole::start();
    let s = TestServer::start_with(
        &[
            ("PULSE_LIMIT_NET_THREADS", "1"),
            ("PULSE_LIMIT_NET_QUEUE", "1"),
            ("PULSE_LIMIT_DEFERRED_TIMEOUT_MS", "500"),
            ("CONNECTION_TIMEOUT", "10"),
        ],
        test_routes(),
    );
    let (addr, target) = (s.addr, hole.addr);
    // One test holds the only net worker, one waits in its queue of one.
    let first = thread::spawn(move || connection_test(addr, target));
    thread::sleep(Duration::from_millis(300));
    let second = thread::spawn(move || connection_test(addr, target));
    thread::sleep(Duration::from_millis(300));
    let third = connection_test(addr, target);
    assert_eq!(third.status, 503, "{}", third.text());
    assert!(third.json()["error"].as_str().unwrap().contains("busy"));
    // Both accepted ones outlive the (shrunk) deadline: 504, not a hang.
    let started = Instant::now();
    let first = first.join().unwrap();
    assert_eq!(first.status, 504, "{}", first.text());
    assert_eq!(second.join().unwrap().status, 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    hole.release();
    assert_eq!(get(addr, "/api/health").status, 200);
}

#[test]
fn a_full_writer_queue_answers_503_and_writes_nothing() {
    let s = TestServer::start_with(&[("PULSE_LIMIT_WRITER_QUEUE", "1")], test_routes());
    let addr = s.addr;
    assert_eq!(get(addr, "/api/test/hold-writer").status, 200);
    // Queued (the queue's one place): its answer waits for the writer.
    let theme =
        thread::spawn(move || post(addr, "/api/system/settings/update", json!({"theme":"dark"})));
    thread::sleep(Duration::from_millis(300));
    // A newer save of the same file supersedes the queued one instead of needing a place.
    let theme2 = thread::spawn(move || {
        post(
            addr,
            "/api/system/settings/update",
            json!({"theme":"light"}),
        )
    });
    thread::sleep(Duration::from_millis(300));
    // A save of another file finds the queue full: 503, nothing changed in memory or on disk.
    let node = post(
        addr,
        "/api/config/nodes",
        json!({"type":"pve","name":"n","host":"127.0.0.1:9","user":"root@pam","password":"pw"}),
    );
    assert_eq!(node.status, 503, "{}", node.text());
    // The loop does not wait for the writer: it answers while the saves are still pending.
    let started = Instant::now();
    assert_eq!(get(addr, "/api/health").status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        !theme.is_finished(),
        "a save is answered only once it is on disk"
    );
    assert_eq!(get(addr, "/api/config/nodes").json(), json!([]));
    assert!(!s.data_dir.join("nodes.enc").exists());
    assert!(
        !s.data_dir.join("system.json").exists(),
        "nothing is written while the writer is held"
    );
    release_writer();
    assert_eq!(theme.join().unwrap().status, 200);
    assert_eq!(theme2.join().unwrap().status, 200);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.data_dir.join("system.json")).unwrap()).unwrap();
    assert_eq!(saved["theme"], "light");
    let retry = post(
        addr,
        "/api/config/nodes",
        json!({"type":"pve","name":"n","host":"127.0.0.1:9","user":"root@pam","password":"pw"}),
    );
    assert_eq!(retry.status, 201, "{}", retry.text());
    assert!(
        s.data_dir.join("nodes.enc").exists(),
        "answered after the write"
    );
}

const PANIC_CHILD: &str = "PULSE_LOOP_PANIC_CHILD";

/// Helper, run only by `a_panic_on_the_loop_aborts_the_process` in a child process.
#[test]
#[ignore = "helper: run in a child process by the loop-panic test"]
fn loop_panic_child() {
    assert!(
        std::env::var(PANIC_CHILD).is_ok(),
        "run by the parent test only"
    );
    let s = TestServer::start_with(&[], test_routes());
    println!("ADDR {}", s.addr);
    // Waits for the abort; if it never comes, returning here fails the parent's check.
    thread::sleep(Duration::from_secs(15));
}

#[test]
fn a_panic_on_the_loop_aborts_the_process() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "loop_bounds::loop_panic_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PANIC_CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr: SocketAddr = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The harness's "test loop_panic_child ... " may share the line.
        .find_map(|l| {
            l.split_once("ADDR ")
                .map(|(_, a)| a.trim().parse().unwrap())
        })
        .expect("child started a server");
    // The request cannot succeed: the process dies under it.
    let answer = thread::spawn(move || get(addr, "/api/test/panic"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process hangs after a panic on the loop instead of aborting");
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(6), "SIGABRT expected, got {status:?}");
    let _ = answer.join();
}

#[test]
fn a_failed_save_answers_its_error_and_memory_follows_the_disk() {
    let s = TestServer::start(&[]);
    let addr = s.addr;
    let node = |name: &str, host: &str| json!({"type":"pve","name":name,"host":host,"user":"root@pam","password":"pw"});
    assert_eq!(
        post(addr, "/api/config/nodes", node("a", "127.0.0.1:9")).status,
        201
    );
    // The next save's first step (the backup copy) cannot replace a non-empty directory.
    let backup = s.data_dir.join("nodes.enc.backup");
    std::fs::create_dir_all(backup.join("blocker")).unwrap();
    let failed = post(addr, "/api/config/nodes", node("b", "127.0.0.2:9"));
    assert_eq!(failed.status, 500, "{}", failed.text());
    assert!(failed.json()["error"]
        .as_str()
        .unwrap()
        .contains("nodes.enc.backup"));
    let names: Vec<String> = get(addr, "/api/config/nodes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a"], "the failed change is not shown");
    std::fs::remove_dir_all(&backup).unwrap();
    assert_eq!(
        post(addr, "/api/config/nodes", node("b", "127.0.0.2:9")).status,
        201
    );
}
