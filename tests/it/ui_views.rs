//! The web UI's views in headless Chromium against the demo estate: each view shows what the
//! server's own answers hold (rows, names, figures), acknowledge with a CSRF retry, deep links,
//! the theme (system and toggle) and a 360 px phone on every view. Screenshots land in
//! `target/ui-screenshots/`.

use crate::support;
use crate::ui_browser::{assert_clean, demo_with_admin, signed_in_overview};

use serde_json::Value;
use support::browser::{artefact, Browser};

/// Per view: the path, its screenshot, and a check of what it shows against the server's own
/// answers, fetched in the page (`st` = `/api/state`; `rows(label)` = the data rows of a
/// table; `txt` = the view's text). Each returns the list of mismatches, empty when it agrees.
const VIEWS: &[(&str, &str, &str)] = &[
    (
        "/proxmox/backups",
        "backups.png",
        r#"
      const u = await (await fetch('/api/backups/unified?limit=2000')).json();
      if (!u.total || !txt.includes(`${u.total} backups`)) bad.push(`backup total ${u.total}`);
      if (rows('Backups').length !== u.backups.length) bad.push(`backup rows ${rows('Backups').length} vs ${u.backups.length}`);
      for (const src of ['pve', 'pbs']) if (u.backups.some(b => b.source === src) && !document.querySelector(`[aria-label=Backups] .badge.${src}`)) bad.push(`no ${src} backup shown`);
      if (rows('Snapshots').length !== st.pveBackups.guestSnapshots.length) bad.push('snapshots');
      if (document.querySelectorAll('#view .chips .chip').length !== u.lastBackups.length) bad.push('last backup per guest');
    "#,
    ),
    (
        "/proxmox/replication",
        "replication.png",
        r#"
      if (!st.replicationJobs.length || rows('Replication jobs').length !== st.replicationJobs.length) bad.push('replication rows');
      for (const j of st.replicationJobs) if (!txt.includes(j.jobId) || !txt.includes(`${j.sourceNode} → ${j.targetNode}`)) bad.push(`job ${j.jobId}`);
    "#,
    ),
    (
        "/proxmox/pbs",
        "pbs.png",
        r#"
      const ds = st.pbs.flatMap(p => p.datastores || []);
      if (!st.pbs.length || rows('Backup servers').length !== st.pbs.length) bad.push('pbs servers');
      if (!ds.length || rows('Datastores').length !== ds.length) bad.push('datastores');
      for (const d of ds) if (!txt.includes(d.name)) bad.push(`datastore ${d.name}`);
      const jobs = st.pbs.flatMap(p => ['backupJobs', 'syncJobs', 'verifyJobs', 'pruneJobs', 'garbageJobs'].flatMap(k => p[k] || []));
      if (!jobs.length || rows('PBS jobs').length !== jobs.length) bad.push(`pbs jobs ${rows('PBS jobs').length} vs ${jobs.length}`);
      for (const j of jobs.filter(j => j.error)) if (!txt.includes(j.error)) bad.push(`job error ${j.id}`);
    "#,
    ),
    (
        "/proxmox/mail",
        "mail.png",
        r#"
      const stat = (k) => [...document.querySelectorAll('#view .stat')].find(e => e.firstChild.textContent === k)?.querySelector('strong').textContent;
      for (const p of st.pmg) {
        if (!txt.includes(p.name)) bad.push(`pmg ${p.name}`);
        if (stat('Mail total') !== String(p.mailStats.countTotal)) bad.push(`mail total ${stat('Mail total')} vs ${p.mailStats.countTotal}`);
        if (stat('Spam in') !== String(p.mailStats.spamIn)) bad.push('spam in');
        for (const n of p.nodes || []) if (!txt.includes(n.name)) bad.push(`pmg node ${n.name}`);
      }
      if (!st.pmg.length) bad.push('no pmg in the demo');
    "#,
    ),
    (
        "/docker",
        "docker.png",
        r#"
      const h = st.dockerHosts, cts = h.flatMap(d => d.containers || []), iss = h.flatMap(d => d.issues || []);
      if (!h.length || rows('Docker hosts').length !== h.length) bad.push('docker hosts');
      if (!cts.length || rows('Docker containers').length !== cts.length) bad.push(`containers ${rows('Docker containers').length} vs ${cts.length}`);
      if (rows('Docker issues').length !== iss.length) bad.push('docker issues');
      for (const c of cts) if (!txt.includes(c.name) || !txt.includes(c.image)) bad.push(`container ${c.name}`);
      for (const i of iss) if (!txt.includes(i.message)) bad.push(`issue ${i.message}`);
    "#,
    ),
    (
        "/hosts",
        "hosts.png",
        r#"
      if (!st.hosts.length || rows('Host agents').length !== st.hosts.length) bad.push('host agents');
      for (const x of st.hosts) {
        const r = rows('Host agents').find(r => r.dataset.id === x.id);
        if (!r || !r.textContent.includes(x.displayName || x.hostname)) { bad.push(`host ${x.id}`); continue; }
        const m = r.querySelector('[role=meter]')?.getAttribute('aria-valuenow');
        if (m !== Math.min(100, x.cpuUsage).toFixed(1)) bad.push(`cpu of ${x.id}: ${m} vs ${x.cpuUsage}`);
      }
    "#,
    ),
    (
        "/alerts",
        "alerts.png",
        r#"
      if (!st.activeAlerts.length) bad.push('the demo has active alerts');
      if (rows('Active alerts').length !== st.activeAlerts.length) bad.push(`alert rows ${rows('Active alerts').length} vs ${st.activeAlerts.length}`);
      for (const a of st.activeAlerts) if (!txt.includes(a.resourceName)) bad.push(`alert ${a.id}`);
      const n = st.activeAlerts.filter(a => !a.acknowledged).length;
      if (document.querySelector('#alert-badge .count')?.textContent !== String(n)) bad.push('alert badge count');
    "#,
    ),
    (
        "/proxmox/storage",
        "storage.png",
        r#"
      const want = new Set(st.storage.filter(x => x.total > 0).map(x => x.shared ? `${x.instance}|${x.name}` : `${x.node}|${x.name}`));
      if (rows('Storage').length !== want.size) bad.push(`storage rows ${rows('Storage').length} vs ${want.size}`);
      for (const x of st.storage.filter(x => x.total > 0)) if (!txt.includes(x.name)) bad.push(`storage ${x.name}`);
      for (const c of st.cephClusters) if (!txt.includes(c.health) || !txt.includes(`OSDs ${c.numOsdsUp}/${c.numOsds} up`)) bad.push(`ceph ${c.name}`);
      if (rows('Physical disks').length !== st.physicalDisks.length) bad.push('physical disks');
      const fc = st.forecasts.filter(f => f.type === 'storage' && f.daysUntilFull != null);
      if (!fc.length) bad.push('the test gave a storage a forecast');
      for (const f of fc) {
        const r = rows('Storage').find(r => r.dataset.id === f.id);
        // As the view writes it: days below two years, then years.
        const d = f.daysUntilFull;
        const want = d < 1 ? 'full in <1d' : d < 730 ? `full in ${Math.round(d)}d` : `full in ${Math.round(d / 365)}y`;
        if (r && !r.textContent.includes(want)) bad.push(`forecast of ${f.id}: ${want} not in ${r.textContent}`);
      }
      const ch = await (await fetch('/api/storage-charts?range=1440')).json();
      // Every storage with two points in 24 h has a line (the test gave one six hours).
      const lines = rows('Storage').filter(r => (ch[r.dataset.id]?.usage || []).length >= 2);
      if (!lines.length) bad.push('no storage history yet');
      for (const r of lines) if (!r.querySelector('svg.spark')) bad.push(`no usage trend for ${r.dataset.id}`);
    "#,
    ),
];

/// The storage view's ZFS parts: a badge on a storage whose pool is not ONLINE (its devices in
/// the tooltip), none on a healthy one, and every pool listed once with its devices.
const ZFS_CHECK: &str = r#"
      const zs = st.storage.filter(x => x.zfsPool && x.total > 0);
      if (!zs.some(x => x.zfsPool.state === 'DEGRADED') || !zs.some(x => x.zfsPool.state === 'ONLINE')) bad.push('a degraded and a healthy pool in the demo');
      if (!zs.some(x => x.zfsPool.devices.some(d => d.state === 'FAULTED'))) bad.push('the faulted device in the state');
      for (const x of zs) {
        const r = rows('Storage').find(r => r.dataset.id === x.id);
        const b = r?.querySelector('.badge.zfs');
        if (!r) bad.push(`no row for ${x.id}`);
        else if (x.zfsPool.state === 'ONLINE') { if (b) bad.push(`healthy pool of ${x.id} has a badge: ${b.textContent}`); }
        else if (b?.textContent !== `ZFS ${x.zfsPool.state}`) bad.push(`ZFS badge of ${x.id}: ${b?.textContent}`);
        else for (const d of x.zfsPool.devices) if (!b.title.includes(`${d.name} (${d.type}) ${d.state}`)) bad.push(`device ${d.name} not in the badge's tooltip: ${b.title}`);
      }
      const cards = [...document.querySelectorAll('[aria-label="ZFS pools"] .zfs-pool')];
      if (cards.length !== new Set(zs.map(x => `${x.node}/${x.zfsPool.name}`)).size) bad.push(`ZFS pools listed: ${cards.length}`);
      for (const x of zs.filter(x => x.zfsPool.state !== 'ONLINE')) {
        const c = cards.find(c => c.dataset.pool === `${x.node}/${x.zfsPool.name}`);
        for (const d of x.zfsPool.devices) if (!c?.textContent.includes(d.name)) bad.push(`device ${d.name} of ${x.node} not listed`);
      }
"#;

/// Runs a view check until the screen agrees with the server (values move with the
/// simulator's clock, and a view may fetch its own data after it mounts).
fn check_view(b: &mut Browser, path: &str, check: &str) {
    let js = format!(
        "(async () => {{ const bad = []; try {{
           const st = await (await fetch('/api/state', {{headers: {{Accept: 'application/json'}}}})).json();
           const rows = (label) => [...document.querySelectorAll(`[aria-label=\"${{label}}\"] .vt-row[data-id]`)].filter(r => !r.hidden);
           const txt = document.querySelector('#view').textContent;
           {check}
         }} catch (e) {{ bad.push(String(e)); }} return bad; }})()"
    );
    let mut last = Value::Null;
    for _ in 0..60 {
        last = b.eval(&js);
        if last.as_array().is_some_and(Vec::is_empty) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{path} differs from the server: {last}");
}

#[test]
fn every_view_renders_theme_toggles_and_phones_fit() {
    let s = demo_with_admin();
    let mut b = signed_in_overview(&s);
    // A storage filling up (an hour of history would make a real one): six hours of its usage
    // for the 24 h line, and the forecast the view shows.
    s.apply(|app| {
        use pulse::core::history_forecast::ForecastEntry;
        let now = pulse::util::time::now_ms() / 1000;
        // The rings take samples in time order and the live polls already recorded this
        // storage: recording it once as another kind starts its history afresh.
        app.history.record(
            "mock-cluster-pve1-local",
            pulse::history::Kind::Guest,
            now,
            &[0.0],
        );
        for i in 0..72 {
            let used = 100.0 + f64::from(i);
            app.history.record(
                "mock-cluster-pve1-local",
                pulse::history::Kind::Storage,
                now - 6 * 3600 + i64::from(i) * 300,
                &[used / 4.0, used * 1e9, 400e9, 400e9 - used * 1e9],
            );
        }
        app.apply_forecasts(vec![ForecastEntry {
            id: "mock-cluster-pve1-local".into(),
            kind: "storage",
            name: "local".into(),
            instance: "mock-cluster".into(),
            node: "pve1".into(),
            forecast: pulse::history::forecast::Forecast {
                usage_percent: 36.0,
                growth_percent_per_day: 5.2,
                days_until_full: Some(12.3),
                confidence: 0.8,
                basis_hours: 6.0,
            },
        }]);
    });
    for (path, shot, check) in VIEWS {
        b.click(&format!("nav a[data-path='{path}']"));
        b.wait(&format!("location.pathname === '{path}'"), 5);
        check_view(&mut b, path, check);
        b.screenshot(&artefact(shot), true);
    }
    // Acknowledge an alert with a stale CSRF cookie: the 403 carries a fresh token and the UI
    // retries once, so the action still goes through.
    b.click("nav a[data-path='/alerts']");
    b.wait(
        "document.querySelector(\"[aria-label='Active alerts'] button[data-act=acknowledge]\")",
        30,
    );
    b.eval("document.cookie = 'pulse_csrf=stale; path=/'");
    b.click("[aria-label='Active alerts'] button[data-act=acknowledge]");
    b.wait(
        "document.querySelector(\"[aria-label='Active alerts'] button[data-act=unacknowledge]\")",
        20,
    );
    assert!(
        b.http_errors
            .iter()
            .any(|(st, u)| *st == 403 && u.contains("/acknowledge")),
        "the stale token was refused first: {:?}",
        b.http_errors
    );
    // Clear: the alert leaves the active list and shows among the recently resolved.
    let cleared = b.eval(
        "(() => { const r = document.querySelector(\"[aria-label='Active alerts'] .vt-row[data-id]\"); \
         r.querySelector('button[data-act=clear]').click(); return r.dataset.id; })()",
    );
    let cleared = cleared.as_str().expect("an active alert").to_string();
    b.wait(
        &format!(
            "!document.querySelector(\"[aria-label='Active alerts'] .vt-row[data-id='{cleared}']\") && \
             [...document.querySelectorAll(\"[aria-label='Alert history'] .vt-row[data-id]\")].some(r => r.dataset.id.startsWith('{cleared}#') && !r.textContent.includes('still active'))"
        ),
        20,
    );
    b.screenshot(&artefact("alerts-cleared.png"), true);

    // Deep link after reload: the SPA fallback serves the view.
    b.goto(&format!("http://{}/proxmox/storage", s.addr));
    b.wait(
        "document.querySelectorAll('[aria-label=Storage] .vt-row[data-id]').length > 0",
        30,
    );

    // A degraded ZFS pool (the demo's two nodes are healthy by the simulator's rule): pve2's
    // mirror loses a leg, and the demo instance is rebuilt so its first poll reads the pools
    // at once instead of after the 5-minute slow interval.
    s.apply(|app| {
        use pulse::monitor::task_key::{InstanceKind, TaskKey};
        let now = app.polling.clock.now_ms();
        let polling = &mut app.polling;
        let demo = polling.demo.as_ref().expect("demo mode");
        assert!(demo.simulator().set_zfs_degraded("pve2", Some(true)));
        let key = TaskKey::new(InstanceKind::Pve, pulse::monitor::demo::DEMO_PVE);
        assert!(demo.rebuild(&key, &mut polling.core, now));
    });
    check_view(&mut b, "/proxmox/storage", ZFS_CHECK);
    b.screenshot(&artefact("storage-zfs.png"), true);

    // With no choice saved, the theme follows the system's.
    b.eval("localStorage.removeItem('darkMode'); true");
    for scheme in ["dark", "light"] {
        b.call(
            "Emulation.setEmulatedMedia",
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
        b.wait(
            &format!("document.documentElement.dataset.theme === '{scheme}'"),
            5,
        );
    }

    // Theme toggle flips and is remembered.
    let before = b.eval("document.documentElement.dataset.theme");
    b.click("#theme-toggle");
    let after = b.eval("document.documentElement.dataset.theme");
    assert_ne!(before, after);
    assert_eq!(
        b.eval("localStorage.getItem('darkMode')"),
        Value::from((after == "dark").to_string())
    );
    if after != "dark" {
        b.click("#theme-toggle");
    }
    b.click("nav a[data-path='/proxmox/overview']");
    b.wait(
        "document.querySelectorAll('[aria-label=Guests] .vt-row[data-id]').length > 0",
        10,
    );
    b.screenshot(&artefact("overview-dark.png"), false);

    // A 360 px phone: nothing scrolls sideways.
    b.set_viewport(360, 740);
    b.pump(300);
    let widths =
        b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "horizontal scroll at 360 px: {widths}"
    );
    b.screenshot(&artefact("phone.png"), false);
    for (path, shot, _) in VIEWS {
        b.click(&format!("nav a[data-path='{path}']"));
        b.wait(&format!("location.pathname === '{path}'"), 5);
        b.pump(200);
        let widths =
            b.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "horizontal scroll at 360 px on {path}: {widths}"
        );
        b.screenshot(&artefact(&format!("phone-{shot}")), false);
    }
    assert_clean(&mut b, &s, &[(401, "/api/state"), (403, "/api/alerts/")]);
}
