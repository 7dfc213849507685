//! How fast the simulated PVE answers, request counters per path family, and PVE's
//! parameter checks.
//!
//! The default (fast) pace answers as fast as it can: right for tests and the demo. The
//! `pveproxy` pace imitates a real `pveproxy` (pve-polling.md §8): a small number of workers
//! (3) each answering one request at a time with a per-request latency (15 ms by default),
//! keep-alive for 100 requests per connection, 5 s idle timeout, and no keep-alive after an
//! error response. At that pace a poll that costs a request per guest takes minutes, which is
//! what issue #20 measured against the original.

use super::http::Response;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The `pveproxy` pace's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PveproxyPace {
    pub latency: Duration,
    pub workers: usize,
    /// Requests served on one connection before it is closed.
    pub keep_alive_requests: u32,
    /// An idle keep-alive connection is closed after this long.
    pub idle: Duration,
}

impl Default for PveproxyPace {
    fn default() -> PveproxyPace {
        PveproxyPace {
            latency: Duration::from_millis(15),
            workers: 3,
            keep_alive_requests: 100,
            idle: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// As fast as possible (tests, demo).
    #[default]
    Fast,
    Pveproxy(PveproxyPace),
}

impl Pace {
    /// `fast` or `pveproxy` (with defaults).
    pub fn parse(s: &str) -> Option<Pace> {
        match s {
            "fast" => Some(Pace::Fast),
            "pveproxy" => Some(Pace::Pveproxy(PveproxyPace::default())),
            _ => None,
        }
    }
}

/// A counting semaphore: the `pveproxy` workers.
#[derive(Debug, Default)]
pub struct Workers {
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Workers {
    /// Runs `f` on one of `limit` workers, waiting for a free one.
    pub fn run<T>(&self, limit: usize, f: impl FnOnce() -> T) -> T {
        {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= limit.max(1) {
                busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let out = f();
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        *busy = busy.saturating_sub(1);
        self.freed.notify_one();
        out
    }
}

/// Requests served, by product and path family (`pve /nodes/{node}/qemu/{vmid}/status/current`).
#[derive(Debug, Default)]
pub struct PathCounters {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl PathCounters {
    pub fn hit(&self, product: &str, api_path: &str) {
        let key = format!("{product} {}", family(api_path));
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry(key).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The path with its variable segments named: node, vmid, storage, zfs pool, datastore.
pub fn family(api_path: &str) -> String {
    let segs: Vec<&str> = api_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| segs.get(p)).copied();
        let named = match prev {
            Some("nodes") => "{node}",
            Some("qemu" | "lxc") if seg.bytes().all(|b| b.is_ascii_digit()) => "{vmid}",
            Some("storage") if out.first() == Some(&"nodes") => "{storage}",
            Some("zfs") => "{name}",
            Some("datastore") => "{store}",
            _ => seg,
        };
        out.push(named);
    }
    format!("/{}", out.join("/"))
}

/// GET parameters PVE accepts on the paths the simulator serves (from the PVE 9 API schema;
/// path parameters like `node` are part of the path, not the query). Every one of these has
/// `additionalProperties: 0`, so anything else is refused with 400, as the real API does.
fn allowed_params(family: &str) -> Option<&'static [&'static str]> {
    Some(match family {
        "/version"
        | "/nodes"
        | "/cluster/status"
        | "/cluster/replication"
        | "/cluster/backup"
        | "/cluster/ceph/status"
        | "/cluster/ceph/df" => &[],
        "/cluster/resources" | "/storage" => &["type"],
        "/nodes/{node}/status" | "/nodes/{node}/lxc" | "/nodes/{node}/disks/zfs" => &[],
        "/nodes/{node}/disks/zfs/{name}" => &[],
        "/nodes/{node}/rrddata"
        | "/nodes/{node}/qemu/{vmid}/rrddata"
        | "/nodes/{node}/lxc/{vmid}/rrddata" => &["timeframe", "cf"],
        "/nodes/{node}/qemu" => &["full"],
        "/nodes/{node}/storage" => &["content", "enabled", "format", "storage", "target"],
        "/nodes/{node}/storage/{storage}/content" => &["content", "vmid"],
        "/nodes/{node}/disks/list" => &["include-partitions", "skipsmart", "type"],
        "/nodes/{node}/replication" => &["guest"],
        "/nodes/{node}/tasks" => &[
            "errors",
            "limit",
            "since",
            "source",
            "start",
            "statusfilter",
            "typefilter",
            "until",
            "userfilter",
            "vmid",
        ],
        "/nodes/{node}/qemu/{vmid}/config" | "/nodes/{node}/lxc/{vmid}/config" => {
            &["current", "snapshot"]
        }
        "/nodes/{node}/qemu/{vmid}/status/current"
        | "/nodes/{node}/lxc/{vmid}/status/current"
        | "/nodes/{node}/lxc/{vmid}/interfaces"
        | "/nodes/{node}/qemu/{vmid}/snapshot"
        | "/nodes/{node}/lxc/{vmid}/snapshot"
        | "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo"
        | "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"
        | "/nodes/{node}/qemu/{vmid}/agent/get-osinfo"
        | "/nodes/{node}/qemu/{vmid}/agent/info" => &[],
        _ => return None,
    })
}

/// PVE's answer to a GET with a parameter its schema does not define: 400 naming it.
pub fn check_params(api_path: &str, query: &str) -> Result<(), Response> {
    let Some(allowed) = allowed_params(&family(api_path)) else {
        return Ok(());
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        let name = super::http::form_decode(name);
        if !allowed.contains(&name.as_str()) {
            let mut resp = Response::raw_json(
                400,
                serde_json::json!({
                    "data": null,
                    "errors": { name.clone(): "property is not defined in schema and the schema does not allow additional properties" },
                }),
            );
            resp.reason = format!("Parameter verification failed. ({name})");
            return Err(resp);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_name_variable_segments() {
        assert_eq!(
            family("/nodes/pve3/qemu/117/status/current"),
            "/nodes/{node}/qemu/{vmid}/status/current"
        );
        assert_eq!(
            family("/nodes/pve3/storage/local/content"),
            "/nodes/{node}/storage/{storage}/content"
        );
        assert_eq!(family("/storage"), "/storage");
        assert_eq!(family("/cluster/resources"), "/cluster/resources");
    }

    #[test]
    fn unknown_parameters_are_refused() {
        assert!(check_params("/nodes/pve1/rrddata", "timeframe=hour&cf=AVERAGE").is_ok());
        let err = check_params(
            "/nodes/pve1/lxc/101/rrddata",
            "ds=memavailable&timeframe=hour",
        );
        assert_eq!(err.map_err(|r| r.status), Err(400));
        assert!(check_params("/cluster/resources", "type=vm").is_ok());
        assert!(check_params("/cluster/resources", "full=1").is_err());
        assert!(check_params("/some/unknown/path", "x=1").is_ok());
    }
}
