//! Scheduler behaviour with injected faults and a hand-moved clock: cadence, one poll in flight
//! per instance, backoff, circuit breaker, dead-letter queue, and the health JSON showing it all.

use pulse::monitor::{InstanceKind, PollError, PollTicket, Scheduler, SchedulerConfig, TaskKey};
use serde_json::Value;

const T0: i64 = 1_700_000_000_000;

fn scheduler() -> Scheduler {
    Scheduler::new(SchedulerConfig::default(), 99)
}

fn run(s: &mut Scheduler, key: &TaskKey, now: i64, result: Result<(), PollError>) {
    let ticket: PollTicket = s.started(key, now).expect("task can start");
    s.finished(&ticket, result, now + 200);
}

fn health_json(s: &Scheduler, now: i64) -> Value {
    serde_json::to_value(s.health(now)).expect("health serialises")
}

#[test]
fn new_instances_are_due_at_once_and_then_every_interval() {
    let mut s = scheduler();
    let pve = s.add_instance(InstanceKind::Pve, "main", "https://pve:8006", T0);
    let pbs = s.add_instance(InstanceKind::Pbs, "backup", "https://pbs:8007", T0);
    assert_eq!(s.due(T0), vec![pbs.clone(), pve.clone()]);
    assert_eq!(pve.to_string(), "pve::main");

    let ticket = s.started(&pve, T0).expect("start");
    assert!(
        s.started(&pve, T0).is_none(),
        "never two polls of one instance"
    );
    assert_eq!(s.due(T0), vec![pbs.clone()], "in-flight task is not due");
    s.finished(&ticket, Ok(()), T0 + 3_000);
    assert!(s.due(T0 + 9_999).iter().all(|k| k != &pve));
    assert!(
        s.due(T0 + 10_000).contains(&pve),
        "cadence follows start times: 10 s for PVE"
    );

    run(&mut s, &pbs, T0, Ok(()));
    assert_eq!(s.next_deadline(), Some(T0 + 10_000));
    assert!(!s.due(T0 + 59_999).contains(&pbs));
    assert!(
        s.due(T0 + 60_000).contains(&pbs),
        "PBS default interval is 60 s"
    );
}

#[test]
fn a_hung_instance_never_delays_the_others() {
    let mut s = scheduler();
    let slow = s.add_instance(InstanceKind::Pve, "slow", "https://slow:8006", T0);
    let fast = s.add_instance(InstanceKind::Pve, "fast", "https://fast:8006", T0);
    let _hung = s.started(&slow, T0).expect("start slow");
    let mut now = T0;
    for _ in 0..6 {
        assert_eq!(s.due(now), vec![fast.clone()]);
        run(&mut s, &fast, now, Ok(()));
        now += 10_000;
    }
    assert!(s.is_in_flight(&slow));
    assert_eq!(s.in_flight_count(), 1);
}

#[test]
fn failures_back_off_trip_the_breaker_and_reach_the_dead_letter_queue() {
    let mut s = scheduler();
    let key = s.add_instance(InstanceKind::Pve, "lab", "https://lab:8006", T0);
    let mut now = T0;
    let mut waits = Vec::new();
    for attempt in 1..=5u32 {
        let due_at = s.next_deadline().expect("task waiting");
        now = now.max(due_at);
        assert_eq!(s.due(now), vec![key.clone()]);
        run(
            &mut s,
            &key,
            now,
            Err(PollError::transient("connection refused")),
        );
        now += 200;
        assert_eq!(s.consecutive_failures(&key), attempt);
        waits.push(s.next_deadline().expect("rescheduled") - now);

        let h = health_json(&s, now);
        let inst = &h["instances"][0];
        assert_eq!(inst["pollStatus"]["consecutiveFailures"], attempt);
        assert_eq!(
            inst["pollStatus"]["lastError"]["message"],
            "connection refused"
        );
        assert_eq!(inst["pollStatus"]["lastError"]["category"], "transient");
        let breaker_state = inst["breaker"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if attempt < 3 {
            assert_eq!(breaker_state, "closed");
            assert_eq!(
                h["breakers"][0]["state"], "closed",
                "closed with failures is listed"
            );
        } else {
            assert_eq!(breaker_state, "open", "attempt {attempt}");
            assert_eq!(h["breakers"][0]["state"], "open");
            assert!(inst["breaker"]["retryAt"].is_string());
        }
        assert_eq!(inst["deadLetter"]["present"], attempt == 5);
    }
    // Backoff: 5 s, 10 s, 20 s, 40 s (±20 % jitter), never sooner than the breaker allows.
    for (i, nominal) in [5_000.0, 10_000.0, 20_000.0, 40_000.0].iter().enumerate() {
        let w = waits[i] as f64;
        assert!(
            w >= nominal * 0.8 - 1.0 && w <= nominal * 1.2 + 1.0,
            "wait {i}: {w}"
        );
    }
    // Fifth consecutive failure: parked for 5 minutes.
    assert_eq!(waits[4], 300_000);
    assert!(s.is_dead_lettered(&key));
    let h = health_json(&s, now);
    assert_eq!(h["deadLetter"]["count"], 1);
    assert_eq!(h["deadLetter"]["tasks"][0]["instance"], "lab");
    assert_eq!(h["deadLetter"]["tasks"][0]["type"], "pve");
    assert_eq!(h["deadLetter"]["tasks"][0]["failures"], 5);
    assert_eq!(
        h["deadLetter"]["tasks"][0]["lastError"],
        "connection refused"
    );
    assert_eq!(
        h["instances"][0]["deadLetter"]["reason"],
        "max_retry_attempts"
    );
    assert!(
        h["instances"][0]["deadLetter"].get("retryCount").is_none(),
        "0 is omitted"
    );
    assert!(s.due(now + 299_000).is_empty(), "parked task waits");

    // The parked retry fails again: still parked, one retry counted.
    now += 300_000;
    assert_eq!(s.due(now), vec![key.clone()]);
    run(
        &mut s,
        &key,
        now,
        Err(PollError::transient("connection refused")),
    );
    assert_eq!(
        health_json(&s, now)["instances"][0]["deadLetter"]["retryCount"],
        1
    );

    // The host comes back: everything clears.
    now = s.next_deadline().expect("waiting");
    run(&mut s, &key, now, Ok(()));
    let h = health_json(&s, now + 200);
    assert_eq!(h["deadLetter"]["count"], 0);
    assert_eq!(h["deadLetter"]["tasks"], serde_json::json!([]));
    assert!(
        h.get("breakers").is_none(),
        "closed breakers without failures are not listed"
    );
    let inst = &h["instances"][0];
    assert_eq!(inst["breaker"]["state"], "closed");
    assert_eq!(inst["breaker"]["failureCount"], 0);
    assert_eq!(inst["pollStatus"]["consecutiveFailures"], 0);
    assert!(inst["pollStatus"].get("firstFailureAt").is_none());
    assert!(inst["pollStatus"]["lastSuccess"].is_string());
    assert_eq!(inst["deadLetter"], serde_json::json!({"present": false}));
    assert_eq!(s.next_deadline(), Some(now + 10_000));
}

#[test]
fn permanent_failures_are_parked_at_once_and_retry_now_releases_them() {
    let mut s = scheduler();
    let key = s.add_instance(InstanceKind::Pmg, "mail", "https://pmg:8006", T0);
    run(
        &mut s,
        &key,
        T0,
        Err(PollError::permanent(
            "authentication error: 401 Unauthorized",
        )),
    );
    let h = health_json(&s, T0 + 200);
    assert_eq!(
        h["instances"][0]["deadLetter"]["reason"],
        "permanent_failure"
    );
    assert_eq!(
        h["instances"][0]["pollStatus"]["lastError"]["category"],
        "permanent"
    );
    assert_eq!(
        s.next_deadline(),
        Some(T0 + 200 + 1_800_000),
        "retried every 30 min"
    );

    assert!(s.retry_now(&key, T0 + 5_000));
    assert_eq!(s.due(T0 + 5_000), vec![key.clone()]);
    assert!(!s.is_dead_lettered(&key));
}

#[test]
fn removed_instances_ignore_late_results() {
    let mut s = scheduler();
    let key = s.add_instance(InstanceKind::Pve, "gone", "https://gone:8006", T0);
    let old = s.started(&key, T0).expect("start");
    assert!(s.remove_instance(&key));
    assert!(s.due(T0).is_empty());
    s.add_instance(InstanceKind::Pve, "gone", "https://gone:8006", T0 + 1_000);
    s.finished(&old, Err(PollError::permanent("stale result")), T0 + 2_000);
    assert_eq!(
        s.consecutive_failures(&key),
        0,
        "old ticket must not touch the new task"
    );
    assert_eq!(s.due(T0 + 2_000), vec![key]);
}

#[test]
fn health_document_shape() {
    let mut s = scheduler();
    let b = s.add_instance(InstanceKind::Pve, "b", "https://b:8006", T0);
    s.add_instance(InstanceKind::Pve, "a", "https://a:8006", T0);
    s.add_instance(InstanceKind::Pbs, "z", "https://z:8007", T0 + 60_000);
    let h = health_json(&s, T0);
    assert_eq!(h["updatedAt"], "2023-11-14T22:13:20Z");
    assert_eq!(h["enabled"], false);
    assert_eq!(h["queue"]["depth"], 3);
    assert_eq!(h["queue"]["dueWithinSeconds"], 2);
    assert_eq!(
        h["queue"]["perType"],
        serde_json::json!({"pve": 2, "pbs": 1})
    );
    assert!(h.get("breakers").is_none());
    assert!(h.get("staleness").is_none());
    let keys: Vec<&str> = h["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(keys, ["pbs::z", "pve::a", "pve::b"]);
    let a = &h["instances"][1];
    assert_eq!(a["type"], "pve");
    assert_eq!(a["displayName"], "a");
    assert_eq!(a["instance"], "a");
    assert_eq!(a["connection"], "https://a:8006");
    assert_eq!(
        a["pollStatus"],
        serde_json::json!({"consecutiveFailures": 0})
    );
    assert_eq!(
        a["breaker"],
        serde_json::json!({"state": "closed", "failureCount": 0})
    );

    run(&mut s, &b, T0, Ok(()));
    let h = health_json(&s, T0 + 150_200);
    let st = &h["staleness"][0];
    assert_eq!(st["instance"], "b");
    assert_eq!(st["lastError"], "0001-01-01T00:00:00Z");
    assert!((st["score"].as_f64().unwrap_or(-1.0) - 0.5).abs() < 1e-9);
    assert_eq!(h["queue"]["depth"], 3);
}
