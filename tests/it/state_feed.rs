//! The `/api/state` document is built off the loop (issue #10): readers get the newest
//! finished bytes without waiting for a build, changes made while a build runs are coalesced
//! into one more build of the newest state, and WebSocket clients get `rawData` after each.

use crate::support;

use serde_json::{json, Value};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::pools::hold_task_pool;
use support::{ws_connect, ws_next, TestServer};

/// One state change on the loop: the `hosts` area becomes `[{"id": <id>, ...}]` (padded so
/// the document is big enough to be served gzipped).
fn change(s: &TestServer, id: String) {
    s.apply(move |app| {
        let host = json!({ "id": id, "pad": "x".repeat(2000) });
        app.polling
            .core
            .state_mut()
            .set_extra(pulse::state::ExtraArea::Hosts, vec![host]);
    });
}

fn stats(s: &TestServer) -> pulse::core::state_feed::FeedStats {
    let (tx, rx) = mpsc::channel();
    s.apply(move |app| tx.send(app.state_feed_stats()).unwrap());
    rx.recv().unwrap()
}

fn hosts_id(doc: &Value) -> Value {
    doc["hosts"][0]["id"].clone()
}

fn wait_state(s: &TestServer, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let doc = s.get("/api/state").json();
        if pred(&doc) {
            return doc;
        }
        assert!(Instant::now() < until, "state never matched: {doc}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readers_get_the_newest_finished_state_and_changes_during_a_build_are_coalesced() {
    let s = TestServer::start(&[("PULSE_LIMIT_TASK_THREADS", "1")]);
    change(&s, "first".into());
    let first = wait_state(&s, 10, |d| hosts_id(d) == "first");
    // Every key of the document is there (built from the state, not a placeholder).
    for key in ["nodes", "vms", "containers", "storage", "connectionHealth"] {
        assert!(!first[key].is_null(), "{key}: {first}");
    }
    wait_until_idle(&s);
    let built0 = stats(&s).built;

    // With the task thread busy no build can run: twenty changes arrive meanwhile.
    let release = hold_task_pool(&s);
    for i in 0..20 {
        change(&s, format!("change-{i}"));
    }
    // The build is queued behind the held job; if the queue was momentarily full (another
    // task such as a history save), the loop asks again after its next batch (≤ 1 s).
    let asked = Instant::now();
    // (Or its alert evaluation does, and the build waits for that: one document carries a
    // change and the alerts it raises.)
    let mut during = stats(&s);
    while !(during.building || during.alerts_evaluating) && asked.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
        during = stats(&s);
    }
    assert!(
        during.building || during.alerts_evaluating,
        "the first change's build waits for the pool"
    );
    assert_eq!(during.built, built0);
    // A reader asking now must see the changes made before it asked: its answer waits for
    // the build that includes them (the loop goes on serving meanwhile).
    let addr = s.addr;
    let (tx, answered) = mpsc::channel();
    std::thread::spawn(move || {
        let r = support::request(addr, "GET", "/api/state", &[], None);
        tx.send(r).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(answered.try_recv().is_err(), "answered with a stale state");
    assert_eq!(s.get("/api/health").status, 200, "the loop still serves");

    release.send(()).unwrap();
    let waited = answered.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(waited.status, 200);
    assert_eq!(
        hosts_id(&waited.json()),
        "change-19",
        "the newest, not the first"
    );
    let last = wait_state(&s, 10, |d| hosts_id(d) == "change-19");
    wait_until_idle(&s);
    let after = stats(&s);
    // One build of what was current when the pool was asked, one of the newest: not twenty.
    assert!(
        after.built - built0 <= 2,
        "{} builds for 20 changes",
        after.built - built0
    );
    assert_eq!(s.get("/api/state").json(), last);
    // The gzip form is the same document, computed by the worker with the build.
    let gz = s.req("GET", "/api/state", &[("Accept-Encoding", "gzip")], None);
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut plain)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&plain).unwrap(), last);
}

fn wait_until_idle(s: &TestServer) {
    let until = Instant::now() + Duration::from_secs(10);
    while stats(s).building {
        assert!(Instant::now() < until, "a build never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn websocket_clients_get_raw_data_after_each_change() {
    let s = TestServer::start(&[]);
    let mut ws = ws_connect(s.addr, "/ws", &[]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "welcome");
    let initial = ws_next(&mut ws);
    assert_eq!(initial["type"], "initialState");
    assert!(initial["data"]["nodes"].is_array(), "{initial}");

    for round in 0..3 {
        let id = format!("ws-{round}");
        change(&s, id.clone());
        // The 10 s re-broadcast may interleave older copies: wait for this change's frame.
        let until = Instant::now() + Duration::from_secs(10);
        let frame = loop {
            let m = ws_next(&mut ws);
            if m["type"] == "rawData" && hosts_id(&m["data"]) == id.as_str() {
                break m;
            }
            assert!(Instant::now() < until, "no rawData for {id}");
        };
        // The frame carries exactly the document `/api/state` serves.
        assert_eq!(frame["data"], s.get("/api/state").json());
    }
}
