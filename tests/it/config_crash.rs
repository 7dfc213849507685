//! Crash safety: a child process (this test binary, re-executed to run the ignored helper
//! `crash_child`) writes the data dir in a tight loop — through the data-dir writer thread, as
//! Pulse does — and is SIGKILLed at varying moments; afterwards every file must hold the old or
//! the new content (never a mix), and an import must be either fully applied or not at all. The
//! parent checks that the child was still running and died of the signal: a child that returns
//! or panics on its own fails the test.

use pulse::config::export::{open_export, seal_export, ExportData, ImportPlan};
use pulse::config::metadata::GuestMetadataUpdate;
use pulse::config::model::node_edit::NodeRequest;
use pulse::config::model::nodes::NodesConfig;
use pulse::config::persist::store::ConfigStore;
use pulse::config::state::ConfigState;
use pulse::core::writer::Writer;
use pulse::util::time::UtcTime;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

const CHILD_DIR: &str = "PULSE_CRASH_CHILD_DIR";
const CHILD_MODE: &str = "PULSE_CRASH_CHILD_MODE";
const PASS: &str = "crash test passphrase";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = env::temp_dir().join(format!(
        "pulse-crash-{tag}-{}-{}",
        std::process::id(),
        pulse::util::time::now_ms()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn nodes(count: usize) -> NodesConfig {
    let mut n = NodesConfig::default();
    for i in 0..count {
        let json = format!(
            r#"{{"type":"pve","name":"n{i}","host":"10.0.{}.{}","user":"root@pam","password":"pw{i}"}}"#,
            i / 250,
            i % 250 + 1
        );
        n.add_node(&serde_json::from_str::<NodeRequest>(&json).unwrap())
            .unwrap();
    }
    n
}

/// Helper, run only by the tests below in a child process (`--ignored --exact crash_child`):
/// without its variables it fails, so it can never pass vacuously.
#[test]
#[ignore = "helper: run in a child process by the crash tests"]
fn crash_child() {
    let dir = PathBuf::from(env::var(CHILD_DIR).expect("run by the crash tests only"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut announced = false;
    let mut i: i64 = 0;
    if env::var(CHILD_MODE).as_deref() == Ok("import") {
        let store = ConfigStore::open(&dir).unwrap().value;
        let blobs = [
            fs::read_to_string(dir.join("../a.export")).unwrap(),
            fs::read_to_string(dir.join("../b.export")).unwrap(),
        ];
        let data: Vec<ExportData> = blobs
            .iter()
            .map(|b| open_export(b, PASS).unwrap())
            .collect();
        while Instant::now() < deadline {
            let current = store.load_nodes(UtcTime::from_unix(i)).unwrap().value;
            let d = data[(i % 2) as usize].clone();
            ImportPlan::prepare(&store, d, &current)
                .unwrap()
                .commit(&store, UtcTime::from_unix(i))
                .unwrap();
            if !announced {
                println!("READY");
                announced = true;
            }
            i += 1;
        }
        return;
    }
    // Writes mode: the event loop's path — in-memory change, bytes queued on the writer.
    let writer = Writer::start(16).unwrap();
    let mut state = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0), writer.handle());
    while Instant::now() < deadline {
        let now = UtcTime::from_unix(1_700_000_000 + i);
        let queued = state
            .replace_nodes(nodes(1 + (i as usize % 40)), false, now)
            .and_then(|_| {
                let mut system = state.system.clone();
                system.pbs_polling_interval = 10 + i % 3000;
                state.replace_system(system)
            })
            .and_then(|_| {
                let mut meta = state.metadata.clone();
                let upd: GuestMetadataUpdate = serde_json::from_str(&format!(
                    r#"{{"customUrl":"https://vm{i}.lan","description":"{}"}}"#,
                    "x".repeat(i as usize % 500)
                ))
                .unwrap();
                meta.set(&format!("pve-{}", i % 50), &upd).unwrap();
                state.replace_metadata(meta)
            });
        if queued.is_err() {
            // Busy: let the writer catch up (the API would have answered 503).
            writer.flush();
            continue;
        }
        if !announced {
            writer.flush();
            println!("READY");
            announced = true;
        }
        i += 1;
    }
}

/// Starts the child, waits until it has completed one round of writes, lets it run `delay`,
/// then SIGKILLs it, checking that it was still running and died of the signal.
fn run_and_kill(dir: &Path, mode: &str, delay: Duration) {
    let mut child = Command::new(env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "config_crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|l| l.map(|l| l.contains("READY")).unwrap_or(false));
    assert!(ready, "child never got through one round of writes");
    thread::sleep(delay);
    let early = child.try_wait().unwrap();
    assert!(
        early.is_none(),
        "child stopped by itself before the kill: {early:?}"
    );
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "child must die of SIGKILL, got {status:?}"
    );
}

/// The node lists the child writes are `nodes(k)` for k in 1..=40: n0..n{k-1}, in order.
fn assert_whole_node_list(nodes: &NodesConfig, round: u64) {
    let names: Vec<String> = serde_json::to_value(nodes.views(&|_, _| false))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..names.len()).map(|i| format!("n{i}")).collect();
    assert!(
        (1..=40).contains(&names.len()) && names == expected,
        "round {round}: node list is not one the child wrote: {names:?}"
    );
}

/// Deterministic spread of kill delays (0–24 ms) without a random-number crate.
fn delay(round: u64) -> Duration {
    Duration::from_micros((round * 7_919 + 1_234) % 25_000)
}

fn leftover_files(dir: &Path, pattern: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(pattern))
        .collect()
}

#[test]
fn sigkill_during_writes_never_leaves_an_unreadable_file() {
    let dir = temp_dir("writes");
    for round in 0..8 {
        run_and_kill(&dir, "writes", delay(round));
        let opened = ConfigStore::open(&dir).unwrap();
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
        let store = opened.value;
        let nodes = store.load_nodes(UtcTime::from_unix(0)).unwrap();
        assert!(
            nodes.warnings.is_empty(),
            "round {round}: {:?}",
            nodes.warnings
        );
        assert_whole_node_list(&nodes.value, round);
        let system = store.load_system(UtcTime::from_unix(0)).unwrap();
        assert!(
            system.warnings.is_empty(),
            "round {round}: {:?}",
            system.warnings
        );
        assert!((10..3010).contains(&system.value.pbs_polling_interval));
        let meta = store.load_guest_metadata(UtcTime::from_unix(0)).unwrap();
        assert!(
            meta.warnings.is_empty(),
            "round {round}: {:?}",
            meta.warnings
        );
        assert!(!meta.value.all().is_empty());
        assert!(leftover_files(&dir, "corrupted").is_empty());
        assert!(
            leftover_files(&dir, ".tmp.").is_empty(),
            "open() removes stale temp files"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigkill_during_import_is_all_or_nothing() {
    let root = temp_dir("import");
    let dir = root.join("data");
    // Two exports that differ in every file: A = 1 node + light theme, B = 3 nodes + dark theme.
    for (name, count, theme) in [("a", 1, "light"), ("b", 3, "dark")] {
        let src = root.join(format!("src-{name}"));
        let store = ConfigStore::open(&src).unwrap().value;
        store
            .save_nodes(&nodes(count), false, UtcTime::from_unix(0))
            .unwrap();
        let mut system = store.load_system(UtcTime::from_unix(0)).unwrap().value;
        system
            .apply_update(&serde_json::json!({ "theme": theme }))
            .unwrap();
        store.save_system(&system).unwrap();
        let blob = seal_export(
            &ExportData::collect(&store, UtcTime::from_unix(0)).unwrap(),
            PASS,
        )
        .unwrap();
        fs::write(root.join(format!("{name}.export")), blob).unwrap();
    }
    // Start from state A.
    let store = ConfigStore::open(&dir).unwrap().value;
    let a = open_export(&fs::read_to_string(root.join("a.export")).unwrap(), PASS).unwrap();
    ImportPlan::prepare(&store, a, &NodesConfig::default())
        .unwrap()
        .commit(&store, UtcTime::from_unix(0))
        .unwrap();
    drop(store);

    for round in 0..6 {
        run_and_kill(&dir, "import", delay(round * 3));
        let store = ConfigStore::open(&dir).unwrap().value;
        assert!(
            leftover_files(&dir, ".import-staging").is_empty(),
            "recovery must finish or discard"
        );
        let nodes = store.load_nodes(UtcTime::from_unix(0)).unwrap();
        assert!(nodes.warnings.is_empty(), "{:?}", nodes.warnings);
        let theme = store
            .load_system(UtcTime::from_unix(0))
            .unwrap()
            .value
            .theme;
        let state = (nodes.value.len(), theme.as_str());
        assert!(
            state == (1, "light") || state == (3, "dark"),
            "round {round}: mixed import state {state:?}"
        );
    }
    fs::remove_dir_all(&root).unwrap();
}
