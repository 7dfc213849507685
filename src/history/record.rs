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
    n
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
