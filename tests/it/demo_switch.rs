//! Demo mode is switched on a worker (issue #10): the simulator's start (certificates, binds,
//! threads, the estate) and stop (joining its threads) never run on the loop, the answer comes
//! when the switch is done, and a refused or conflicting switch changes nothing.

use crate::support;

use serde_json::Value;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::pools::hold_net_pool;
use support::TestServer;

fn post(s: &TestServer, body: &str) -> support::Response {
    s.req("POST", "/api/system/mock-mode", &[], Some(body.as_bytes()))
}

fn nodes(s: &TestServer) -> usize {
    s.get("/api/state").json()["nodes"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn demo_mode_is_switched_on_a_worker_and_answered_when_done() {
    let s = TestServer::start(&[("PULSE_LIMIT_NET_THREADS", "1")]);
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], false);

    // With the worker busy the switch cannot run: its answer waits, the loop does not.
    let release = hold_net_pool(&s);
    let addr = s.addr;
    let (tx, answered) = mpsc::channel();
    std::thread::spawn(move || {
        let body = br#"{"enabled":true,"config":{"nodeCount":2,"vmsPerNode":2,"lxcsPerNode":1}}"#;
        let r = support::request(addr, "POST", "/api/system/mock-mode", &[], Some(body));
        tx.send(r).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("/api/health").status, 200);
    assert!(
        answered.try_recv().is_err(),
        "answered before the switch ran"
    );
    // Nothing changed yet: the switch starts when a worker takes it.
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], false);

    release.send(()).unwrap();
    let on = answered.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(on.status, 200, "{}", on.text());
    let on: Value = on.json();
    assert_eq!(on["enabled"], true);
    assert_eq!(on["config"]["NodeCount"], 2);
    // Answered once the simulator runs and its instances are in the monitor.
    let (tx, rx) = mpsc::channel();
    s.apply(move |app| {
        tx.send((app.polling.demo.is_some(), app.demo_switching()))
            .unwrap()
    });
    assert_eq!(rx.recv().unwrap(), (true, false));
    let until = Instant::now() + Duration::from_secs(30);
    while nodes(&s) != 2 {
        assert!(Instant::now() < until, "demo nodes never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A switch while another runs is refused and changes nothing.
    s.apply(|app| app.polling.demo_change = Some(false));
    let busy = post(&s, r#"{"enabled":false}"#);
    assert_eq!(busy.status, 409, "{}", busy.text());
    assert!(busy.json()["error"].as_str().unwrap().contains("retry"));
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], false);
    s.apply(|app| app.polling.demo_change = None);
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], true);

    // Stopping: the simulator's threads are joined on the worker; the answer follows.
    let off = post(&s, r#"{"enabled":false}"#);
    assert_eq!(off.status, 200, "{}", off.text());
    assert_eq!(off.json()["enabled"], false);
    let (tx, rx) = mpsc::channel();
    s.apply(move |app| tx.send(app.polling.demo.is_none()).unwrap());
    assert!(rx.recv().unwrap());
    let until = Instant::now() + Duration::from_secs(10);
    while nodes(&s) != 0 {
        assert!(Instant::now() < until, "demo nodes stayed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_refused_switch_leaves_demo_mode_as_it_was() {
    let s = TestServer::start(&[
        ("PULSE_LIMIT_NET_THREADS", "1"),
        ("PULSE_LIMIT_NET_QUEUE", "1"),
    ]);
    // One job runs, one waits: the pool is full.
    let release = hold_net_pool(&s);
    let (tx, _keep) = mpsc::channel::<()>();
    s.apply(move |app| {
        app.net_pool()
            .try_submit(Box::new(move || drop(tx)))
            .unwrap_or_else(|_| panic!("queue full"));
    });
    let refused = post(&s, r#"{"enabled":true}"#);
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(s.get("/api/system/mock-mode").json()["enabled"], false);
    let (tx, rx) = mpsc::channel();
    s.apply(move |app| {
        tx.send((app.polling.demo.is_none(), app.demo_switching()))
            .unwrap()
    });
    assert_eq!(rx.recv().unwrap(), (true, false));
    drop(release);
}
