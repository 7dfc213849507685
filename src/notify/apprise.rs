//! Apprise: API mode (POST `<serverUrl>/notify[/<configKey>]` with the API key header) and CLI
//! mode (`<cliPath> -t <title> -b <body> <targets…>`, killed at the timeout). Runs on the
//! notifier's send threads only.

use super::config::AppriseConfig;
use super::payloads::{format_value, HttpJob, Kind};
use super::webhook::Attempt;
use crate::alerts::alert::{Alert, Level};
use crate::auth::client_ip::CidrList;
use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Title, body and Apprise type for a batch.
pub fn compose(alerts: &[Alert], kind: Kind, public_url: &str) -> (String, String, &'static str) {
    let title = match (alerts, kind) {
        ([a], Kind::Resolved) => format!("Pulse resolved: {}", a.resource_name),
        ([a], _) => format!("Pulse alert: {}", a.resource_name),
        (many, Kind::Resolved) => format!("Pulse resolved ({})", many.len()),
        (many, _) => format!("Pulse alerts ({})", many.len()),
    };
    let mut body = alerts
        .first()
        .map(|a| a.message.clone())
        .unwrap_or_default();
    body.push('\n');
    for a in alerts {
        body.push_str(&format!(
            "\n[{}] {} — value {} (threshold {})\nNode: {} Instance: {}",
            if kind == Kind::Resolved {
                "RESOLVED".to_string()
            } else {
                format!("{:?}", a.level).to_uppercase()
            },
            a.resource_name,
            format_value(&a.kind, a.value),
            format_value(&a.kind, a.threshold),
            a.node,
            a.instance
        ));
    }
    if !public_url.is_empty() {
        body.push_str(&format!("\n\nDashboard: {public_url}"));
    }
    let kind_str = if kind == Kind::Resolved {
        "success"
    } else if alerts.iter().any(|a| a.level == Level::Critical) {
        "failure"
    } else if alerts.is_empty() {
        "info"
    } else {
        "warning"
    };
    (title, body, kind_str)
}

/// The API-mode request.
pub fn http_job(cfg: &AppriseConfig, title: &str, body: &str, kind: &str) -> HttpJob {
    let mut url = format!("{}/notify", cfg.server_url.trim_end_matches('/'));
    if !cfg.config_key.is_empty() {
        url.push('/');
        url.push_str(&cfg.config_key);
    }
    let mut payload = json!({"title": title, "body": body, "type": kind});
    if !cfg.targets.is_empty() {
        payload["urls"] = json!(cfg.targets.join(","));
    }
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("User-Agent".to_string(), "Pulse-Monitoring/2.0".to_string()),
    ];
    if !cfg.api_key.is_empty() {
        headers.push((cfg.api_key_header.clone(), cfg.api_key.clone()));
    }
    HttpJob {
        method: "POST".into(),
        url,
        headers,
        body: payload.to_string().into_bytes(),
    }
}

/// One delivery in the configured mode.
pub fn send(
    cfg: &AppriseConfig,
    alerts: &[Alert],
    kind: Kind,
    public_url: &str,
    allowed: &CidrList,
) -> Attempt {
    let (title, body, t) = compose(alerts, kind, public_url);
    let timeout = Duration::from_secs(u64::from(cfg.timeout_seconds.clamp(5, 120)));
    if cfg.mode == "http" {
        return super::webhook::send(&http_job(cfg, &title, &body, t), allowed, timeout);
    }
    run_cli(cfg, &title, &body, timeout)
}

fn run_cli(cfg: &AppriseConfig, title: &str, body: &str, timeout: Duration) -> Attempt {
    let child = Command::new(&cfg.cli_path)
        .arg("-t")
        .arg(title)
        .arg("-b")
        .arg(body)
        .args(&cfg.targets)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Attempt::failed(format!("apprise CLI not runnable: {}", e.kind()), false),
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.by_ref().take(4096).read_to_string(&mut err);
                }
                return if status.success() {
                    Attempt {
                        status: 0,
                        ..Attempt::default()
                    }
                } else {
                    // stderr may echo target URLs (tokens): only the exit code is kept.
                    Attempt::failed(format!("apprise CLI exited with {status}"), true)
                };
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Attempt::failed("apprise CLI timed out".into(), true);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Attempt::failed(format!("apprise CLI: {}", e.kind()), true),
        }
    }
}
