//! Docker and host agent reports through the real HTTP API with scoped API tokens: the
//! report shows up in `/api/state` with its derived issues, scopes are enforced, bad reports
//! change nothing, duplicates merge, agents go offline after their interval, removal works.

use crate::support::auth::{self, Browser};
use crate::support::{Response, TestServer};
use serde_json::{json, Value};

pub struct Agents {
    pub srv: TestServer,
    pub admin: Browser,
}

impl Agents {
    pub fn start() -> Agents {
        let srv = auth::start_with_admin(&[]);
        let admin = auth::login(&srv);
        Agents { srv, admin }
    }

    pub fn token(&self, scopes: &[&str]) -> String {
        auth::mint(&self.srv, &self.admin, "agent", Some(scopes)).0
    }

    pub fn post(&self, path: &str, token: &str, body: &[u8]) -> Response {
        self.srv.req(
            "POST",
            path,
            &[("X-API-Token", token), ("Content-Type", "application/json")],
            Some(body),
        )
    }

    pub fn state(&self) -> Value {
        let r = self.admin.send(&self.srv, "GET", "/api/state", None);
        assert_eq!(r.status, 200);
        r.json()
    }

    pub fn docker_hosts(&self) -> Vec<Value> {
        self.state()["dockerHosts"].as_array().unwrap().clone()
    }
}

/// A report as the original Go agent sends it: nil slices as `null`, Go's zero time,
/// nanosecond timestamps with an offset.
pub fn go_report(agent: &str, hostname: &str, ts: &str) -> Value {
    json!({
        "agent": {"id": agent, "version": "0.9.1", "intervalSeconds": 30},
        "host": {"hostname": hostname, "machineId": format!("m-{agent}"), "os": "Debian GNU/Linux 12",
                 "runtime": "docker", "dockerVersion": "27.3.1", "totalCpu": 4,
                 "totalMemoryBytes": 8_000_000_000i64, "memory": {}, "loadAverage": null},
        "containers": [
            {"id": "c1", "name": "/web", "image": "nginx:1.27", "createdAt": "2026-12-01T10:00:00.123456789+01:00",
             "state": "running", "status": "Up 2 hours", "health": "healthy", "cpuPercent": 1.5,
             "memoryUsageBytes": 50_000_000, "memoryLimitBytes": 100_000_000, "memoryPercent": 50.0,
             "uptimeSeconds": 7200, "restartCount": 0, "exitCode": 0,
             "startedAt": "2026-12-04T08:00:00Z", "finishedAt": "0001-01-01T00:00:00Z",
             "labels": null, "ports": [{"privatePort": 80, "publicPort": 8080, "protocol": "tcp"}]},
            {"id": "c2", "name": "/batch", "image": "busybox", "createdAt": "0001-01-01T00:00:00Z",
             "state": "exited", "status": "Exited (3) 1 minute ago", "cpuPercent": 0, "memoryUsageBytes": 0,
             "memoryLimitBytes": 0, "memoryPercent": 0, "uptimeSeconds": 0, "restartCount": 0, "exitCode": 3,
             "finishedAt": "2026-12-04T09:59:00Z"}
        ],
        "timestamp": ts
    })
}

pub fn host_report(id: &str, hostname: &str, ts: &str) -> Value {
    json!({
        "agent": {"id": id, "version": "1.0.0", "intervalSeconds": 15},
        "host": {"hostname": hostname, "platform": "Linux", "osName": "Ubuntu", "osVersion": "24.04",
                 "cpuCount": 8, "loadAverage": [0.5, 0.4, 0.3]},
        "metrics": {"cpuUsagePercent": 12.5,
                    "memory": {"totalBytes": 16_000_000_000i64, "usedBytes": 4_000_000_000i64}},
        "disks": [{"mountpoint": "/", "type": "ext4", "totalBytes": 100, "usedBytes": 40}],
        "network": null, "sensors": {"temperatureCelsius": {"cpu": 48.0}},
        "timestamp": ts, "sequenceId": "7"
    })
}

fn body(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[test]
fn docker_report_in_the_original_format_appears_in_the_state() {
    let a = Agents::start();
    let t = a.token(&["docker:report"]);
    let r = a.post(
        "/api/agents/docker/report",
        &t,
        &body(&go_report(
            "agent-1",
            "dock1",
            "2026-12-04T10:00:00.5+01:00",
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let ans = r.json();
    assert_eq!(ans["success"], true);
    assert_eq!(ans["hostId"], "agent-1");
    assert_eq!(ans["containers"], 2);
    let state = a.state();
    let h = &state["dockerHosts"][0];
    assert_eq!(h["hostname"], "dock1");
    assert_eq!(h["displayName"], "dock1");
    assert_eq!(h["status"], "online");
    assert_eq!(h["agentVersion"], "v0.9.1");
    assert_eq!(h["runtimeVersion"], "27.3.1");
    assert_eq!(h["tokenName"], "agent");
    assert!(h["lastSeen"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(h["containers"][0]["name"], "web");
    assert_eq!(h["containers"][0]["createdAt"], 1_796_115_600_000i64);
    assert!(
        h["containers"][0].get("finishedAt").is_none(),
        "zero time dropped"
    );
    assert_eq!(h["issues"][0]["type"], "exit-code");
    assert_eq!(h["issues"][0]["containerName"], "batch");
    assert_eq!(h["recentExitCodes"][0]["exitCode"], 3);
    assert_eq!(state["connectionHealth"]["docker-agent-1"], true);
}

#[test]
fn reports_need_their_scope() {
    let a = Agents::start();
    let read = a.token(&["monitoring:read"]);
    let host = a.token(&["host-agent:report"]);
    let docker = a.token(&["docker:report"]);
    let d = body(&go_report("a", "h", "2026-12-04T10:00:00Z"));
    let hr = body(&host_report("x", "hx", "2026-12-04T10:00:00Z"));
    let r = a.post("/api/agents/docker/report", &read, &d);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["requiredScope"], "docker:report");
    assert_eq!(a.post("/api/agents/docker/report", &host, &d).status, 403);
    assert_eq!(a.post("/api/agents/host/report", &docker, &hr).status, 403);
    assert_eq!(a.post("/api/agents/host/report", &host, &hr).status, 200);
    // Without any credential at all.
    let r = a
        .srv
        .req("POST", "/api/agents/docker/report", &[], Some(&d));
    assert_eq!(r.status, 401);
    // Managing needs docker:manage, not docker:report.
    let r = a.srv.req(
        "DELETE",
        "/api/agents/docker/hosts/a",
        &[("X-API-Token", &docker)],
        None,
    );
    assert_eq!(r.status, 403);
    assert!(a.docker_hosts().is_empty());
    assert_eq!(a.state()["hosts"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_reports_are_400_naming_the_field_and_change_nothing() {
    let a = Agents::start();
    let t = a.token(&["docker:report", "host-agent:report"]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "invalid JSON"),
        (b"[]".to_vec(), "object"),
        (
            body(&json!({"agent": {"id": "a"}, "host": {"hostname": ""}})),
            "host.hostname",
        ),
        (
            body(&json!({"host": {"hostname": "h"}, "containers": "x"})),
            "containers",
        ),
        (
            body(
                &json!({"host": {"hostname": "h"}, "containers": [{"id": "c", "restartCount": "many"}]}),
            ),
            "containers[0].restartCount",
        ),
        (
            body(
                &json!({"host": {"hostname": "h"}, "containers": [{"id": "c", "name": "n".repeat(300)}]}),
            ),
            "containers[0].name",
        ),
        (
            body(
                &json!({"host": {"hostname": "h"}, "containers": [{"id": "c", "labels": (0..300).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}]}),
            ),
            "containers[0].labels",
        ),
        (
            body(
                &json!({"host": {"hostname": "h"}, "containers": (0..2001).map(|i| json!({"id": format!("c{i}")})).collect::<Vec<_>>()}),
            ),
            "containers: 2001 entries",
        ),
        (
            body(&json!({"agent": {"intervalSeconds": -5}, "host": {"hostname": "h"}})),
            "agent.intervalSeconds",
        ),
        (
            body(&json!({"host": {"hostname": "h"}, "timestamp": "yesterday"})),
            "timestamp",
        ),
    ];
    for (b, needle) in cases {
        let r = a.post("/api/agents/docker/report", &t, &b);
        assert_eq!(r.status, 400, "{needle}: {}", r.text());
        let v = r.json();
        assert!(
            v["error"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    let r = a.post(
        "/api/agents/host/report",
        &t,
        &body(&json!({"host": {"hostname": "h"}, "tags": ["x".repeat(300)]})),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("tags[0]"));
    // Bigger than the 1 MiB body limit: refused before it is read.
    let huge = vec![b' '; 1_100_000];
    assert_eq!(a.post("/api/agents/docker/report", &t, &huge).status, 413);
    let state = a.state();
    assert!(state["dockerHosts"].as_array().unwrap().is_empty());
    assert!(state["hosts"].as_array().unwrap().is_empty());
}

#[test]
fn duplicate_reports_merge_per_agent_id() {
    let a = Agents::start();
    let t = a.token(&["docker:report", "host-agent:report"]);
    let first = go_report("agent-7", "dock7", "2026-12-04T10:00:00Z");
    for _ in 0..3 {
        assert_eq!(
            a.post("/api/agents/docker/report", &t, &body(&first))
                .status,
            200
        );
    }
    // The same agent under a new hostname (renamed machine) is still the same host.
    let renamed = go_report("agent-7", "dock7-renamed", "2026-12-04T10:00:30Z");
    let r = a.post("/api/agents/docker/report", &t, &body(&renamed));
    assert_eq!(r.json()["hostId"], "agent-7");
    // An older heartbeat arriving late (fan-out, retry) does not roll the host back.
    let late = go_report("agent-7", "dock7-old", "2026-12-04T10:00:10Z");
    assert_eq!(
        a.post("/api/agents/docker/report", &t, &body(&late)).status,
        200
    );
    let hosts = a.docker_hosts();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    assert_eq!(hosts[0]["hostname"], "dock7-renamed");
    // The exit of c2 is recorded once, however often it was reported.
    assert_eq!(hosts[0]["recentExitCodes"].as_array().unwrap().len(), 1);
    // A different agent on the same hostname is a different host.
    let other = go_report("agent-8", "dock7-renamed", "2026-12-04T10:00:30Z");
    assert_eq!(
        a.post("/api/agents/docker/report", &t, &body(&other))
            .json()["hostId"],
        "agent-8"
    );
    assert_eq!(a.docker_hosts().len(), 2);
    // Host agents: upsert by id.
    for ts in [
        "2026-12-04T10:00:00Z",
        "2026-12-04T10:00:00Z",
        "2026-12-04T10:00:15Z",
    ] {
        assert_eq!(
            a.post(
                "/api/agents/host/report",
                &t,
                &body(&host_report("Srv-1", "srv1", ts))
            )
            .status,
            200
        );
    }
    let hosts = a.state()["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["id"], "srv-1");
    assert_eq!(hosts[0]["platform"], "linux");
    assert_eq!(hosts[0]["memory"]["usage"], 25.0);
    assert_eq!(hosts[0]["sensors"]["temperatureCelsius"]["cpu"], 48.0);
}

#[test]
fn agents_go_offline_after_a_multiple_of_their_interval() {
    let a = Agents::start();
    let t = a.token(&["docker:report", "host-agent:report"]);
    a.post(
        "/api/agents/docker/report",
        &t,
        &body(&go_report("d1", "d1", "2026-12-04T10:00:00Z")),
    );
    a.post(
        "/api/agents/host/report",
        &t,
        &body(&host_report("h1", "h1", "2026-12-04T10:00:00Z")),
    );
    let now = pulse::util::time::now_ms();
    // Docker interval 30 s → offline after 120 s; host interval 15 s → after 60 s.
    a.srv.apply(move |app| app.sweep_agents(now + 90_000));
    let s = a.state();
    assert_eq!(s["dockerHosts"][0]["status"], "online");
    assert_eq!(s["hosts"][0]["status"], "offline");
    assert_eq!(s["connectionHealth"]["host-h1"], false);
    a.srv.apply(move |app| app.sweep_agents(now + 125_000));
    let s = a.state();
    assert_eq!(s["dockerHosts"][0]["status"], "offline");
    assert_eq!(s["connectionHealth"]["docker-d1"], false);
    // The next report brings it back.
    a.post(
        "/api/agents/docker/report",
        &t,
        &body(&go_report("d1", "d1", "2026-12-04T10:05:00Z")),
    );
    assert_eq!(a.docker_hosts()[0]["status"], "online");
}

#[test]
fn removal_stop_command_and_reenrolment() {
    let a = Agents::start();
    let report = a.token(&["docker:report", "host-agent:report"]);
    let manage = a.token(&["docker:manage", "host-agent:manage"]);
    let del = |path: &str| a.srv.req("DELETE", path, &[("X-API-Token", &manage)], None);
    a.post(
        "/api/agents/docker/report",
        &report,
        &body(&go_report("d1", "d1", "2026-12-04T10:00:00Z")),
    );
    // Online: a stop command is queued and handed out with the next report.
    let r = del("/api/agents/docker/hosts/d1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["message"], "Stop command queued");
    assert_eq!(a.docker_hosts()[0]["pendingUninstall"], true);
    let r = a.post(
        "/api/agents/docker/report",
        &report,
        &body(&go_report("d1", "d1", "2026-12-04T10:00:30Z")),
    );
    let cmd = r.json()["commands"][0].clone();
    assert_eq!(cmd["type"], "stop");
    let ack = json!({"hostId": "d1", "status": "completed"});
    let r = a.post(
        &format!(
            "/api/agents/docker/commands/{}/ack",
            cmd["id"].as_str().unwrap()
        ),
        &report,
        &body(&ack),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(a.docker_hosts().is_empty());
    // Forced removal blocks re-enrolment until it is allowed again.
    a.post(
        "/api/agents/docker/report",
        &report,
        &body(&go_report("d2", "d2", "2026-12-04T10:00:00Z")),
    );
    assert_eq!(
        del("/api/agents/docker/hosts/d2?force=true").json()["message"],
        "Docker host removed"
    );
    let s = a.state();
    assert!(s["dockerHosts"].as_array().unwrap().is_empty());
    assert_eq!(s["removedDockerHosts"][0]["id"], "d2");
    assert!(s["connectionHealth"].get("docker-d2").is_none());
    let r = a.post(
        "/api/agents/docker/report",
        &report,
        &body(&go_report("d2", "d2", "2026-12-04T10:01:00Z")),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("was removed"));
    let r = a.srv.req(
        "POST",
        "/api/agents/docker/hosts/d2/allow-reenroll",
        &[("X-API-Token", &manage)],
        None,
    );
    assert_eq!(r.status, 200);
    let r = a.post(
        "/api/agents/docker/report",
        &report,
        &body(&go_report("d2", "d2", "2026-12-04T10:01:00Z")),
    );
    assert_eq!(r.status, 200);
    assert_eq!(del("/api/agents/docker/hosts/nope").status, 404);
    // Host agents.
    a.post(
        "/api/agents/host/report",
        &report,
        &body(&host_report("h1", "h1", "2026-12-04T10:00:00Z")),
    );
    assert_eq!(del("/api/agents/host/h1").status, 200);
    assert!(a.state()["hosts"].as_array().unwrap().is_empty());
    assert_eq!(del("/api/agents/host/h1").status, 404);
}

#[test]
fn host_lookup_and_agent_version() {
    let a = Agents::start();
    let t = a.token(&["host-agent:report"]);
    a.post(
        "/api/agents/host/report",
        &t,
        &body(&host_report("h9", "box9", "2026-12-04T10:00:00Z")),
    );
    let r = a.srv.req(
        "GET",
        "/api/agents/host/lookup?hostname=BOX9",
        &[("X-API-Token", &t)],
        None,
    );
    assert_eq!(r.json()["host"]["id"], "h9");
    let r = a.srv.req(
        "GET",
        "/api/agents/host/lookup?id=zzz",
        &[("X-API-Token", &t)],
        None,
    );
    assert_eq!(r.status, 404);
    let v = a.srv.get("/api/agent/version").json();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn demo_estate_reports_docker_hosts_and_hosts_through_ingestion() {
    let srv = TestServer::start(&[]);
    let now = pulse::util::time::now_ms();
    let on = auth::post_json(
        &srv,
        "/api/system/mock-mode",
        r#"{"enabled":true,"config":{"nodeCount":1,"vmsPerNode":1,"lxcsPerNode":1}}"#,
        &[],
    );
    assert_eq!(on.status, 200, "{}", on.text());
    srv.apply(move |app| app.sweep_agents(now));
    let s = srv.get("/api/state").json();
    let docker = s["dockerHosts"].as_array().unwrap();
    assert_eq!(docker.len(), 3);
    assert_eq!(s["hosts"].as_array().unwrap().len(), 3);
    let kinds: Vec<&str> = docker
        .iter()
        .flat_map(|h| h["issues"].as_array().unwrap())
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    for k in [
        "health-check",
        "oom-kill",
        "service-replicas",
        "memory-pressure",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // Feeds every 30 s: the restarting worker becomes a restart loop.
    srv.apply(move |app| {
        for i in 1..4 {
            app.sweep_agents(now + i * 30_000);
        }
    });
    let s = srv.get("/api/state").json();
    assert!(s["dockerHosts"].to_string().contains("restart-loop"));
    let off = auth::post_json(&srv, "/api/system/mock-mode", r#"{"enabled":false}"#, &[]);
    assert_eq!(off.status, 200, "{}", off.text());
    srv.apply(move |app| app.sweep_agents(now + 200_000));
    let s = srv.get("/api/state").json();
    assert!(s["dockerHosts"].as_array().unwrap().is_empty());
    assert!(s["hosts"].as_array().unwrap().is_empty());
}

#[test]
fn a_refused_report_leaves_the_reporting_host_as_it_was() {
    let a = Agents::start();
    let t = a.token(&["docker:report", "host-agent:report"]);
    let good = go_report("agent-1", "dock1", "2026-12-04T10:00:00Z");
    assert_eq!(
        a.post("/api/agents/docker/report", &t, &body(&good)).status,
        200
    );
    a.post(
        "/api/agents/host/report",
        &t,
        &body(&host_report("h1", "box1", "2026-12-04T10:00:00Z")),
    );
    let before = a.state();
    // Later reports from the same agents, renamed, each valid up to one field near the end:
    // applying any part of them would show (hostname, lastSeen, containers).
    let later = |f: &dyn Fn(&mut Value)| {
        let mut r = go_report("agent-1", "dock1-renamed", "2026-12-04T10:00:30Z");
        f(&mut r);
        body(&r)
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            later(&|r| r["containers"][1]["name"] = json!("n".repeat(300))),
            "containers[1].name",
        ),
        (
            later(&|r| r["containers"][1]["restartCount"] = json!("many")),
            "containers[1].restartCount",
        ),
        (
            later(&|r| {
                r["containers"] = json!((0..2001)
                    .map(|i| json!({"id": format!("c{i}")}))
                    .collect::<Vec<_>>())
            }),
            "containers: 2001 entries",
        ),
        (
            later(&|r| r["containers"][0]["labels"] = json!({"k": "bad\u{0007}value"})),
            "containers[0].labels",
        ),
        (later(&|r| r["timestamp"] = json!("soon")), "timestamp"),
    ];
    for (b, needle) in cases {
        let r = a.post("/api/agents/docker/report", &t, &b);
        assert_eq!(r.status, 400, "{needle}: {}", r.text());
        assert!(r.text().contains(needle), "{needle}: {}", r.text());
    }
    // Past the 1 MiB body limit: refused before it is read (413, the HTTP layer's answer).
    let mut huge = later(&|_| {});
    huge.truncate(huge.len() - 1);
    huge.extend(std::iter::repeat_n(b' ', 1_100_000));
    huge.push(b'}');
    assert_eq!(a.post("/api/agents/docker/report", &t, &huge).status, 413);
    let mut bad_host = host_report("h1", "box1-renamed", "2026-12-04T10:00:30Z");
    bad_host["disks"][0]["usedBytes"] = json!(-1);
    let r = a.post("/api/agents/host/report", &t, &body(&bad_host));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("disks[0].usedBytes"), "{}", r.text());
    let after = a.state();
    for key in ["dockerHosts", "hosts", "connectionHealth"] {
        assert_eq!(after[key], before[key], "{key} changed by a refused report");
    }
}
