//! Notifications: `/api/notifications/email|email-providers|apprise|webhooks[/<id>]|
//! webhooks/test|webhook-templates|webhook-history|history|test`, `GET|POST /api/notifications/`
//! (the legacy `POST /api/test-notification` is Pulse's WebSocket toast test, in `api/ws.rs`).
//!
//! Saves answer once the writer has the file on disk; secrets are never answered (the email
//! password is empty, webhook URL paths, header values, custom fields and the Apprise key are
//! masked, and sending the mask back keeps the stored value). Tests run on the net pool.

use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Ctx, Route, Scope};
use crate::notify::config::{AppriseConfig, EmailConfig, WebhookConfig, MASK};
use crate::notify::delivery;
use crate::notify::history::Entry;
use crate::notify::payloads::{self, Kind};
use crate::notify::{ssrf, template, APPRISE_FILE, EMAIL_FILE, WEBHOOKS_FILE};
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

fn success() -> Reply {
    Reply::json(200, &json!({"status": "success"}))
}

/// Answers `ok` once `name` is saved; a refused save answers its error and changes nothing
/// the caller sees (memory is only changed by `apply` after the save was queued).
fn save<T: serde::Serialize>(
    app: &mut App,
    name: &str,
    value: &T,
    ok: impl FnOnce(&mut App) -> Reply + 'static,
) -> Outcome {
    match app.save_notify_file(name, value) {
        Ok(ticket) => {
            app.push_channels();
            Outcome::after_write(ticket, move |app, r| match r {
                Ok(()) => ok(app),
                Err(e) => Reply::error(500, &format!("notification settings not saved: {e}")),
            })
        }
        Err(e) => Reply::error(503, &e).into(),
    }
}

fn get_email(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, &app.notify.email.view()).into()
}

/// An empty password keeps the stored one (the UI never sees it).
fn put_email(app: &mut App, ctx: &Ctx) -> Outcome {
    let mut cfg: EmailConfig = match ctx.req.json() {
        Ok(c) => c,
        Err(r) => return r.into(),
    };
    if cfg.password.is_empty() || cfg.password == MASK {
        cfg.password = app.notify.email.password.clone();
    }
    cfg.to.retain(|t| !t.trim().is_empty());
    if let Err(e) = cfg.validate() {
        return Reply::error(400, &e).into();
    }
    let old = std::mem::replace(&mut app.notify.email, cfg.clone());
    let out = save(app, EMAIL_FILE, &cfg, |_| success());
    if matches!(&out, Outcome::Reply(_)) {
        app.notify.email = old;
    }
    out
}

fn providers(_: &mut App, _: &Ctx) -> Outcome {
    const LIST: [(&str, &str, &str); 11] = [
        (
            "Gmail / Google Workspace",
            "smtp.gmail.com",
            "Use an app password (2-step verification required).",
        ),
        (
            "SendGrid",
            "smtp.sendgrid.net",
            "Username is 'apikey', password is your API key.",
        ),
        (
            "Mailgun",
            "smtp.mailgun.org",
            "Use the SMTP credentials of your domain.",
        ),
        (
            "Amazon SES (US East)",
            "email-smtp.us-east-1.amazonaws.com",
            "Use SMTP credentials from the SES console; verify the sender.",
        ),
        (
            "Microsoft 365 / Outlook",
            "smtp.office365.com",
            "Authenticated SMTP must be enabled for the mailbox.",
        ),
        (
            "Brevo (formerly Sendinblue)",
            "smtp-relay.brevo.com",
            "Use your Brevo SMTP key as the password.",
        ),
        (
            "Postmark",
            "smtp.postmarkapp.com",
            "Username and password are both your server API token.",
        ),
        (
            "SparkPost",
            "smtp.sparkpostmail.com",
            "Username is 'SMTP_Injection', password is an API key.",
        ),
        (
            "Resend",
            "smtp.resend.com",
            "Username is 'resend', password is your API key.",
        ),
        ("SMTP2GO", "mail.smtp2go.com", "Use your SMTP2GO SMTP user."),
        (
            "Custom SMTP Server",
            "",
            "Enter your server's host, port and security.",
        ),
    ];
    let list: Vec<Value> = LIST
        .iter()
        .map(|(name, host, how)| {
            json!({"name": name, "smtpHost": host, "smtpPort": 587, "tls": false, "startTLS": true,
                   "authRequired": true, "instructions": how})
        })
        .collect();
    Reply::json(200, &list).into()
}

fn get_apprise(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, &app.notify.apprise.view()).into()
}

fn put_apprise(app: &mut App, ctx: &Ctx) -> Outcome {
    let mut cfg: AppriseConfig = match ctx.req.json() {
        Ok(c) => c,
        Err(r) => return r.into(),
    };
    cfg.keep_secrets_from(&app.notify.apprise);
    cfg.normalise();
    if cfg.mode == "http" && !cfg.server_url.is_empty() {
        if let Err(e) = ssrf::check_url(&cfg.server_url, &app.webhook_allowed()) {
            return Reply::error(400, &format!("serverUrl: {e}")).into();
        }
    }
    let old = std::mem::replace(&mut app.notify.apprise, cfg.clone());
    let view = cfg.view();
    let out = save(app, APPRISE_FILE, &cfg, move |_| Reply::json(200, &view));
    if matches!(&out, Outcome::Reply(_)) {
        app.notify.apprise = old;
    }
    out
}

fn list_webhooks(app: &mut App, _: &Ctx) -> Outcome {
    let list: Vec<WebhookConfig> = app.notify.webhooks.iter().map(|w| w.view()).collect();
    Reply::json(200, &list).into()
}

/// The checks a webhook passes before it is saved (or tested): URL (SSRF rules; a templated
/// URL is rendered with the sample alert first), service, method, template.
fn check_webhook(app: &App, w: &WebhookConfig) -> Result<(), String> {
    if w.name.trim().is_empty() {
        return Err("name: required".into());
    }
    if !payloads::is_known_service(&w.service) {
        return Err(format!("service: unknown service {:?}", w.service));
    }
    if !matches!(w.method.as_str(), "POST" | "PUT" | "PATCH" | "GET") {
        return Err("method: must be POST, PUT, PATCH or GET".into());
    }
    let url = if w.url.contains("{{") {
        let d = payloads::data(
            &[payloads::sample_alert(UtcTime::now())],
            Kind::Test,
            "",
            &w.custom_fields,
            UtcTime::now(),
        );
        template::render(&w.url, &d, template::Mode::Text).map_err(|e| format!("url: {e}"))?
    } else {
        w.url.clone()
    };
    ssrf::check_url(&url, &app.webhook_allowed()).map_err(|e| format!("url: {e}"))?;
    payloads::validate_template(w)
}

fn save_webhooks(
    app: &mut App,
    list: Vec<WebhookConfig>,
    ok: impl FnOnce(&mut App) -> Reply + 'static,
) -> Outcome {
    let old = std::mem::replace(&mut app.notify.webhooks, list.clone());
    let out = save(app, WEBHOOKS_FILE, &list, ok);
    if matches!(&out, Outcome::Reply(_)) {
        app.notify.webhooks = old;
    }
    out
}

fn create_webhook(app: &mut App, ctx: &Ctx) -> Outcome {
    let mut w: WebhookConfig = match ctx.req.json() {
        Ok(w) => w,
        Err(r) => return r.into(),
    };
    w.normalise();
    if w.id.trim().is_empty() {
        w.id = format!(
            "webhook-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
    }
    if app.notify.webhooks.iter().any(|x| x.id == w.id) {
        return Reply::error(409, &format!("a webhook with id {} exists", w.id)).into();
    }
    if app.notify.webhooks.len() >= 100 {
        return Reply::error(400, "at most 100 webhooks").into();
    }
    if let Err(e) = check_webhook(app, &w) {
        return Reply::error(400, &e).into();
    }
    let mut list = app.notify.webhooks.clone();
    list.push(w.clone());
    let view = w.view();
    save_webhooks(app, list, move |_| Reply::json(200, &view))
}

fn update_webhook(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id").to_string();
    let Some(pos) = app.notify.webhooks.iter().position(|w| w.id == id) else {
        return Reply::error(404, "webhook not found").into();
    };
    let mut w: WebhookConfig = match ctx.req.json() {
        Ok(w) => w,
        Err(r) => return r.into(),
    };
    w.id = id;
    w.normalise();
    w.keep_secrets_from(&app.notify.webhooks[pos]);
    if let Err(e) = check_webhook(app, &w) {
        return Reply::error(400, &e).into();
    }
    let mut list = app.notify.webhooks.clone();
    list[pos] = w;
    save_webhooks(app, list, |_| success())
}

fn delete_webhook(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id");
    let mut list = app.notify.webhooks.clone();
    let before = list.len();
    list.retain(|w| w.id != id);
    if list.len() == before {
        return Reply::error(404, "webhook not found").into();
    }
    save_webhooks(app, list, |_| success())
}

fn templates(_: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, &payloads::templates()).into()
}

fn webhook_history(app: &mut App, _: &Ctx) -> Outcome {
    let list: Vec<Value> = app
        .notify
        .history
        .newest()
        .filter(|e| e.channel == "webhook")
        .take(100)
        .map(Entry::webhook_view)
        .collect();
    Reply::json(200, &list).into()
}

fn history(app: &mut App, ctx: &Ctx) -> Outcome {
    let limit = ctx
        .req
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100usize)
        .min(crate::notify::history::CAP);
    let channel = ctx.req.query_param("channel");
    let list: Vec<&Entry> = app
        .notify
        .history
        .newest()
        .filter(|e| channel.as_deref().is_none_or(|c| e.channel == c))
        .take(limit)
        .collect();
    Reply::json(200, &list).into()
}

/// Runs `planned` deliveries once each on the net pool (no retries: the caller waits) and
/// records them in the history as tests.
fn run_tests(
    app: &mut App,
    planned: Vec<delivery::Planned>,
    answer: fn(Vec<(Entry, String)>) -> Reply,
) -> Outcome {
    let ch = app.notify.channels(app.webhook_allowed());
    let mut tuning = app.notify.tuning.clone();
    tuning.timeout = tuning.timeout.min(Duration::from_secs(15));
    let ca = app.notify.smtp_ca.clone();
    Outcome::defer_net(
        move || {
            planned
                .into_iter()
                .map(|p| {
                    let (a, body) = match &p.job {
                        Ok(job) => {
                            let a = delivery::perform(job, &ch, &tuning, ca.as_deref());
                            let body = a.body.clone();
                            (a, body)
                        }
                        Err(e) => (
                            crate::notify::webhook::Attempt::failed(e.clone(), false),
                            String::new(),
                        ),
                    };
                    let entry = Entry {
                        status_code: a.status,
                        success: a.ok(),
                        error_message: a.error.clone(),
                        timestamp: UtcTime::now().to_rfc3339(),
                        ..p.entry
                    };
                    (entry, body)
                })
                .collect::<Vec<_>>()
        },
        move |app, results: Vec<(Entry, String)>| {
            for (e, _) in &results {
                app.record_notification(e.clone());
            }
            answer(results)
        },
    )
}

/// `POST /webhooks/preview`: the request a webhook as given (the form being edited) would send
/// for the fixed sample alert — method, rendered URL, headers and body — without sending it.
/// Saved secrets are never merged in: a preview shows only what the caller typed.
fn preview_webhook(_app: &mut App, ctx: &Ctx) -> Outcome {
    let mut w: WebhookConfig = match ctx.req.json() {
        Ok(w) => w,
        Err(r) => return r.into(),
    };
    w.normalise();
    if w.name.is_empty() {
        w.name = "Preview".into();
    }
    w.id = "preview".into();
    w.enabled = true;
    let ch = crate::notify::config::Channels {
        webhooks: vec![w],
        ..Default::default()
    };
    let planned = delivery::plan(
        &ch,
        &[payloads::sample_alert(UtcTime::now())],
        Kind::Test,
        Some("webhook"),
    );
    match planned.into_iter().next().map(|p| p.job) {
        Some(Ok(delivery::Job::Http(job))) => Reply::json(
            200,
            &json!({
                "method": job.method,
                "url": job.url,
                "headers": job.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "body": String::from_utf8_lossy(&job.body),
            }),
        ),
        Some(Err(e)) => Reply::error(400, &e),
        _ => Reply::error(400, "nothing to preview"),
    }
    .into()
}

/// `POST /webhooks/test`: a webhook (saved, by `id`/`webhookId`, or given whole) with the
/// fixed test alert → `{"status": <http status>, "response": <body>, "success": true}`, or 400.
fn test_webhook(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: Value = match ctx.req.json() {
        Ok(v) => v,
        Err(r) => return r.into(),
    };
    let by_id = body
        .get("webhookId")
        .or_else(|| body.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| app.notify.webhooks.iter().find(|w| w.id == id).cloned());
    let mut w = match by_id {
        // Edits not saved yet (the form as shown, secrets masked) or just the saved one.
        Some(saved) if body.get("url").is_some() => {
            let mut w: WebhookConfig =
                serde_json::from_value(body.clone()).unwrap_or_else(|_| saved.clone());
            w.keep_secrets_from(&saved);
            w
        }
        Some(saved) => saved,
        None => match serde_json::from_value::<WebhookConfig>(body) {
            Ok(w) => w,
            Err(e) => return Reply::error(400, &format!("Invalid JSON body: {e}")).into(),
        },
    };
    w.normalise();
    if w.name.is_empty() {
        w.name = "Test".into();
    }
    if w.id.is_empty() {
        w.id = "test".into();
    }
    w.enabled = true;
    if let Err(e) = check_webhook(app, &w) {
        return Reply::error(400, &e).into();
    }
    let ch = crate::notify::config::Channels {
        webhooks: vec![w],
        ..Default::default()
    };
    let planned = delivery::plan(
        &ch,
        &[payloads::sample_alert(UtcTime::now())],
        Kind::Test,
        Some("webhook"),
    );
    run_tests(app, planned, |results| {
        let Some((e, body)) = results.into_iter().next() else {
            return Reply::error(500, "nothing to test");
        };
        if e.success {
            Reply::json(
                200,
                &json!({"status": e.status_code, "response": body, "success": true}),
            )
        } else {
            Reply::json(
                400,
                &json!({"status": e.status_code, "response": body, "success": false,
                        "error": e.error_message.unwrap_or_default()}),
            )
        }
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TestBody {
    method: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    config: Option<EmailConfig>,
    webhook_id: Option<String>,
}

/// `POST /api/notifications/test`: every enabled
/// channel, or the one named by `method`/`type` (`email` may carry an unsaved `config`).
fn test_all(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: TestBody = if ctx.req.body.is_empty() {
        TestBody::default()
    } else {
        match ctx.req.json() {
            Ok(b) => b,
            Err(r) => return r.into(),
        }
    };
    let only = body.method.or(body.kind).filter(|m| !m.is_empty());
    let mut ch = app.notify.channels(app.webhook_allowed());
    if let Some(mut cfg) = body.config {
        if cfg.password.is_empty() {
            cfg.password = ch.email.password.clone();
        }
        cfg.enabled = true;
        if let Err(e) = cfg.validate() {
            return Reply::error(400, &e).into();
        }
        ch.email = cfg;
    }
    if let Some(id) = &body.webhook_id {
        ch.webhooks.retain(|w| &w.id == id);
        if ch.webhooks.is_empty() {
            return Reply::error(404, "webhook not found").into();
        }
        ch.webhooks[0].enabled = true;
    }
    if only.as_deref() == Some("apprise") {
        ch.apprise.enabled = true;
    }
    let alert = payloads::sample_alert(UtcTime::now());
    let planned = match only.as_deref() {
        None | Some("all") => delivery::plan(&ch, &[alert], Kind::Test, None),
        Some(c @ ("email" | "webhook")) => delivery::plan(&ch, &[alert], Kind::Test, Some(c)),
        Some("apprise") => delivery::plan(&ch, &[alert], Kind::Test, None)
            .into_iter()
            .filter(|p| p.dest == "apprise")
            .collect(),
        Some(other) => {
            return Reply::error(400, &format!("unknown notification method {other:?}")).into()
        }
    };
    if planned.is_empty() {
        return Reply::error(400, "no notification channel is configured and enabled").into();
    }
    run_tests(app, planned, |results| {
        let failed: Vec<String> = results
            .iter()
            .filter(|(e, _)| !e.success)
            .map(|(e, _)| {
                format!(
                    "{} {}: {}",
                    e.channel,
                    e.name,
                    e.error_message.clone().unwrap_or_default()
                )
            })
            .collect();
        let list: Vec<Value> = results
            .iter()
            .map(|(e, _)| {
                json!({"channel": e.channel, "name": e.name, "success": e.success,
                                 "statusCode": e.status_code, "error": e.error_message})
            })
            .collect();
        if failed.is_empty() {
            Reply::json(
                200,
                &json!({"status": "success", "message": "Test notification sent", "results": list}),
            )
        } else {
            Reply::json(
                400,
                &json!({"error": format!("test notification failed: {}", failed.join("; ")), "results": list}),
            )
        }
    })
}

/// `GET /api/notifications/`: the whole configuration as the UI shows it.
fn overview(app: &mut App, _: &Ctx) -> Outcome {
    let webhooks: Vec<WebhookConfig> = app.notify.webhooks.iter().map(|w| w.view()).collect();
    Reply::json(
        200,
        &json!({"email": app.notify.email.view(), "webhooks": webhooks,
                "apprise": app.notify.apprise.view()}),
    )
    .into()
}

/// `POST /api/notifications/`: `{"email"?: …, "apprise"?: …}` (webhooks have their own CRUD).
fn update(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: Value = match ctx.req.json() {
        Ok(v) => v,
        Err(r) => return r.into(),
    };
    match (body.get("email"), body.get("apprise")) {
        (Some(_), Some(_)) => Reply::error(400, "send email and apprise separately").into(),
        (Some(e), None) => {
            let mut cfg: EmailConfig = match serde_json::from_value(e.clone()) {
                Ok(c) => c,
                Err(e) => return Reply::error(400, &format!("email: {e}")).into(),
            };
            if cfg.password.is_empty() || cfg.password == MASK {
                cfg.password = app.notify.email.password.clone();
            }
            if let Err(e) = cfg.validate() {
                return Reply::error(400, &e).into();
            }
            let old = std::mem::replace(&mut app.notify.email, cfg.clone());
            let out = save(app, EMAIL_FILE, &cfg, |_| success());
            if matches!(&out, Outcome::Reply(_)) {
                app.notify.email = old;
            }
            out
        }
        (None, Some(a)) => {
            let mut cfg: AppriseConfig = match serde_json::from_value(a.clone()) {
                Ok(c) => c,
                Err(e) => return Reply::error(400, &format!("apprise: {e}")).into(),
            };
            cfg.keep_secrets_from(&app.notify.apprise);
            cfg.normalise();
            let old = std::mem::replace(&mut app.notify.apprise, cfg.clone());
            let out = save(app, APPRISE_FILE, &cfg, |_| success());
            if matches!(&out, Outcome::Reply(_)) {
                app.notify.apprise = old;
            }
            out
        }
        (None, None) => Reply::error(400, "expected email or apprise").into(),
    }
}

pub fn routes() -> Vec<Route> {
    let read = Access::Scope(Scope::SettingsRead);
    let write = Access::Scope(Scope::SettingsWrite);
    let route = Route::new;
    vec![
        route(&[Method::Get], "/api/notifications/", read, overview),
        route(&[Method::Post], "/api/notifications/", write, update),
        route(&[Method::Get], "/api/notifications/email", read, get_email),
        route(&[Method::Put], "/api/notifications/email", write, put_email),
        route(
            &[Method::Get],
            "/api/notifications/email-providers",
            read,
            providers,
        ),
        route(
            &[Method::Get],
            "/api/notifications/apprise",
            read,
            get_apprise,
        ),
        route(
            &[Method::Put],
            "/api/notifications/apprise",
            write,
            put_apprise,
        ),
        route(
            &[Method::Get],
            "/api/notifications/webhooks",
            read,
            list_webhooks,
        ),
        route(
            &[Method::Post],
            "/api/notifications/webhooks",
            write,
            create_webhook,
        ),
        route(
            &[Method::Post],
            "/api/notifications/webhooks/test",
            write,
            test_webhook,
        ),
        route(
            &[Method::Post],
            "/api/notifications/webhooks/preview",
            write,
            preview_webhook,
        ),
        route(
            &[Method::Put],
            "/api/notifications/webhooks/{id}",
            write,
            update_webhook,
        ),
        route(
            &[Method::Delete],
            "/api/notifications/webhooks/{id}",
            write,
            delete_webhook,
        ),
        route(
            &[Method::Get],
            "/api/notifications/webhook-templates",
            read,
            templates,
        ),
        route(
            &[Method::Get],
            "/api/notifications/webhook-history",
            read,
            webhook_history,
        ),
        route(&[Method::Get], "/api/notifications/history", read, history),
        route(&[Method::Post], "/api/notifications/test", write, test_all),
    ]
}
