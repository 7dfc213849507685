//! Email through `lettre` (blocking SMTP, rustls/ring, no async runtime): implicit TLS on port
//! 465 or when `tls` is set without `startTLS`, STARTTLS when `startTLS`, plain otherwise; AUTH
//! when a username and password are set; several recipients; multipart text + HTML for an
//! alert, a resolution and a grouped digest. Runs on the notifier's send threads only.

use super::config::EmailConfig;
use super::payloads::{format_value, Kind};
use crate::alerts::alert::{Alert, Level};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// A composed message: subject, plain text, HTML.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn type_label(kind: &str) -> String {
    match kind {
        "cpu" => "CPU".into(),
        "memory" => "Memory".into(),
        "disk" => "Disk".into(),
        "diskread" | "diskwrite" | "io" => "I/O".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

fn level_label(l: Level) -> &'static str {
    match l {
        Level::Critical => "Critical",
        Level::Warning => "Warning",
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The subject and bodies for a batch of alerts (one alert, a resolution, or a digest).
pub fn compose(alerts: &[Alert], kind: Kind, public_url: &str) -> Mail {
    let subject = match (alerts, kind) {
        ([a], Kind::Resolved) => format!(
            "[Pulse Resolved] {} on {}",
            type_label(&a.kind),
            a.resource_name
        ),
        ([a], _) => format!(
            "[Pulse Alert] {}: {} on {}",
            level_label(a.level),
            type_label(&a.kind),
            a.resource_name
        ),
        (many, Kind::Resolved) => format!("[Pulse Resolved] {} alerts resolved", many.len()),
        (many, _) => {
            let crit = many.iter().filter(|a| a.level == Level::Critical).count();
            let warn = many.len() - crit;
            match (crit, warn) {
                (c, 0) => format!("[Pulse Alert] {c} Critical alert(s)"),
                (0, w) => format!("[Pulse Alert] {w} Warning alert(s)"),
                (c, w) => format!("[Pulse Alert] {c} Critical, {w} Warning alerts"),
            }
        }
    };
    let mut text = String::new();
    let mut rows = String::new();
    let heading = if kind == Kind::Resolved {
        "Resolved"
    } else {
        "Alert"
    };
    for a in alerts {
        let value = format_value(&a.kind, a.value);
        let threshold = format_value(&a.kind, a.threshold);
        text.push_str(&format!(
            "[{}] {} {} — {}\n  {} on node {}: value {}, threshold {}\n  since {}{}\n\n",
            if kind == Kind::Resolved {
                "RESOLVED".to_string()
            } else {
                level_label(a.level).to_uppercase()
            },
            a.resource_name,
            type_label(&a.kind),
            a.message,
            a.metadata.resource_type,
            a.node,
            value,
            threshold,
            a.start_time.to_rfc3339(),
            a.resolved_time
                .map(|t| format!(", resolved {}", t.to_rfc3339()))
                .unwrap_or_default()
        ));
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(if kind == Kind::Resolved {
                "resolved"
            } else {
                level_label(a.level)
            }),
            html_escape(&a.resource_name),
            html_escape(&a.node),
            html_escape(&type_label(&a.kind)),
            html_escape(&value),
            html_escape(&a.message)
        ));
    }
    if !public_url.is_empty() {
        text.push_str(&format!("Dashboard: {public_url}\n"));
    }
    text.push_str("-- \nPulse Monitoring\n");
    let link = if public_url.is_empty() {
        String::new()
    } else {
        format!(
            "<p><a href=\"{}\">Open Pulse</a></p>",
            html_escape(public_url)
        )
    };
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h2>Pulse {heading}</h2>\
         <table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>Level</th><th>Resource</th>\
         <th>Node</th><th>Type</th><th>Value</th><th>Message</th></tr>{rows}</table>{link}\
         <p style=\"color:#888\">Pulse Monitoring</p></body></html>"
    );
    Mail {
        subject,
        text,
        html,
    }
}

/// How a send failed: permanent SMTP refusals are not retried.
#[derive(Debug, Clone)]
pub struct SendError {
    pub message: String,
    pub retryable: bool,
}

/// Sends `mail` per `cfg`. `extra_root`: a PEM CA to trust besides the public roots
/// (`PULSE_SMTP_CA_FILE`, for a mail server with a private CA).
pub fn send(
    cfg: &EmailConfig,
    mail: &Mail,
    timeout: Duration,
    extra_root: Option<&[u8]>,
) -> Result<(), SendError> {
    let fail = |m: String, retryable| SendError {
        message: m,
        retryable,
    };
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| fail(format!("from: {e}"), false))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(mail.subject.clone())
        .message_id(Some(format!(
            "<{}@pulse-monitoring>",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        )));
    for to in cfg.recipients() {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| fail(format!("recipient {to}: {e}"), false))?;
        builder = builder.to(mb);
    }
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )
        .map_err(|e| fail(format!("message: {e}"), false))?;
    let host = cfg.server.trim();
    let tls_params = || -> Result<TlsParameters, SendError> {
        let mut b = TlsParameters::builder(host.to_string());
        if let Some(pem) = extra_root {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| fail(format!("PULSE_SMTP_CA_FILE: {e}"), false))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls()
            .map_err(|e| fail(format!("TLS setup: {e}"), false))
    };
    let implicit =
        cfg.port == 465 || (cfg.tls && !cfg.start_tls && cfg.port != 25 && cfg.port != 587);
    let tls = if implicit {
        Tls::Wrapper(tls_params()?)
    } else if cfg.start_tls {
        Tls::Required(tls_params()?)
    } else {
        Tls::None
    };
    let mut transport = SmtpTransport::builder_dangerous(host)
        .port(cfg.port)
        .tls(tls)
        .timeout(Some(timeout));
    if !cfg.username.is_empty() && !cfg.password.is_empty() {
        transport =
            transport.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
    }
    transport.build().send(&message).map(|_| ()).map_err(|e| {
        // lettre's texts name the server's answer, never our credentials.
        fail(format!("SMTP: {e}"), !e.is_permanent())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::UtcTime;

    #[test]
    fn subjects() {
        let now = UtcTime::now();
        let mut a = super::super::payloads::sample_alert(now);
        a.level = Level::Critical;
        assert_eq!(
            compose(&[a.clone()], Kind::Alert, "").subject,
            "[Pulse Alert] Critical: CPU on Test VM"
        );
        assert_eq!(
            compose(&[a.clone()], Kind::Resolved, "").subject,
            "[Pulse Resolved] CPU on Test VM"
        );
        let mut b = a.clone();
        b.level = Level::Warning;
        let m = compose(&[a, b], Kind::Alert, "http://pulse");
        assert_eq!(m.subject, "[Pulse Alert] 1 Critical, 1 Warning alerts");
        assert!(m.html.contains("&quot;CPU&quot;"));
        assert!(m.text.contains("Dashboard: http://pulse"));
    }
}
