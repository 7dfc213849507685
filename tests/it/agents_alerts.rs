//! Docker hosts in the alert engine: the issues Pulse derives from a report become alerts
//! (and resolve when the next report no longer has them), and a host that stops reporting
//! raises its offline alert.

use crate::agents_ingest::{go_report, Agents};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn active(a: &Agents) -> Vec<Value> {
    let r = a.admin.send(&a.srv, "GET", "/api/alerts/active", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().as_array().cloned().unwrap_or_default()
}

/// Waits (bounded) until `pred` holds for the active alerts; returns them.
fn wait_active(a: &Agents, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = active(a);
        if pred(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: {now:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn docker_issues_and_an_offline_docker_host_raise_alerts() {
    let a = Agents::start();
    let t = a.token(&["docker:report"]);
    let post = |r: &Value| {
        let res = a.post("/api/agents/docker/report", &t, r.to_string().as_bytes());
        assert_eq!(res.status, 200, "{}", res.text());
    };
    // c2 ("batch") exited with code 3: an exit-code issue.
    post(&go_report("agent-1", "dock1", "2026-12-04T10:00:00Z"));
    let exit_id = "docker-host-agent-1-c2-exit-code";
    let now = wait_active(&a, "exit alert raised", |v| {
        v.iter().any(|x| x["id"] == exit_id)
    });
    let alert = now.iter().find(|x| x["id"] == exit_id).unwrap();
    assert_eq!(alert["type"], "docker-container-exit");
    assert_eq!(alert["resourceId"], "docker:agent-1");
    assert_eq!(alert["metadata"]["resourceType"], "Docker Host");
    assert!(
        alert["message"].as_str().unwrap().contains("batch"),
        "{alert}"
    );
    // The next report without the failed container: resolved.
    let mut healthy = go_report("agent-1", "dock1", "2026-12-04T10:00:30Z");
    healthy["containers"] = json!([healthy["containers"][0].clone()]);
    post(&healthy);
    wait_active(&a, "exit alert resolved", |v| {
        !v.iter().any(|x| x["id"] == exit_id)
    });
    // No report for longer than its offline window: the host's offline alert.
    let later = pulse::util::time::now_ms() + 200_000;
    a.srv.apply(move |app| app.sweep_agents(later));
    let now = wait_active(&a, "offline alert", |v| {
        v.iter().any(|x| x["id"] == "docker-host-offline-agent-1")
    });
    let off = now
        .iter()
        .find(|x| x["id"] == "docker-host-offline-agent-1")
        .unwrap();
    assert_eq!(off["level"], "critical", "{off}");
}
