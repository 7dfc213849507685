//! PBS jobs as `/api/state` shows them under each PBS instance: sync, verify, prune and garbage
//! collection, with their last run state and next run, and each datastore's GC status. Four
//! requests per PBS poll (`/admin/sync`, `/admin/verify`, `/admin/prune`, `/admin/gc`), whatever
//! the number of snapshots; a PBS that does not know a listing (older releases: 404) simply has
//! no jobs of that kind, and a listing that fails leaves that kind empty for this poll.
//!
//! Job shapes follow the original's declared types (`PBSSyncJob{id,store,remote,status,
//! lastSync,nextRun,error?}`, `PBSVerifyJob{…lastVerify…}`, `PBSPruneJob{…lastPrune…}`,
//! `PBSGarbageJob{…lastGarbage…,removedBytes?}`), times RFC 3339 like the rest of the PBS model,
//! plus `schedule` and the raw `lastRunState`. `status` is `ok`, `error` (the last run failed;
//! `error` holds PBS's message), `running` or `never`.

use crate::proxmox::ProxmoxError;
use crate::state::pbs::{PBSGarbageCollection, PBSInstance};
use crate::util::time::UtcTime;
use serde_json::{json, Map, Value};

/// Which listing, and the key the original names its last-run time with.
const KINDS: [(&str, &str); 4] = [
    ("sync", "lastSync"),
    ("verify", "lastVerify"),
    ("prune", "lastPrune"),
    ("gc", "lastGarbage"),
];

/// Numbers PBS may send as strings.
fn num(row: &Map<String, Value>, key: &str) -> Option<i64> {
    match row.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

fn text(row: &Map<String, Value>, key: &str) -> Option<String> {
    row.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn time(secs: Option<i64>) -> Value {
    secs.filter(|s| *s > 0)
        .map_or(Value::Null, |s| json!(UtcTime::from_unix(s).to_rfc3339()))
}

/// `(status, error)` from PBS's `last-run-state` (`OK`, an error message, or absent).
fn status(row: &Map<String, Value>) -> (&'static str, Option<String>) {
    match text(row, "last-run-state") {
        Some(s) if s.eq_ignore_ascii_case("ok") => ("ok", None),
        Some(s) => ("error", Some(s)),
        None if text(row, "upid").is_some() && num(row, "last-run-endtime").is_none() => {
            ("running", None)
        }
        None => ("never", None),
    }
}

/// One row of a job listing in the original's shape.
pub fn job(kind: &str, last_key: &str, row: &Map<String, Value>) -> Value {
    let store = text(row, "store").unwrap_or_default();
    // GC rows have no id: one per datastore.
    let id = text(row, "id").unwrap_or_else(|| store.clone());
    let (st, error) = status(row);
    let mut o = json!({
        "id": id, "store": store, "status": st,
        last_key: time(num(row, "last-run-endtime")),
        "nextRun": time(num(row, "next-run")),
    });
    if let Some(s) = text(row, "schedule") {
        o["schedule"] = json!(s);
    }
    if let Some(s) = text(row, "last-run-state") {
        o["lastRunState"] = json!(s);
    }
    if let Some(e) = error {
        o["error"] = json!(e);
    }
    match kind {
        "sync" => {
            o["remote"] = json!(text(row, "remote").unwrap_or_default());
            if let Some(r) = text(row, "remote-store") {
                o["remoteStore"] = json!(r);
            }
            if let Some(ns) = text(row, "ns") {
                o["namespace"] = json!(ns);
            }
        }
        "verify" | "prune" => {
            if let Some(ns) = text(row, "ns") {
                o["namespace"] = json!(ns);
            }
        }
        "gc" => {
            for (k, out) in [
                ("removed-bytes", "removedBytes"),
                ("pending-bytes", "pendingBytes"),
                ("disk-bytes", "diskBytes"),
                ("index-data-bytes", "indexDataBytes"),
                ("duration", "durationSeconds"),
            ] {
                if let Some(n) = num(row, k) {
                    o[out] = json!(n);
                }
            }
        }
        _ => {}
    }
    o
}

/// The datastore's GC status from its `/admin/gc` row.
fn gc_status(row: &Map<String, Value>) -> PBSGarbageCollection {
    let (st, error) = status(row);
    let t = |k: &str| num(row, k).filter(|s| *s > 0).map(UtcTime::from_unix);
    PBSGarbageCollection {
        status: st.to_string(),
        last_run: t("last-run-endtime"),
        next_run: t("next-run"),
        removed_bytes: num(row, "removed-bytes").unwrap_or(0),
        pending_bytes: num(row, "pending-bytes").unwrap_or(0),
        error: error.unwrap_or_default(),
    }
}

/// Fills the instance's job lists and each datastore's GC status. `list(kind)` is the
/// `/admin/<kind>` listing.
pub fn fill_jobs(
    inst: &mut PBSInstance,
    list: &mut dyn FnMut(&str) -> Result<Vec<Value>, ProxmoxError>,
) {
    for (kind, last_key) in KINDS {
        let Ok(rows) = list(kind) else {
            continue;
        };
        let rows: Vec<&Map<String, Value>> = rows.iter().filter_map(Value::as_object).collect();
        let jobs: Vec<Value> = rows.iter().map(|r| job(kind, last_key, r)).collect();
        match kind {
            "sync" => inst.sync_jobs = jobs,
            "verify" => inst.verify_jobs = jobs,
            "prune" => inst.prune_jobs = jobs,
            _ => {
                for row in &rows {
                    let store = text(row, "store").unwrap_or_default();
                    if let Some(ds) = inst.datastores.iter_mut().find(|d| d.name == store) {
                        ds.garbage_collection = Some(gc_status(row));
                        // The GC row carries what the dedup factor is made of; use it when
                        // the datastore status did not give one.
                        if ds.deduplication_factor.is_none() {
                            if let (Some(index), Some(disk)) =
                                (num(row, "index-data-bytes"), num(row, "disk-bytes"))
                            {
                                ds.deduplication_factor =
                                    (disk > 0).then(|| index as f64 / disk as f64);
                            }
                        }
                    }
                }
                inst.garbage_jobs = jobs;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<Value> {
        let path = format!(
            "{}/../shared/fixtures/proxmox/pbs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["data"].as_array().unwrap().clone()
    }

    #[test]
    fn real_captures_of_verify_and_gc() {
        let mut inst = PBSInstance {
            datastores: vec![crate::state::pbs::PBSDatastore {
                name: "erebor".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        fill_jobs(&mut inst, &mut |kind| match kind {
            "verify" => Ok(fixture("admin_verify.json")),
            "gc" => Ok(fixture("admin_gc.json")),
            "sync" => Ok(vec![json!({"id": "s1", "store": "erebor", "remote": "far",
                "remote-store": "x", "last-run-state": "connection refused", "last-run-endtime": "1791110495"})]),
            _ => Err(ProxmoxError::Http {
                status: 404,
                excerpt: "no".into(),
            }),
        });
        let v = &inst.verify_jobs[0];
        assert_eq!(
            (v["id"].as_str(), v["status"].as_str()),
            (Some("weekly"), Some("ok"))
        );
        assert_eq!(
            v["lastVerify"],
            UtcTime::from_unix(1_791_110_495).to_rfc3339()
        );
        assert_eq!(v["nextRun"], UtcTime::from_unix(1_791_712_800).to_rfc3339());
        let g = &inst.garbage_jobs[0];
        assert_eq!(
            (g["id"].as_str(), g["removedBytes"].as_i64()),
            (Some("erebor"), Some(0))
        );
        let gc = inst.datastores[0].garbage_collection.as_ref().unwrap();
        assert_eq!(
            (gc.status.as_str(), gc.pending_bytes),
            ("ok", 4_732_488_637)
        );
        let s = &inst.sync_jobs[0];
        assert_eq!(
            (s["status"].as_str(), s["error"].as_str()),
            (Some("error"), Some("connection refused"))
        );
        assert_eq!(s["remote"], "far");
        assert!(inst.prune_jobs.is_empty());
    }
}
