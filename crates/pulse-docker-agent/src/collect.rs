//! Turning Engine API answers into a report: `/version`, `/info`, `/containers/json?all=1`,
//! each container's `/json` (restart count, exit code, OOM flag, health, times) and, when
//! running, its one-shot `/stats`; Swarm `/services` and `/tasks` on a manager.

use crate::engine::Engine;
use pulse_agent_kit::cli::Options;
use pulse_agent_kit::sys;
use pulse_wire::agents::docker::{
    AgentInfo, BlockIo, Container, ContainerMount, ContainerNetwork, ContainerPort, DockerHostInfo,
    DockerReport, Service, SwarmInfo, Task,
};
use pulse_wire::time::UtcTime;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Container id → (container CPU ns, system CPU ns) of the previous report: CPU percent is
/// the change between two reports (a one-shot stats call has no previous sample).
#[derive(Default)]
pub struct CpuHistory(HashMap<String, (u64, u64)>);

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}
fn i(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}
fn u(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}
/// An Engine time; Docker's "never" is `0001-01-01T00:00:00Z`.
fn time(v: &Value, k: &str) -> Option<UtcTime> {
    v.get(k)
        .and_then(Value::as_str)
        .and_then(UtcTime::parse)
        .filter(|t| !t.is_zero())
}
fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn report(
    engine: &Engine,
    opts: &Options,
    cpu: &mut CpuHistory,
) -> Result<DockerReport, String> {
    let version = engine.get("/version")?;
    let info = engine.get("/info")?;
    let podman = engine.socket.contains("podman")
        || version
            .get("Components")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|x| s(x, "Name").contains("Podman")));
    let swarm = swarm_info(&info);
    let list = engine.get("/containers/json?all=1")?;
    let mut containers = Vec::new();
    let mut seen = Vec::new();
    for summary in list.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let id = s(summary, "Id");
        if id.is_empty() {
            continue;
        }
        // A container removed between the list and its inspect is simply skipped.
        let Ok(detail) = engine.get(&format!("/containers/{id}/json")) else {
            continue;
        };
        let mut c = container(summary, &detail);
        if c.state == "running" {
            if let Ok(stats) = engine.get(&format!(
                "/containers/{id}/stats?stream=false&one-shot=true"
            )) {
                apply_stats(&mut c, &stats, cpu);
            }
        }
        seen.push(id);
        containers.push(c);
    }
    cpu.0.retain(|id, _| seen.contains(id));
    let (services, tasks) = match &swarm {
        Some(sw) if sw.control_available => swarm_services(engine),
        _ => (Vec::new(), Vec::new()),
    };
    let hostname = match s(&info, "Name") {
        n if n.is_empty() => sys::hostname(),
        n => n,
    };
    let server_version = s(&version, "Version");
    Ok(DockerReport {
        agent: AgentInfo {
            id: sys::agent_id(opts),
            version: env!("CARGO_PKG_VERSION").into(),
            interval_seconds: opts.interval.as_secs() as i64,
        },
        host: DockerHostInfo {
            hostname,
            machine_id: sys::machine_id().unwrap_or_default(),
            os: s(&info, "OperatingSystem"),
            runtime: if podman { "podman" } else { "docker" }.into(),
            runtime_version: server_version.clone(),
            docker_version: server_version,
            kernel_version: s(&info, "KernelVersion"),
            architecture: s(&info, "Architecture"),
            total_cpu: i(&info, "NCPU"),
            total_memory_bytes: i(&info, "MemTotal"),
            uptime_seconds: sys::uptime_seconds(),
            swarm,
            load_average: sys::load_average(),
            memory: sys::memory(),
            ..DockerHostInfo::default()
        },
        containers,
        services,
        tasks,
        timestamp: sys::now(),
    })
}

fn swarm_info(info: &Value) -> Option<SwarmInfo> {
    let sw = info.get("Swarm")?;
    let state = s(sw, "LocalNodeState");
    if state.is_empty() || state == "inactive" {
        return None;
    }
    let control = sw
        .get("ControlAvailable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cluster = sw.get("Cluster").cloned().unwrap_or(Value::Null);
    Some(SwarmInfo {
        node_id: s(sw, "NodeID"),
        node_role: if control { "manager" } else { "worker" }.into(),
        local_state: state,
        control_available: control,
        cluster_id: s(&cluster, "ID"),
        cluster_name: cluster
            .get("Spec")
            .map(|sp| s(sp, "Name"))
            .unwrap_or_default(),
        scope: if control { "cluster" } else { "node" }.into(),
        error: s(sw, "Error"),
    })
}

fn container(summary: &Value, detail: &Value) -> Container {
    let state = detail.get("State").cloned().unwrap_or(Value::Null);
    let name = summary
        .get("Names")
        .and_then(|n| n.get(0))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| s(detail, "Name"));
    let started = time(&state, "StartedAt");
    let status_word = s(&state, "Status");
    let running = status_word == "running";
    let now = UtcTime::now();
    let ports = summary
        .get("Ports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| ContainerPort {
                    private_port: i(p, "PrivatePort"),
                    public_port: i(p, "PublicPort"),
                    protocol: s(p, "Type"),
                    ip: s(p, "IP"),
                })
                .collect()
        })
        .unwrap_or_default();
    let networks = summary
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(n, v)| ContainerNetwork {
                    name: n.clone(),
                    ipv4: s(v, "IPAddress"),
                    ipv6: s(v, "GlobalIPv6Address"),
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = summary
        .get("Mounts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| ContainerMount {
                    kind: s(m, "Type"),
                    source: s(m, "Source"),
                    destination: s(m, "Destination"),
                    mode: s(m, "Mode"),
                    rw: m.get("RW").and_then(Value::as_bool).unwrap_or(false),
                    propagation: s(m, "Propagation"),
                    name: s(m, "Name"),
                    driver: s(m, "Driver"),
                })
                .collect()
        })
        .unwrap_or_default();
    Container {
        id: s(summary, "Id"),
        name: name.trim_start_matches('/').to_string(),
        image: s(summary, "Image"),
        created_at: time(detail, "Created")
            .unwrap_or_else(|| UtcTime::from_unix(i(summary, "Created"))),
        state: if status_word.is_empty() {
            s(summary, "State")
        } else {
            status_word
        },
        status: s(summary, "Status"),
        health: state
            .get("Health")
            .map(|h| s(h, "Status"))
            .unwrap_or_default(),
        restart_count: i(detail, "RestartCount"),
        exit_code: i(&state, "ExitCode") as i32,
        oom_killed: state.get("OOMKilled").and_then(Value::as_bool),
        uptime_seconds: match started {
            Some(t) if running => (now.secs - t.secs).max(0),
            _ => 0,
        },
        started_at: started,
        finished_at: time(&state, "FinishedAt"),
        ports,
        labels: labels(summary.get("Labels")),
        networks,
        mounts,
        memory_limit_bytes: detail
            .pointer("/HostConfig/Memory")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        ..Container::default()
    }
}

fn apply_stats(c: &mut Container, st: &Value, cpu: &mut CpuHistory) {
    let mem = st.get("memory_stats").cloned().unwrap_or(Value::Null);
    let usage = u(&mem, &["usage"]);
    // What `docker stats` shows: page cache that can be dropped does not count.
    let cache =
        u(&mem, &["stats", "inactive_file"]).max(u(&mem, &["stats", "total_inactive_file"]));
    let used = usage.saturating_sub(cache) as i64;
    let limit = u(&mem, &["limit"]) as i64;
    if c.memory_limit_bytes == 0 {
        c.memory_limit_bytes = limit;
    }
    c.memory_usage_bytes = used;
    if c.memory_limit_bytes > 0 {
        c.memory_percent = used as f64 * 100.0 / c.memory_limit_bytes as f64;
    }
    let total = u(st, &["cpu_stats", "cpu_usage", "total_usage"]);
    let system = u(st, &["cpu_stats", "system_cpu_usage"]);
    let online = u(st, &["cpu_stats", "online_cpus"]).max(1);
    let pre = (
        u(st, &["precpu_stats", "cpu_usage", "total_usage"]),
        u(st, &["precpu_stats", "system_cpu_usage"]),
    );
    let prev = if pre.1 > 0 {
        Some(pre)
    } else {
        cpu.0.get(&c.id).copied()
    };
    if let Some((t0, s0)) = prev {
        if system > s0 && total >= t0 {
            c.cpu_percent = (total - t0) as f64 / (system - s0) as f64 * online as f64 * 100.0;
        }
    }
    cpu.0.insert(c.id.clone(), (total, system));
    let (mut read, mut write) = (0u64, 0u64);
    if let Some(list) = st
        .pointer("/blkio_stats/io_service_bytes_recursive")
        .and_then(Value::as_array)
    {
        for e in list {
            match s(e, "op").to_ascii_lowercase().as_str() {
                "read" => read += u(e, &["value"]),
                "write" => write += u(e, &["value"]),
                _ => {}
            }
        }
    }
    if read > 0 || write > 0 {
        c.block_io = Some(BlockIo {
            read_bytes: read,
            write_bytes: write,
        });
    }
}

fn swarm_services(engine: &Engine) -> (Vec<Service>, Vec<Task>) {
    let services = engine.get("/services?status=true").unwrap_or(Value::Null);
    let tasks_v = engine.get("/tasks").unwrap_or(Value::Null);
    let tasks: Vec<Task> = tasks_v
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|t| {
            let status = t.get("Status").cloned().unwrap_or(Value::Null);
            Task {
                id: s(t, "ID"),
                service_id: s(t, "ServiceID"),
                slot: i(t, "Slot") as i32,
                node_id: s(t, "NodeID"),
                desired_state: s(t, "DesiredState"),
                current_state: s(&status, "State"),
                error: s(&status, "Err"),
                message: s(&status, "Message"),
                container_id: status
                    .pointer("/ContainerStatus/ContainerID")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                created_at: time(t, "CreatedAt"),
                updated_at: time(t, "UpdatedAt"),
                ..Task::default()
            }
        })
        .collect();
    let mut out = Vec::new();
    for sv in services.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let id = s(sv, "ID");
        let spec = sv.get("Spec").cloned().unwrap_or(Value::Null);
        let labels = labels(spec.get("Labels"));
        let ours = || tasks.iter().filter(|t| t.service_id == id);
        let (desired, running) = match sv.get("ServiceStatus") {
            Some(st) => (i(st, "DesiredTasks"), i(st, "RunningTasks")),
            None => (
                match spec
                    .pointer("/Mode/Replicated/Replicas")
                    .and_then(Value::as_i64)
                {
                    Some(r) => r,
                    None => ours().filter(|t| t.desired_state == "running").count() as i64,
                },
                ours().filter(|t| t.current_state == "running").count() as i64,
            ),
        };
        let completed = ours().filter(|t| t.current_state == "complete").count() as i64;
        out.push(Service {
            name: s(&spec, "Name"),
            stack: labels
                .get("com.docker.stack.namespace")
                .cloned()
                .unwrap_or_default(),
            image: spec
                .pointer("/TaskTemplate/ContainerSpec/Image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            mode: if spec.pointer("/Mode/Global").is_some() {
                "global"
            } else {
                "replicated"
            }
            .into(),
            desired_tasks: desired,
            running_tasks: running,
            completed_tasks: completed,
            labels,
            created_at: time(sv, "CreatedAt"),
            updated_at: time(sv, "UpdatedAt"),
            id,
            ..Service::default()
        });
    }
    let names: HashMap<String, String> =
        out.iter().map(|s| (s.id.clone(), s.name.clone())).collect();
    let tasks = tasks
        .into_iter()
        .map(|mut t| {
            t.service_name = names.get(&t.service_id).cloned().unwrap_or_default();
            t
        })
        .collect();
    (out, tasks)
}
