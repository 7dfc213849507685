//! Metric history through the real server: polls of the demo estate feed it, `/api/charts`
//! answers each range at its resolution, bad parameters are 400 JSON, and the history
//! survives a restart (a damaged file is set aside, never a crash).

use crate::support::{temp_dir, TestServer};
use std::time::{Duration, Instant};

const DEMO: &[(&str, &str)] = &[
    ("PULSE_MOCK_MODE", "true"),
    ("PULSE_MOCK_NODES", "2"),
    ("PULSE_MOCK_VMS_PER_NODE", "2"),
    ("PULSE_MOCK_LXCS_PER_NODE", "1"),
];

fn samples(s: &TestServer) -> (u64, usize) {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| {
        let _ = tx.send((app.history.samples_total, app.history.resources.len()));
    });
    rx.recv().unwrap()
}

fn wait_for_samples(s: &TestServer) -> (u64, usize) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = samples(s);
        // The PVE poll's nodes, guests and storage (a PBS poll's datastores may come first).
        if got.1 >= 8 || Instant::now() > until {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn polls_feed_the_history_and_charts_show_every_resource() {
    let s = TestServer::start(DEMO);
    let (n, resources) = wait_for_samples(&s);
    // 2 nodes + 6 guests + storage, recorded by the after-poll hook.
    assert!(
        n >= 8 && resources >= 8,
        "samples {n}, resources {resources}"
    );
    let c = s.get("/api/charts?range=5m");
    assert_eq!(c.status, 200);
    let j = c.json();
    let guests = j["data"].as_object().expect("data");
    assert_eq!(guests.len(), 6, "{j}");
    for (_, metrics) in guests {
        for m in [
            "cpu",
            "memory",
            "disk",
            "diskread",
            "diskwrite",
            "netin",
            "netout",
        ] {
            assert!(!metrics[m].as_array().unwrap().is_empty(), "{m} empty");
        }
    }
    assert_eq!(j["nodeData"].as_object().unwrap().len(), 2);
    assert!(!j["storageData"].as_object().unwrap().is_empty());
    assert_eq!(j["stats"]["resolutionSeconds"], 10);
    assert!(
        j["timestamp"].as_i64().unwrap() >= j["stats"]["oldestDataTimestamp"].as_i64().unwrap()
    );
    let sc = s.get("/api/storage-charts?range=30").json();
    let first = sc.as_object().unwrap().values().next().expect("a storage");
    assert!(
        first["usage"].as_array().is_some_and(|a| !a.is_empty()),
        "{sc}"
    );
    assert!(first["usage"][0]["timestamp"]
        .as_str()
        .unwrap()
        .contains('T'));
}

#[test]
fn each_range_has_its_resolution_and_span() {
    let s = TestServer::start(DEMO);
    wait_for_samples(&s);
    let state = s.get("/api/state").json();
    let id = state["vms"][0]["id"].as_str().unwrap().to_string();
    let rec = id.clone();
    // Two days of one sample every 10 s, cpu = minute-of-hour (so averages are checkable).
    s.apply(move |app| {
        let now = pulse::util::time::now_ms() / 1000;
        let start = now - 2 * 86_400;
        // The poll already sampled it "now"; older samples would be dropped as out of order.
        app.history.resources.remove(rec.as_str());
        for t in (start..=now).step_by(10) {
            let minute = ((t / 60) % 60) as f64;
            let v = [minute, 50.0, 10.0, 1000.0, 2000.0, 3000.0, 4000.0];
            app.history.record(&rec, pulse::history::Kind::Guest, t, &v);
        }
    });
    // Every range the dashboard offers: (range, resolution s, span s, most points).
    for (range, step, span, max_points) in [
        ("5m", 10, 300, 31),
        ("15m", 60, 900, 16),
        ("30m", 60, 1800, 31),
        ("1h", 60, 3600, 61),
        ("4h", 900, 14_400, 17),
        ("12h", 900, 43_200, 49),
        ("24h", 900, 86_400, 97),
        ("7d", 7200, 604_800, 85),
    ] {
        let j = s.get(&format!("/api/charts?range={range}&id={id}")).json();
        assert_eq!(j["stats"]["resolutionSeconds"], step, "{range}");
        let cpu = j["data"][&id]["cpu"].as_array().unwrap();
        assert!(
            cpu.len() >= 5 && cpu.len() <= max_points,
            "{range}: {}",
            cpu.len()
        );
        let ts: Vec<i64> = cpu
            .iter()
            .map(|p| p["timestamp"].as_i64().unwrap())
            .collect();
        assert!(
            ts.windows(2).all(|w| w[1] - w[0] == step * 1000),
            "{range} steps"
        );
        let now = j["timestamp"].as_i64().unwrap();
        assert!(
            ts[0] >= now - span * 1000 - step * 1000,
            "{range} starts too early"
        );
        // ... and the whole span is there (two days of data cover every range but 7d, whose
        // points go back the two days), up to the newest bucket.
        let reach = if range == "7d" { 2 * 86_400 } else { span };
        assert!(
            ts[0] <= now - (reach - 2 * step) * 1000,
            "{range} starts too late: {} s after the span's start",
            (ts[0] - (now - span * 1000)) / 1000
        );
        assert!(
            *ts.last().unwrap() >= now - 2 * step * 1000,
            "{range} ends too early"
        );
        if range == "1h" {
            // A minute's mean of a value constant within the minute is that value.
            let p = &cpu[cpu.len() / 2];
            let minute = (p["timestamp"].as_i64().unwrap() / 60_000) % 60;
            assert_eq!(p["value"].as_f64().unwrap(), minute as f64);
        }
        if range == "7d" {
            // 2 h buckets average 0..59 → 29.5.
            assert_eq!(cpu[cpu.len() / 2]["value"].as_f64().unwrap(), 29.5);
        }
        // Only the asked-for resource.
        assert_eq!(j["data"].as_object().unwrap().len(), 1);
    }
}

#[test]
fn bad_parameters_are_400_json() {
    let s = TestServer::start(&[]);
    for path in [
        "/api/charts?range=2h",
        "/api/charts?range=",
        "/api/storage-charts?range=abc",
        "/api/storage-charts?range=-5",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 400, "{path}");
        assert!(
            r.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}"
        );
    }
    assert_eq!(s.get("/api/charts").status, 200);
}

fn points_of(s: &TestServer, id: &'static str) -> Vec<(i64, f64)> {
    let (tx, rx) = std::sync::mpsc::channel();
    s.apply(move |app| {
        let _ = tx.send(app.history.points(id, 0, 1, 0, i64::MAX / 4));
    });
    rx.recv().unwrap()
}

fn resource_count(s: &TestServer) -> usize {
    samples(s).1
}

fn diagnostics_errors(s: &TestServer) -> Vec<String> {
    let d = s.get("/api/diagnostics").json();
    d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

/// Waits for the running server to have saved a whole file, and returns it.
fn wait_for_whole_file(file: &std::path::Path) -> pulse::history::History {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(h) = std::fs::read(file)
            .ok()
            .and_then(|b| pulse::history::store::decode(&b).ok())
        {
            return h;
        }
        assert!(Instant::now() < until, "no whole file saved");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn history_survives_a_restart_and_a_damaged_file_is_set_aside() {
    let dir = temp_dir("history");
    let env = [("PULSE_DATA_DIR", dir.to_str().unwrap())];
    let s = TestServer::start(&env);
    s.apply(|app| {
        let now = pulse::util::time::now_ms() / 1000;
        for g in 0..5 {
            for i in 0..30 {
                let t = now - 1800 + i * 60;
                app.history.record(
                    &format!("g{g}"),
                    pulse::history::Kind::Guest,
                    t,
                    &[i as f64, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                );
            }
        }
    });
    let before = points_of(&s, "g1");
    assert_eq!(before.len(), 30);
    s.stop();
    let file = dir.join("metrics-history.bin");
    assert!(file.exists(), "saved at shutdown");
    let s = TestServer::start(&env);
    assert_eq!(points_of(&s, "g1"), before, "reloaded as saved");
    assert!(diagnostics_errors(&s).is_empty());
    s.stop();

    // A torn last record (the tail lost): the other four resources load, with a warning, and
    // the next save writes a whole file again.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let s = TestServer::start(&env);
    assert_eq!(resource_count(&s), 4, "only the torn record is lost");
    let errors = diagnostics_errors(&s);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("metric history") && e.contains("kept 4 of 5")),
        "{errors:?}"
    );
    s.apply(|app| app.history.last_save_s = 0);
    let rewritten = wait_for_whole_file(&file);
    assert_eq!(rewritten.resources.len(), 4);
    s.stop();

    // A file that is not a history at all: set aside, history empty, the server serves, a
    // warning says where the file went, and a fresh file replaces it.
    std::fs::write(&file, b"garbage, not a Pulse history file").unwrap();
    let s = TestServer::start(&env);
    assert_eq!(resource_count(&s), 0);
    assert_eq!(s.get("/api/charts?range=1h").status, 200);
    let aside: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("metrics-history.bin.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let errors = diagnostics_errors(&s);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("set aside") && e.contains(&aside[0])),
        "{errors:?}"
    );
    s.apply(|app| {
        let now = pulse::util::time::now_ms() / 1000;
        let v = [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        app.history
            .record("fresh", pulse::history::Kind::Guest, now, &v);
        app.history.last_save_s = 0;
    });
    let recreated = wait_for_whole_file(&file);
    assert!(recreated.resources.contains_key("fresh"));
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_during_a_save_writes_the_whole_history_and_no_staging_file() {
    let dir = temp_dir("history-stop");
    let env = [("PULSE_DATA_DIR", dir.to_str().unwrap())];
    let s = TestServer::start(&env);
    s.apply(|app| {
        let now = pulse::util::time::now_ms() / 1000;
        for i in 0..450 {
            app.history.record(
                &format!("g{i}"),
                pulse::history::Kind::Guest,
                now,
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            );
        }
        // Start a save and hand over its first slice, as two housekeeping ticks would; the
        // stop comes before the rest.
        app.history.last_save_s = 0;
        app.save_history(false);
        app.save_history(false);
        assert!(app.history.saving.is_some(), "a save is under way");
    });
    s.stop();
    let saved =
        pulse::history::store::decode(&std::fs::read(dir.join("metrics-history.bin")).unwrap())
            .expect("a complete file");
    assert_eq!(
        saved.resources.len(),
        450,
        "everything, not the slice under way"
    );
    assert!(!dir.join(".metrics-history.bin.part").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_running_server_saves_in_slices_through_the_writer() {
    let s = TestServer::start(&[]);
    s.apply(|app| {
        let now = pulse::util::time::now_ms() / 1000;
        for i in 0..450 {
            let id = format!("g{i}");
            app.history.record(
                &id,
                pulse::history::Kind::Guest,
                now,
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            );
        }
        // Due now (not after a minute): the housekeeping tick starts the save.
        app.history.last_save_s = 0;
    });
    let file = s.data_dir.join("metrics-history.bin");
    let until = Instant::now() + Duration::from_secs(20);
    while !file.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    // 450 resources at 200 per tick: three pieces handed to the writer (which fills in the
    // checksums), published by a rename once the last one is written.
    let saved = pulse::history::store::decode(&std::fs::read(&file).expect("saved while running"))
        .expect("a complete, checksummed file");
    assert!(
        !s.data_dir.join(".metrics-history.bin.part").exists(),
        "the staging file is renamed, not left behind"
    );
    assert_eq!(saved.resources.len(), 450);
    assert_eq!(saved.points("g7", 6, 0, 0, i64::MAX / 4).len(), 1);
}

#[test]
fn a_spike_survives_downsampling_as_the_bucket_max() {
    let s = TestServer::start(DEMO);
    wait_for_samples(&s);
    let id = s.get("/api/state").json()["vms"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rec = id.clone();
    s.apply(move |app| {
        let now = pulse::util::time::now_ms() / 1000;
        app.history.resources.remove(rec.as_str());
        // Two hours at 10 % cpu with one 10 s sample at 97 %, half an hour ago.
        for t in (now - 7200..now - 60).step_by(10) {
            let cpu = if (now - 1800..now - 1790).contains(&t) {
                97.0
            } else {
                10.0
            };
            let v = [cpu, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
            app.history.record(&rec, pulse::history::Kind::Guest, t, &v);
        }
    });
    for range in ["1h", "24h", "7d"] {
        let j = s.get(&format!("/api/charts?range={range}&id={id}")).json();
        let cpu = j["data"][&id]["cpu"].as_array().unwrap();
        let spiky: Vec<&serde_json::Value> = cpu.iter().filter(|p| p["max"] == 97.0).collect();
        assert_eq!(spiky.len(), 1, "{range}: {cpu:?}");
        assert!(
            spiky[0]["value"].as_f64().unwrap() < 97.0,
            "{range}: the average alone hides it"
        );
        // Buckets without a spike carry no max (it would equal the value). The newest may:
        // the demo's own live samples of this VM land there.
        let newest = cpu.iter().filter_map(|p| p["timestamp"].as_i64()).max();
        let flat: Vec<_> = cpu.iter().filter(|p| p["value"] == 10.0).collect();
        assert!(!flat.is_empty(), "{range}: {cpu:?}");
        assert!(
            flat.iter().all(|p| p.get("max").is_none()
                || (p["timestamp"].as_i64() == newest && p["max"] != 97.0)),
            "{range}: {cpu:?}"
        );
    }
    // At 10 s a bucket is one sample: no max.
    let j = s.get(&format!("/api/charts?range=5m&id={id}")).json();
    assert!(j["data"][&id]["cpu"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p.get("max").is_none()));
}
