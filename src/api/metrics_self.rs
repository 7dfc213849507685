//! Pulse's own `pulse_*` families on `/metrics`: polls (counts, durations, breakers,
//! failures, freshness), the scheduler queue, HTTP answers, WebSocket clients, alerts, the
//! metric history's writes, and the process (RSS, threads, uptime). Label sets are bounded:
//! `{instance_type,instance}` per configured instance, `{code}` per status class, `{level}`.

use super::metrics::{Labels, Row};
use crate::core::app::App;

pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "pulse_build_info",
        "gauge",
        "Always 1; the version is a label.",
    ),
    (
        "pulse_uptime_seconds",
        "gauge",
        "Seconds since this Pulse started.",
    ),
    (
        "pulse_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the Pulse process.",
    ),
    (
        "pulse_process_threads",
        "gauge",
        "Threads of the Pulse process.",
    ),
    (
        "pulse_poll_duration_seconds",
        "summary",
        "Duration of polls of one instance (start to result).",
    ),
    (
        "pulse_poll_last_duration_seconds",
        "gauge",
        "Duration of the instance's last poll.",
    ),
    (
        "pulse_polls_total",
        "counter",
        "Polls finished, by result (success or error).",
    ),
    (
        "pulse_scheduler_breaker_state",
        "gauge",
        "Circuit breaker of the instance: 0 closed, 1 half-open, 2 open.",
    ),
    (
        "pulse_scheduler_consecutive_failures",
        "gauge",
        "Failed polls in a row.",
    ),
    (
        "pulse_scheduler_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the instance's last successful poll (absent before the first).",
    ),
    (
        "pulse_scheduler_dead_letter",
        "gauge",
        "1 when the instance is parked in the dead-letter queue.",
    ),
    (
        "pulse_scheduler_queue_depth",
        "gauge",
        "Instances scheduled for polling.",
    ),
    (
        "pulse_http_responses_total",
        "counter",
        "HTTP answers sent, by status class (2xx, 4xx, ...).",
    ),
    (
        "pulse_websocket_clients",
        "gauge",
        "Connected WebSocket clients.",
    ),
    ("pulse_alerts_active", "gauge", "Active alerts by level."),
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
        "pulse_history_saves_total",
        "counter",
        "History saves handed to the writer since start.",
    ),
    (
        "pulse_history_file_bytes",
        "gauge",
        "Size of the last saved history file (metrics-history.bin).",
    ),
    (
        "pulse_history_retention_seconds",
        "gauge",
        "Metric history retention in force (metricsRetentionDays).",
    ),
];

fn breaker_code(state: &str) -> f64 {
    match state {
        "closed" => 0.0,
        "half_open" => 1.0,
        _ => 2.0,
    }
}

/// Everything but the process figures, copied on the loop.
pub fn self_rows(app: &App, rows: &mut Vec<Row>) {
    let version = app.version().version.clone();
    rows.push(("pulse_build_info", "", vec![("version", version)], 1.0));
    rows.push((
        "pulse_uptime_seconds",
        "",
        Vec::new(),
        app.started().elapsed().as_secs_f64().floor(),
    ));
    let health = app
        .polling
        .core
        .scheduler()
        .health(crate::util::time::now_ms());
    for i in &health.instances {
        let l: Labels = vec![
            ("instance_type", i.kind.clone()),
            ("instance", i.instance.clone()),
        ];
        rows.push((
            "pulse_scheduler_breaker_state",
            "",
            l.clone(),
            breaker_code(&i.breaker.state),
        ));
        rows.push((
            "pulse_scheduler_consecutive_failures",
            "",
            l.clone(),
            f64::from(i.poll_status.consecutive_failures),
        ));
        if let Some(t) = &i.poll_status.last_success {
            rows.push((
                "pulse_scheduler_last_success_timestamp_seconds",
                "",
                l.clone(),
                (t.unix_ms() / 1000) as f64,
            ));
        }
        let parked = if i.dead_letter.present { 1.0 } else { 0.0 };
        rows.push(("pulse_scheduler_dead_letter", "", l, parked));
    }
    rows.push((
        "pulse_scheduler_queue_depth",
        "",
        Vec::new(),
        health.queue.depth as f64,
    ));
    let configured = app.polling.core.scheduler();
    for (key, p) in &app.self_metrics.polls {
        if !configured.contains(key) {
            continue;
        }
        let l: Labels = vec![
            ("instance_type", key.kind.as_str().to_string()),
            ("instance", key.name.clone()),
        ];
        let count = (p.ok + p.failed) as f64;
        rows.push((
            "pulse_poll_duration_seconds",
            "_sum",
            l.clone(),
            p.seconds_sum,
        ));
        rows.push(("pulse_poll_duration_seconds", "_count", l.clone(), count));
        rows.push((
            "pulse_poll_last_duration_seconds",
            "",
            l.clone(),
            p.last_seconds,
        ));
        for (result, n) in [("success", p.ok), ("error", p.failed)] {
            let mut l = l.clone();
            l.push(("result", result.to_string()));
            rows.push(("pulse_polls_total", "", l, n as f64));
        }
    }
    for (i, n) in app.self_metrics.http_by_class.iter().enumerate() {
        let code = format!("{}xx", i + 1);
        rows.push((
            "pulse_http_responses_total",
            "",
            vec![("code", code)],
            *n as f64,
        ));
    }
    rows.push((
        "pulse_websocket_clients",
        "",
        Vec::new(),
        app.hub.len() as f64,
    ));
    let (mut warning, mut critical) = (0, 0);
    for a in app.alerts.active() {
        match a.level {
            crate::alerts::alert::Level::Warning => warning += 1,
            crate::alerts::alert::Level::Critical => critical += 1,
        }
    }
    for (level, n) in [("warning", warning), ("critical", critical)] {
        rows.push((
            "pulse_alerts_active",
            "",
            vec![("level", level.to_string())],
            f64::from(n),
        ));
    }
    let h = &app.history;
    rows.push((
        "pulse_history_series",
        "",
        Vec::new(),
        h.resources.len() as f64,
    ));
    rows.push((
        "pulse_history_samples_total",
        "",
        Vec::new(),
        h.samples_total as f64,
    ));
    rows.push((
        "pulse_history_saves_total",
        "",
        Vec::new(),
        h.saves_total as f64,
    ));
    rows.push((
        "pulse_history_file_bytes",
        "",
        Vec::new(),
        h.saved_bytes as f64,
    ));
    rows.push((
        "pulse_history_retention_seconds",
        "",
        Vec::new(),
        h.retention() as f64,
    ));
}

/// Process figures (read from /proc, so on the task pool).
pub fn process_rows(rows: &mut Vec<Row>) {
    let (rss, threads) = crate::core::self_metrics::process_figures();
    rows.push((
        "pulse_process_resident_memory_bytes",
        "",
        Vec::new(),
        rss as f64,
    ));
    rows.push(("pulse_process_threads", "", Vec::new(), threads as f64));
}
