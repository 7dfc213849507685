//! The Settings area, part 2 (issue #16): notifications against a loopback webhook receiver,
//! system settings with export and import of the configuration, and every page at 360 px and
//! with the keyboard only. Helpers shared with `ui_settings`.

use crate::support;
use crate::ui_browser::{assert_clean, DEMO};
use crate::ui_settings::open;

use support::auth as auth_common;
use support::browser::{artefact, Browser};
use support::TestServer;

/// A one-thread HTTP receiver on loopback: every request's head and body go to the channel.
fn receiver() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            if tx
                .send((head, String::from_utf8_lossy(&body).into()))
                .is_err()
            {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn webhook_to_a_local_receiver_sends_the_custom_template_with_headers() {
    let (port, rx) = receiver();
    let mut env = DEMO.to_vec();
    env.push(("PULSE_WEBHOOK_ALLOWED_CIDRS", "127.0.0.1/32"));
    let s = auth_common::start_with_admin(&env);
    let mut b = open(
        &s,
        "notifications",
        "document.querySelector('#hook-service option[value=discord]') && document.querySelector('#hook-list table')",
    );
    // No name: the server's validation message shows by the form.
    b.fill("#hook-url", &format!("http://127.0.0.1:{port}/hook"));
    b.click("#hook-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#hook-form-error')?.textContent",
        20,
    );
    assert!(err.as_str().unwrap().contains("name"), "{err}");

    b.fill("#hook-name", "receiver");
    b.fill("#hook-headers", "X-Pulse-Test: yes");
    b.fill(
        "#hook-template",
        r#"{"text": "{{.Level}}: {{.Message}}", "resource": "{{.ResourceName}}"}"#,
    );
    // The preview renders the template with a sample alert, without sending anything.
    b.click("#hook-preview-btn");
    let shown = b.wait("document.querySelector('#hook-preview')?.textContent", 20);
    let shown = shown.as_str().unwrap().to_string();
    assert!(
        shown.starts_with(&format!("POST http://127.0.0.1:{port}/hook"))
            && shown.contains("X-Pulse-Test: yes")
            && shown.contains("\"resource\""),
        "{shown}"
    );
    assert!(rx.try_recv().is_err(), "a preview sends nothing");
    b.click("#hook-form button[type=submit]");
    b.wait(
        "document.querySelector('#hook-form-status')?.textContent.includes('saved')",
        20,
    );
    b.wait("document.querySelector('#hook-list tr[data-hook]')", 10);
    b.click("#hook-list tr[data-hook] button[data-act=test]");
    let (head, body) = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the test reached the receiver");
    assert!(head.starts_with("POST /hook "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-pulse-test: yes"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    let text = v["text"].as_str().unwrap_or_default();
    assert!(text.contains(':') && text.len() > 3, "{body}");
    assert!(
        !v["resource"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    b.wait(
        "document.querySelector('#hook-list-status')?.textContent.includes('HTTP 200')",
        20,
    );
    // The delivery history lists it.
    b.wait(
        "document.querySelector('#hook-history tr[data-ok=true]')?.textContent.includes('receiver')",
        20,
    );

    // Email: a provider preset fills the server; a bad address is the server's message.
    b.click("#email-enabled");
    b.eval("(() => { const s = document.querySelector('#email-provider'); s.value = 'SendGrid'; s.dispatchEvent(new Event('change')); })()");
    assert_eq!(
        b.eval("document.querySelector('#email-server').value"),
        serde_json::Value::from("smtp.sendgrid.net")
    );
    b.fill("#email-from", "pulse@example.com");
    b.fill("#email-to", "not an address");
    b.click("#email-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#email-form-error')?.textContent",
        20,
    );
    assert!(
        err.as_str().unwrap().contains("invalid email address"),
        "{err}"
    );
    b.fill("#email-to", "ops@example.com, oncall@example.com");
    b.click("#email-form button[type=submit]");
    b.wait(
        "document.querySelector('#email-form-status')?.textContent.includes('saved')",
        20,
    );
    let saved = b.eval("(async () => await (await fetch('/api/notifications/email')).json())()");
    assert_eq!(
        saved["server"],
        serde_json::Value::from("smtp.sendgrid.net")
    );
    assert_eq!(
        saved["to"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    b.screenshot(&artefact("settings-notifications.png"), true);
    assert_clean(
        &mut b,
        &s,
        &[
            (401, "/api/state"),
            (400, "/api/notifications/webhooks"),
            (400, "/api/notifications/email"),
        ],
    );
}

/// Sets the file of `<input type=file>` `selector` through the DevTools protocol.
fn set_file(b: &mut Browser, selector: &str, path: &std::path::Path) {
    let doc = b.call("DOM.getDocument", serde_json::json!({}));
    let root = doc["root"]["nodeId"].clone();
    let node = b.call(
        "DOM.querySelector",
        serde_json::json!({"nodeId": root, "selector": selector}),
    );
    b.call(
        "DOM.setFileInputFiles",
        serde_json::json!({"nodeId": node["nodeId"], "files": [path.to_string_lossy()]}),
    );
}

fn retention(s: &TestServer) -> serde_json::Value {
    let r = auth_common::login_as(s, auth_common::PASSWORD);
    let cookie = auth_common::cookie(&r, "pulse_session").unwrap();
    s.req(
        "GET",
        "/api/system/settings",
        &[("Cookie", &format!("pulse_session={cookie}"))],
        None,
    )
    .json()["metricsRetentionDays"]
        .clone()
}

#[test]
fn system_settings_validate_then_export_and_import_restore_them() {
    let s = auth_common::start_with_admin(&[]);
    let mut b = open(
        &s,
        "system",
        "document.querySelector('#set-metricsRetentionDays')",
    );
    // Out of range: the server names the key, nothing changes.
    b.fill("#set-metricsRetentionDays", "30");
    b.click("#system-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#system-form-error')?.textContent",
        20,
    );
    assert!(
        err.as_str().unwrap().contains("metricsRetentionDays"),
        "{err}"
    );
    b.fill("#set-metricsRetentionDays", "3");
    b.click("#system-form button[type=submit]");
    b.wait(
        "document.querySelector('#system-form-status')?.textContent.includes('metricsRetentionDays')",
        20,
    );
    assert_eq!(retention(&s), serde_json::Value::from(3));

    // Export: the passphrase rule is shown and enforced by the server.
    let dir = support::temp_dir("ui-export");
    b.call(
        "Page.setDownloadBehavior",
        serde_json::json!({"behavior": "allow", "downloadPath": dir.to_string_lossy()}),
    );
    let rules = b.eval("document.querySelector('#export-rules').textContent");
    assert!(rules.as_str().unwrap().contains("12 characters"), "{rules}");
    b.fill("#export-pass", "short");
    b.fill("#export-pass2", "short");
    b.click("#export-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#export-form-error')?.textContent",
        20,
    );
    assert!(err.as_str().unwrap().contains("at least 12"), "{err}");
    let pass = "a long enough passphrase";
    b.fill("#export-pass", pass);
    b.fill("#export-pass2", pass);
    b.click("#export-form button[type=submit]");
    b.wait(
        "document.querySelector('#export-form-status')?.textContent.includes('Exported')",
        30,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let file = loop {
        let done = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "enc"));
        if let Some(f) = done {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no download");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };

    // Change the setting, then import: a wrong passphrase is refused with the API's message,
    // the right one brings the exported value back.
    b.fill("#set-metricsRetentionDays", "5");
    b.click("#system-form button[type=submit]");
    b.wait(
        "document.querySelector('#system-form-status')?.textContent.includes('metricsRetentionDays')",
        20,
    );
    assert_eq!(retention(&s), serde_json::Value::from(5));
    set_file(&mut b, "#import-file", &file);
    b.fill("#import-pass", "not the passphrase!");
    b.click("#import-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#import-form-error')?.textContent",
        30,
    );
    assert!(err.as_str().unwrap().contains("passphrase"), "{err}");
    set_file(&mut b, "#import-file", &file);
    b.fill("#import-pass", pass);
    b.click("#import-form button[type=submit]");
    b.wait(
        "document.querySelector('#import-form-status')?.textContent.includes('imported')",
        30,
    );
    assert_eq!(retention(&s), serde_json::Value::from(3));
    b.wait(
        "document.querySelector('#set-metricsRetentionDays').value === '3'",
        10,
    );
    // Diagnostics run on demand; an agent command carries a new docker:report token.
    b.click("#diag-run");
    b.wait("document.querySelector('#diag-out dl.facts')", 30);
    b.click("#agent-docker-mint");
    let cmd = b.wait(
        "document.querySelector('#agent-docker-cmd').textContent.includes('pulse_') && document.querySelector('#agent-docker-cmd').textContent",
        20,
    );
    let cmd = cmd.as_str().unwrap().to_string();
    assert!(cmd.contains("/install-docker-agent.sh"), "{cmd}");
    let token = cmd.rsplit("--token ").next().unwrap().trim().to_string();
    let report = s.req("GET", "/api/state", &[("X-API-Token", &token)], None);
    assert_eq!(report.status, 403, "docker:report only: no state");
    let scopes = b.eval("(async () => (await (await fetch('/api/security/tokens')).json()).tokens.map(t => t.scopes).flat())()");
    assert!(
        scopes
            .as_array()
            .unwrap()
            .contains(&serde_json::Value::from("docker:report")),
        "{scopes}"
    );
    b.screenshot(&artefact("settings-system.png"), true);
    assert_clean(
        &mut b,
        &s,
        &[
            (401, "/api/state"),
            (400, "/api/system/settings/update"),
            (400, "/api/config/export"),
            (400, "/api/config/import"),
        ],
    );
}

fn key(b: &mut Browser, key: &str, code: &str, vk: u32, text: &str) {
    let mut down = serde_json::json!({"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk});
    if !text.is_empty() {
        down["text"] = serde_json::Value::from(text);
    }
    b.call("Input.dispatchKeyEvent", down);
    b.call(
        "Input.dispatchKeyEvent",
        serde_json::json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
    );
}

/// Presses Tab until `selector` has the focus (at most `max` presses).
fn tab_to(b: &mut Browser, selector: &str, max: usize) {
    let sel = serde_json::to_string(selector).unwrap();
    for _ in 0..max {
        key(b, "Tab", "Tab", 9, "");
        if b.eval(&format!(
            "document.activeElement === document.querySelector({sel})"
        )) == true
        {
            return;
        }
    }
    panic!("Tab never reached {selector}");
}

/// Controls on screen without an accessible name, and positive tabindex values (which break
/// the reading order).
const UNLABELLED: &str = "[...document.querySelectorAll('#view input, #view select, #view textarea, #view button')]
  .filter(e => e.offsetParent !== null && e.getAttribute('aria-hidden') !== 'true')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.id || e.outerHTML.slice(0, 80))
  .concat([...document.querySelectorAll('#view [tabindex]')].filter(e => e.tabIndex > 0).map(e => 'tabindex>0: ' + e.id))";

#[test]
fn every_settings_page_fits_a_phone_and_works_with_the_keyboard() {
    let s = auth_common::start_with_admin(DEMO);
    let mut b = open(&s, "nodes", "document.querySelector('#node-list table')");
    b.set_viewport(360, 740);
    let pages: &[(&str, &str)] = &[
        (
            "nodes",
            "document.querySelector('#node-list tr[data-node]')",
        ),
        ("security", "document.querySelector('#token-list table')"),
        ("alerts", "document.querySelector('#thr-guest-cpu-trigger')"),
        (
            "notifications",
            "document.querySelector('#hook-service option[value=discord]')",
        ),
        (
            "system",
            "document.querySelector('#set-metricsRetentionDays')",
        ),
    ];
    for (page, ready) in pages {
        b.click(&format!(".subnav a[data-page={page}]"));
        b.wait(&format!("location.pathname === '/settings/{page}'"), 10);
        b.wait(ready, 20);
        b.pump(300);
        let widths =
            b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{page}: horizontal scroll at 360 px: {widths}"
        );
        // body hides sideways overflow, so also look for anything poking out of the viewport
        // (tables scroll inside their own box, which is allowed).
        let out = b.eval(
            "[...document.querySelectorAll('#view *')].filter(e => e.offsetParent !== null && !e.closest('.tscroll') \
             && e.getBoundingClientRect().right > innerWidth + 1).map(e => `${e.tagName}#${e.id}.${e.className}`).slice(0, 5)",
        );
        assert_eq!(out, serde_json::json!([]), "{page}: wider than 360 px");
        let bad = b.eval(UNLABELLED);
        assert_eq!(
            bad,
            serde_json::json!([]),
            "{page}: controls without a name"
        );
        b.screenshot(&artefact(&format!("settings-{page}-phone.png")), false);
    }

    // Keyboard only: from the sub-navigation to a created token, without a click.
    b.set_viewport(1280, 900);
    b.eval("document.querySelector(\".subnav a[data-page=security]\").focus()");
    key(&mut b, "Enter", "Enter", 13, "\r");
    b.wait(
        "location.pathname === '/settings/security' && document.querySelector('#token-name')",
        10,
    );
    b.eval("document.querySelector('.subnav a[data-page=security]').focus()");
    tab_to(&mut b, "#token-name", 60);
    b.call("Input.insertText", serde_json::json!({"text": "keyboard"}));
    tab_to(&mut b, "#scope-monitoring-read", 5);
    key(&mut b, " ", "Space", 32, " ");
    assert_eq!(
        b.eval("document.querySelector('#scope-monitoring-read').checked"),
        serde_json::Value::from(true)
    );
    tab_to(&mut b, "#token-form button[type=submit]", 10);
    key(&mut b, "Enter", "Enter", 13, "\r");
    b.wait("document.querySelector('#new-token')?.textContent", 20);
    assert_eq!(
        b.eval("document.activeElement.id"),
        serde_json::Value::from("new-token"),
        "the new secret takes the focus so it can be read and copied"
    );
    assert_clean(&mut b, &s, &[(401, "/api/state")]);
}
