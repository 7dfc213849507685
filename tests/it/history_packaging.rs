//! The packaging examples stay true: `packaging/prometheus/prometheus.yml` and its rules pass
//! `promtool check`, and every metric the Grafana dashboard and the rules query is one that
//! `/metrics` exports.

use crate::history_metrics::promtool;
use crate::support::temp_dir;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check(args: &[&str]) {
    let out = Command::new(promtool())
        .args(args)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `pulse_*` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("pulse_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

fn exported() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, kind, _) in pulse::api::metrics::FAMILIES
        .iter()
        .chain(pulse::api::metrics_self::FAMILIES)
    {
        out.insert(name.to_string());
        if *kind == "summary" {
            out.insert(format!("{name}_sum"));
            out.insert(format!("{name}_count"));
        }
    }
    out
}

#[test]
fn prometheus_example_config_and_rules_pass_promtool() {
    let src = root().join("packaging/prometheus");
    let dir = temp_dir("prom-config");
    let token = dir.join("pulse.token");
    std::fs::write(&token, "pulse_example_token").unwrap();
    let yml = std::fs::read_to_string(src.join("prometheus.yml")).unwrap();
    assert!(yml.contains("credentials_file: /etc/prometheus/pulse.token"));
    let yml = yml.replace("/etc/prometheus/pulse.token", token.to_str().unwrap());
    std::fs::write(dir.join("prometheus.yml"), yml).unwrap();
    std::fs::copy(src.join("pulse-rules.yml"), dir.join("pulse-rules.yml")).unwrap();
    check(&[
        "check",
        "config",
        dir.join("prometheus.yml").to_str().unwrap(),
    ]);
    check(&[
        "check",
        "rules",
        src.join("pulse-rules.yml").to_str().unwrap(),
    ]);
    let rules = std::fs::read_to_string(src.join("pulse-rules.yml")).unwrap();
    let unknown: Vec<String> = metric_names(&rules)
        .difference(&exported())
        .cloned()
        .collect();
    assert!(
        unknown.is_empty(),
        "rules query unknown metrics: {unknown:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grafana_dashboard_queries_only_exported_metrics() {
    let text = std::fs::read_to_string(root().join("packaging/grafana/pulse-dashboard.json"))
        .expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let exprs: Vec<&str> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.len() >= 10);
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    let known = exported();
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "dashboard queries unknown metrics: {unknown:?}"
    );
    // The forecast, a node, a guest, storage and a self-metric family are all on it.
    for want in [
        "pulse_forecast_full_in_seconds",
        "pulse_node_cpu_usage_ratio",
        "pulse_guest_cpu_usage_ratio",
        "pulse_storage_used_bytes",
        "pulse_poll_duration_seconds_sum",
    ] {
        assert!(used.contains(want), "{want} not on the dashboard");
    }
}
