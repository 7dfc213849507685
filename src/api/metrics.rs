//! `GET /metrics`: the live figures in the Prometheus text exposition format (0.0.4), for a
//! fleet that outgrows one Pulse. Behind an API token or session with `monitoring:read` (the
//! same figures `/api/state` gives that scope). The families, their units and label sets are
//! documented in `packaging/prometheus/README.md`.
//!
//! Label sets are fixed per family and bounded: node `{instance,node}`, guest
//! `{instance,node,vmid,name,type}`, storage `{instance,node,storage,type}`, PBS datastore
//! `{instance,datastore}`, forecasts `{id,instance,node,name,type}`; Ceph pools, PMG queues,
//! Docker and host agents in `metrics_agents.rs`. Tags only on `pulse_guest_info` (one series
//! per guest): on every family a tag change would multiply the series. Values equal `/api/state`'s (ratios are its `cpu` fraction, bytes
//! its byte counts). Rows are copied on the loop, the text is built on the task pool.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use std::collections::HashMap;
use std::fmt::Write as _;

pub type Labels = Vec<(&'static str, String)>;

/// One sample: family name, sample-name suffix (`_sum`/`_count` of a summary, else empty),
/// labels, value.
pub type Row = (&'static str, &'static str, Labels, f64);

/// (name, type, help) of every family, in output order. Resource families first, then
/// Pulse's own (`metrics_self.rs`).
pub const FAMILIES: &[(&str, &str, &str)] = &[
    ("pulse_node_up", "gauge", "1 when the node is online (state: nodes[].status)."),
    ("pulse_node_cpu_usage_ratio", "gauge", "Node CPU use, 0-1 (state: nodes[].cpu)."),
    ("pulse_node_memory_used_bytes", "gauge", "Node memory in use."),
    ("pulse_node_memory_total_bytes", "gauge", "Node memory size."),
    ("pulse_node_disk_used_bytes", "gauge", "Node root disk in use."),
    ("pulse_node_disk_total_bytes", "gauge", "Node root disk size."),
    ("pulse_node_uptime_seconds", "gauge", "Node uptime."),
    ("pulse_guest_up", "gauge", "1 when the guest is running."),
    (
        "pulse_guest_info",
        "gauge",
        "Always 1; the guest's Proxmox tags as a label (sorted, ';'-separated), to join on.",
    ),
    ("pulse_guest_cpu_usage_ratio", "gauge", "Guest CPU use, 0-1 (state: vms/containers[].cpu)."),
    ("pulse_guest_memory_used_bytes", "gauge", "Guest memory in use."),
    ("pulse_guest_memory_total_bytes", "gauge", "Guest memory size."),
    ("pulse_guest_disk_used_bytes", "gauge", "Guest disk in use (when known)."),
    ("pulse_guest_disk_total_bytes", "gauge", "Guest disk size (when known)."),
    ("pulse_guest_network_in_bytes_per_second", "gauge", "Guest network receive rate."),
    ("pulse_guest_network_out_bytes_per_second", "gauge", "Guest network transmit rate."),
    ("pulse_guest_disk_read_bytes_per_second", "gauge", "Guest disk read rate."),
    ("pulse_guest_disk_write_bytes_per_second", "gauge", "Guest disk write rate."),
    ("pulse_guest_uptime_seconds", "gauge", "Guest uptime."),
    ("pulse_storage_used_bytes", "gauge", "Storage space in use."),
    ("pulse_storage_total_bytes", "gauge", "Storage size."),
    ("pulse_pbs_up", "gauge", "1 when the Proxmox Backup Server answers."),
    ("pulse_pbs_datastore_used_bytes", "gauge", "PBS datastore space in use."),
    ("pulse_pbs_datastore_total_bytes", "gauge", "PBS datastore size."),
    ("pulse_pmg_up", "gauge", "1 when the Proxmox Mail Gateway answers."),
    ("pulse_ceph_used_bytes", "gauge", "Ceph cluster raw space in use."),
    ("pulse_ceph_total_bytes", "gauge", "Ceph cluster raw size."),
    ("pulse_ceph_pool_stored_bytes", "gauge", "Ceph pool data stored (state: cephClusters[].pools[].storedBytes)."),
    ("pulse_ceph_pool_available_bytes", "gauge", "Ceph pool space still available."),
    ("pulse_pmg_queue_messages", "gauge", "Messages in a PMG node's mail queue, by queue (active, deferred, hold, incoming)."),
    ("pulse_pmg_queue_oldest_seconds", "gauge", "Age of the oldest message in a PMG node's queue."),
    ("pulse_docker_host_up", "gauge", "1 when the Docker agent reports (state: dockerHosts[].status)."),
    ("pulse_docker_host_cpu_usage_ratio", "gauge", "Docker host CPU use, 0-1 (state: dockerHosts[].cpuUsagePercent / 100)."),
    ("pulse_docker_host_memory_used_bytes", "gauge", "Docker host memory in use."),
    ("pulse_docker_host_memory_total_bytes", "gauge", "Docker host memory size."),
    ("pulse_docker_container_up", "gauge", "1 when the container is running (state: dockerHosts[].containers[].state)."),
    ("pulse_docker_container_cpu_usage_ratio", "gauge", "Container CPU use, 0-1 of one core per 1.0 (state: cpuPercent / 100)."),
    ("pulse_docker_container_memory_used_bytes", "gauge", "Container memory in use."),
    ("pulse_docker_container_memory_limit_bytes", "gauge", "Container memory limit (0: none)."),
    ("pulse_host_up", "gauge", "1 when the host agent reports (state: hosts[].status)."),
    ("pulse_host_cpu_usage_ratio", "gauge", "Host CPU use, 0-1 (state: hosts[].cpuUsage / 100)."),
    ("pulse_host_memory_used_bytes", "gauge", "Host memory in use."),
    ("pulse_host_memory_total_bytes", "gauge", "Host memory size."),
    ("pulse_host_disk_used_bytes", "gauge", "Host filesystem space in use, by mount point."),
    ("pulse_host_disk_total_bytes", "gauge", "Host filesystem size, by mount point."),
    (
        "pulse_forecast_full_in_seconds",
        "gauge",
        "Time until full at the current trend (state: forecasts[].daysUntilFull); absent when flat or shrinking.",
    ),
    (
        "pulse_forecast_confidence_ratio",
        "gauge",
        "Confidence of the trend, 0-1 (state: forecasts[].confidence).",
    ),
    (
        "pulse_forecast_growth_ratio_per_day",
        "gauge",
        "Usage growth per day as a fraction of the size (state: forecasts[].growthPercentPerDay / 100).",
    ),
];

/// Label value escaping per the exposition format: backslash, double quote, line feed.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The exposition text: every family of `families` announced (HELP, TYPE) in order, then its
/// samples in the order they were collected.
pub fn render(rows: Vec<Row>, families: &[&[(&str, &str, &str)]]) -> String {
    let mut by_family: HashMap<&str, Vec<(&str, Labels, f64)>> = HashMap::new();
    for (fam, suffix, labels, value) in rows {
        by_family
            .entry(fam)
            .or_default()
            .push((suffix, labels, value));
    }
    let mut out = String::with_capacity(64 * 1024);
    for (name, kind, help) in families.iter().flat_map(|f| f.iter()) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (suffix, labels, value) in by_family.remove(name).unwrap_or_default() {
            out.push_str(name);
            out.push_str(suffix);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", fmt_value(value));
        }
    }
    out
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn up(status: &str, up_when: &str) -> f64 {
    if status == up_when {
        1.0
    } else {
        0.0
    }
}

/// The resource families from the live state and the forecasts.
fn resource_rows(app: &App, rows: &mut Vec<Row>) {
    let st = app.polling.core.state();
    for n in st.nodes() {
        let l: Labels = vec![("instance", n.instance.clone()), ("node", n.node.clone())];
        rows.push(("pulse_node_up", "", l.clone(), up(&n.status, "online")));
        rows.push(("pulse_node_cpu_usage_ratio", "", l.clone(), n.cpu));
        rows.push((
            "pulse_node_memory_used_bytes",
            "",
            l.clone(),
            n.memory.used as f64,
        ));
        rows.push((
            "pulse_node_memory_total_bytes",
            "",
            l.clone(),
            n.memory.total as f64,
        ));
        if n.disk.total > 0 {
            rows.push((
                "pulse_node_disk_used_bytes",
                "",
                l.clone(),
                n.disk.used as f64,
            ));
            rows.push((
                "pulse_node_disk_total_bytes",
                "",
                l.clone(),
                n.disk.total as f64,
            ));
        }
        rows.push(("pulse_node_uptime_seconds", "", l, n.uptime as f64));
    }
    let guests = st
        .vms()
        .map(|g| {
            (
                &g.instance,
                &g.node,
                g.vmid,
                &g.name,
                &g.kind,
                &g.status,
                g.cpu,
                &g.memory,
                &g.disk,
                g.uptime,
                [g.network_in, g.network_out, g.disk_read, g.disk_write],
                &g.tags,
            )
        })
        .chain(st.containers().map(|g| {
            (
                &g.instance,
                &g.node,
                g.vmid,
                &g.name,
                &g.kind,
                &g.status,
                g.cpu,
                &g.memory,
                &g.disk,
                g.uptime,
                [g.network_in, g.network_out, g.disk_read, g.disk_write],
                &g.tags,
            )
        }));
    const RATES: [&str; 4] = [
        "pulse_guest_network_in_bytes_per_second",
        "pulse_guest_network_out_bytes_per_second",
        "pulse_guest_disk_read_bytes_per_second",
        "pulse_guest_disk_write_bytes_per_second",
    ];
    for (instance, node, vmid, name, kind, status, cpu, mem, disk, uptime, rates, tags) in guests {
        let l: Labels = vec![
            ("instance", instance.clone()),
            ("node", node.clone()),
            ("vmid", vmid.to_string()),
            ("name", name.clone()),
            ("type", kind.clone()),
        ];
        rows.push(("pulse_guest_up", "", l.clone(), up(status, "running")));
        // Tags only here, on one series per guest: on every family they would multiply the
        // series whenever a tag changes.
        let mut info = l.clone();
        info.push(("tags", normalise_tags(tags)));
        rows.push(("pulse_guest_info", "", info, 1.0));
        rows.push(("pulse_guest_cpu_usage_ratio", "", l.clone(), cpu));
        rows.push((
            "pulse_guest_memory_used_bytes",
            "",
            l.clone(),
            mem.used as f64,
        ));
        rows.push((
            "pulse_guest_memory_total_bytes",
            "",
            l.clone(),
            mem.total as f64,
        ));
        // A disk usage of -1 is "unknown" (no guest agent): no sample rather than a lie.
        if disk.usage >= 0.0 && disk.total > 0 {
            rows.push((
                "pulse_guest_disk_used_bytes",
                "",
                l.clone(),
                disk.used as f64,
            ));
            rows.push((
                "pulse_guest_disk_total_bytes",
                "",
                l.clone(),
                disk.total as f64,
            ));
        }
        for (fam, r) in RATES.iter().zip(rates) {
            // A negative rate is "not known yet" (first sample).
            if r >= 0 {
                rows.push((fam, "", l.clone(), r as f64));
            }
        }
        rows.push(("pulse_guest_uptime_seconds", "", l, uptime as f64));
    }
    for s in st.storages() {
        let l: Labels = vec![
            ("instance", s.instance.clone()),
            ("node", s.node.clone()),
            ("storage", s.storage.clone()),
            ("type", s.kind.clone()),
        ];
        rows.push(("pulse_storage_used_bytes", "", l.clone(), s.used as f64));
        rows.push(("pulse_storage_total_bytes", "", l, s.total as f64));
    }
    for p in st.pbs_instances() {
        rows.push((
            "pulse_pbs_up",
            "",
            vec![("instance", p.name.clone())],
            up(&p.status, "online"),
        ));
        for d in &p.datastores {
            let l: Labels = vec![("instance", p.name.clone()), ("datastore", d.name.clone())];
            rows.push((
                "pulse_pbs_datastore_used_bytes",
                "",
                l.clone(),
                d.used as f64,
            ));
            rows.push(("pulse_pbs_datastore_total_bytes", "", l, d.total as f64));
        }
    }
    for p in st.pmg_instances() {
        rows.push((
            "pulse_pmg_up",
            "",
            vec![("instance", p.name.clone())],
            up(&p.status, "online"),
        ));
    }
    // One sorted view for the areas without their own accessor.
    let view = st.frontend();
    for c in &view.ceph_clusters {
        let l: Labels = vec![
            ("instance", c.instance.clone()),
            ("cluster", c.name.clone()),
        ];
        rows.push(("pulse_ceph_used_bytes", "", l.clone(), c.used_bytes as f64));
        rows.push(("pulse_ceph_total_bytes", "", l, c.total_bytes as f64));
    }
    super::metrics_agents::ceph_pmg_rows(&view.ceph_clusters, st, rows);
    super::metrics_agents::agent_rows(&app.agents, rows);
    forecast_rows(view.forecasts, rows);
}

/// Proxmox tags (`;`, `,` or space separated) sorted and `;`-joined, so the label is stable.
fn normalise_tags(tags: &str) -> String {
    let mut list: Vec<&str> = tags
        .split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .collect();
    list.sort_unstable();
    list.dedup();
    list.join(";")
}

/// The state's `forecasts` list as samples (same ids, same figures).
fn forecast_rows(entries: &[serde_json::Value], rows: &mut Vec<Row>) {
    for e in entries {
        let s = |k: &str| {
            e.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let n = |k: &str| e.get(k).and_then(|v| v.as_f64());
        let l: Labels = vec![
            ("id", s("id")),
            ("instance", s("instance")),
            ("node", s("node")),
            ("name", s("name")),
            ("type", s("type")),
        ];
        if let Some(days) = n("daysUntilFull") {
            rows.push((
                "pulse_forecast_full_in_seconds",
                "",
                l.clone(),
                (days * 86_400.0).round(),
            ));
        }
        if let Some(c) = n("confidence") {
            rows.push(("pulse_forecast_confidence_ratio", "", l.clone(), c));
        }
        if let Some(g) = n("growthPercentPerDay") {
            rows.push(("pulse_forecast_growth_ratio_per_day", "", l, g / 100.0));
        }
    }
}

fn metrics(app: &mut App, ctx: &Ctx) -> Outcome {
    // Alert counts come from the engine.
    super::alerts::with_engine(app, ctx, metrics_now)
}

fn metrics_now(app: &mut App, _: &Ctx) -> Outcome {
    let mut rows: Vec<Row> = Vec::new();
    resource_rows(app, &mut rows);
    super::metrics_self::self_rows(app, &mut rows);
    Outcome::defer(
        move || {
            // Read here, off the loop: /proc is cheap but still a file read.
            super::metrics_self::process_rows(&mut rows);
            render(rows, &[FAMILIES, super::metrics_self::FAMILIES])
        },
        |_app, text: String| {
            Reply::new(200)
                .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                .body(crate::http::reply::Body::Bytes(text.into_bytes()))
        },
    )
}

pub fn routes() -> Vec<Route> {
    vec![Route {
        methods: &[Method::Get],
        pattern: "/metrics",
        access: Access::Scope(Scope::MonitoringRead),
        csrf: Csrf::Required,
        handler: metrics,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_families_announced() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let rows = vec![(
            "pulse_guest_cpu_usage_ratio",
            "",
            vec![("name", "x\"y".to_string())],
            0.5,
        )];
        let text = render(rows, &[FAMILIES]);
        assert!(
            text.contains("pulse_guest_cpu_usage_ratio{name=\"x\\\"y\"} 0.5\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE ").count(), FAMILIES.len());
    }

    #[test]
    fn family_names_follow_the_conventions() {
        for (name, kind, _) in FAMILIES.iter().chain(super::super::metrics_self::FAMILIES) {
            assert!(name.starts_with("pulse_"), "{name}");
            match *kind {
                "counter" => assert!(name.ends_with("_total"), "{name}"),
                "gauge" => assert!(!name.ends_with("_total"), "{name}"),
                "summary" => assert!(name.ends_with("_seconds"), "{name}"),
                k => panic!("{name}: {k}"),
            }
        }
    }
}
