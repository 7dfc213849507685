//! The Settings area (issue #16) in headless Chromium against the real server: each test drives
//! one page the way an admin would and checks the effect through the API or the live estate,
//! and fails on any console error or unexpected failed request (`ui_browser::assert_clean`).
//! Screenshots land in `target/ui-screenshots/settings-*.png`.

use crate::support;
use crate::ui_browser::{assert_clean, sign_in, DEMO};

use support::auth as auth_common;
use support::browser::{artefact, Browser};
use support::TestServer;

/// Signs in and opens `/settings/<page>`, waiting for `ready`.
pub(crate) fn open(s: &TestServer, page: &str, ready: &str) -> Browser {
    let mut b = Browser::launch(1280, 900);
    sign_in(&mut b, s, auth_common::PASSWORD);
    b.wait("document.querySelector('#conn')", 30);
    b.click("nav a[data-path='/settings']");
    b.wait("document.querySelector('.subnav')", 10);
    b.click(&format!(".subnav a[data-page={page}]"));
    b.wait(&format!("location.pathname === '/settings/{page}'"), 10);
    b.wait(ready, 20);
    b
}

fn status_with_token(s: &TestServer, token: &str) -> u16 {
    s.req("GET", "/api/state", &[("X-API-Token", token)], None)
        .status
}

#[test]
fn api_token_created_with_scopes_shown_once_then_revoked() {
    let s = auth_common::start_with_admin(&[]);
    let mut b = open(
        &s,
        "security",
        "document.querySelector('#token-list table')",
    );
    b.wait(
        "document.querySelector('#security-facts')?.textContent.includes('Password sign-in')",
        10,
    );

    b.fill("#token-name", "ci-bot");
    b.click("#scope-monitoring-read");
    b.click("#token-form button[type=submit]");
    let secret = b.wait("document.querySelector('#new-token')?.textContent", 20);
    let secret = secret.as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "a raw token: {secret}");
    b.screenshot(&artefact("settings-security-token.png"), true);
    // The token works, with the scope asked for, and is listed by its hint.
    assert_eq!(status_with_token(&s, &secret), 200);
    let listed = s.req(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &secret)],
        None,
    );
    assert_eq!(listed.status, 403, "monitoring:read cannot read settings");
    let row = b.wait(
        "[...document.querySelectorAll('#token-list tr[data-token-id]')].find(r => r.textContent.includes('ci-bot'))?.textContent",
        10,
    );
    let row = row.as_str().unwrap().to_string();
    assert!(row.contains("monitoring:read"), "{row}");
    assert!(
        !row.contains(&secret),
        "the list shows a hint, not the secret"
    );

    // Dismissed, or after a reload, the secret is nowhere on the page.
    b.click("#new-token-done");
    assert_eq!(
        b.eval(&format!(
            "document.documentElement.outerHTML.includes({secret:?})"
        )),
        serde_json::Value::from(false)
    );
    b.goto(&format!("http://{}/settings/security", s.addr));
    b.wait(
        "document.querySelector('#token-list tr[data-token-id]')",
        20,
    );
    assert_eq!(
        b.eval(&format!(
            "document.documentElement.outerHTML.includes({secret:?}) || (async () => JSON.stringify(await (await fetch('/api/security/tokens')).json()).includes({secret:?}))()"
        )),
        serde_json::Value::from(false),
        "the secret never appears again"
    );

    // Revoke: the first press asks, the second revokes; the token stops working.
    b.click("#token-list tr[data-token-id] button[data-act=revoke]");
    assert_eq!(
        b.eval("document.querySelector('#token-list tr[data-token-id] button[data-act=revoke]').textContent"),
        serde_json::Value::from("Confirm revoke")
    );
    b.click("#token-list tr[data-token-id] button[data-act=revoke]");
    b.wait(
        "!document.querySelector('#token-list tr[data-token-id]')",
        20,
    );
    b.wait(
        "document.querySelector('#token-list-status')?.textContent.includes('revoked')",
        10,
    );
    assert_eq!(status_with_token(&s, &secret), 401);

    // Another browser's session is listed and can be ended; this one is marked.
    let other = auth_common::login_as(&s, auth_common::PASSWORD);
    let other = auth_common::cookie(&other, "pulse_session").unwrap();
    let other_cookie = format!("pulse_session={other}");
    let with_other = |s: &TestServer| {
        s.req("GET", "/api/state", &[("Cookie", &other_cookie)], None)
            .status
    };
    assert_eq!(with_other(&s), 200);
    b.click("#session-refresh");
    b.wait(
        "document.querySelector('#session-list tr[data-current=false] button[data-act=end]')",
        10,
    );
    assert!(b
        .eval("!!document.querySelector('#session-list tr[data-current=true]')")
        .as_bool()
        .unwrap());
    b.click("#session-list tr[data-current=false] button[data-act=end]");
    b.click("#session-list tr[data-current=false] button[data-act=end]");
    b.wait(
        "document.querySelector('#session-list-status')?.textContent.includes('ended')",
        10,
    );
    assert_eq!(with_other(&s), 401, "the other browser is signed out");
    assert!(
        b.eval("!!document.querySelector('#session-list tr[data-current=true]')")
            .as_bool()
            .unwrap(),
        "this one is not"
    );

    // Password change: a wrong current password is the API's message, not a sign-out.
    b.fill("#pw-current", "not my password");
    b.fill("#pw-new", "a brand new password");
    b.fill("#pw-repeat", "a brand new password");
    b.click("#password-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#password-form-error')?.textContent",
        30,
    );
    assert!(err.as_str().unwrap().contains("incorrect"), "{err}");
    assert!(
        b.eval("!!document.querySelector('#token-form')")
            .as_bool()
            .unwrap(),
        "still signed in"
    );
    b.fill("#pw-current", auth_common::PASSWORD);
    b.fill("#pw-new", "a brand new password");
    b.fill("#pw-repeat", "a brand new password");
    b.click("#password-form button[type=submit]");
    b.wait(
        "document.querySelector('#password-form-status')?.textContent.includes('changed')",
        60,
    );
    assert_eq!(
        auth_common::login_as(&s, "a brand new password").status,
        200
    );
    b.fill("#lockout-id", "admin");
    b.click("#lockout-form button[type=submit]");
    b.wait(
        "document.querySelector('#lockout-form-status')?.textContent.includes('reset')",
        20,
    );
    assert_clean(
        &mut b,
        &s,
        &[(401, "/api/state"), (401, "/api/security/change-password")],
    );
}

/// Guest CPU alerts active now, from the page's own session.
const GUEST_CPU_ALERTS: &str =
    "(async () => { const st = await (await fetch('/api/state')).json(); \
  const ids = new Set(st.vms.concat(st.containers).map(g => g.id)); \
  const act = await (await fetch('/api/alerts/active')).json(); \
  return act.filter(a => a.type === 'cpu' && ids.has(a.resourceId)).length; })()";

#[test]
fn alert_threshold_change_fires_in_the_demo_and_bad_values_show_the_server_error() {
    let s = auth_common::start_with_admin(DEMO);
    let mut b = open(
        &s,
        "alerts",
        "document.querySelector('#thr-guest-cpu-trigger')",
    );
    // The hysteresis between trigger and clear is spelled out.
    let note = b.eval("document.querySelector('#thr-guest-cpu-note').textContent");
    assert!(note.as_str().unwrap().contains("hysteresis"), "{note}");
    let before = b.eval(GUEST_CPU_ALERTS).as_u64().unwrap();
    let running_over_1 = b.eval(
        "(async () => { const st = await (await fetch('/api/state')).json(); \
         return st.vms.concat(st.containers).filter(g => g.status === 'running' && g.cpu * 100 > 2).length; })()",
    );
    assert!(
        running_over_1.as_u64().unwrap() > before,
        "the demo has busy guests"
    );

    // A clear above the trigger: the server refuses, its message shows by the form, nothing saved.
    b.fill("#thr-guest-cpu-trigger", "50");
    b.fill("#thr-guest-cpu-clear", "70");
    b.click("#alerts-form button[type=submit]");
    let err = b.wait(
        "document.querySelector('#alerts-form-error')?.textContent",
        20,
    );
    assert!(
        err.as_str().unwrap().contains("guestDefaults.cpu.clear"),
        "server's validation message: {err}"
    );
    let saved = b.eval("(async () => (await (await fetch('/api/alerts/config')).json()).guestDefaults.cpu.trigger)()");
    assert_ne!(saved, serde_json::Value::from(50), "nothing saved");

    // Trigger at 1 %: the busy guests fire.
    b.fill("#thr-guest-cpu-trigger", "1");
    b.fill("#thr-guest-cpu-clear", "0.5");
    b.click("#alerts-form button[type=submit]");
    b.wait(
        "document.querySelector('#alerts-form-status')?.textContent.includes('saved')",
        20,
    );
    assert_eq!(
        b.eval("document.querySelector('#alerts-form-error').textContent"),
        serde_json::Value::from("")
    );
    b.screenshot(&artefact("settings-alerts.png"), true);
    let fired = b.wait(
        &format!("(async () => {{ const n = await {GUEST_CPU_ALERTS}; return n > {before} ? n : 0; }})()"),
        60,
    );
    assert!(fired.as_u64().unwrap() > before);
    // The header badge counts them.
    b.wait(
        "Number(document.querySelector('#alert-badge .count')?.textContent) > 0",
        90,
    );
    // The history timeline lists them; the search filters it.
    b.click("#hist-period");
    b.eval("document.querySelector('#hist-period').dispatchEvent(new Event('change'))");
    b.wait(
        "document.querySelector('#alert-history li[data-alert]')",
        30,
    );
    b.fill("#hist-search", "no such resource anywhere");
    b.wait(
        "!document.querySelector('#alert-history li[data-alert]')",
        5,
    );
    b.fill("#hist-search", "");
    b.wait("document.querySelector('#alert-history li[data-alert]')", 5);

    // From a guest's detail drawer to its own thresholds: preselected, saved as an override.
    b.click("nav a[data-path='/proxmox/overview']");
    let guest = b.wait(
        "document.querySelector('[aria-label=Guests] .vt-row[data-id]')?.dataset.id",
        30,
    );
    let guest = guest.as_str().unwrap().to_string();
    b.click(&format!("[aria-label=Guests] .vt-row[data-id=\"{guest}\"]"));
    b.wait("document.querySelector('#drawer-thresholds')", 10);
    b.click("#drawer-thresholds");
    b.wait(
        "location.pathname === '/settings/alerts' && !document.querySelector('.drawer')",
        10,
    );
    b.wait("document.querySelector('#ov-resource')", 30);
    assert_eq!(
        b.eval("document.querySelector('#ov-resource').value"),
        serde_json::Value::from(guest.clone())
    );
    b.fill("#ov-trigger", "97");
    b.fill("#ov-clear", "93");
    b.click("#ov-add");
    b.click("#alerts-form button[type=submit]");
    b.wait(
        "document.querySelector('#alerts-form-status')?.textContent.includes('saved')",
        20,
    );
    let ov = b.eval(&format!(
        "(async () => (await (await fetch('/api/alerts/config')).json()).overrides[{guest:?}])()"
    ));
    assert_eq!(ov["cpu"]["trigger"].as_f64(), Some(97.0), "{ov}");
    b.wait(
        &format!("document.querySelector('#alert-overrides tr[data-override=\"{guest}\"]')"),
        10,
    );
    assert_clean(
        &mut b,
        &s,
        &[(401, "/api/state"), (400, "/api/alerts/config")],
    );
}

#[test]
fn node_added_through_the_ui_with_a_pinned_fingerprint_is_polled() {
    use pulse::proxmox::Product;
    use pulse::sim::{SimConfig, Simulator, TOKEN_ID};
    let sim = Simulator::start(SimConfig::default()).expect("simulator");
    let s = auth_common::start_with_admin(&[]);
    let mut b = open(
        &s,
        "nodes",
        "document.querySelector('#node-form #node-host')",
    );

    b.fill("#node-name", "lab");
    b.fill("#node-host", &sim.https_url(Product::Pve));
    b.fill("#node-token-name", TOKEN_ID);
    b.fill("#node-token-value", "not-the-secret");
    // Certificate checked but not trusted: the test shows the one the host presents; trust it.
    b.click("#node-verify");
    b.click("#node-test");
    let shown = b.wait(
        "document.querySelector('#node-presented-fp')?.textContent",
        30,
    );
    assert_eq!(shown, serde_json::Value::from(sim.fingerprint()));
    let err = b.eval("document.querySelector('#node-form-error').textContent");
    assert!(err.as_str().unwrap().contains("not trusted"), "{err}");
    b.click("#node-trust");
    assert_eq!(
        b.eval("document.querySelector('#node-fingerprint').value"),
        serde_json::Value::from(sim.fingerprint())
    );
    // A wrong token: the connection test shows the API's message.
    b.click("#node-test");
    let err = b.wait(
        "document.querySelector('#node-form-error')?.textContent",
        30,
    );
    assert!(
        err.as_str().unwrap().contains("Authentication failed"),
        "the API's message: {err}"
    );
    // The right one: the test passes, then the node is saved and polled.
    b.fill("#node-token-value", &sim.token_secret());
    b.click("#node-test");
    let ok = b.wait(
        "document.querySelector('#node-form-status')?.textContent",
        30,
    );
    assert_eq!(
        b.eval("document.querySelector('#node-form-error').textContent"),
        serde_json::Value::from(""),
        "{ok}"
    );
    b.click("#node-form button[type=submit]");
    b.wait(
        "document.querySelector('#node-form-status')?.textContent.includes('saved')",
        20,
    );
    b.wait(
        "document.querySelector('#node-list tr[data-node][data-status=connected]')?.textContent.includes('fingerprint pinned')",
        60,
    );
    b.screenshot(&artefact("settings-nodes.png"), true);
    let saved = b.eval("(async () => (await (await fetch('/api/config/nodes')).json()).find(n => n.name === 'lab'))()");
    assert_eq!(
        saved["fingerprint"],
        serde_json::Value::from(sim.fingerprint())
    );
    assert_eq!(saved["hasToken"], serde_json::Value::from(true));
    let polled = b.wait(
        "(async () => (await (await fetch('/api/state')).json()).nodes.length)()",
        60,
    );
    // Edit with the secret left empty: the stored token stays, the change is saved.
    b.click("#node-list tr[data-node] button[data-act=edit]");
    assert_eq!(
        b.eval("document.querySelector('#node-name').value"),
        serde_json::Value::from("lab")
    );
    b.fill("#node-guest-url", "https://pve.example:8006");
    b.click("#node-form button[type=submit]");
    b.wait(
        "document.querySelector('#node-form-status')?.textContent.includes('saved')",
        20,
    );
    let edited = b.eval("(async () => (await (await fetch('/api/config/nodes')).json()).find(n => n.name === 'lab'))()");
    assert_eq!(
        edited["guestURL"],
        serde_json::Value::from("https://pve.example:8006")
    );
    assert_eq!(
        edited["hasToken"],
        serde_json::Value::from(true),
        "secret kept"
    );
    assert_eq!(
        edited["fingerprint"],
        serde_json::Value::from(sim.fingerprint())
    );
    // Delete asks once more, then the node is gone from the configuration.
    // The list repaints after the save above (its reload may land between the presses): the
    // first press arms the button, and a repaint keeps it armed.
    b.click("#node-list tr[data-node] button[data-act=delete]");
    b.wait(
        "document.querySelector('#node-list tr[data-node] button[data-act=delete][data-armed]')",
        20,
    );
    b.click("#node-list tr[data-node] button[data-act=delete]");
    b.wait("!document.querySelector('#node-list tr[data-node]')", 20);
    assert_eq!(
        b.eval("(async () => (await (await fetch('/api/config/nodes')).json()).length)()"),
        serde_json::Value::from(0)
    );
    // The setup-script flow: a one-time code inside a copyable command.
    b.fill("#setup-host", "https://192.0.2.10:8006");
    b.click("#setup-form button[type=submit]");
    let cmd = b.wait("document.querySelector('#setup-command')?.textContent", 20);
    let cmd = cmd.as_str().unwrap();
    assert!(
        cmd.contains("/api/setup-script?type=pve") && cmd.contains("PULSE_SETUP_TOKEN="),
        "{cmd}"
    );
    assert!(
        polled.as_u64().unwrap() > 0,
        "the simulator's nodes are in the state"
    );
    assert_clean(
        &mut b,
        &s,
        &[
            (401, "/api/state"),
            (400, "/api/config/nodes/test-connection"),
        ],
    );
}
