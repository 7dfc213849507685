//! The web UI in headless Chromium (DevTools protocol from Rust, `support::browser`) against
//! the real server: first-run setup, sign-in with the lockout feedback, the overview showing
//! the demo estate with the numbers of `/api/state`, a simulator change arriving live, sorting,
//! filtering, search, column choice, the keyboard, the guest drawer, the connection state with
//! reconnect back-off, and no request outside the server (every view, the theme and a 360 px
//! phone: `ui_views`). Every test fails on a console error or failed request.
//! Screenshots land in `target/ui-screenshots/`.

use crate::support;

use serde_json::Value;
use support::auth as auth_common;
use support::browser::{artefact, Browser};
use support::TestServer;

pub(crate) const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "3"),
    ("PULSE_MOCK_LXCS_PER_NODE", "2"),
];

/// No console error, no failed load, no request outside the server, and only the HTTP error
/// answers the test expects (`allowed`: path prefixes with their status).
pub(crate) fn assert_clean(b: &mut Browser, s: &TestServer, allowed: &[(u16, &str)]) {
    b.pump(300);
    assert!(b.errors.is_empty(), "browser errors: {:#?}", b.errors);
    let origin = format!("http://{}", s.addr);
    let outside: Vec<&String> = b
        .requests
        .iter()
        .filter(|u| !u.starts_with(&origin) && !u.starts_with("data:") && *u != "about:blank")
        .collect();
    assert!(
        outside.is_empty(),
        "requests outside the server: {outside:?}"
    );
    let unexpected: Vec<&(u16, String)> = b
        .http_errors
        .iter()
        .filter(|(st, url)| {
            let path = url.strip_prefix(&origin).unwrap_or(url);
            !allowed.iter().any(|(a, p)| a == st && path.starts_with(p))
        })
        .collect();
    assert!(unexpected.is_empty(), "failed requests: {unexpected:?}");
}

/// Signs in through the login form.
pub(crate) fn sign_in(b: &mut Browser, s: &TestServer, password: &str) {
    b.goto(&format!("http://{}/", s.addr));
    b.wait("document.querySelector('#f-username')", 20);
    b.fill("#f-username", auth_common::USER);
    b.fill("#f-password", password);
    b.click("button[type=submit]");
}

pub(crate) fn demo_with_admin() -> TestServer {
    auth_common::start_with_admin(DEMO)
}

pub(crate) fn signed_in_overview(s: &TestServer) -> Browser {
    signed_in_overview_with(s, None)
}

/// As `signed_in_overview`, with a script run in every new document before the app's own.
fn signed_in_overview_with(s: &TestServer, init: Option<&str>) -> Browser {
    let mut b = Browser::launch(1440, 900);
    if let Some(src) = init {
        b.call(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": src }),
        );
    }
    sign_in(&mut b, s, auth_common::PASSWORD);
    b.wait(
        "document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]').length > 0",
        40,
    );
    b.wait(
        "document.querySelector('#conn')?.dataset.status === 'live'",
        20,
    );
    b
}

#[test]
fn first_run_setup_then_sign_in_shows_remaining_attempts() {
    let s = TestServer::start(&[]);
    let mut b = Browser::launch(1280, 900);
    b.goto(&format!("http://{}/", s.addr));
    b.wait("document.querySelector('#f-setupToken')", 20);
    let token = std::fs::read_to_string(s.data_dir.join(".bootstrap_token")).unwrap();
    b.fill("#f-setupToken", token.trim());
    b.fill("#f-username", "admin");
    b.fill("#f-password", auth_common::PASSWORD);
    b.fill("#f-password2", auth_common::PASSWORD);
    b.screenshot(&artefact("setup.png"), false);
    b.click("button[type=submit]");
    let shown = b.wait("document.querySelector('#setup-token')?.textContent", 20);
    assert_eq!(
        shown.as_str().unwrap().len(),
        48,
        "the API token is shown once"
    );
    assert!(
        !s.data_dir.join(".bootstrap_token").exists(),
        "bootstrap token spent"
    );

    b.click(".auth-card button.primary");
    b.wait("document.querySelector('#f-password')", 20);
    sign_in(&mut b, &s, "wrong password!");
    let err = b.wait("document.querySelector('#login-error')?.textContent", 20);
    let err = err.as_str().unwrap().to_string();
    assert!(
        err.contains("attempts remaining"),
        "lockout feedback: {err}"
    );
    b.screenshot(&artefact("login-error.png"), false);

    sign_in(&mut b, &s, auth_common::PASSWORD);
    b.wait(
        "document.querySelector('#conn')?.dataset.status === 'live'",
        30,
    );
    assert_eq!(
        b.eval("location.pathname"),
        Value::from("/proxmox/overview")
    );
    // Sign out: back to the login page, the session no longer works.
    b.click("#logout");
    b.wait("document.querySelector('#f-password')", 20);
    // Expected: the first probes before setup/sign-in and the wrong password.
    assert_clean(&mut b, &s, &[(401, "/api/state"), (401, "/api/login")]);
}

/// Checks every guest and node row against a fresh `/api/state` in the page; values move
/// with the simulator's clock, so it retries until one snapshot matches the screen.
const COMPARE_JS: &str = r#"(async () => {
  const st = await (await fetch('/api/state', {headers: {Accept: 'application/json'}})).json();
  const trigger = (await (await fetch('/api/alerts/config', {headers: {Accept: 'application/json'}})).json()).nodeDefaults?.temperature?.trigger;
  const bad = [];
  let temps = 0, hot = 0;
  const rows = (label) => new Map([...document.querySelectorAll(`[aria-label="${label}"] .vt-row[data-id]`)].filter(r => !r.hidden).map(r => [r.dataset.id, r]));
  const meter = (row, col) => row.querySelector(`[role=cell]:nth-child(${col}) [role=meter]`)?.getAttribute('aria-valuenow');
  const colIndex = (label, id) => [...document.querySelectorAll(`[aria-label="${label}"] .vt-head [role=columnheader]`)].findIndex(c => c.dataset.col === id) + 2;
  const g = rows('Guests'), n = rows('Nodes');
  const guests = st.vms.concat(st.containers).filter(x => !x.template);
  for (const x of guests) {
    const r = g.get(x.id);
    if (!r) { bad.push(`missing guest ${x.id}`); continue; }
    if (!r.textContent.includes(x.name)) bad.push(`name of ${x.id}`);
    if (!r.textContent.includes(String(x.vmid))) bad.push(`vmid of ${x.id}`);
    if (x.status === 'running') {
      const cpu = meter(r, colIndex('Guests', 'cpu')), mem = meter(r, colIndex('Guests', 'mem'));
      if (cpu !== (x.cpu * 100).toFixed(1)) bad.push(`cpu of ${x.id}: ${cpu} vs ${(x.cpu * 100).toFixed(1)}`);
      if (mem !== Math.min(100, x.memory.usage).toFixed(1)) bad.push(`mem of ${x.id}: ${mem} vs ${x.memory.usage}`);
      const dk = x.disk?.total > 0 && x.disk.usage >= 0 ? Math.min(100, x.disk.usage).toFixed(1) : null;
      if (meter(r, colIndex('Guests', 'disk')) !== dk && !(dk === null && meter(r, colIndex('Guests', 'disk')) === undefined)) bad.push(`disk of ${x.id}: ${meter(r, colIndex('Guests', 'disk'))} vs ${dk}`);
    } else if (!r.querySelector('.dot.off')) bad.push(`${x.id} should show stopped`);
  }
  for (const x of st.nodes) {
    const r = n.get(x.id);
    if (!r) { bad.push(`missing node ${x.id}`); continue; }
    const cpu = meter(r, colIndex('Nodes', 'cpu'));
    if (cpu !== (x.cpu * 100).toFixed(1)) bad.push(`node cpu of ${x.id}: ${cpu} vs ${x.cpu}`);
    const mem = meter(r, colIndex('Nodes', 'mem'));
    if (mem !== Math.min(100, x.memory.usage).toFixed(1)) bad.push(`node memory of ${x.id}: ${mem} vs ${x.memory.usage}`);
    if (x.disk?.total > 0) {
      const disk = meter(r, colIndex('Nodes', 'disk')), want = Number.isFinite(x.disk.usage) ? x.disk.usage : x.disk.used / x.disk.total * 100;
      if (disk !== Math.min(100, want).toFixed(1)) bad.push(`node disk of ${x.id}: ${disk} vs ${want}`);
    }
    // Temperature: the hottest of package, max and cores, with the hot badge at the trigger.
    const t = x.temperature?.available ? [x.temperature.cpuPackage, x.temperature.cpuMax, ...(x.temperature.cores || []).map(c => c.temp)].filter(v => Number.isFinite(v) && v > 0) : [];
    const tc = r.querySelector(`[role=cell]:nth-child(${colIndex('Nodes', 'temp')})`);
    const shownT = tc.querySelector('.temp')?.textContent ?? null, wantT = t.length ? `${Math.round(Math.max(...t))}°C` : null;
    if (shownT !== wantT) bad.push(`temperature of ${x.id}: ${shownT} vs ${wantT}`);
    if (t.length) {
      temps++;
      const isHot = trigger > 0 && Math.max(...t) >= trigger;
      if (isHot !== !!tc.querySelector('.badge.hot')) bad.push(`hot badge of ${x.id} (${Math.max(...t)} vs ${trigger})`);
      if (isHot) hot++;
    }
    const mine = guests.filter(g => g.instance === x.instance && g.node === x.node);
    const count = (col) => r.querySelector(`[role=cell]:nth-child(${colIndex('Nodes', col)})`).textContent;
    if (count('vms') !== String(mine.filter(g => g.type === 'qemu').length) || count('cts') !== String(mine.filter(g => g.type !== 'qemu').length)) bad.push(`guest counts of ${x.id}`);
  }
  // Rows on screen (a stale duplicate would count twice here but once in the map).
  const visible = [...document.querySelectorAll('[aria-label="Guests"] .vt-row[data-id]')].filter(r => r.offsetParent !== null).length;
  return {guests: guests.length, nodes: st.nodes.length, shown: g.size, visible, temps, hot, bad};
})()"#;

#[test]
fn overview_matches_the_state_and_updates_live() {
    let s = demo_with_admin();
    // A node temperature trigger under the demo's readings (48–75 °C on pve1, from the demo
    // host agent running there), so the hot badge must show.
    let admin = auth_common::login(&s);
    let cfg = serde_json::json!({"nodeDefaults": {"temperature": {"trigger": 45, "clear": 40}}});
    let r = admin.send(&s, "PUT", "/api/alerts/config", Some(&cfg.to_string()));
    assert_eq!(r.status, 200, "{}", r.text());
    // Keeps the page's WebSockets reachable so the test can drop the feed.
    let mut b = signed_in_overview_with(
        &s,
        Some(
            "window.__sockets = []; const W = window.WebSocket; \
             window.WebSocket = class extends W { constructor(u, ...a) { \
               super(window.__blockWs ? String(u).replace(/\\/ws$/, '/ws-unreachable') : u, ...a); window.__sockets.push(this); } };",
        ),
    );
    let mut last = Value::Null;
    // The demo host agent on pve1 reports on its own schedule: wait for its temperature too.
    for _ in 0..60 {
        last = b.eval(COMPARE_JS);
        if last["bad"].as_array().is_some_and(Vec::is_empty) && last["temps"] == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        last["bad"].as_array().is_some_and(Vec::is_empty),
        "screen differs from /api/state: {last}"
    );
    assert_eq!(last["nodes"], 2);
    assert_eq!(
        last["temps"], 1,
        "pve1 has the demo host agent's temperature: {last}"
    );
    assert_eq!(last["hot"], 1, "past the trigger: {last}");
    assert_eq!(last["guests"], last["shown"], "every guest listed");
    assert_eq!(last["guests"], last["visible"], "each guest once");
    assert!(last["guests"].as_u64().unwrap() >= 8);
    b.screenshot(&artefact("overview.png"), true);

    // A change on the simulator reaches the open page without a reload.
    stop_a_vm_and_see_it(&mut b, &s);
    assert!(
        b.eval("window.__pulsePerf.viaWorker").as_u64() > Some(1),
        "frames are parsed in the worker"
    );
    assert_clean(&mut b, &s, &[(401, "/api/state")]);

    // The feed drops while the server cannot be reached (the page's sockets are pointed at a
    // path that does not upgrade): the pill says so and counts down,
    // each failed attempt waits longer (1 s, 2 s, 4 s…); once the server is back it goes live
    // again by itself and the data keeps flowing.
    b.eval("window.__blockWs = true; window.__sockets.at(-1).close(); true");
    b.wait(
        "document.querySelector('#conn').dataset.status === 'waiting' && document.body.classList.contains('stale')",
        10,
    );
    let mut delays = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while delays.len() < 3 && std::time::Instant::now() < deadline {
        let d = b.eval(
            "(() => { const p = document.querySelector('#conn'); const m = /Reconnecting in (\\d+)s/.exec(p.textContent); return p.dataset.status === 'waiting' && m ? Number(m[1]) : null; })()",
        );
        if let Some(d) = d.as_u64() {
            if delays.last().is_none_or(|&l| d > l) {
                delays.push(d);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        delays.len() >= 3 && delays[2] >= 3,
        "back-off grows between attempts: {delays:?}"
    );
    b.eval("window.__blockWs = false; true");
    b.wait(
        "document.querySelector('#conn').dataset.status === 'live' && !document.body.classList.contains('stale')",
        30,
    );
    let updates = b.eval("window.__sockets.length");
    assert!(updates.as_u64().unwrap() >= 3, "reconnected: {updates}");
    // Many patched frames and a reconnect later, the screen still equals the state.
    let mut last = Value::Null;
    for _ in 0..20 {
        last = b.eval(COMPARE_JS);
        if last["bad"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        last["bad"].as_array().is_some_and(Vec::is_empty) && last["guests"] == last["visible"],
        "after live updates the screen differs from /api/state: {last}"
    );
    // The failed handshakes log on Chromium's network channel only (not a page error).
    assert_clean(&mut b, &s, &[(401, "/api/state")]);
}

/// Stops a running VM on the simulator and waits for the open page to show it stopped, with
/// no reload in between.
fn stop_a_vm_and_see_it(b: &mut Browser, s: &TestServer) {
    b.eval("window.__noReload = 1");
    let victim = b.eval(
        "[...document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]')].find(r => r.querySelector('.dot.on') && r.querySelector('.badge.vm'))?.dataset.id",
    );
    let victim = victim.as_str().expect("a running VM").to_string();
    let vmid: u32 = victim.rsplit('-').next().unwrap().parse().unwrap();
    s.apply(move |app| {
        let demo = app.polling.demo.as_ref().expect("demo running");
        assert!(demo.simulator().set_guest_running(vmid, false));
        let key = pulse::monitor::task_key::TaskKey::new(
            pulse::monitor::task_key::InstanceKind::Pve,
            "mock-cluster",
        );
        app.polling
            .core
            .scheduler_mut()
            .retry_now(&key, pulse::util::time::now_ms());
    });
    b.wait(
        &format!(
            "document.querySelector('[aria-label=Guests] .vt-row[data-id=\"{victim}\"] .dot.off')"
        ),
        40,
    );
    assert_eq!(b.eval("window.__noReload"), Value::from(1), "no reload");
}

/// Without the feed worker (not supported, failed, or switched off) frames are parsed on the
/// page, and a live change arrives the same way.
#[test]
fn live_updates_arrive_without_the_worker() {
    let s = demo_with_admin();
    let mut b = signed_in_overview_with(
        &s,
        Some("localStorage.setItem('pulse-feed-worker', 'off');"),
    );
    stop_a_vm_and_see_it(&mut b, &s);
    assert_eq!(
        b.eval("window.__pulsePerf.viaWorker"),
        Value::from(0),
        "parsed on the page"
    );
    assert!(b.eval("window.__pulsePerf.parseMs.length").as_u64() > Some(0));
    assert_clean(&mut b, &s, &[(401, "/api/state")]);
}

const VISIBLE_VMIDS: &str = "[...document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]')].filter(r => r.offsetParent !== null).map(r => Number(r.children[1 + [...document.querySelectorAll('[aria-label=Guests] .vt-head [role=columnheader]')].findIndex(c => c.dataset.col === 'vmid')].textContent))";

#[test]
fn sort_filter_search_and_guest_detail() {
    let s = demo_with_admin();
    let mut b = signed_in_overview(&s);
    // Keyboard: on a fresh page the first Tab stop is the skip link, with a visible focus ring.
    b.press("Tab");
    assert_eq!(
        b.eval("[document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle !== 'none']"),
        serde_json::json!(["skip", true]),
        "the first Tab stop is the skip link, with a visible focus ring"
    );
    // Flat list, sorted by VMID ascending then descending.
    b.click("#group-toggle");
    b.wait(
        "document.querySelectorAll('[aria-label=Guests] .vt-group:not([hidden])').length === 0",
        10,
    );
    b.click("[aria-label=Guests] [data-col=vmid] button");
    let up: Vec<u64> = serde_json::from_value(b.eval(VISIBLE_VMIDS)).unwrap();
    let mut sorted = up.clone();
    sorted.sort_unstable();
    assert_eq!(up, sorted, "ascending by VMID");
    assert_eq!(
        b.eval("document.querySelector('[aria-label=Guests] [data-col=vmid]').getAttribute('aria-sort')"),
        Value::from("ascending")
    );
    b.click("[aria-label=Guests] [data-col=vmid] button");
    let down: Vec<u64> = serde_json::from_value(b.eval(VISIBLE_VMIDS)).unwrap();
    sorted.reverse();
    assert_eq!(down, sorted, "descending by VMID");

    // Type filter: only containers.
    let cts = b.eval("(async () => (await (await fetch('/api/state')).json()).containers.filter(c => !c.template).length)()");
    b.click(".seg[aria-label='Guest type'] button[data-v=lxc]");
    b.wait(&format!("document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])').length === {cts}"), 10);
    assert_eq!(
        b.eval("[...document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden]) .badge.vm')].length"),
        Value::from(0)
    );
    b.click(".seg[aria-label='Guest type'] button[data-v=all]");

    // Search by a guest's exact name finds just it.
    let name =
        b.eval("document.querySelector('[aria-label=Guests] .vt-row[data-id] .name').textContent");
    let name = name.as_str().unwrap().to_string();
    b.fill("#guest-search", &format!("name:{name}"));
    b.wait("document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])').length === 1", 10);
    b.fill("#guest-search", "cpu>1000");
    b.wait("document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])').length === 0", 10);
    b.fill("#guest-search", "");
    b.wait("document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])').length > 1", 10);

    // Status, node and tag filters, each against the state's own count.
    let counts = b.eval(
        "(async () => { const st = await (await fetch('/api/state')).json(); \
         const gs = st.vms.concat(st.containers).filter(g => !g.template); \
         const tags = g => String(g.tags || '').split(/[,;]/).map(t => t.trim()).filter(Boolean); \
         const tag = gs.flatMap(tags)[0]; \
         return {stopped: gs.filter(g => g.status !== 'running').length, node: st.nodes[1].name, \
                 onNode: gs.filter(g => g.node === st.nodes[1].name).length, tag, tagged: gs.filter(g => tags(g).includes(tag)).length}; })()",
    );
    const SHOWN: &str =
        "document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])').length";
    b.click(".seg[aria-label='Status'] button[data-v=stopped]");
    b.wait(&format!("{SHOWN} === {}", counts["stopped"]), 10);
    assert_eq!(
        b.eval("[...document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]:not([hidden])')].filter(r => !r.querySelector('.dot.off')).length"),
        Value::from(0),
        "only stopped guests"
    );
    b.click(".seg[aria-label='Status'] button[data-v=all]");
    let select = |b: &mut Browser, label: &str, v: &Value| {
        let v = serde_json::to_string(v).unwrap();
        b.eval(&format!(
            "(() => {{ const s = document.querySelector(\"select[aria-label='{label}']\"); s.value = {v}; s.dispatchEvent(new Event('change')); return s.value; }})()"
        ))
    };
    assert_eq!(
        select(&mut b, "Filter by node", &counts["node"]),
        counts["node"]
    );
    b.wait(&format!("{SHOWN} === {}", counts["onNode"]), 10);
    select(&mut b, "Filter by node", &Value::from(""));
    assert!(
        counts["tag"].is_string(),
        "the demo tags some guests: {counts}"
    );
    assert_eq!(
        select(&mut b, "Filter by tag", &counts["tag"]),
        counts["tag"]
    );
    b.wait(&format!("{SHOWN} === {}", counts["tagged"]), 10);
    select(&mut b, "Filter by tag", &Value::from(""));
    b.wait(&format!("{SHOWN} > {}", counts["tagged"]), 10);

    // Choosable columns: hide "Net out", show "IP" (its addresses come from the state).
    let col_ids = "[...document.querySelectorAll('[aria-label=Guests] .vt-head [role=columnheader]')].map(c => c.dataset.col)";
    let toggle = |b: &mut Browser, label: &str| {
        b.eval(&format!(
            "(() => {{ const l = [...document.querySelectorAll('details.menu label')].find(l => l.textContent.trim() === '{label}'); l.querySelector('input').click(); return true; }})()"
        ));
    };
    toggle(&mut b, "Net out");
    toggle(&mut b, "IP");
    let cols: Vec<String> = serde_json::from_value(b.eval(col_ids)).unwrap();
    assert!(!cols.contains(&"netOut".to_string()), "{cols:?}");
    assert!(cols.contains(&"ip".to_string()), "{cols:?}");
    b.wait(
        "(async () => { const st = await (await fetch('/api/state')).json(); \
         const ip = st.vms.concat(st.containers).find(g => (g.ipAddresses || []).length).ipAddresses[0]; \
         return document.querySelector('[aria-label=Guests] .vt-body').textContent.includes(ip); })()",
        10,
    );
    toggle(&mut b, "Net out");
    toggle(&mut b, "IP");

    // Keyboard: a focused guest row opens with Enter, Escape closes the drawer and gives
    // focus back to the row.
    let row_id = b.eval(
        "(() => { const r = document.querySelector('[aria-label=Guests] .vt-row[data-id]:not([hidden])'); r.focus(); return r.dataset.id; })()",
    );
    b.press("Enter");
    b.wait("document.querySelector('.drawer h2')?.textContent", 10);
    assert_eq!(
        b.eval("document.activeElement.getAttribute('aria-label')"),
        Value::from("Close details"),
        "focus moves into the drawer"
    );
    b.press("Escape");
    b.wait("!document.querySelector('.drawer')", 5);
    assert_eq!(
        b.eval("document.activeElement.dataset?.id"),
        row_id,
        "focus returns to the row"
    );

    // The detail drawer opens on click and shows the guest as the state has it: OS, agent,
    // addresses, filesystems, snapshots and its backups (the one with the most to show).
    let pick = b.eval(
        "(async () => { const st = await (await fetch('/api/state')).json(); \
         const gs = st.vms.concat(st.containers).filter(g => !g.template && g.status === 'running'); \
         gs.sort((a, b) => ((b.ipAddresses || []).length + (b.disks || []).length + (b.osName ? 1 : 0)) - ((a.ipAddresses || []).length + (a.disks || []).length + (a.osName ? 1 : 0))); \
         return gs[0].id; })()",
    );
    let pick = pick.as_str().expect("a running guest").to_string();
    b.click(&format!("[aria-label=Guests] .vt-row[data-id=\"{pick}\"]"));
    let title = b.wait("document.querySelector('.drawer h2')?.textContent", 10);
    assert!(
        title.as_str().unwrap().contains('('),
        "title with vmid: {title}"
    );
    b.wait("document.querySelector('.drawer .charts figure')", 20);
    b.wait(
        "!document.querySelector('.drawer')?.textContent.includes('Loading…')",
        20,
    );
    let drawer_js = format!(
        "(async () => {{ const st = await (await fetch('/api/state')).json(); \
         const g = st.vms.concat(st.containers).find(x => x.id === '{pick}'); \
         const u = await (await fetch(`/api/backups/unified?vmid=${{g.vmid}}&type=${{g.type === 'qemu' ? 'vm' : 'ct'}}&limit=20`)).json(); \
         const d = document.querySelector('.drawer'), t = d.textContent, bad = []; \
         if (!t.includes(`${{g.name}} (${{g.vmid}})`)) bad.push('title'); \
         if (g.osName && !t.includes(g.osName)) bad.push('os'); \
         if (g.type === 'qemu' && !t.includes(g.agentVersion ? `running (${{g.agentVersion}})` : 'not reporting')) bad.push('agent state'); \
         for (const ip of g.ipAddresses || []) if (!t.includes(ip)) bad.push(`ip ${{ip}}`); \
         for (const x of g.disks || []) if (!t.includes(x.mountpoint || x.device)) bad.push(`disk ${{x.mountpoint}}`); \
         for (const x of st.pveBackups.guestSnapshots.filter(x => x.vmid === g.vmid && x.instance === g.instance)) if (!t.includes(x.name)) bad.push(`snapshot ${{x.name}}`); \
         const rows = [...d.querySelectorAll('h3')].find(h => h.textContent === 'Backups').nextElementSibling.querySelectorAll('tbody tr').length; \
         if (rows !== u.backups.length) bad.push(`backups ${{rows}} vs ${{u.backups.length}}`); \
         return bad; }})()"
    );
    let mut bad = Value::Null;
    for _ in 0..20 {
        bad = b.eval(&drawer_js);
        if bad.as_array().is_some_and(Vec::is_empty) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(bad, serde_json::json!([]), "drawer differs from the state");

    // Range switch: the charts reload for 24 h and the time axis spans the day (distinct
    // labels even when the history holds only a few minutes); the read-out names the series.
    b.click(".drawer [aria-label='Chart range'] button:nth-child(2)");
    b.wait(
        "document.querySelector('.drawer .charts')?.dataset.range === '24h' && document.querySelector('.drawer .charts figure')",
        20,
    );
    let axis = b.eval(
        "(() => { const f = document.querySelector('.drawer .charts figure'); \
         const labels = [...f.querySelectorAll('text.axis')].map(t => t.textContent).filter(t => /:/.test(t)); \
         return {labels, readout: f.querySelector('output.readout')?.textContent || f.textContent}; })()",
    );
    let labels: Vec<String> = serde_json::from_value(axis["labels"].clone()).unwrap();
    let distinct: std::collections::HashSet<&String> = labels.iter().collect();
    if !axis["readout"]
        .as_str()
        .unwrap_or("")
        .contains("Not enough history")
    {
        // Five labels 6 h apart: the ends share a time of day, the rest differ.
        assert_eq!(labels.len(), 5, "time axis over 24 h: {axis}");
        assert_eq!(distinct.len(), 4, "time axis over 24 h: {axis}");
        assert!(axis["readout"].as_str().unwrap().contains("CPU"), "{axis}");
    }
    assert_eq!(
        b.eval("document.querySelector(\".drawer [aria-label='Chart range'] [aria-pressed=true]\").textContent"),
        Value::from("24h")
    );
    b.eval("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))");
    b.wait("!document.querySelector('.drawer')", 5);

    // The session ends behind the page's back: the next API call's 401 shows the login page.
    b.eval(
        "(async () => { const m = document.cookie.match(/pulse_csrf=([^;]*)/); \
         await fetch('/api/logout', {method: 'POST', headers: {'X-CSRF-Token': decodeURIComponent(m[1])}}); \
         document.querySelector(\"nav a[data-path='/proxmox/backups']\").click(); return true; })()",
    );
    let notice = b.wait(
        "document.querySelector('#f-password') && document.querySelector('#login-notice')?.textContent",
        20,
    );
    assert!(
        notice.as_str().unwrap().contains("session has ended"),
        "{notice}"
    );
    assert_clean(&mut b, &s, &[(401, "/api/")]);
}

#[test]
fn assets_are_fingerprinted_and_cached_index_is_not() {
    let s = TestServer::start(&[]);
    let index = s.get("/");
    assert_eq!(index.header("Cache-Control"), Some("no-cache"));
    let html = index.text();
    assert!(html.contains("<script type=\"importmap\">"), "{html}");
    let mut urls: Vec<String> = html
        .split('"')
        // The import map's keys are the plain names; its values and the links are the files.
        .filter(|p| {
            p.starts_with("/assets/")
                && p.rsplit('-').next().is_some_and(|h| {
                    h.split('.')
                        .next()
                        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                })
        })
        .map(str::to_string)
        .collect();
    urls.sort();
    urls.dedup();
    // 15 modules (each named in the import map and preloaded) and the stylesheet.
    assert!(urls.len() >= 15, "{urls:?}");
    let mut first_load = s.get("/").body.len();
    for u in &urls {
        let r = s.get(u);
        assert_eq!(r.status, 200, "{u}");
        first_load += r.body.len();
        assert_eq!(
            r.header("Cache-Control"),
            Some("public, max-age=31536000, immutable"),
            "{u}"
        );
        let ct = r.header("Content-Type").unwrap_or("");
        assert!(
            ct.starts_with(if u.ends_with(".css") {
                "text/css"
            } else {
                "application/javascript"
            }),
            "{u}: {ct}"
        );
    }
    // The budget is 300 KB compressed; even uncompressed the first load stays under it.
    assert!(first_load < 300 * 1024, "first load {first_load} B");
    // Unfingerprinted names are not files: they fall back to index.html (no-cache).
    let plain = s.get("/assets/main.js");
    assert_eq!(plain.header("Cache-Control"), Some("no-cache"));
    // A client route deep link is served the app.
    assert!(s.get("/proxmox/storage").text().contains("importmap"));
}
