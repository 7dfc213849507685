//! What a webhook receives: the template data (Pulse's `WebhookPayloadData` field names), the
//! built-in service templates (`GET /api/notifications/webhook-templates`), and the finished
//! HTTP request for one webhook and one batch of alerts.

use super::config::WebhookConfig;
use super::template::{self, Mode};
use crate::alerts::alert::Alert;
use crate::util::time::UtcTime;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Fired (or escalated, or a reminder) versus resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Alert,
    Resolved,
    Test,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Resolved => "resolved",
            Kind::Test => "test",
        }
    }
}

/// A request ready for the wire.
#[derive(Debug, Clone)]
pub struct HttpJob {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTemplate {
    pub service: &'static str,
    pub name: &'static str,
    pub url_pattern: &'static str,
    pub method: &'static str,
    pub headers: Map<String, Value>,
    pub payload_template: &'static str,
    pub instructions: &'static str,
}

const DISCORD: &str = r##"{"username":"Pulse Monitoring","embeds":[{"title":"{{if eq .Event "resolved"}}Resolved: {{.ResourceName}}{{else}}Pulse Alert: {{.Level | title}}{{end}}","description":"{{.Message}}","color":{{if eq .Event "resolved"}}3066993{{else if eq .Level "critical"}}15158332{{else if eq .Level "warning"}}15105570{{else}}3447003{{end}},"fields":[{"name":"Resource","value":"{{.ResourceName}}","inline":true},{"name":"Node","value":"{{.Node}}","inline":true},{"name":"Type","value":"{{.Type | title}}","inline":true},{"name":"Value","value":"{{.ValueFormatted}}","inline":true},{"name":"Threshold","value":"{{.ThresholdFormatted}}","inline":true},{"name":"Duration","value":"{{.Duration}}","inline":true}],"timestamp":"{{.Timestamp}}","footer":{"text":"Pulse Monitoring"}}]}"##;

const SLACK: &str = r##"{"text":"{{if eq .Event "resolved"}}Resolved{{else}}Pulse Alert: {{.Level | title}}{{end}} - {{.ResourceName}}: {{.Message}}","blocks":[{"type":"header","text":{"type":"plain_text","text":"{{if eq .Event "resolved"}}Resolved: {{.ResourceName}}{{else}}Pulse Alert: {{.Level | title}}{{end}}"}},{"type":"section","text":{"type":"mrkdwn","text":"{{.Message}}"}},{"type":"section","fields":[{"type":"mrkdwn","text":"*Resource:*\n{{.ResourceName}}"},{"type":"mrkdwn","text":"*Node:*\n{{.Node}}"},{"type":"mrkdwn","text":"*Value:*\n{{.ValueFormatted}}"},{"type":"mrkdwn","text":"*Threshold:*\n{{.ThresholdFormatted}}"}]},{"type":"context","elements":[{"type":"mrkdwn","text":"Pulse Monitoring | {{.Timestamp}}"}]}]}"##;

const TEAMS: &str = r##"{"@type":"MessageCard","@context":"https://schema.org/extensions","themeColor":"{{if eq .Event "resolved"}}00FF00{{else if eq .Level "critical"}}FF0000{{else}}FFA500{{end}}","summary":"Pulse Alert: {{.ResourceName}}","sections":[{"activityTitle":"{{if eq .Event "resolved"}}Resolved: {{.ResourceName}}{{else}}Pulse Alert: {{.Level | title}}{{end}}","activitySubtitle":"{{.Message}}","facts":[{"name":"Resource","value":"{{.ResourceName}}"},{"name":"Node","value":"{{.Node}}"},{"name":"Type","value":"{{.Type}}"},{"name":"Value","value":"{{.ValueFormatted}}"},{"name":"Threshold","value":"{{.ThresholdFormatted}}"},{"name":"Duration","value":"{{.Duration}}"}],"markdown":true}]{{if .Instance}},"potentialAction":[{"@type":"OpenUri","name":"View in Pulse","targets":[{"os":"default","uri":"{{.Instance}}"}]}]{{end}}}"##;

const TELEGRAM: &str = r##"{"chat_id":"{{.ChatID}}","text":"{{if eq .Event "resolved"}}*Resolved: {{.ResourceName}}*{{else}}*Pulse Alert: {{.Level | title}}*{{end}}\n\n{{.Message}}\n\n*Resource:* {{.ResourceName}}\n*Node:* {{.Node}}\n*Value:* {{.ValueFormatted}} (threshold {{.ThresholdFormatted}})\n*Duration:* {{.Duration}}","parse_mode":"Markdown","disable_web_page_preview":true}"##;

const GOTIFY: &str = r##"{"title":"{{if eq .Event "resolved"}}Resolved: {{else}}Pulse {{.Level | title}}: {{end}}{{.ResourceName}}","message":"{{.Message}}\n\n**Node:** {{.Node}}\n**Value:** {{.ValueFormatted}} (threshold {{.ThresholdFormatted}})\n**Duration:** {{.Duration}}","priority":{{if eq .Event "resolved"}}2{{else if eq .Level "critical"}}10{{else}}5{{end}},"extras":{"client::display":{"contentType":"text/markdown"},"pulse::alert":{"id":"{{.ID}}","level":"{{.Level}}","type":"{{.Type}}","event":"{{.Event}}"}}}"##;

const NTFY: &str = r##"{{if eq .Event "resolved"}}Resolved: {{end}}{{.Message}}
Resource: {{.ResourceName}} on {{.Node}} - value {{.ValueFormatted}}, threshold {{.ThresholdFormatted}}"##;

const PUSHOVER: &str = r##"{"token":"{{.CustomFields.token}}","user":"{{.CustomFields.user}}","title":"{{if eq .Event "resolved"}}Resolved: {{else}}Pulse {{.Level | title}}: {{end}}{{.ResourceName}}","message":"{{.Message}}","priority":{{if eq .Event "resolved"}}-1{{else if eq .Level "critical"}}1{{else}}0{{end}},"sound":"{{if eq .Event "resolved"}}pushover{{else if eq .Level "critical"}}siren{{else}}tugboat{{end}}","timestamp":{{.UnixTime}}{{if .CustomFields.device}},"device":"{{.CustomFields.device}}"{{end}}{{if .Instance}},"url":"{{.Instance}}"{{end}}}"##;

const PAGERDUTY: &str = r##"{"routing_key":"{{.CustomFields.routing_key}}","event_action":"{{if eq .Event "resolved"}}resolve{{else}}trigger{{end}}","dedup_key":"{{.ID}}","payload":{"summary":"{{.Message}}","timestamp":"{{.Timestamp}}","severity":"{{if eq .Level "critical"}}critical{{else}}warning{{end}}","source":"{{.Node}}","component":"{{.ResourceName}}","group":"{{.Instance}}","class":"{{.Type}}","custom_details":{"value":{{.Value}},"threshold":{{.Threshold}},"resource_id":"{{.ResourceID}}","duration":"{{.Duration}}","alert_count":{{.AlertCount}}}},"client":"Pulse Monitoring"{{if .Instance}},"client_url":"{{.Instance}}"{{end}}}"##;

const GENERIC: &str = r##"{"alert":{"id":"{{.ID}}","level":"{{.Level}}","type":"{{.Type}}","resource_name":"{{.ResourceName}}","node":"{{.Node}}","message":"{{.Message}}","value":{{.Value}},"threshold":{{.Threshold}},"start_time":"{{.StartTime}}","duration":"{{.Duration}}"},"event":"{{.Event}}","timestamp":"{{.Timestamp}}","source":"pulse-monitoring"}"##;

/// Built-in services: (service, display name, URL pattern, template, instructions).
const SERVICES: [(&str, &str, &str, &str, &str); 9] = [
    (
        "discord",
        "Discord",
        "https://discord.com/api/webhooks/{webhook_id}/{webhook_token}",
        DISCORD,
        "Server Settings → Integrations → Webhooks → New Webhook; copy the URL.",
    ),
    (
        "slack",
        "Slack",
        "https://hooks.slack.com/services/{T}/{B}/{X}",
        SLACK,
        "Create an app with Incoming Webhooks and copy the webhook URL.",
    ),
    (
        "teams",
        "Microsoft Teams",
        "https://{tenant}.webhook.office.com/webhookb2/...",
        TEAMS,
        "Channel → Connectors (or Workflows) → Incoming Webhook; copy the URL.",
    ),
    (
        "telegram",
        "Telegram",
        "https://api.telegram.org/bot{bot_token}/sendMessage?chat_id={chat_id}",
        TELEGRAM,
        "Create a bot with @BotFather; add ?chat_id=<numeric id> to the URL.",
    ),
    (
        "gotify",
        "Gotify",
        "https://{gotify_host}/message?token={app_token}",
        GOTIFY,
        "Create an application in Gotify and use its token in the URL.",
    ),
    (
        "ntfy",
        "ntfy",
        "https://ntfy.sh/{topic}",
        NTFY,
        "Use your topic URL; the body is plain text (add an Authorization header if protected).",
    ),
    (
        "pushover",
        "Pushover",
        "https://api.pushover.net/1/messages.json",
        PUSHOVER,
        "Set custom fields app_token (or token) and user_token (or user).",
    ),
    (
        "pagerduty",
        "PagerDuty",
        "https://events.pagerduty.com/v2/enqueue",
        PAGERDUTY,
        "Events API v2: set custom field (or header) routing_key to the integration key.",
    ),
    (
        "generic",
        "Generic JSON",
        "https://your-endpoint.example/webhook",
        GENERIC,
        "Any endpoint that accepts JSON; leave the template empty for Pulse's generic payload.",
    ),
];

pub fn templates() -> Vec<WebhookTemplate> {
    SERVICES
        .iter()
        .map(|(service, name, url, tpl, how)| {
            let mut headers = Map::new();
            headers.insert(
                "Content-Type".into(),
                Value::from(if *service == "ntfy" {
                    "text/plain"
                } else {
                    "application/json"
                }),
            );
            if *service == "pagerduty" {
                headers.insert(
                    "Accept".into(),
                    Value::from("application/vnd.pagerduty+json;version=2"),
                );
            }
            WebhookTemplate {
                service,
                name,
                url_pattern: url,
                method: "POST",
                headers,
                payload_template: tpl,
                instructions: how,
            }
        })
        .collect()
}

fn builtin(service: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|s| s.0 == service && service != "generic")
        .map(|s| s.3)
}

pub fn is_known_service(service: &str) -> bool {
    SERVICES.iter().any(|s| s.0 == service) || service == "teams-adaptive"
}

/// `%.1f%%`, `MB/s`, `°C` by metric, as Pulse formats values for humans.
pub fn format_value(kind: &str, v: f64) -> String {
    match kind.to_ascii_lowercase().as_str() {
        "diskread" | "diskwrite" | "networkin" | "networkout" => format!("{v:.1} MB/s"),
        "temperature" => format!("{v:.1}°C"),
        "cpu" | "memory" | "disk" | "usage" => format!("{v:.1}%"),
        _ => format!("{v:.1}"),
    }
}

/// `Ns`, `Nm`, `Nh Nm`, `Nd Nh`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn alert_fields(a: &Alert, kind: Kind, now: UtcTime) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("ID", json!(a.id));
    put("Level", json!(a.level));
    put("Type", json!(a.kind));
    put("ResourceName", json!(a.resource_name));
    put("ResourceID", json!(a.resource_id));
    put("Node", json!(a.node));
    put("Message", json!(a.message));
    put("Value", json!(round1(a.value)));
    put("Threshold", json!(round1(a.threshold)));
    put("ValueFormatted", json!(format_value(&a.kind, a.value)));
    put(
        "ThresholdFormatted",
        json!(format_value(&a.kind, a.threshold)),
    );
    put("StartTime", json!(a.start_time.to_rfc3339()));
    let end = a.resolved_time.unwrap_or(now);
    put(
        "Duration",
        json!(duration((end.unix_ms() - a.start_time.unix_ms()) / 1000)),
    );
    put("ResourceType", json!(a.metadata.resource_type));
    put("Acknowledged", json!(a.acknowledged));
    put(
        "AckTime",
        json!(a.ack_time.map(|t| t.to_rfc3339()).unwrap_or_default()),
    );
    put("AckUser", json!(a.ack_user.clone().unwrap_or_default()));
    put("Metadata", json!(a.metadata));
    put("Event", json!(kind.as_str()));
    m
}

/// The template data for a batch (the first alert's fields, the batch in `.Alerts`).
pub fn data(
    alerts: &[Alert],
    kind: Kind,
    public_url: &str,
    custom: &std::collections::BTreeMap<String, String>,
    now: UtcTime,
) -> Value {
    let Some(first) = alerts.first() else {
        return json!({});
    };
    let mut m = alert_fields(first, kind, now);
    let instance = if !public_url.is_empty() {
        public_url.to_string()
    } else if first.instance.starts_with("http://") || first.instance.starts_with("https://") {
        first.instance.clone()
    } else {
        String::new()
    };
    m.insert("Instance".into(), json!(instance));
    m.insert("Timestamp".into(), json!(now.to_rfc3339()));
    m.insert("UnixTime".into(), json!(now.unix_ms() / 1000));
    m.insert("AlertCount".into(), json!(alerts.len()));
    m.insert(
        "Alerts".into(),
        Value::Array(
            alerts
                .iter()
                .map(|a| Value::Object(alert_fields(a, kind, now)))
                .collect(),
        ),
    );
    m.insert("CustomFields".into(), json!(custom));
    m.insert("ChatID".into(), json!(""));
    if alerts.len() > 1 {
        let lines: Vec<String> = alerts
            .iter()
            .map(|a| format!("• {}: {}", a.resource_name, format_value(&a.kind, a.value)))
            .collect();
        m.insert(
            "Message".into(),
            json!(format!(
                "{}\n\n{} {} alerts:\n{}",
                first.message,
                if kind == Kind::Resolved {
                    "Resolved"
                } else {
                    "All"
                },
                alerts.len(),
                lines.join("\n")
            )),
        );
    }
    if kind == Kind::Resolved && alerts.len() == 1 {
        m.insert(
            "Message".into(),
            json!(format!("Resolved: {}", first.message)),
        );
    }
    Value::Object(m)
}

/// Checks a template at save time: it must parse, and render to valid JSON (plain text for
/// ntfy) with sample data whose values hold quotes, newlines and unicode.
pub fn validate_template(w: &WebhookConfig) -> Result<(), String> {
    if w.template.trim().is_empty() {
        return Ok(());
    }
    let tpl = template::Template::parse(&w.template).map_err(|e| format!("template: {e}"))?;
    let sample = sample_alert(UtcTime::now());
    let d = data(&[sample], Kind::Test, "", &w.custom_fields, UtcTime::now());
    if w.service == "ntfy" {
        tpl.render(&d, Mode::Text)
            .map(|_| ())
            .map_err(|e| format!("template: {e}"))
    } else {
        let out = tpl
            .render(&d, Mode::Json)
            .map_err(|e| format!("template: {e}"))?;
        serde_json::from_str::<Value>(&out)
            .map(|_| ())
            .map_err(|e| format!("template does not render valid JSON: {e}"))
    }
}

/// The fixed test alert (`POST /webhooks/test`, `/api/notifications/test`).
pub fn sample_alert(now: UtcTime) -> Alert {
    let start = UtcTime::from_unix_ms(now.unix_ms() - 300_000);
    Alert {
        id: "test-alert".into(),
        kind: "cpu".into(),
        level: crate::alerts::alert::Level::Warning,
        resource_id: "test-resource".into(),
        resource_name: "Test VM".into(),
        node: "test-node".into(),
        instance: "test".into(),
        message: "Test notification from Pulse: \"CPU\" at 85.5% — ünïcode ✓\nsecond line".into(),
        value: 85.5,
        threshold: 80.0,
        start_time: start,
        last_seen: now,
        acknowledged: false,
        ack_time: None,
        ack_user: None,
        metadata: crate::alerts::alert::AlertMetadata {
            resource_type: "VM".into(),
            clear_threshold: 75.0,
            ..Default::default()
        },
        last_notified: None,
        escalation_times: Vec::new(),
        resolved_time: None,
    }
}

/// The request for `w` and a batch: template (custom, else the service's, else generic
/// JSON), URL templating, Telegram's chat id, PagerDuty/Pushover key aliases, headers.
pub fn build(
    w: &WebhookConfig,
    alerts: &[Alert],
    kind: Kind,
    public_url: &str,
    now: UtcTime,
) -> Result<HttpJob, String> {
    let mut custom = w.custom_fields.clone();
    let service = w.service.as_str();
    if service == "pagerduty" && !custom.contains_key("routing_key") {
        if let Some(k) = w.headers.get("routing_key") {
            custom.insert("routing_key".into(), k.clone());
        }
    }
    if service == "pushover" {
        for (from, to) in [("app_token", "token"), ("user_token", "user")] {
            if let Some(v) = custom.get(from).cloned() {
                custom.entry(to.into()).or_insert(v);
            }
        }
    }
    let mut d = data(alerts, kind, public_url, &custom, now);
    let mut url = w.url.clone();
    if service == "telegram" {
        let (stripped, chat) = take_query_param(&url, "chat_id");
        let chat = chat.ok_or("telegram: the URL needs a chat_id query parameter")?;
        let digits = chat.strip_prefix('-').unwrap_or(&chat);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("telegram: chat_id must be numeric".into());
        }
        d["ChatID"] = json!(chat);
        url = stripped;
    }
    if url.contains("{{") {
        url = template::render(&url, &d, Mode::Text).map_err(|e| format!("url template: {e}"))?;
    }
    let plain = service == "ntfy";
    let body = if !w.template.trim().is_empty() {
        render_checked(&w.template, &d, plain)?
    } else if let Some(tpl) = builtin(service) {
        render_checked(tpl, &d, plain)?
    } else {
        generic(alerts, kind, now)
    };
    let mut headers = vec![
        (
            "Content-Type".to_string(),
            if plain {
                "text/plain; charset=utf-8"
            } else {
                "application/json"
            }
            .to_string(),
        ),
        ("User-Agent".to_string(), "Pulse-Monitoring/2.0".to_string()),
    ];
    if service == "pagerduty" {
        headers.push((
            "Accept".into(),
            "application/vnd.pagerduty+json;version=2".into(),
        ));
    }
    if plain {
        let first = &alerts[0];
        let title = match kind {
            Kind::Resolved => format!("Resolved: {}", first.resource_name),
            _ => format!("Pulse {:?}: {}", first.level, first.resource_name),
        };
        let priority = match (kind, first.level) {
            (Kind::Resolved, _) => "3",
            (_, crate::alerts::alert::Level::Critical) => "5",
            _ => "4",
        };
        headers.push(("Title".into(), header_safe(&title)));
        headers.push(("Priority".into(), priority.into()));
        headers.push((
            "Tags".into(),
            if kind == Kind::Resolved {
                "white_check_mark"
            } else {
                "warning"
            }
            .into(),
        ));
    }
    for (k, v) in &w.headers {
        // Template syntax in a header value is not rendered (as in Pulse): skipped.
        if v.contains("{{") || k.eq_ignore_ascii_case("routing_key") && service == "pagerduty" {
            continue;
        }
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        headers.push((k.clone(), v.clone()));
    }
    Ok(HttpJob {
        method: w.method.clone(),
        url,
        headers,
        body: body.into_bytes(),
    })
}

fn header_safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .collect()
}

fn render_checked(tpl: &str, d: &Value, plain: bool) -> Result<String, String> {
    if plain {
        return template::render(tpl, d, Mode::Text).map_err(|e| format!("template: {e}"));
    }
    let out = template::render(tpl, d, Mode::Json).map_err(|e| format!("template: {e}"))?;
    serde_json::from_str::<Value>(&out)
        .map_err(|e| format!("rendered payload is not valid JSON: {e}"))?;
    Ok(out)
}

/// Pulse's generic payload: one alert, or the grouped form.
fn generic(alerts: &[Alert], kind: Kind, now: UtcTime) -> String {
    let ts = now.unix_ms() / 1000;
    let v = if alerts.len() == 1 {
        json!({"alert": alerts[0], "event": kind.as_str(), "timestamp": ts, "source": "pulse-monitoring"})
    } else {
        json!({"alerts": alerts, "count": alerts.len(), "event": kind.as_str(), "timestamp": ts,
               "source": "pulse-monitoring", "grouped": true})
    };
    v.to_string()
}

/// Removes `name=value` from the URL's query; returns the URL and the (decoded) value.
fn take_query_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut found = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if k == name {
                found = Some(
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            } else {
                true
            }
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_renders_valid_json_with_hostile_values() {
        let now = UtcTime::now();
        let mut a = sample_alert(now);
        a.message = "quote \" backslash \\ newline \n tab \t emoji 🔥 ctrl \u{1}".into();
        a.resource_name = "vm \"x\"".into();
        for (service, ..) in SERVICES {
            let w = WebhookConfig {
                service: service.into(),
                url: if service == "telegram" {
                    "https://api.telegram.org/botX/sendMessage?chat_id=-100123".into()
                } else {
                    "https://example.com/hook".into()
                },
                ..WebhookConfig::default()
            };
            for batch in [vec![a.clone()], vec![a.clone(), a.clone()]] {
                for kind in [Kind::Alert, Kind::Resolved] {
                    let job = build(&w, &batch, kind, "", now)
                        .unwrap_or_else(|e| panic!("{service}: {e}"));
                    let body = String::from_utf8(job.body).unwrap();
                    if service != "ntfy" {
                        serde_json::from_str::<Value>(&body)
                            .unwrap_or_else(|e| panic!("{service}: {e}\n{body}"));
                    }
                }
            }
        }
    }

    #[test]
    fn telegram_chat_id_is_required_numeric_and_stripped() {
        let now = UtcTime::now();
        let mut w = WebhookConfig {
            service: "telegram".into(),
            url: "https://api.telegram.org/botT/sendMessage?chat_id=-42&x=1".into(),
            ..WebhookConfig::default()
        };
        let job = build(&w, &[sample_alert(now)], Kind::Alert, "", now).unwrap();
        assert_eq!(job.url, "https://api.telegram.org/botT/sendMessage?x=1");
        let v: Value = serde_json::from_slice(&job.body).unwrap();
        assert_eq!(v["chat_id"], "-42");
        w.url = "https://api.telegram.org/botT/sendMessage?chat_id=abc".into();
        assert!(build(&w, &[sample_alert(now)], Kind::Alert, "", now).is_err());
    }

    #[test]
    fn durations_and_values() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(3 * 60), "3m");
        assert_eq!(duration(3600 + 120), "1h 2m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(format_value("cpu", 95.25), "95.2%");
        assert_eq!(format_value("diskread", 12.0), "12.0 MB/s");
    }
}
