//! Replication jobs for a PVE poll: `/cluster/replication` every cycle (one request), each
//! source node's job state (`/nodes/{node}/replication`) on a slower, spread-out cadence.

use super::derive_replication::{build_replication_jobs, merge_replication_state, GuestInfo};
use super::poll_pve::PveApi;
use crate::proxmox::ProxmoxError;
use crate::state::replication::ReplicationJobFrontend;
use crate::state::snapshot::PveSnapshot;
use std::collections::HashMap;

/// Each source node's replication state is re-read about this often: replication runs every
/// 15 minutes by default, and one request per node per cycle would double a large cluster's
/// live requests.
pub const STATE_INTERVAL_MS: i64 = 60_000;

/// Per source node: when its replication state was read, and the rows it gave.
pub type StateCache = HashMap<String, (i64, Vec<serde_json::Value>)>;

/// The sources to read this cycle: every new one, then the stalest of those due, a sixth of
/// all sources per cycle (10 s cycles spread a minute's reads evenly). Forgets sources that
/// are gone.
pub fn due_sources(sources: &[String], cache: &mut StateCache, now_ms: i64) -> Vec<String> {
    cache.retain(|node, _| sources.contains(node));
    let mut due: Vec<(i64, &String)> = sources
        .iter()
        .map(|n| (cache.get(n).map_or(i64::MIN, |(at, _)| *at), n))
        .filter(|(at, _)| *at == i64::MIN || now_ms - at >= STATE_INTERVAL_MS)
        .collect();
    due.sort();
    let share = sources.len().div_ceil(6).max(1);
    let fresh = due.iter().filter(|(at, _)| *at == i64::MIN).count();
    due.into_iter()
        .take(share.max(fresh))
        .map(|(_, n)| n.clone())
        .collect()
}

/// Replication jobs with their guests' names; an instance without replication support
/// (404/501) has none, any other failure keeps the previous list (`None`). The job state (last
/// and next sync, duration, fail count, error) comes from `/nodes/{source}/replication`, asked
/// only of online nodes that are the source of a job, each about once a minute
/// (`REPLICATION_STATE_INTERVAL_MS`, spread over the cycles; a new source at once): none on a
/// cluster without replication. A node that fails to answer keeps the state it last gave.
pub fn replication_jobs(
    api: &mut dyn PveApi,
    instance: &str,
    snap: &PveSnapshot,
    cache: &mut StateCache,
    now_ms: i64,
) -> Option<Vec<ReplicationJobFrontend>> {
    let mut rows = match api.cluster_replication() {
        Ok(rows) => rows,
        Err(ProxmoxError::Http {
            status: 404 | 501, ..
        }) => Vec::new(),
        Err(_) => return None,
    };
    let mut sources: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("source").and_then(serde_json::Value::as_str))
        .filter(|s| {
            snap.nodes
                .iter()
                .any(|n| n.name == *s && n.status == "online")
        })
        .map(str::to_string)
        .collect();
    sources.sort();
    sources.dedup();
    for node in due_sources(&sources, cache, now_ms) {
        // A failed read keeps the rows it had and waits its turn like the others.
        let status = match api.node_replication(&node) {
            Ok(status) => status,
            Err(_) => cache
                .remove(&node)
                .map(|(_, rows)| rows)
                .unwrap_or_default(),
        };
        cache.insert(node, (now_ms, status));
    }
    for node in &sources {
        if let Some((_, status)) = cache.get(node) {
            merge_replication_state(&mut rows, status);
        }
    }
    let vms = snap.vms.iter().map(|v| GuestInfo {
        vmid: v.vmid,
        name: v.name.clone(),
        kind: "qemu".into(),
        node: v.node.clone(),
    });
    let cts = snap.containers.iter().map(|c| GuestInfo {
        vmid: c.vmid,
        name: c.name.clone(),
        kind: "lxc".into(),
        node: c.node.clone(),
    });
    let guests: Vec<GuestInfo> = vms.chain(cts).collect();
    Some(build_replication_jobs(instance, &rows, &guests, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sources_at_once_then_a_sixth_per_cycle_about_once_a_minute() {
        let sources: Vec<String> = (1..=12).map(|i| format!("pve{i}")).collect();
        let mut cache = StateCache::new();
        let read = |cache: &mut StateCache, now: i64| {
            let due = due_sources(&sources, cache, now);
            for n in &due {
                cache.insert(n.clone(), (now, Vec::new()));
            }
            due.len()
        };
        assert_eq!(
            read(&mut cache, 0),
            12,
            "every new source on the first cycle"
        );
        // Nothing is due within the minute.
        for cycle in 1..6 {
            assert_eq!(read(&mut cache, cycle * 10_000), 0);
        }
        // Then at most two (12 / 6) per 10 s cycle, never all at once.
        let mut total = 0;
        for cycle in 6..12 {
            let n = read(&mut cache, cycle * 10_000);
            assert!(n <= 2, "cycle {cycle}: {n}");
            total += n;
        }
        assert_eq!(total, 12, "every source read again within the next minute");
        // A source that left is forgotten; a new one is read at once.
        let fewer = &sources[..3];
        let mut c2 = cache.clone();
        due_sources(fewer, &mut c2, 120_000);
        assert_eq!(c2.len(), 3);
    }
}
