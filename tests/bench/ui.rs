//! The web UI: first-load bytes on the wire (gzip, as a browser asks for them), time to the
//! first rendered overview and the cost of a `rawData` update with 3,000 guests, measured in
//! headless Chromium (support::browser) against the `pulse` binary in demo mode.

use crate::support::browser::Browser;
use crate::support::{auth as auth_common, request};
use crate::util::PulseProc;
use serde_json::json;
use std::time::{Duration, Instant};

/// Every URL `index.html` names (modules, styles, icon), plus the page itself.
fn first_load(addr: std::net::SocketAddr) -> Vec<(String, usize, usize)> {
    let gz = [("Accept-Encoding", "gzip")];
    let index = request(addr, "GET", "/", &[], None);
    let html = index.text();
    let mut urls = vec!["/".to_string()];
    for part in html.split("href=\"").chain(html.split("src=\"")).skip(1) {
        if let Some(u) = part.split('"').next() {
            if u.starts_with('/') && !urls.iter().any(|x| x == u) {
                urls.push(u.to_string());
            }
        }
    }
    urls.iter()
        .map(|u| {
            let raw = request(addr, "GET", u, &[], None).body.len();
            let wire = request(addr, "GET", u, &gz, None).body.len();
            (u.clone(), raw, wire)
        })
        .collect()
}

fn stats(v: &serde_json::Value) -> (f64, f64, usize) {
    let mut xs: Vec<f64> = v
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
    xs.sort_by(|a, b| a.total_cmp(b));
    if xs.is_empty() {
        return (0.0, 0.0, 0);
    }
    let p = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    (p(0.5), *xs.last().unwrap(), xs.len())
}

pub(crate) fn ui_first_load_and_render_at_3000_guests() {
    let hash = auth_common::hash(auth_common::PASSWORD);
    let pulse = PulseProc::start(&[
        ("PULSE_AUTH_USER", auth_common::USER),
        ("PULSE_AUTH_PASS", &hash),
        ("PULSE_MOCK_MODE", "true"),
        ("PULSE_MOCK_NODES", "10"),
        // 10 × 326 configured; the simulator makes some of them templates, which the state
        // does not list as guests: this leaves just over 3,000.
        ("PULSE_MOCK_VMS_PER_NODE", "163"),
        ("PULSE_MOCK_LXCS_PER_NODE", "163"),
    ]);
    let files = first_load(pulse.addr);
    let (raw, wire): (usize, usize) = files.iter().fold((0, 0), |a, f| (a.0 + f.1, a.1 + f.2));

    // Wait for the whole estate in /api/state, then sign in and load the page cold.
    let login = request(
        pulse.addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        Some(auth_common::login_body(auth_common::USER, auth_common::PASSWORD).as_bytes()),
    );
    let session = auth_common::cookie(&login, "pulse_session").expect("session");
    let csrf = auth_common::cookie(&login, "pulse_csrf").expect("csrf");
    let cookie = format!("pulse_session={session}; pulse_csrf={csrf}");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut guests = 0;
    while Instant::now() < deadline {
        let st = request(
            pulse.addr,
            "GET",
            "/api/state",
            &[("Cookie", &cookie)],
            None,
        )
        .json();
        let n = st["vms"].as_array().map_or(0, Vec::len)
            + st["containers"].as_array().map_or(0, Vec::len);
        if n > 0 && n == guests {
            break;
        }
        guests = n;
        std::thread::sleep(Duration::from_millis(1000));
    }
    let state_bytes = request(
        pulse.addr,
        "GET",
        "/api/state",
        &[("Cookie", &cookie)],
        None,
    )
    .body
    .len();

    let mut loads = Vec::new();
    let mut b = Browser::launch(1440, 900);
    let url = format!("http://{}/", pulse.addr);
    for (name, value) in [("pulse_session", &session), ("pulse_csrf", &csrf)] {
        b.call(
            "Network.setCookie",
            json!({"name": name, "value": value, "url": url}),
        );
    }
    for _ in 0..5 {
        b.call("Network.setCacheDisabled", json!({"cacheDisabled": true}));
        b.goto(&url);
        b.wait("window.__pulsePerf && window.__pulsePerf.firstRender > 0 && document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]').length > 0", 60);
        loads.push(
            b.eval("window.__pulsePerf.firstRender")
                .as_f64()
                .unwrap_or(0.0),
        );
    }
    let rows_in_dom = b.eval("document.querySelectorAll('[aria-label=Guests] .vt-row').length");
    // The view update alone, 30 times on the loaded state (no parsing, no network).
    let forced = b.eval("(() => { const a = []; for (let i = 0; i < 30; i++) a.push(window.__pulseUpdate()); return a; })()");
    let (forced50, forcedmax, _) = stats(&forced);
    // Live updates: the demo polls every 10 s; collect what arrives in 45 s, with frames
    // parsed in the worker (the default), then again parsed on the page.
    let mut live = Vec::new();
    for mode in ["worker", "page"] {
        if mode == "page" {
            b.eval("localStorage.setItem('pulse-feed-worker', 'off'); true");
            b.goto(&url);
            b.wait(
                "document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]').length > 0",
                60,
            );
        }
        let kept0 = b.eval("window.__pulsePerf.keptRows").as_u64().unwrap_or(0);
        std::thread::sleep(Duration::from_secs(45));
        let perf = b.eval("window.__pulsePerf");
        assert_eq!(
            perf["viaWorker"].as_u64().unwrap_or(0) > 0,
            mode == "worker",
            "{mode}: {perf}"
        );
        println!(
            "{mode}: live updates where the overview kept its sorted rows: {}",
            perf["keptRows"].as_u64().unwrap_or(0) - kept0
        );
        live.push((mode, stats(&perf["parseMs"]), stats(&perf["renderMs"])));
    }
    b.eval("localStorage.removeItem('pulse-feed-worker'); true");
    loads.sort_by(|a, b| a.total_cmp(b));

    println!("\n| measure | value |\n|---|---|");
    for (u, r, w) in &files {
        println!("| `{u}` | {r} B, {w} B gzip |");
    }
    println!(
        "| first load, {} files | {raw} B, **{wire} B gzip** |",
        files.len()
    );
    println!("| guests in the state / `/api/state` size | {guests} / {state_bytes} B |");
    println!(
        "| time to first rendered overview, cold cache (5 loads) | median {:.0} ms, max {:.0} ms |",
        loads[loads.len() / 2],
        loads.last().unwrap()
    );
    println!("| guest rows in the DOM (virtualised) | {rows_in_dom} |");
    for (mode, (p50, pmax, n), (r50, rmax, _)) in &live {
        let what = if *mode == "worker" {
            "page's share (receive the worker's patch, apply, merge)"
        } else {
            "JSON.parse + merge on the page"
        };
        println!(
            "| rawData ({mode}): {what}, {n} updates | median {p50:.1} ms, max {pmax:.1} ms |"
        );
        println!("| rawData ({mode}): view update in the next frame | median {r50:.1} ms, max {rmax:.1} ms |");
    }
    println!("| view update alone, 30 in a row on the same state | median {forced50:.1} ms, max {forcedmax:.1} ms |");
}
