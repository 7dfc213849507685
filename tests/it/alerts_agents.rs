//! Alerts from agent reports, through the observer and the state machine with an injected
//! clock: a host agent's cpu / memory / disk and its going offline, a Docker host offline, a
//! container that stops after running, its failing health check and its cpu; containers named
//! in `dockerIgnoredContainerPrefixes` (any case) and `disableAllDockerContainers` raise
//! nothing.

use pulse::alerts::alert::Level;
use pulse::alerts::config::AlertConfig;
use pulse::alerts::engine::{Engine, Event, EventKind};
use pulse::alerts::observe::{observe, Scratch};
use pulse::alerts::tz::Zone;
use pulse::state::store::{ExtraArea, LiveState};
use serde_json::{json, Value};

const T0: i64 = 1_767_000_000_000;

fn cfg() -> AlertConfig {
    let mut cfg = AlertConfig {
        activation_state: "active".into(),
        ..AlertConfig::default()
    };
    cfg.time_threshold = 0;
    cfg.time_thresholds.clear();
    cfg
}

fn host(status: &str, cpu: f64, mem: f64, disks: &[f64]) -> Value {
    json!({
        "id": "h1", "hostname": "db1", "displayName": "db1", "status": status,
        "cpuUsage": cpu, "memory": {"total": 100, "used": mem as i64, "free": 0, "usage": mem},
        "disks": disks.iter().enumerate().map(|(i, u)| {
            let mountpoint = if i == 0 { "/".to_string() } else { format!("/data{i}") };
            json!({"usage": u, "mountpoint": mountpoint})
        }).collect::<Vec<_>>(),
    })
}

fn container(id: &str, name: &str, state: &str, health: &str, cpu: f64) -> Value {
    json!({"id": id, "name": name, "state": state, "health": health,
           "cpuPercent": cpu, "memoryPercent": 10.0})
}

fn docker(status: &str, containers: Vec<Value>) -> Value {
    json!({"id": "d1", "hostname": "dock1", "displayName": "dock1", "status": status,
           "containers": containers})
}

struct Run {
    engine: Engine,
    scratch: Scratch,
    cfg: AlertConfig,
}

impl Run {
    fn new(cfg: AlertConfig) -> Run {
        Run {
            engine: Engine::new(),
            scratch: Scratch::new(),
            cfg,
        }
    }

    fn at(&mut self, secs: i64, hosts: Vec<Value>, dockers: Vec<Value>) -> Vec<Event> {
        let mut state = LiveState::new();
        state.set_extra(ExtraArea::Hosts, hosts);
        state.set_extra(ExtraArea::DockerHosts, dockers);
        let now = T0 + secs * 1000;
        let obs = observe(&state, &mut self.scratch, &self.cfg, now);
        self.engine.evaluate(&self.cfg, &Zone::utc(), &obs, now)
    }
}

fn summary(events: &[Event]) -> Vec<(EventKind, String, Level)> {
    let mut v: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.alert.id.clone(), e.alert.level))
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

#[test]
fn host_agent_metrics_and_offline() {
    let mut r = Run::new(cfg()); // host cpu 80/75, memory 85/80, disk 90/85
    let ev = r.at(0, vec![host("online", 95.0, 86.0, &[40.0, 93.0])], vec![]);
    assert_eq!(
        summary(&ev),
        vec![
            (EventKind::Fired, "host:h1-cpu".into(), Level::Critical),
            (EventKind::Fired, "host:h1-memory".into(), Level::Warning),
            (
                EventKind::Fired,
                "host:h1/disk:data1-disk".into(),
                Level::Warning
            ),
        ]
    );
    let cpu = r.engine.get("host:h1-cpu").unwrap();
    assert_eq!(cpu.metadata.resource_type, "Host");
    assert_eq!(cpu.resource_name, "db1");
    assert_eq!(cpu.message, "Host cpu at 95.0%");
    let ev = r.at(10, vec![host("online", 10.0, 10.0, &[10.0])], vec![]);
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|e| e.kind == EventKind::Resolved));

    // Offline (the agents' sweep already waited several report intervals): a critical
    // connectivity alert at the first evaluation that sees it.
    let off = || vec![host("offline", 0.0, 0.0, &[])];
    let ev = r.at(40, off(), vec![]);
    assert_eq!(
        summary(&ev),
        vec![(EventKind::Fired, "host-offline-h1".into(), Level::Critical)]
    );
    assert_eq!(ev[0].alert.kind, "connectivity");
    let ev = r.at(50, vec![host("online", 10.0, 10.0, &[10.0])], vec![]);
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Resolved,
            "host-offline-h1".into(),
            Level::Critical
        )]
    );

    let mut off_cfg = cfg();
    off_cfg.disable_all_hosts = true;
    let mut r = Run::new(off_cfg);
    assert!(r
        .at(0, vec![host("online", 99.0, 99.0, &[99.0])], vec![])
        .is_empty());
}

#[test]
fn docker_containers_state_health_cpu_and_ignored_prefixes() {
    let mut c = cfg();
    c.docker_ignored_container_prefixes = vec!["CI-".into()];
    let mut r = Run::new(c);
    let web = |state: &str, health: &str, cpu: f64| container("c1", "web", state, health, cpu);
    let runner = |state: &str| container("c2", "ci-runner-7", state, "unhealthy", 99.0);
    // Running, healthy, quiet; the ignored runner raises nothing whatever it does.
    assert!(r
        .at(
            0,
            vec![],
            vec![docker(
                "online",
                vec![web("running", "healthy", 5.0), runner("running")]
            )]
        )
        .is_empty());
    let ev = r.at(
        10,
        vec![],
        vec![docker(
            "online",
            vec![web("running", "unhealthy", 97.0), runner("exited")],
        )],
    );
    assert_eq!(
        summary(&ev),
        vec![
            (
                EventKind::Fired,
                "docker-container-health-docker:d1/c1".into(),
                Level::Warning
            ),
            (EventKind::Fired, "docker:d1/c1-cpu".into(), Level::Critical),
        ]
    );
    assert_eq!(
        r.engine
            .get("docker:d1/c1-cpu")
            .unwrap()
            .metadata
            .resource_type,
        "Docker Container"
    );
    // Healthy again and idle: both resolve.
    let ev = r.at(
        20,
        vec![],
        vec![docker("online", vec![web("running", "healthy", 1.0)])],
    );
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.kind == EventKind::Resolved));
    // Stopped after running: two samples, then a warning.
    let stopped = || {
        vec![docker(
            "online",
            vec![web("exited", "", 0.0), runner("exited")],
        )]
    };
    assert!(r.at(30, vec![], stopped()).is_empty());
    let ev = r.at(40, vec![], stopped());
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Fired,
            "docker-container-state-docker:d1/c1".into(),
            Level::Warning
        )]
    );
    assert_eq!(ev[0].alert.kind, "docker-container-state");
    assert_eq!(ev[0].alert.message, "Docker Container web is not running");
    // The whole host goes offline: its own alert at once (the sweep already waited); the
    // container's held, not resolved, as its last report is not news.
    let off = || vec![docker("offline", vec![web("exited", "", 0.0)])];
    let ev = r.at(70, vec![], off());
    assert_eq!(
        summary(&ev),
        vec![(
            EventKind::Fired,
            "docker-host-offline-d1".into(),
            Level::Critical
        )]
    );
    assert!(r
        .engine
        .get("docker-container-state-docker:d1/c1")
        .is_some());

    let mut off_cfg = cfg();
    off_cfg.disable_all_docker_containers = true;
    let mut r = Run::new(off_cfg);
    assert!(r
        .at(
            0,
            vec![],
            vec![docker("online", vec![web("running", "unhealthy", 99.0)])]
        )
        .is_empty());
}

/// Through the real server: a host agent reporting 97 % cpu and a Docker agent reporting an
/// unhealthy container raise alerts in `/api/alerts/active` and the state; the next reports,
/// back to normal, resolve them.
#[test]
fn agent_reports_raise_and_resolve_alerts_through_the_server() {
    use crate::agents_ingest::{go_report, host_report, Agents};
    let a = Agents::start();
    let cfg =
        json!({"timeThresholds": {"all": 0}, "timeThreshold": 0, "activationState": "active"});
    let r = a
        .admin
        .send(&a.srv, "PUT", "/api/alerts/config", Some(&cfg.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = a.token(&["docker:report", "host-agent:report"]);

    let mut hot = host_report("srv-1", "srv1", "2026-12-04T10:00:00Z");
    hot["metrics"]["cpuUsagePercent"] = json!(97.0);
    assert_eq!(
        a.post("/api/agents/host/report", &t, hot.to_string().as_bytes())
            .status,
        200
    );
    let mut sick = go_report("agent-9", "dock9", "2026-12-04T10:00:00Z");
    sick["containers"][0]["health"] = json!("unhealthy");
    assert_eq!(
        a.post("/api/agents/docker/report", &t, sick.to_string().as_bytes())
            .status,
        200
    );
    let active_ids = || -> Vec<String> {
        let r = a.admin.send(&a.srv, "GET", "/api/alerts/active", None);
        assert_eq!(r.status, 200);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let wait = |pred: &dyn Fn(&[String]) -> bool| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ids = active_ids();
            if pred(&ids) {
                return ids;
            }
            assert!(std::time::Instant::now() < until, "{ids:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let ids = wait(&|ids| {
        ids.iter()
            .any(|i| i.starts_with("host:") && i.ends_with("-cpu"))
            && ids
                .iter()
                .any(|i| i.starts_with("docker-container-health-docker:"))
    });
    let host_alert = ids.iter().find(|i| i.starts_with("host:")).unwrap().clone();
    let health = ids
        .iter()
        .find(|i| i.starts_with("docker-container-health-"))
        .unwrap()
        .clone();
    assert!(health.ends_with("/c1"), "{health}");
    let state = a.state();
    let in_state: Vec<&str> = state["activeAlerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert!(in_state.contains(&host_alert.as_str()), "{in_state:?}");

    let calm = host_report("srv-1", "srv1", "2026-12-04T10:00:15Z");
    assert_eq!(
        a.post("/api/agents/host/report", &t, calm.to_string().as_bytes())
            .status,
        200
    );
    let well = go_report("agent-9", "dock9", "2026-12-04T10:00:30Z");
    assert_eq!(
        a.post("/api/agents/docker/report", &t, well.to_string().as_bytes())
            .status,
        200
    );
    wait(&|ids| !ids.contains(&host_alert) && !ids.contains(&health));
}
