//! Replication jobs from `GET /cluster/replication`. The endpoint's shape varies between PVE
//! releases (hyphens or underscores, numbers or strings, `disable` or `enabled`), so rows are
//! read field by field from JSON with every known spelling.

use crate::state::replication::ReplicationJobFrontend;
use serde_json::{Map, Value};

/// Guest details joined into the jobs (from this poll's VMs and containers).
#[derive(Debug, Clone)]
pub struct GuestInfo {
    pub vmid: u32,
    pub name: String,
    /// `"qemu"` or `"lxc"`.
    pub kind: String,
    pub node: String,
}

fn field<'a>(row: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| row.get(*k))
        .filter(|v| !v.is_null())
}

fn text(row: &Map<String, Value>, keys: &[&str]) -> String {
    match field(row, keys) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn number(row: &Map<String, Value>, keys: &[&str]) -> Option<f64> {
    match field(row, keys)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn flag(row: &Map<String, Value>, keys: &[&str]) -> Option<bool> {
    match field(row, keys)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A time as Unix seconds: a number, a numeric string, or an RFC 3339 string.
fn unix_time(row: &Map<String, Value>, keys: &[&str]) -> Option<i64> {
    let v = field(row, keys)?;
    let secs = match v {
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .map(|f| f as i64)
            .or_else(|| crate::util::time::UtcTime::parse(s.trim()).map(|t| t.secs)),
        _ => number(row, keys).map(|f| f as i64),
    }?;
    (secs > 0).then_some(secs)
}

/// `HH:MM:SS` (hours may exceed 24).
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// One job. `index` numbers jobs without any id.
pub fn build_replication_job(
    instance: &str,
    row: &Map<String, Value>,
    index: usize,
    guests: &[GuestInfo],
    now_ms: i64,
) -> ReplicationJobFrontend {
    let raw_id = text(row, &["id", "jobid"]);
    let guest = text(row, &["guest"]);
    let guest_id = guest
        .parse::<i64>()
        .ok()
        .or_else(|| raw_id.split('-').next().and_then(|g| g.parse().ok()));
    let job_number = number(row, &["jobnum"])
        .map(|f| f as i64)
        .or_else(|| raw_id.rsplit_once('-').and_then(|(_, n)| n.parse().ok()));
    let job_id = if !raw_id.is_empty() {
        raw_id
    } else {
        match (guest_id, job_number) {
            (Some(g), Some(n)) => format!("{g}-{n}"),
            _ => format!("job-{instance}-{index}"),
        }
    };
    let info = guest_id.and_then(|g| guests.iter().find(|x| i64::from(x.vmid) == g));
    let enabled = match (
        flag(row, &["enabled"]),
        flag(row, &["disable"]),
        flag(row, &["active"]),
    ) {
        (Some(e), _, _) => e,
        (None, Some(disabled), _) => !disabled,
        (None, None, Some(active)) => active,
        (None, None, None) => true,
    };
    let state = text(row, &["state"]);
    let last_sync = unix_time(row, &["last_sync", "last-sync", "last_sync_time"]);
    let next_sync = unix_time(row, &["next_sync", "next-sync", "next_sync_time"]);
    let last_duration = number(
        row,
        &[
            "last_sync_duration",
            "last-sync-duration",
            "last_sync_duration_sec",
        ],
    )
    .map_or(0, |f| f as i64);
    let duration = number(row, &["duration"]).map_or(0, |f| f as i64);
    ReplicationJobFrontend {
        id: format!("{instance}-{job_id}"),
        instance: instance.to_string(),
        job_id,
        job_number,
        guest,
        guest_id,
        guest_name: info.map(|g| g.name.clone()).unwrap_or_default(),
        guest_type: info.map(|g| g.kind.clone()).unwrap_or_default(),
        guest_node: info.map(|g| g.node.clone()).unwrap_or_default(),
        source_node: text(row, &["source"]),
        source_storage: text(row, &["source-storage", "source_storage"]),
        target_node: text(row, &["target"]),
        target_storage: text(row, &["target-storage", "target_storage"]),
        schedule: text(row, &["schedule"]),
        kind: text(row, &["type"]),
        enabled,
        status: Some(text(row, &["status"]))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| state.clone()),
        state,
        last_sync_status: text(
            row,
            &[
                "last_sync_status",
                "last-sync-status",
                "last_sync_state",
                "last-sync-state",
            ],
        ),
        last_sync_time: last_sync.map(|s| s * 1000),
        last_sync_unix: last_sync,
        last_sync_duration_seconds: last_duration,
        last_sync_duration_human: if last_duration > 0 {
            human_duration(last_duration)
        } else {
            String::new()
        },
        next_sync_time: next_sync.map(|s| s * 1000),
        next_sync_unix: next_sync,
        duration_seconds: duration,
        duration_human: if duration > 0 {
            human_duration(duration)
        } else {
            String::new()
        },
        fail_count: number(row, &["fail_count", "fail-count"]).map_or(0, |f| f as i64),
        error: text(row, &["error", "last_sync_error"]),
        comment: text(row, &["comment"]),
        remove_job: text(row, &["remove_job", "remove-job"]),
        rate_limit_mbps: number(row, &["rate"]),
        polled_at: now_ms,
    }
}

/// All jobs of a `/cluster/replication` answer; rows that are not objects are skipped.
pub fn build_replication_jobs(
    instance: &str,
    rows: &[Value],
    guests: &[GuestInfo],
    now_ms: i64,
) -> Vec<ReplicationJobFrontend> {
    rows.iter()
        .filter_map(Value::as_object)
        .enumerate()
        .map(|(i, row)| build_replication_job(instance, row, i, guests, now_ms))
        .collect()
}

/// Adds each status row's fields to the configuration row of the same job `id`, keeping what
/// the configuration says where both have a key.
pub fn merge_replication_state(rows: &mut [serde_json::Value], status: &[serde_json::Value]) {
    for st in status.iter().filter_map(serde_json::Value::as_object) {
        let Some(id) = st.get("id").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let row = rows
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
            .find(|r| r.get("id").and_then(serde_json::Value::as_str) == Some(id));
        if let Some(row) = row {
            for (k, v) in st {
                row.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_spelling() {
        let rows = vec![
            json!({"id": "100-0", "guest": 100, "source": "pve1", "target": "pve2", "schedule": "*/15",
                   "type": "local", "last_sync": 1_700_000_000, "next_sync": "1700000900", "duration": 3723.4,
                   "fail_count": "2", "error": "timeout", "rate": "50", "disable": 1}),
            json!({"jobid": "101-1", "guest": "101", "last-sync": "2023-11-14T22:13:20Z", "active": 1,
                   "target-storage": "tank"}),
            json!({"guest": 102, "jobnum": 3}),
            json!({}),
            json!("not an object"),
        ];
        let guests = vec![GuestInfo {
            vmid: 101,
            name: "db".into(),
            kind: "lxc".into(),
            node: "pve1".into(),
        }];
        let jobs = build_replication_jobs("lab", &rows, &guests, 5);
        assert_eq!(jobs.len(), 4);
        let a = &jobs[0];
        assert_eq!(
            (a.id.as_str(), a.guest_id, a.job_number),
            ("lab-100-0", Some(100), Some(0))
        );
        assert!(!a.enabled, "disable=1");
        assert_eq!(
            (a.last_sync_time, a.next_sync_unix),
            (Some(1_700_000_000_000), Some(1_700_000_900))
        );
        assert_eq!(
            (a.duration_seconds, a.duration_human.as_str()),
            (3723, "01:02:03")
        );
        assert_eq!((a.fail_count, a.rate_limit_mbps), (2, Some(50.0)));
        let b = &jobs[1];
        assert_eq!(
            (b.guest_name.as_str(), b.guest_type.as_str()),
            ("db", "lxc"),
            "containers join too"
        );
        assert_eq!(b.last_sync_unix, Some(1_700_000_000));
        assert_eq!(b.target_storage, "tank");
        assert!(b.enabled);
        assert_eq!(jobs[2].job_id, "102-3");
        assert_eq!(jobs[3].job_id, "job-lab-3");
        assert_eq!(jobs[3].polled_at, 5);
    }

    #[test]
    fn node_state_fills_the_cluster_rows() {
        let mut rows = vec![
            json!({"id": "100-0", "guest": 100, "source": "pve1", "target": "pve2", "schedule": "*/15"}),
            json!({"id": "101-0", "guest": 101, "source": "pve2", "target": "pve1"}),
        ];
        let status = vec![
            json!({"id": "100-0", "guest": 100, "last_sync": 1_700_000_000, "next_sync": 1_700_000_900,
                                 "duration": 3.5, "fail_count": 1, "error": "boom", "schedule": "other"}),
        ];
        merge_replication_state(&mut rows, &status);
        assert_eq!(rows[0]["last_sync"], 1_700_000_000);
        assert_eq!(rows[0]["schedule"], "*/15", "the configuration wins");
        assert!(rows[1].get("last_sync").is_none());
        let jobs = build_replication_jobs("c", &rows, &[], 1_700_000_100_000);
        assert_eq!(jobs[0].last_sync_unix, Some(1_700_000_000));
        assert!(jobs[0].next_sync_time.is_some());
        assert_eq!((jobs[0].duration_seconds, jobs[0].fail_count), (3, 1));
        assert_eq!(jobs[0].error, "boom");
    }
}
