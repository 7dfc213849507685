//! The alert engine off the loop: an evaluation owns the engine on the task pool for a few
//! milliseconds per poll. Requests that read or change alerts meanwhile wait for it (never an
//! empty placeholder), and a full pool evaluates on the loop rather than lose it.

use crate::alerts_api::{find, ids, stored_alert, wait_json};
use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::pools::{hold, hold_task_pool};
use support::TestServer;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn engine_away(s: &TestServer) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| tx.send(app.alerts.is_away()).unwrap());
    rx.recv().unwrap()
}

/// Sends a request from another thread; the answer arrives on the returned channel.
fn request_in_background(
    s: &TestServer,
    method: &'static str,
    path: String,
    body: Option<Value>,
) -> std::sync::mpsc::Receiver<support::Response> {
    let addr = s.addr;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let body = body.map(|b| b.to_string());
        let r = support::request(
            addr,
            method,
            &path,
            &[JSON],
            body.as_deref().map(str::as_bytes),
        );
        let _ = tx.send(r);
    });
    rx
}

/// A server with one task thread and `alerts` restored as active, once they are published
/// and no evaluation is running.
fn start_settled(tag: &str, alerts: &[Value], env: &[(&str, &str)]) -> TestServer {
    let dir = support::temp_dir(tag);
    std::fs::write(
        dir.join("active-alerts.json"),
        serde_json::to_vec(alerts).unwrap(),
    )
    .unwrap();
    let dir_s = dir.display().to_string();
    let mut all = vec![
        ("PULSE_DATA_DIR", dir_s.as_str()),
        ("PULSE_LIMIT_TASK_THREADS", "1"),
    ];
    all.extend_from_slice(env);
    let s = TestServer::start(&all);
    wait_json(&s, "/api/state", 10, |st| {
        ids(&st["activeAlerts"]).len() == alerts.len()
    });
    let idle = Instant::now() + Duration::from_secs(10);
    while engine_away(&s) && Instant::now() < idle {
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}

#[test]
fn requests_wait_while_an_evaluation_off_the_loop_holds_the_engine() {
    let s = start_settled(
        "alerts-away",
        &[
            stored_alert("a-cpu", "critical"),
            stored_alert("b-cpu", "warning"),
        ],
        &[],
    );

    // The task thread is held, and the state changes: its evaluation waits in the queue with
    // the engine.
    let release = hold_task_pool(&s);
    s.apply(|app| {
        app.polling.core.state_mut().set_extra(
            pulse::state::ExtraArea::Hosts,
            vec![json!({"id": "changed"})],
        );
    });
    let asked = Instant::now();
    while !engine_away(&s) && asked.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(engine_away(&s), "the evaluation took the engine along");

    // Reads and actions wait for it rather than see an engine without alerts.
    let active = request_in_background(&s, "GET", "/api/alerts/active".into(), None);
    let ack = request_in_background(
        &s,
        "POST",
        "/api/alerts/a-cpu/acknowledge".into(),
        Some(json!({"user": "ops"})),
    );
    let overview = request_in_background(&s, "GET", "/api/alerts".into(), None);
    std::thread::sleep(Duration::from_millis(300));
    assert!(active.try_recv().is_err(), "answered from an absent engine");
    assert!(ack.try_recv().is_err(), "acted on an absent engine");
    assert_eq!(s.get("/api/health").status, 200, "the loop still serves");

    release.send(()).unwrap();
    let active = active.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(active.status, 200);
    assert_eq!(ids(&active.json()).len(), 2, "{}", active.text());
    let ack = ack.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(ack.status, 200, "{}", ack.text());
    let overview = overview.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(overview.json()["status"]["active"], 2);
    let a = find(&s.get("/api/alerts/active").json(), "a-cpu").clone();
    assert_eq!(a["acknowledged"], true);
    // The state published after the evaluation carries the alerts (and the change).
    let st = wait_json(&s, "/api/state", 10, |st| st["hosts"][0]["id"] == "changed");
    assert_eq!(ids(&st["activeAlerts"]).len(), 2);
}

#[test]
fn a_full_task_pool_evaluates_on_the_loop_rather_than_lose_the_engine() {
    let s = start_settled(
        "alerts-full-pool",
        &[stored_alert("a-cpu", "critical")],
        &[("PULSE_LIMIT_TASK_QUEUE", "1")],
    );
    // The thread runs one held job and the queue's one place holds another.
    let release = hold_task_pool(&s);
    let release2 = hold(&s, pulse::core::app::App::task_pool, false);
    let (home_tx, home) = std::sync::mpsc::channel::<bool>();
    s.apply(move |app| {
        app.polling.core.state_mut().set_extra(
            pulse::state::ExtraArea::Hosts,
            vec![json!({"id": "changed"})],
        );
        // The batch's evaluation finds the pool full and runs here.
        app.after_batch();
        home_tx.send(!app.alerts.is_away()).unwrap();
    });
    assert!(home.recv().unwrap(), "the engine stayed home");
    let r = s.get("/api/alerts/active");
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.json()), vec!["a-cpu".to_string()]);
    release.send(()).unwrap();
    release2.send(()).unwrap();
}
