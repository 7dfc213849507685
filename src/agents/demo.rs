//! The demo estate's agents: a few Docker hosts and hosts whose reports are built here and
//! fed through the same validation and ingestion as `POST /api/agents/*/report`, every
//! [`DEMO_EVERY_MS`]. Something is always wrong on them (a restart loop, an unhealthy
//! container, an OOM kill, a service short of replicas), so the Docker view has issues to show.

use pulse_wire::agents::docker::AgentInfo;
use pulse_wire::agents::docker::{
    Container, DockerHostInfo, DockerReport, Service, SwarmInfo, Task,
};
use pulse_wire::agents::host::{HostAgentInfo, HostInfo, HostMetrics, HostReport};
use pulse_wire::agents::{Disk, MemoryMetric, NetworkInterface, Sensors};
use pulse_wire::time::UtcTime;

pub const DEMO_EVERY_MS: i64 = 30_000;
/// Agent ids of the demo estate start with this (so leaving demo mode removes exactly them).
pub const DEMO_PREFIX: &str = "demo-";

const GIB: i64 = 1 << 30;

/// A value that drifts smoothly between `lo` and `hi` with `tick` (no randomness needed).
fn wave(tick: i64, phase: i64, lo: f64, hi: f64) -> f64 {
    let x = ((tick + phase) % 20) as f64 / 20.0 * std::f64::consts::TAU;
    lo + (hi - lo) * (0.5 + 0.5 * x.sin())
}

fn container(id: &str, image: &str, state: &str, tick: i64, mem_limit: i64) -> Container {
    let running = state == "running";
    let mem = if running {
        (wave(tick, id.len() as i64, 0.2, 0.7) * mem_limit as f64) as i64
    } else {
        0
    };
    Container {
        id: format!("{id}-0123456789ab"),
        name: id.to_string(),
        image: image.to_string(),
        created_at: UtcTime::from_unix(1_764_000_000),
        state: state.to_string(),
        status: if running {
            "Up 3 days".into()
        } else {
            state.to_string()
        },
        cpu_percent: if running {
            wave(tick, id.len() as i64 * 3, 0.5, 25.0)
        } else {
            0.0
        },
        memory_usage_bytes: mem,
        memory_limit_bytes: mem_limit,
        memory_percent: if mem_limit > 0 {
            mem as f64 * 100.0 / mem_limit as f64
        } else {
            0.0
        },
        uptime_seconds: if running { 259_200 + tick * 30 } else { 0 },
        ..Container::default()
    }
}

fn docker_host(name: &str, cpus: i64, mem_gib: i64, tick: i64, now: UtcTime) -> DockerReport {
    DockerReport {
        agent: AgentInfo {
            id: format!("{DEMO_PREFIX}{name}"),
            version: env!("CARGO_PKG_VERSION").into(),
            interval_seconds: DEMO_EVERY_MS / 1000,
        },
        host: DockerHostInfo {
            hostname: name.to_string(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            runtime: "docker".into(),
            docker_version: "27.3.1".into(),
            kernel_version: "6.1.0-28-amd64".into(),
            architecture: "x86_64".into(),
            total_cpu: cpus,
            total_memory_bytes: mem_gib * GIB,
            uptime_seconds: 1_900_000 + tick * 30,
            cpu_usage_percent: wave(tick, cpus, 5.0, 45.0),
            load_average: vec![
                wave(tick, 1, 0.2, 2.5),
                wave(tick, 2, 0.2, 2.0),
                wave(tick, 3, 0.2, 1.5),
            ],
            memory: MemoryMetric {
                total_bytes: mem_gib * GIB,
                used_bytes: (wave(tick, 5, 0.35, 0.6) * (mem_gib * GIB) as f64) as i64,
                ..MemoryMetric::default()
            },
            disks: vec![Disk {
                device: "/dev/sda1".into(),
                mountpoint: "/".into(),
                fs_type: "ext4".into(),
                total_bytes: 200 * GIB,
                used_bytes: 88 * GIB,
                ..Disk::default()
            }],
            ..DockerHostInfo::default()
        },
        timestamp: now,
        ..DockerReport::default()
    }
}

/// The demo Docker hosts at feed number `tick`.
pub fn docker_reports(tick: i64, now_ms: i64) -> Vec<DockerReport> {
    let now = UtcTime::from_unix_ms(now_ms);
    let mut a = docker_host("docker-edge-01", 4, 8, tick, now);
    a.containers = vec![
        container("traefik", "traefik:v3.2", "running", tick, 0),
        container("grafana", "grafana/grafana:11.3.0", "running", tick, GIB),
        container("loki", "grafana/loki:3.2.1", "running", tick, 2 * GIB),
        container(
            "uptime-kuma",
            "louislam/uptime-kuma:1",
            "running",
            tick,
            512 << 20,
        ),
    ];
    a.containers[1].health = "healthy".into();
    let mut b = docker_host("docker-apps-02", 8, 32, tick, now);
    let mut worker = container("queue-worker", "acme/worker:4.1", "restarting", tick, GIB);
    // Restarts every feed: more than 3 within 5 minutes is a restart loop.
    worker.restart_count = 10 + tick * 2;
    worker.exit_code = 1;
    let mut api = container("api", "acme/api:4.1", "running", tick, 2 * GIB);
    api.health = "unhealthy".into();
    let mut cache = container("redis", "redis:7.4", "running", tick, 256 << 20);
    cache.memory_usage_bytes = 250 << 20;
    cache.memory_percent = 250.0 * 100.0 / 256.0;
    b.containers = vec![
        api,
        worker,
        cache,
        container("postgres", "postgres:16", "running", tick, 4 * GIB),
    ];
    let mut c = docker_host("swarm-mgr-01", 4, 16, tick, now);
    c.host.swarm = Some(SwarmInfo {
        node_id: "n1demo".into(),
        node_role: "manager".into(),
        local_state: "active".into(),
        control_available: true,
        cluster_id: "c1demo".into(),
        cluster_name: "default".into(),
        scope: "cluster".into(),
        ..SwarmInfo::default()
    });
    let mut oom = container(
        "shop_indexer.1",
        "shop/indexer:2",
        "exited",
        tick,
        512 << 20,
    );
    oom.exit_code = 137;
    oom.oom_killed = Some(true);
    oom.finished_at = Some(UtcTime::from_unix_ms(now_ms - 600_000));
    c.containers = vec![
        container("shop_web.1", "shop/web:2", "running", tick, GIB),
        container("shop_web.2", "shop/web:2", "running", tick, GIB),
        oom,
    ];
    c.services = vec![
        Service {
            id: "svc-web".into(),
            name: "shop_web".into(),
            stack: "shop".into(),
            image: "shop/web:2".into(),
            mode: "replicated".into(),
            desired_tasks: 2,
            running_tasks: 2,
            ..Service::default()
        },
        Service {
            id: "svc-indexer".into(),
            name: "shop_indexer".into(),
            stack: "shop".into(),
            image: "shop/indexer:2".into(),
            mode: "replicated".into(),
            desired_tasks: 2,
            running_tasks: 0,
            ..Service::default()
        },
    ];
    c.tasks = vec![Task {
        id: "task-indexer-1".into(),
        service_id: "svc-indexer".into(),
        service_name: "shop_indexer".into(),
        slot: 1,
        desired_state: "running".into(),
        current_state: "failed".into(),
        error: "OOM killed".into(),
        ..Task::default()
    }];
    vec![a, b, c]
}

fn host(
    name: &str,
    os: (&str, &str),
    cpus: i64,
    mem_gib: i64,
    tick: i64,
    now_ms: i64,
) -> HostReport {
    HostReport {
        agent: HostAgentInfo {
            id: format!("{DEMO_PREFIX}{name}"),
            version: env!("CARGO_PKG_VERSION").into(),
            interval_seconds: DEMO_EVERY_MS / 1000,
            hostname: name.into(),
        },
        host: HostInfo {
            hostname: name.into(),
            platform: "linux".into(),
            os_name: os.0.into(),
            os_version: os.1.into(),
            kernel_version: "6.8.0-49-generic".into(),
            architecture: "x86_64".into(),
            cpu_count: cpus,
            uptime_seconds: 4_000_000 + tick * 30,
            load_average: vec![
                wave(tick, 2, 0.1, 3.0),
                wave(tick, 4, 0.1, 2.0),
                wave(tick, 6, 0.1, 1.0),
            ],
            ..HostInfo::default()
        },
        metrics: HostMetrics {
            cpu_usage_percent: wave(tick, cpus, 3.0, 60.0),
            memory: MemoryMetric {
                total_bytes: mem_gib * GIB,
                used_bytes: (wave(tick, 7, 0.3, 0.8) * (mem_gib * GIB) as f64) as i64,
                swap_total_bytes: 2 * GIB,
                swap_used_bytes: 128 << 20,
                ..MemoryMetric::default()
            },
            ..HostMetrics::default()
        },
        disks: vec![Disk {
            device: "/dev/nvme0n1p2".into(),
            mountpoint: "/".into(),
            fs_type: "ext4".into(),
            total_bytes: 500 * GIB,
            used_bytes: 310 * GIB,
            ..Disk::default()
        }],
        network: vec![NetworkInterface {
            name: "eth0".into(),
            addresses: vec!["10.0.0.21/24".into()],
            rx_bytes: Some(9_000_000_000 + tick as u64 * 40_000_000),
            tx_bytes: Some(3_000_000_000 + tick as u64 * 10_000_000),
            speed_mbps: Some(1000),
            ..NetworkInterface::default()
        }],
        sensors: Sensors {
            temperature_celsius: [("cpu_package".to_string(), wave(tick, 9, 42.0, 71.0))].into(),
            ..Sensors::default()
        },
        timestamp: UtcTime::from_unix_ms(now_ms),
        ..HostReport::default()
    }
}

/// The agent on the demo cluster's first node: its short hostname is the node's name, so
/// its sensors fill that node's temperature (package, four cores, an NVMe drive).
fn pve_node_host(tick: i64, now_ms: i64) -> HostReport {
    let mut r = host(
        "pve1.demo.lan",
        ("Debian GNU/Linux", "12"),
        8,
        64,
        tick,
        now_ms,
    );
    let package = wave(tick, 3, 48.0, 74.0);
    let mut t: std::collections::BTreeMap<String, f64> = (0..4)
        .map(|i| (format!("coretemp Core {i}"), package - 4.0 + i as f64 * 1.5))
        .collect();
    t.insert("coretemp Package id 0".into(), package);
    t.insert("nvme Composite".into(), wave(tick, 11, 36.0, 47.0));
    r.sensors.temperature_celsius = t;
    r
}

/// The demo hosts at feed number `tick`.
pub fn host_reports(tick: i64, now_ms: i64) -> Vec<HostReport> {
    vec![
        pve_node_host(tick, now_ms),
        host(
            "backup-nas",
            ("Debian GNU/Linux", "12"),
            4,
            16,
            tick,
            now_ms,
        ),
        host("build-runner", ("Ubuntu", "24.04"), 16, 64, tick, now_ms),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_reports_pass_validation() {
        for r in docker_reports(3, 1_800_000_000_000) {
            assert!(crate::agents::validate::docker(&r).is_ok());
        }
        for r in host_reports(3, 1_800_000_000_000) {
            assert!(crate::agents::validate::host(&r).is_ok());
        }
    }
}
