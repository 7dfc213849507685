//! `GET /metrics`: the live figures in the Prometheus text exposition format (0.0.4), for a
//! fleet that outgrows one Pulse. Behind an API token or session with `monitoring:read` (the
//! same figures `/api/state` gives that scope).
//!
//! Label sets are fixed per family and bounded: node `{instance,node}`, guest
//! `{instance,node,vmid,name,type}`, storage `{instance,node,storage,type}` (no tags: free
//! text would make series unbounded). Values equal `/api/state`'s (ratios are its `cpu`
//! fraction, bytes its byte counts). Rows are copied on the loop, the text is built on the
//! task pool.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use std::fmt::Write as _;

/// One sample: family index, label pairs, value.
type Row = (usize, Vec<(&'static str, String)>, f64);

/// (name, type, help) of every family, in output order.
const FAMILIES: [(&str, &str, &str); 15] = [
    (
        "pulse_node_cpu_usage_ratio",
        "gauge",
        "Node CPU use, 0-1 (state: nodes[].cpu).",
    ),
    (
        "pulse_node_memory_used_bytes",
        "gauge",
        "Node memory in use.",
    ),
    (
        "pulse_node_memory_total_bytes",
        "gauge",
        "Node memory size.",
    ),
    (
        "pulse_guest_cpu_usage_ratio",
        "gauge",
        "Guest CPU use, 0-1 (state: vms/containers[].cpu).",
    ),
    (
        "pulse_guest_memory_used_bytes",
        "gauge",
        "Guest memory in use.",
    ),
    (
        "pulse_guest_memory_total_bytes",
        "gauge",
        "Guest memory size.",
    ),
    (
        "pulse_guest_network_in_bytes_per_second",
        "gauge",
        "Guest network receive rate.",
    ),
    (
        "pulse_guest_network_out_bytes_per_second",
        "gauge",
        "Guest network transmit rate.",
    ),
    (
        "pulse_guest_disk_read_bytes_per_second",
        "gauge",
        "Guest disk read rate.",
    ),
    (
        "pulse_guest_disk_write_bytes_per_second",
        "gauge",
        "Guest disk write rate.",
    ),
    ("pulse_storage_used_bytes", "gauge", "Storage space in use."),
    ("pulse_storage_total_bytes", "gauge", "Storage size."),
    (
        "pulse_history_series",
        "gauge",
        "Resources whose metric history Pulse keeps.",
    ),
    (
        "pulse_history_samples_total",
        "counter",
        "Samples recorded into the history since start.",
    ),
    (
        "pulse_uptime_seconds",
        "gauge",
        "Seconds since this Pulse started.",
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

fn render(mut rows: Vec<Row>) -> String {
    rows.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(rows.len() * 96);
    let mut at = 0;
    for (f, (name, kind, help)) in FAMILIES.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        while at < rows.len() && rows[at].0 == f {
            let (_, labels, value) = &rows[at];
            out.push_str(name);
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
            let _ = writeln!(out, " {}", fmt_value(*value));
            at += 1;
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

fn metrics(app: &mut App, _: &Ctx) -> Outcome {
    let st = app.polling.core.state();
    let mut rows: Vec<Row> = Vec::new();
    for n in st.nodes() {
        let l = vec![("instance", n.instance.clone()), ("node", n.node.clone())];
        rows.push((0, l.clone(), n.cpu));
        rows.push((1, l.clone(), n.memory.used as f64));
        rows.push((2, l, n.memory.total as f64));
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
                g.cpu,
                &g.memory,
                [g.network_in, g.network_out, g.disk_read, g.disk_write],
            )
        })
        .chain(st.containers().map(|g| {
            (
                &g.instance,
                &g.node,
                g.vmid,
                &g.name,
                &g.kind,
                g.cpu,
                &g.memory,
                [g.network_in, g.network_out, g.disk_read, g.disk_write],
            )
        }));
    for (instance, node, vmid, name, kind, cpu, mem, rates) in guests {
        let l = vec![
            ("instance", instance.clone()),
            ("node", node.clone()),
            ("vmid", vmid.to_string()),
            ("name", name.clone()),
            ("type", kind.clone()),
        ];
        rows.push((3, l.clone(), cpu));
        rows.push((4, l.clone(), mem.used as f64));
        rows.push((5, l.clone(), mem.total as f64));
        for (i, r) in rates.iter().enumerate() {
            // A negative rate is "not known yet" (first sample): no sample rather than a lie.
            if *r >= 0 {
                rows.push((6 + i, l.clone(), *r as f64));
            }
        }
    }
    for s in st.storages() {
        let l = vec![
            ("instance", s.instance.clone()),
            ("node", s.node.clone()),
            ("storage", s.storage.clone()),
            ("type", s.kind.clone()),
        ];
        rows.push((10, l.clone(), s.used as f64));
        rows.push((11, l, s.total as f64));
    }
    rows.push((12, Vec::new(), app.history.resources.len() as f64));
    rows.push((13, Vec::new(), app.history.samples_total as f64));
    rows.push((14, Vec::new(), app.started().elapsed().as_secs_f64().floor()));
    Outcome::defer(
        move || render(rows),
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
        let text = render(vec![(3, vec![("name", "x\"y".into())], 0.5)]);
        assert!(
            text.contains("pulse_guest_cpu_usage_ratio{name=\"x\\\"y\"} 0.5\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE ").count(), FAMILIES.len());
    }
}
