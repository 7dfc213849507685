//! Storage forecasts, retention and expiry, and saves under concurrent readers, through the
//! real server over the demo estate.

use crate::support::TestServer;
use pulse::history::Kind;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "2"),
    ("PULSE_MOCK_LXCS_PER_NODE", "1"),
];

fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn now_s() -> i64 {
    pulse::util::time::now_ms() / 1000
}

#[test]
fn a_growing_storage_is_forecast_in_the_state_the_charts_and_metrics() {
    let s = TestServer::start(DEMO);
    // A storage with room to grow, once the first poll has listed it.
    let (id, usage) = wait_until("a storage", || {
        let st = s.get("/api/state").json();
        st["storage"].as_array()?.iter().find_map(|x| {
            let u = x["usage"].as_f64()?;
            (10.0..80.0)
                .contains(&u)
                .then(|| (x["id"].as_str().unwrap().to_string(), u))
        })
    });
    // Three days of +2 percentage points a day ending at today's usage, every 10 minutes
    // (enough for the 2 h tier the trend reads).
    let rec = id.clone();
    s.apply(move |app| {
        let now = now_s();
        app.history.resources.remove(rec.as_str());
        let start = now - 3 * 86_400;
        for t in (start..now - 60).step_by(600) {
            let u = usage - 2.0 * (now - t) as f64 / 86_400.0;
            app.history
                .record(&rec, Kind::Storage, t, &[u, 1e9, 4e9, 3e9]);
        }
        app.history.last_forecast_s = 0;
    });
    let f = wait_until("the forecast in the state", || {
        let st = s.get("/api/state").json();
        st["forecasts"]
            .as_array()?
            .iter()
            .find(|f| f["id"] == id.as_str())
            .cloned()
    });
    assert_eq!(f["type"], "storage");
    let growth = f["growthPercentPerDay"].as_f64().unwrap();
    assert!((growth - 2.0).abs() < 0.15, "{f}");
    let days = f["daysUntilFull"].as_f64().expect("a full date");
    let want = (100.0 - usage) / 2.0;
    assert!(
        (days - want).abs() < want * 0.1 + 0.5,
        "{days} vs {want}: {f}"
    );
    let conf = f["confidence"].as_f64().unwrap();
    assert!(conf > 0.8 && conf <= 1.0, "{f}");
    assert!(f["basisHours"].as_f64().unwrap() > 60.0, "{f}");

    // The same figures in the charts answer for that storage...
    let c = s.get(&format!("/api/charts?range=7d&id={id}")).json();
    assert_eq!(
        c["forecasts"][&id]["daysUntilFull"], f["daysUntilFull"],
        "{c}"
    );
    // ... and in /metrics.
    let text = s.get("/metrics").text();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("pulse_forecast_full_in_seconds{") && l.contains(&format!("id=\"{id}\""))
        })
        .unwrap_or_else(|| panic!("no forecast sample for {id}:\n{text}"));
    let secs: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(secs, (days * 86_400.0).round(), "{line}");
    assert!(line.contains("type=\"storage\""), "{line}");
    // A flat storage has a trend but no date.
    let others: Vec<Value> = s.get("/api/state").json()["forecasts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] != id.as_str())
        .cloned()
        .collect();
    for o in others {
        assert!(o["confidence"].as_f64().is_some(), "{o}");
    }
}

fn points(s: &TestServer, id: &'static str, tier: usize) -> Vec<(i64, f64)> {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| {
        let _ = tx.send(app.history.points(id, 0, tier, 0, i64::MAX / 4));
    });
    rx.recv().unwrap()
}

fn has(s: &TestServer, id: &'static str) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| {
        let _ = tx.send(app.history.resources.contains_key(id));
    });
    rx.recv().unwrap()
}

#[test]
fn retention_setting_trims_history_and_silent_resources_expire() {
    let s = TestServer::start(&[]);
    s.apply(|app| {
        let now = now_s();
        // Three days of a live guest, and a guest deleted two days ago.
        for t in (now - 3 * 86_400..now).step_by(600) {
            let v = [(t % 100) as f64, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
            app.history.record("live", Kind::Guest, t, &v);
            if t < now - 2 * 86_400 {
                app.history.record("deleted", Kind::Guest, t, &v);
            }
        }
    });
    let oldest = points(&s, "live", 3)[0].0;
    assert!(
        oldest < (now_s() - 2 * 86_400) * 1000,
        "3 days held by default"
    );
    assert!(has(&s, "deleted"), "kept while within the default 7 days");

    let r = s.req(
        "POST",
        "/api/system/settings/update",
        &[("Content-Type", "application/json")],
        Some(json!({"metricsRetentionDays": 1}).to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.get("/api/system/settings").json()["metricsRetentionDays"],
        1
    );
    let bad = s.req(
        "POST",
        "/api/system/settings/update",
        &[("Content-Type", "application/json")],
        Some(json!({"metricsRetentionDays": 30}).to_string().as_bytes()),
    );
    assert_eq!(bad.status, 400);
    // The next save applies it: due now.
    s.apply(|app| app.history.last_save_s = 0);
    wait_until("the deleted guest to expire", || {
        (!has(&s, "deleted")).then_some(())
    });
    let cutoff = (now_s() - 86_400 - 7200) * 1000;
    let kept = points(&s, "live", 3);
    assert!(
        !kept.is_empty() && kept.iter().all(|p| p.0 >= cutoff),
        "{kept:?}"
    );
    let j = s.get("/api/charts?range=7d").json();
    assert_eq!(j["stats"]["resolutionSeconds"], 7200);
    // The saved file holds the trimmed history.
    let file = s.data_dir.join("metrics-history.bin");
    let saved = wait_until("the save", || {
        let h = pulse::history::store::decode(&std::fs::read(&file).ok()?).ok()?;
        (!h.resources.contains_key("deleted")).then_some(h)
    });
    let on_disk = saved.points("live", 0, 3, 0, i64::MAX / 4);
    assert!(on_disk.iter().all(|p| p.0 >= cutoff), "{on_disk:?}");
    let m = s.get("/metrics").text();
    assert!(
        m.contains("\npulse_history_retention_seconds 86400\n"),
        "{m}"
    );
}

#[test]
fn readers_see_complete_files_and_answers_while_saves_run() {
    let s = TestServer::start(&[]);
    let file = s.data_dir.join("metrics-history.bin");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (f2, stop2) = (file.clone(), stop.clone());
    // A reader that keeps opening the file while the writer replaces it.
    let reader = std::thread::spawn(move || {
        let mut complete = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(bytes) = std::fs::read(&f2) {
                let h = pulse::history::store::decode(&bytes).expect("never a torn file");
                assert!(h.resources.len() >= 300);
                complete += 1;
            }
        }
        complete
    });
    let base = now_s() - 600;
    for round in 0..6 {
        s.apply(move |app| {
            // Each round in its own 10 s slot.
            let t = base + round * 20;
            for i in 0..600 {
                let v = [round as f64, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
                app.history.record(&format!("g{i}"), Kind::Guest, t, &v);
            }
            app.history.last_save_s = 0;
        });
        // Charts asked while the save is being encoded slice by slice: every guest's newest
        // point is this round's (the loop never serves a half-updated resource).
        for _ in 0..5 {
            let (tx, rx) = std::sync::mpsc::channel();
            s.apply(move |app| {
                let newest: Vec<f64> = (0..600)
                    .map(|i| {
                        let p = app.history.points(&format!("g{i}"), 0, 0, 0, i64::MAX / 4);
                        p.last().map_or(-1.0, |p| p.1)
                    })
                    .collect();
                let _ = tx.send((app.history.saving.is_some(), newest));
            });
            let (_, newest) = rx.recv().unwrap();
            assert!(newest.iter().all(|v| *v == round as f64), "round {round}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    wait_until("a save", || file.exists().then_some(()));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let complete = reader.join().expect("reader never saw a damaged file");
    assert!(complete > 0);
}

#[test]
fn the_state_performance_and_stats_blocks_carry_real_figures() {
    let s = TestServer::start(DEMO);
    let st = wait_until("a finished poll in the state", || {
        let st = s.get("/api/state").json();
        (st["stats"]["pollingCycles"].as_u64()? >= 1).then_some(st)
    });
    let (perf, stats) = (&st["performance"], &st["stats"]);
    assert_eq!(stats["version"], s.get("/api/version").json()["version"]);
    assert!(stats["uptime"].as_u64().is_some());
    assert!(stats["webSocketClients"].as_u64().is_some());
    assert!(
        stats["startTime"].as_str().unwrap().ends_with('Z'),
        "{stats}"
    );
    assert!(perf["lastPollDuration"].as_f64().unwrap() >= 0.0, "{perf}");
    assert!(perf["totalApiCalls"].as_u64().unwrap() >= 1, "{perf}");
    assert!(perf["apiCallDuration"].as_f64().is_some(), "{perf}");
    assert_eq!(perf["failedApiCalls"], 0, "{perf}");
    assert_eq!(perf["pollingStartTime"], stats["startTime"]);
}
