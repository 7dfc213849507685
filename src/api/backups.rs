//! `GET /api/backups*` and `GET /api/snapshots`: the backup listings the polls already keep in
//! the live state (`pveBackups`, `pbsBackups`, `pmgBackups`), filtered, newest first and
//! paginated. Filters: `instance`, `node`, `vmid`, `type` (`vm`/`qemu`, `ct`/`lxc`, `host`),
//! `since`/`until` (Unix seconds or RFC 3339), `limit` (1..=10000), `offset`. A bad value is a
//! 400 naming the parameter, so a client never reads an unfiltered list as a filtered one.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::state::backups::{BackupTask, GuestSnapshot, PBSBackup, PMGBackup, StorageBackup};
use crate::util::time::UtcTime;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

const MAX_LIMIT: usize = 10_000;

/// The parsed query: every field optional, `limit` defaulting to the maximum page.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    instance: Option<String>,
    node: Option<String>,
    vmid: Option<i64>,
    /// Normalised: `vm`, `ct` or `host`.
    kind: Option<&'static str>,
    since: Option<i64>,
    until: Option<i64>,
    limit: usize,
    offset: usize,
}

fn bad(param: &str, why: &str) -> Reply {
    Reply::json(
        400,
        &json!({ "error": format!("Invalid query parameter {param:?}: {why}"), "parameter": param }),
    )
}

/// `vm`/`qemu` → `vm`, `ct`/`lxc` → `ct`: PVE names guests by hypervisor, PBS by backup group.
fn norm_kind(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "vm" | "qemu" => Some("vm"),
        "ct" | "lxc" => Some("ct"),
        "host" => Some("host"),
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<i64> {
    s.parse::<i64>()
        .ok()
        .or_else(|| UtcTime::parse(s).map(|t| t.unix_ms().div_euclid(1000)))
}

impl Filter {
    pub fn from_request(req: &ApiRequest) -> Result<Filter, Reply> {
        const KNOWN: [&str; 9] = [
            "instance", "node", "vmid", "guest", "type", "since", "until", "limit", "offset",
        ];
        if let Some(k) = req.unknown_query_param(&KNOWN) {
            return Err(bad(
                &k,
                "unknown parameter; known: instance, node, vmid (or guest), type, since, until, limit, offset",
            ));
        }
        let q = |name: &str| req.query_param(name).filter(|v| !v.is_empty());
        let mut f = Filter {
            instance: q("instance"),
            node: q("node"),
            vmid: None,
            kind: None,
            since: None,
            until: None,
            limit: MAX_LIMIT,
            offset: 0,
        };
        if let Some(v) = q("vmid").or_else(|| q("guest")) {
            f.vmid = Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("vmid", "expected a guest id (non-negative integer)"))?,
            );
        }
        if let Some(v) = q("type") {
            f.kind = Some(norm_kind(&v).ok_or_else(|| bad("type", "expected vm, ct or host"))?);
        }
        if let Some(v) = q("since") {
            f.since = Some(
                parse_time(&v).ok_or_else(|| bad("since", "expected Unix seconds or RFC 3339"))?,
            );
        }
        if let Some(v) = q("until") {
            f.until = Some(
                parse_time(&v).ok_or_else(|| bad("until", "expected Unix seconds or RFC 3339"))?,
            );
        }
        if let (Some(s), Some(u)) = (f.since, f.until) {
            if s > u {
                return Err(bad("until", "must not be before since"));
            }
        }
        if let Some(v) = q("limit") {
            f.limit = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| bad("limit", "expected an integer from 1 to 10000"))?;
        }
        if let Some(v) = q("offset") {
            f.offset = v
                .parse::<usize>()
                .map_err(|_| bad("offset", "expected a non-negative integer"))?;
        }
        Ok(f)
    }

    /// `vmid` is a string for PBS groups (`host` backups are named, not numbered).
    fn keeps(&self, instance: &str, node: Option<&str>, vmid: &str, kind: &str, unix: i64) -> bool {
        self.instance.as_deref().is_none_or(|i| i == instance)
            && self.node.as_deref().is_none_or(|n| node == Some(n))
            && self.vmid.is_none_or(|v| vmid.parse::<i64>() == Ok(v))
            && self.kind.is_none_or(|k| norm_kind(kind) == Some(k))
            && self.since.is_none_or(|s| unix >= s)
            && self.until.is_none_or(|u| unix <= u)
    }

    fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect()
    }
}

fn secs(t: &UtcTime) -> i64 {
    t.unix_ms().div_euclid(1000)
}

fn task_ok(f: &Filter, t: &BackupTask, instance: &str) -> bool {
    f.keeps(
        instance,
        Some(&t.node),
        &t.vmid.to_string(),
        &t.kind,
        secs(&t.start_time),
    )
}

fn storage_ok(f: &Filter, b: &StorageBackup) -> bool {
    f.keeps(
        &b.instance,
        Some(&b.node),
        &b.vmid.to_string(),
        &b.kind,
        b.ctime,
    )
}

fn snapshot_ok(f: &Filter, s: &GuestSnapshot) -> bool {
    f.keeps(
        &s.instance,
        Some(&s.node),
        &s.vmid.to_string(),
        &s.kind,
        secs(&s.time),
    )
}

fn pbs_ok(f: &Filter, b: &PBSBackup) -> bool {
    // A PBS backup belongs to no PVE node: a node filter leaves it out.
    f.keeps(
        &b.instance,
        None,
        &b.vmid,
        &b.backup_type,
        secs(&b.backup_time),
    )
}

fn pmg_ok(f: &Filter, b: &PMGBackup) -> bool {
    // Configuration backups of a mail gateway: no guest, so a guest filter leaves them out.
    f.vmid.is_none()
        && f.kind.is_none()
        && f.keeps(&b.instance, Some(&b.node), "", "", secs(&b.backup_time))
}

/// `"<instance>-<UPID>"`: the task's instance is the id's prefix up to the UPID.
fn task_instance(t: &BackupTask) -> &str {
    t.id.find("-UPID:").map_or("", |i| &t.id[..i])
}

/// `GET /api/backups` (and `/api/backups/`, `/api/backups/<anything else>`): every listing.
fn all_backups(app: &mut App, ctx: &Ctx) -> Outcome {
    let f = match Filter::from_request(ctx.req) {
        Ok(f) => f,
        Err(r) => return r.into(),
    };
    let view = app.polling.core.state().frontend();
    let pve = &view.pve_backups;
    let tasks: Vec<&BackupTask> = f.page(
        pve.backup_tasks
            .iter()
            .copied()
            .filter(|t| task_ok(&f, t, task_instance(t)))
            .collect(),
    );
    let storage: Vec<&StorageBackup> = f.page(
        pve.storage_backups
            .iter()
            .copied()
            .filter(|b| storage_ok(&f, b))
            .collect(),
    );
    let snaps: Vec<&GuestSnapshot> = f.page(
        pve.guest_snapshots
            .iter()
            .copied()
            .filter(|s| snapshot_ok(&f, s))
            .collect(),
    );
    let pbs: Vec<&PBSBackup> = f.page(
        view.pbs_backups
            .iter()
            .copied()
            .filter(|b| pbs_ok(&f, b))
            .collect(),
    );
    let pmg: Vec<&PMGBackup> = f.page(
        view.pmg_backups
            .iter()
            .copied()
            .filter(|b| pmg_ok(&f, b))
            .collect(),
    );
    let pve_backups = json!({
        "backupTasks": tasks, "storageBackups": storage, "guestSnapshots": snaps,
    });
    Reply::json(
        200,
        &json!({
            "backups": { "pve": pve_backups, "pbs": pbs, "pmg": pmg },
            "pveBackups": pve_backups,
            "pbsBackups": pbs,
            "pmgBackups": pmg,
            "backupTasks": tasks,
            "storageBackups": storage,
            "guestSnapshots": snaps,
        }),
    )
    .into()
}

/// One row of the unified view: a backup file on PVE storage or a PBS snapshot.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UnifiedBackup<'a> {
    id: &'a str,
    /// `pve` (a file on PVE storage) or `pbs` (a snapshot on a backup server).
    source: &'static str,
    instance: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    node: &'a str,
    /// Storage name (PVE) or datastore (PBS).
    storage: &'a str,
    vmid: &'a str,
    /// `vm`, `ct` or `host`.
    #[serde(rename = "type")]
    kind: &'static str,
    time: UtcTime,
    size: i64,
    verified: bool,
    protected: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LastBackup<'a> {
    vmid: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    time: UtcTime,
    source: &'static str,
    id: &'a str,
}

/// `GET /api/backups/unified`: PVE storage backups and PBS snapshots merged into one list,
/// newest first, plus the newest backup per guest (over the filtered set, before paging).
/// A PVE backup on PBS-backed storage is the same snapshot the PBS listing shows: it is listed
/// once, from PBS, when that server is monitored.
fn unified(app: &mut App, ctx: &Ctx) -> Outcome {
    let f = match Filter::from_request(ctx.req) {
        Ok(f) => f,
        Err(r) => return r.into(),
    };
    let view = app.polling.core.state().frontend();
    let vmids: Vec<String> = view
        .pve_backups
        .storage_backups
        .iter()
        .map(|b| b.vmid.to_string())
        .collect();
    let pbs_monitored = !view.pbs_backups.is_empty();
    let mut rows: Vec<UnifiedBackup> = Vec::new();
    for (b, vmid) in view.pve_backups.storage_backups.iter().zip(&vmids) {
        if (b.is_pbs && pbs_monitored) || !storage_ok(&f, b) {
            continue;
        }
        rows.push(UnifiedBackup {
            id: &b.id,
            source: "pve",
            instance: &b.instance,
            node: &b.node,
            storage: &b.storage,
            vmid,
            kind: norm_kind(&b.kind).unwrap_or("host"),
            time: b.time,
            size: b.size,
            verified: b.verified,
            protected: b.protected,
        });
    }
    for b in view.pbs_backups.iter().filter(|b| pbs_ok(&f, b)) {
        rows.push(UnifiedBackup {
            id: &b.id,
            source: "pbs",
            instance: &b.instance,
            node: "",
            storage: &b.datastore,
            vmid: &b.vmid,
            kind: norm_kind(&b.backup_type).unwrap_or("host"),
            time: b.backup_time,
            size: b.size,
            verified: b.verified,
            protected: b.protected,
        });
    }
    rows.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(b.id)));
    let mut last: BTreeMap<(&str, &str), LastBackup> = BTreeMap::new();
    for r in &rows {
        // Rows are newest first: the first seen per guest is its last backup.
        last.entry((r.kind, r.vmid)).or_insert(LastBackup {
            vmid: r.vmid,
            kind: r.kind,
            time: r.time,
            source: r.source,
            id: r.id,
        });
    }
    let total = rows.len();
    let last: Vec<LastBackup> = last.into_values().collect();
    let rows = f.page(rows);
    Reply::json(
        200,
        &json!({ "backups": rows, "lastBackups": last, "total": total,
                 "offset": f.offset, "limit": f.limit }),
    )
    .into()
}

/// `GET /api/backups/pve`: backup files on PVE storage.
fn pve_backups(app: &mut App, ctx: &Ctx) -> Outcome {
    let f = match Filter::from_request(ctx.req) {
        Ok(f) => f,
        Err(r) => return r.into(),
    };
    let view = app.polling.core.state().frontend();
    let all: Vec<&StorageBackup> = view
        .pve_backups
        .storage_backups
        .iter()
        .copied()
        .filter(|b| storage_ok(&f, b))
        .collect();
    let total = all.len();
    Reply::json(200, &json!({ "backups": f.page(all), "total": total })).into()
}

/// `GET /api/backups/pbs`: the backup servers (datastores, jobs); `instance` selects one, and
/// an unknown one is a 404 rather than an empty list.
fn pbs_instances(app: &mut App, ctx: &Ctx) -> Outcome {
    let f = match Filter::from_request(ctx.req) {
        Ok(f) => f,
        Err(r) => return r.into(),
    };
    let view = app.polling.core.state().frontend();
    let list: Vec<_> = view
        .pbs
        .iter()
        .filter(|p| {
            f.instance
                .as_deref()
                .is_none_or(|i| i == p.name || i == p.id)
        })
        .collect();
    if list.is_empty() {
        if let Some(i) = &f.instance {
            return Reply::error(404, &format!("PBS instance {i:?} not found")).into();
        }
    }
    Reply::json(200, &json!({ "instances": list })).into()
}

/// `GET /api/snapshots`: guest snapshots, newest first.
fn snapshots(app: &mut App, ctx: &Ctx) -> Outcome {
    let f = match Filter::from_request(ctx.req) {
        Ok(f) => f,
        Err(r) => return r.into(),
    };
    let view = app.polling.core.state().frontend();
    let all: Vec<&GuestSnapshot> = view
        .pve_backups
        .guest_snapshots
        .iter()
        .copied()
        .filter(|s| snapshot_ok(&f, s))
        .collect();
    let total = all.len();
    Reply::json(200, &json!({ "snapshots": f.page(all), "total": total })).into()
}

pub fn routes() -> Vec<Route> {
    const READ: Access = Access::Scope(Scope::MonitoringRead);
    let get = |pattern: &'static str, handler| Route {
        methods: &[Method::Get],
        pattern,
        access: READ,
        csrf: Csrf::Required,
        handler,
    };
    vec![
        get("/api/backups", all_backups),
        get("/api/backups/unified", unified),
        get("/api/backups/pve", pve_backups),
        get("/api/backups/pbs", pbs_instances),
        get("/api/backups/{*rest}", all_backups),
        get("/api/snapshots", snapshots),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(q: &str) -> Result<Filter, Reply> {
        Filter::from_request(&ApiRequest::new(Method::Get, &format!("/api/backups?{q}")))
    }

    #[test]
    fn parses_and_rejects_parameters() {
        let f = filter("vmid=101&type=qemu&since=100&until=1970-01-01T00:05:00Z&limit=5&offset=2")
            .unwrap_or_else(|_| panic!("valid"));
        assert_eq!(f.vmid, Some(101));
        assert_eq!(f.kind, Some("vm"));
        assert_eq!((f.since, f.until), (Some(100), Some(300)));
        assert_eq!((f.limit, f.offset), (5, 2));
        for (q, param) in [
            ("vmid=abc", "vmid"),
            ("type=disk", "type"),
            ("since=yesterday", "since"),
            ("limit=0", "limit"),
            ("limit=10001", "limit"),
            ("offset=-1", "offset"),
            ("since=200&until=100", "until"),
        ] {
            let Err(reply) = filter(q) else {
                panic!("{q} accepted")
            };
            assert_eq!(reply.status, 400, "{q}");
            assert!(
                String::from_utf8_lossy(reply.body.as_slice()).contains(param),
                "{q}"
            );
        }
    }

    #[test]
    fn keeps_matches_all_given_fields() {
        let f = filter("instance=a&node=n1&vmid=100&type=ct").unwrap_or_else(|_| panic!("valid"));
        assert!(f.keeps("a", Some("n1"), "100", "lxc", 0));
        assert!(!f.keeps("b", Some("n1"), "100", "lxc", 0));
        assert!(!f.keeps("a", None, "100", "ct", 0));
        assert!(!f.keeps("a", Some("n1"), "101", "lxc", 0));
        assert!(!f.keeps("a", Some("n1"), "100", "qemu", 0));
    }
}
