//! `GET /api/charts` and `GET /api/storage-charts`: the metric history (`crate::history`) in the
//! shapes the original's dashboard reads (`pulse-backend.md` §4.2–4.3).
//!
//! The points are copied out of the rings on the loop (fixed-size, cheap); turning them into
//! JSON — megabytes for a few thousand guests — happens on the task pool (`Outcome::defer`).

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::history::ring::tier_for;
use crate::history::{History, Kind};
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use serde::Serialize;
use std::collections::BTreeMap;

/// The ranges the dashboard offers.
const RANGES: [(&str, i64); 8] = [
    ("5m", 300),
    ("15m", 900),
    ("30m", 1800),
    ("1h", 3600),
    ("4h", 14_400),
    ("12h", 43_200),
    ("24h", 86_400),
    ("7d", 604_800),
];

#[derive(Serialize, Clone, Copy)]
struct Point {
    timestamp: i64,
    /// The bucket's average.
    value: f64,
    /// The bucket's largest sample, when it is above the average (a spike the average would
    /// hide); absent at the 10 s resolution, where a bucket is one sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
}

type Metrics = BTreeMap<&'static str, Vec<Point>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChartStats {
    oldest_data_timestamp: i64,
    /// Seconds between points at this range (ours; the original had one resolution).
    resolution_seconds: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChartResponse {
    data: BTreeMap<String, Metrics>,
    node_data: BTreeMap<String, Metrics>,
    storage_data: BTreeMap<String, Metrics>,
    /// Ours (the original kept no history for these), keyed by history id: Docker hosts
    /// (`docker:<host id>`: cpu, memory, disk) and their running containers
    /// (`docker:<host id>/<container id>`: cpu, memory).
    docker_data: BTreeMap<String, Metrics>,
    /// Host-agent hosts (`host:<host id>`: cpu, memory, disk).
    host_data: BTreeMap<String, Metrics>,
    /// Ceph pools (`ceph:<cluster id>/<pool>`: usage, used, total, avail).
    ceph_pool_data: BTreeMap<String, Metrics>,
    /// PMG instances (`pmg:<instance id>`: queue, deferred, mailin, mailout, spamin).
    pmg_data: BTreeMap<String, Metrics>,
    /// Trends ("full in N days") of the storages and guest disks in this answer that have
    /// enough history (`history::forecast`), by id.
    forecasts: BTreeMap<String, crate::history::forecast::Forecast>,
    timestamp: i64,
    stats: ChartStats,
}

fn to_points(v: Vec<(i64, f64, Option<f64>)>) -> Vec<Point> {
    v.into_iter()
        .map(|(timestamp, value, max)| Point {
            timestamp,
            value,
            max: max.filter(|m| *m > value),
        })
        .collect()
}

/// The series of one resource in the range, or `fallback` (the live values) when it has none:
/// a chart always has at least the current figure, as the original's did.
fn series_of(
    h: &History,
    id: &str,
    kind: Kind,
    wanted: &[(&'static str, usize)],
    span: (usize, i64, i64),
    fallback: &[f64],
) -> Metrics {
    let (tier, from, to) = span;
    let known = h.resources.get(id).is_some_and(|r| r.kind == kind);
    wanted
        .iter()
        .map(|&(name, m)| {
            let mut pts = if known {
                to_points(h.points_with_max(id, m, tier, from, to))
            } else {
                Vec::new()
            };
            if pts.is_empty() && fallback[m].is_finite() {
                pts.push(Point {
                    timestamp: to * 1000,
                    value: fallback[m],
                    max: None,
                });
            }
            (name, pts)
        })
        .collect()
}

/// The resources of the history whose id starts with `prefix`, each with the metrics that
/// hold points in the range.
fn prefixed(
    h: &History,
    prefix: &str,
    want: &dyn Fn(&str) -> bool,
    span: (usize, i64, i64),
) -> BTreeMap<String, Metrics> {
    let (tier, from, to) = span;
    h.resources
        .iter()
        .filter(|(id, _)| id.starts_with(prefix) && want(id))
        .map(|(id, r)| {
            let metrics: Metrics = r
                .kind
                .metrics()
                .iter()
                .enumerate()
                .map(|(m, name)| (*name, to_points(h.points_with_max(id, m, tier, from, to))))
                .filter(|(_, pts)| !pts.is_empty())
                .collect();
            (id.to_string(), metrics)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect()
}

fn bad(param: &str, msg: &str) -> Outcome {
    Reply::json(
        400,
        &serde_json::json!({ "error": msg, "parameter": param }),
    )
    .into()
}

fn charts(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Some(k) = ctx.req.unknown_query_param(&["range", "id"]) {
        return bad(
            &k,
            &format!("Invalid query parameter {k:?}: unknown; known: range, id"),
        );
    }
    let range = ctx.req.query_param("range").unwrap_or_else(|| "1h".into());
    let Some(&(_, range_s)) = RANGES.iter().find(|(r, _)| *r == range) else {
        return bad(
            "range",
            "Invalid query parameter \"range\": expected one of 5m, 15m, 30m, 1h, 4h, 12h, 24h, 7d",
        );
    };
    // Optional narrowing to one resource id (a guest, node or storage): the detail drawer.
    let only = ctx.req.query_param("id");
    let want = |id: &str| only.as_deref().is_none_or(|o| o == id);
    let now_ms = crate::util::time::now_ms();
    let to = now_ms.div_euclid(1000);
    let tier = tier_for(range_s);
    let span = (tier, to - range_s, to);
    let h = &app.history;
    let st = app.polling.core.state();
    let guest_metrics: Vec<(&'static str, usize)> = crate::history::GUEST_METRICS
        .iter()
        .copied()
        .zip(0..)
        .collect();
    let node_metrics: Vec<(&'static str, usize)> = crate::history::NODE_METRICS
        .iter()
        .copied()
        .zip(0..)
        .collect();
    let mut data = BTreeMap::new();
    for g in st.vms().filter(|g| want(&g.id)) {
        let live = [
            g.cpu * 100.0,
            g.memory.usage,
            g.disk.usage,
            g.disk_read as f64,
            g.disk_write as f64,
            g.network_in as f64,
            g.network_out as f64,
        ];
        data.insert(
            g.id.clone(),
            series_of(h, &g.id, Kind::Guest, &guest_metrics, span, &live),
        );
    }
    for g in st.containers().filter(|g| want(&g.id)) {
        let live = [
            g.cpu * 100.0,
            g.memory.usage,
            g.disk.usage,
            g.disk_read as f64,
            g.disk_write as f64,
            g.network_in as f64,
            g.network_out as f64,
        ];
        data.insert(
            g.id.clone(),
            series_of(h, &g.id, Kind::Guest, &guest_metrics, span, &live),
        );
    }
    let mut node_data = BTreeMap::new();
    for n in st.nodes().filter(|n| want(&n.id)) {
        let live = [n.cpu * 100.0, n.memory.usage, n.disk.usage];
        node_data.insert(
            n.id.clone(),
            series_of(h, &n.id, Kind::Node, &node_metrics, span, &live),
        );
    }
    let mut storage_data = BTreeMap::new();
    for s in st.storages().filter(|s| want(&s.id)) {
        let live = [s.usage];
        storage_data.insert(
            s.id.clone(),
            series_of(h, &s.id, Kind::Storage, &[("disk", 0)], span, &live),
        );
    }
    let docker_data = prefixed(h, "docker:", &want, span);
    let host_data = prefixed(h, "host:", &want, span);
    let ceph_pool_data = prefixed(h, "ceph:", &want, span);
    let pmg_data = prefixed(h, "pmg:", &want, span);
    let oldest = [&data, &node_data, &storage_data]
        .iter()
        .flat_map(|m| m.values())
        .flat_map(|metrics| metrics.values())
        .filter_map(|pts| pts.first().map(|p| p.timestamp))
        .min()
        .unwrap_or(now_ms);
    let resolution_seconds = i64::from(crate::history::ring::TIERS[tier].0);
    let forecasts = data
        .keys()
        .chain(storage_data.keys())
        .filter_map(|id| {
            let f = h.forecasts.get(id.as_str())?;
            Some((id.clone(), f.clone()))
        })
        .collect();
    let answer = ChartResponse {
        data,
        node_data,
        storage_data,
        docker_data,
        host_data,
        ceph_pool_data,
        pmg_data,
        forecasts,
        timestamp: now_ms,
        stats: ChartStats {
            oldest_data_timestamp: oldest,
            resolution_seconds,
        },
    };
    Outcome::defer(
        move || serde_json::to_vec(&answer),
        |_app, r| match r {
            Ok(bytes) => Reply::json_bytes(200, bytes),
            Err(e) => Reply::error(500, &format!("failed to encode charts: {e}")),
        },
    )
}

#[derive(Serialize, Clone)]
struct TimedPoint {
    value: f64,
    timestamp: String,
}

#[derive(Serialize)]
struct StorageCharts {
    usage: Option<Vec<TimedPoint>>,
    used: Option<Vec<TimedPoint>>,
    total: Option<Vec<TimedPoint>>,
    avail: Option<Vec<TimedPoint>>,
}

fn storage_charts(app: &mut App, ctx: &Ctx) -> Outcome {
    if let Some(k) = ctx.req.unknown_query_param(&["range"]) {
        return bad(
            &k,
            &format!("Invalid query parameter {k:?}: unknown; known: range"),
        );
    }
    let minutes = match ctx.req.query_param("range") {
        None => 60,
        Some(r) => match r.parse::<i64>() {
            Ok(m) if (1..=7 * 24 * 60).contains(&m) => m,
            _ => {
                return bad(
                    "range",
                    "Invalid query parameter \"range\": expected whole minutes from 1 to 10080",
                )
            }
        },
    };
    let to = crate::util::time::now_ms().div_euclid(1000);
    let from = to - minutes * 60;
    let tier = tier_for(minutes * 60);
    let h = &app.history;
    let series = |id: &str, m: usize| -> Option<Vec<TimedPoint>> {
        let pts = h.points(id, m, tier, from, to);
        (!pts.is_empty()).then(|| {
            pts.into_iter()
                .map(|(ms, value)| TimedPoint {
                    value,
                    timestamp: crate::util::time::UtcTime::from_unix_ms(ms).to_rfc3339(),
                })
                .collect()
        })
    };
    let out: BTreeMap<String, StorageCharts> = app
        .polling
        .core
        .state()
        .storages()
        .map(|s| {
            let known = h
                .resources
                .get(s.id.as_str())
                .is_some_and(|r| r.kind == Kind::Storage);
            let get = |m| if known { series(&s.id, m) } else { None };
            (
                s.id.clone(),
                StorageCharts {
                    usage: get(0),
                    used: get(1),
                    total: get(2),
                    avail: get(3),
                },
            )
        })
        .collect();
    Reply::json(200, &out).into()
}

pub fn routes() -> Vec<Route> {
    const READ: Access = Access::Scope(Scope::MonitoringRead);
    vec![
        Route {
            methods: &[Method::Get],
            pattern: "/api/charts",
            access: READ,
            csrf: Csrf::Required,
            handler: charts,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/storage-charts",
            access: READ,
            csrf: Csrf::Required,
            handler: storage_charts,
        },
    ]
}
