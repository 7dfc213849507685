//! Feeding the history from the live state: after an instance's poll is applied, one sample
//! per resource of that instance (never a walk over the whole estate).

use super::{History, Kind};
use crate::state::store::LiveState;

/// A disk usage of −1 means "unknown": not a point.
fn pct(v: f64) -> f64 {
    if v < 0.0 {
        f64::NAN
    } else {
        v
    }
}

fn rate(v: i64) -> f64 {
    if v < 0 {
        f64::NAN
    } else {
        v as f64
    }
}

/// Records the resources of PVE instance `instance` as the state holds them now.
/// Returns how many resources were sampled.
pub fn record_pve_instance(
    h: &mut History,
    state: &LiveState,
    instance: &str,
    now_ms: i64,
) -> usize {
    let Some(view) = state.pve_instance(instance) else {
        return 0;
    };
    let t = now_ms.div_euclid(1000);
    let mut n = 0;
    for node in view.nodes.iter().filter(|n| n.status == "online") {
        let v = [node.cpu * 100.0, node.memory.usage, pct(node.disk.usage)];
        h.record(&node.id, Kind::Node, t, &v);
        n += 1;
    }
    // Unreachable guests keep their last figures in the state; they are not new samples.
    for g in view.vms.iter().filter(|g| g.status != "unknown") {
        let v = [
            g.cpu * 100.0,
            g.memory.usage,
            pct(g.disk.usage),
            rate(g.disk_read),
            rate(g.disk_write),
            rate(g.network_in),
            rate(g.network_out),
        ];
        h.record(&g.id, Kind::Guest, t, &v);
        n += 1;
    }
    for g in view.containers.iter().filter(|g| g.status != "unknown") {
        let v = [
            g.cpu * 100.0,
            g.memory.usage,
            pct(g.disk.usage),
            rate(g.disk_read),
            rate(g.disk_write),
            rate(g.network_in),
            rate(g.network_out),
        ];
        h.record(&g.id, Kind::Guest, t, &v);
        n += 1;
    }
    for s in view.storage.iter().filter(|s| s.total > 0) {
        let v = [s.usage, s.used as f64, s.total as f64, s.avail as f64];
        h.record(&s.id, Kind::Storage, t, &v);
        n += 1;
    }
    for c in view.ceph {
        for p in &c.pools {
            let total = p.stored_bytes + p.available_bytes;
            let v = [
                p.percent_used,
                p.stored_bytes as f64,
                total as f64,
                p.available_bytes as f64,
            ];
            h.record(&ceph_pool_id(&c.id, &p.name), Kind::Storage, t, &v);
            n += 1;
        }
    }
    n
}

// History ids of the resources that are not PVE guests, nodes or storage: prefixed, so they
// can never collide with a PVE id (`<instance>-<node>-<vmid>`), and the charts can group them.

/// A Ceph pool: `ceph:<cluster id>/<pool>`.
pub fn ceph_pool_id(cluster_id: &str, pool: &str) -> String {
    format!("ceph:{cluster_id}/{pool}")
}

/// A Docker host: `docker:<host id>`.
pub fn docker_host_id(host: &str) -> String {
    format!("docker:{host}")
}

/// A Docker container: `docker:<host id>/<container id>`.
pub fn docker_container_id(host: &str, container: &str) -> String {
    format!("docker:{host}/{container}")
}

/// A host-agent host: `host:<host id>`.
pub fn host_agent_id(host: &str) -> String {
    format!("host:{host}")
}

/// A PMG instance: `pmg:<instance id>`.
pub fn pmg_id(instance: &str) -> String {
    format!("pmg:{instance}")
}

fn ratio_pct(used: i64, total: i64) -> f64 {
    if total > 0 {
        used as f64 * 100.0 / total as f64
    } else {
        f64::NAN
    }
}

/// One report of a Docker host: the host (cpu, memory, first disk) and each container (cpu,
/// memory; a container has no disk or rate figures).
pub fn record_docker_host(h: &mut History, host: &crate::agents::docker::DockerHost, now_ms: i64) {
    let t = now_ms.div_euclid(1000);
    let hi = &host.report.host;
    let disk = hi
        .disks
        .first()
        .map_or(f64::NAN, |d| ratio_pct(d.used_bytes, d.total_bytes));
    let mem = ratio_pct(hi.memory.used_bytes, hi.memory.total_bytes);
    h.record(
        &docker_host_id(&host.id),
        Kind::Node,
        t,
        &[hi.cpu_usage_percent, mem, disk],
    );
    for c in host
        .report
        .containers
        .iter()
        .filter(|c| c.state == "running")
    {
        let nan = f64::NAN;
        let v = [c.cpu_percent, c.memory_percent, nan, nan, nan, nan, nan];
        h.record(&docker_container_id(&host.id, &c.id), Kind::Guest, t, &v);
    }
}

/// One report of a host agent: cpu, memory, the root (or first) disk.
pub fn record_host_agent(h: &mut History, host: &crate::agents::host::HostAgent, now_ms: i64) {
    let t = now_ms.div_euclid(1000);
    let m = &host.report.metrics;
    let disks = &host.report.disks;
    let disk = disks
        .iter()
        .find(|d| d.mountpoint == "/")
        .or_else(|| disks.first())
        .map_or(f64::NAN, |d| ratio_pct(d.used_bytes, d.total_bytes));
    let mem = ratio_pct(m.memory.used_bytes, m.memory.total_bytes);
    h.record(
        &host_agent_id(&host.id),
        Kind::Node,
        t,
        &[m.cpu_usage_percent, mem, disk],
    );
}

/// Records PMG instance `name`: queued messages (all nodes), deferred, and the mail statistics.
pub fn record_pmg_instance(h: &mut History, state: &LiveState, name: &str, now_ms: i64) -> usize {
    let Some(pmg) = state.pmg_instances().find(|p| p.name == name) else {
        return 0;
    };
    if pmg.status != "online" {
        return 0;
    }
    let queues = pmg.nodes.iter().filter_map(|n| n.queue_status.as_ref());
    let (queue, deferred) = queues.fold((0i64, 0i64), |(q, d), s| (q + s.total, d + s.deferred));
    let nan = f64::NAN;
    let (mail_in, mail_out, spam_in) = pmg
        .mail_stats
        .as_ref()
        .map_or((nan, nan, nan), |m| (m.count_in, m.count_out, m.spam_in));
    let v = [queue as f64, deferred as f64, mail_in, mail_out, spam_in];
    h.record(&pmg_id(&pmg.id), Kind::Mail, now_ms.div_euclid(1000), &v);
    1
}

/// The id a PBS datastore's history and forecast go by: `"<pbs instance id>-<datastore>"`.
pub fn datastore_id(pbs_id: &str, datastore: &str) -> String {
    format!("{pbs_id}-{datastore}")
}

/// Records the datastores of PBS instance `name` (as storage series: usage, used, total,
/// free). Returns how many were sampled.
pub fn record_pbs_instance(h: &mut History, state: &LiveState, name: &str, now_ms: i64) -> usize {
    let Some(pbs) = state.pbs_instances().find(|p| p.name == name) else {
        return 0;
    };
    if pbs.status != "online" {
        return 0;
    }
    let t = now_ms.div_euclid(1000);
    let mut n = 0;
    for d in pbs.datastores.iter().filter(|d| d.total > 0) {
        let v = [d.usage, d.used as f64, d.total as f64, d.free as f64];
        h.record(&datastore_id(&pbs.id, &d.name), Kind::Storage, t, &v);
        n += 1;
    }
    n
}
