//! `/metrics` rows for Ceph pools, PMG queues, Docker hosts and containers, and host-agent
//! hosts (families announced in `metrics.rs`). Label sets: Ceph pool `{instance,cluster,pool}`,
//! PMG queue `{instance,node,queue}` (oldest: `{instance,node}`), Docker host `{host_id,host}`,
//! container `{host_id,host,container}`, host `{host_id,host}`, host disk
//! `{host_id,host,mountpoint}`. `host_id` is the state's `id` (stable across renames); `host`
//! its display name. Values equal `/api/state`'s.

use super::metrics::{Labels, Row};
use crate::agents::Agents;
use crate::state::ceph::CephClusterFrontend;
use crate::state::store::LiveState;

pub fn ceph_pmg_rows(ceph: &[&CephClusterFrontend], st: &LiveState, rows: &mut Vec<Row>) {
    for c in ceph {
        for p in &c.pools {
            let l: Labels = vec![
                ("instance", c.instance.clone()),
                ("cluster", c.name.clone()),
                ("pool", p.name.clone()),
            ];
            let stored = p.stored_bytes as f64;
            rows.push(("pulse_ceph_pool_stored_bytes", "", l.clone(), stored));
            let avail = p.available_bytes as f64;
            rows.push(("pulse_ceph_pool_available_bytes", "", l, avail));
        }
    }
    for p in st.pmg_instances() {
        for n in &p.nodes {
            let Some(q) = &n.queue_status else { continue };
            for (queue, v) in [
                ("active", q.active),
                ("deferred", q.deferred),
                ("hold", q.hold),
                ("incoming", q.incoming),
            ] {
                let l: Labels = vec![
                    ("instance", p.name.clone()),
                    ("node", n.name.clone()),
                    ("queue", queue.to_string()),
                ];
                rows.push(("pulse_pmg_queue_messages", "", l, v as f64));
            }
            let l: Labels = vec![("instance", p.name.clone()), ("node", n.name.clone())];
            let oldest = q.oldest_age as f64;
            rows.push(("pulse_pmg_queue_oldest_seconds", "", l, oldest));
        }
    }
}

fn up(online: bool) -> f64 {
    if online {
        1.0
    } else {
        0.0
    }
}

pub fn agent_rows(agents: &Agents, rows: &mut Vec<Row>) {
    for d in agents.docker.values() {
        let h = &d.report.host;
        let l: Labels = vec![
            ("host_id", d.id.clone()),
            ("host", d.display_name().to_string()),
        ];
        rows.push(("pulse_docker_host_up", "", l.clone(), up(d.online)));
        let cpu = h.cpu_usage_percent / 100.0;
        rows.push(("pulse_docker_host_cpu_usage_ratio", "", l.clone(), cpu));
        // As the state's `memory`: only when the agent knows the total.
        if let Some(m) = crate::agents::host::memory(&h.memory) {
            let used = m.used as f64;
            rows.push(("pulse_docker_host_memory_used_bytes", "", l.clone(), used));
            let total = m.total as f64;
            rows.push(("pulse_docker_host_memory_total_bytes", "", l, total));
        }
        for c in &d.report.containers {
            let l: Labels = vec![
                ("host_id", d.id.clone()),
                ("host", d.display_name().to_string()),
                ("container", c.name.trim_start_matches('/').to_string()),
            ];
            let running = up(c.state == "running");
            rows.push(("pulse_docker_container_up", "", l.clone(), running));
            let cpu = c.cpu_percent / 100.0;
            rows.push(("pulse_docker_container_cpu_usage_ratio", "", l.clone(), cpu));
            let used = c.memory_usage_bytes as f64;
            rows.push((
                "pulse_docker_container_memory_used_bytes",
                "",
                l.clone(),
                used,
            ));
            let limit = c.memory_limit_bytes as f64;
            rows.push(("pulse_docker_container_memory_limit_bytes", "", l, limit));
        }
    }
    for a in agents.hosts.values() {
        let m = &a.report.metrics;
        let l: Labels = vec![
            ("host_id", a.id.clone()),
            ("host", a.display_name().to_string()),
        ];
        rows.push(("pulse_host_up", "", l.clone(), up(a.online)));
        let cpu = m.cpu_usage_percent / 100.0;
        rows.push(("pulse_host_cpu_usage_ratio", "", l.clone(), cpu));
        if let Some(mem) = crate::agents::host::memory(&m.memory) {
            let used = mem.used as f64;
            rows.push(("pulse_host_memory_used_bytes", "", l.clone(), used));
            let total = mem.total as f64;
            rows.push(("pulse_host_memory_total_bytes", "", l.clone(), total));
        }
        for disk in crate::agents::host::disks(&a.report.disks) {
            let mut dl = l.clone();
            dl.push(("mountpoint", disk.mountpoint.clone()));
            let used = disk.used as f64;
            rows.push(("pulse_host_disk_used_bytes", "", dl.clone(), used));
            rows.push(("pulse_host_disk_total_bytes", "", dl, disk.total as f64));
        }
    }
}
