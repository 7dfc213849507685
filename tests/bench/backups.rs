//! Backups API at scale, in-process (the loop serves the listings from the live state; what is
//! measured is the handler's filtering, sorting, merging and JSON, plus one loopback request):
//!
//! - `/api/backups/unified` latency at 3,000 guests with 30 days of daily backups on PVE
//!   storage and on PBS (90,000 + 90,000 rows): the default page, a one-guest filter, a small page.
//! - a datastore with 100,000 snapshots: the resident memory it costs, and paging through
//!   100,000 guest snapshots with `/api/snapshots?limit=1000&offset=…`.
//!
//! `cargo test --release --test bench backups_ -- --ignored --nocapture`

use crate::support::{request, TestServer};
use crate::util::{ms, percentile};
use pulse::state::backups::{GuestSnapshot, PBSBackup, PveBackupsUpdate, StorageBackup};
use pulse::state::pbs::PBSInstance;
use pulse::util::time::UtcTime;
use std::time::{Duration, Instant};

const NOW: i64 = 1_780_000_000;
const DAY: i64 = 86_400;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn storage_backups(guests: usize, days: i64) -> Vec<StorageBackup> {
    let mut out = Vec::with_capacity(guests * days as usize);
    for g in 0..guests {
        let vmid = 100 + g as i64;
        let node = format!("pve{}", g % 30 + 1);
        for d in 0..days {
            let t = NOW - d * DAY - (g as i64 % 3600);
            let volid = format!("nfs:backup/vzdump-qemu-{vmid}-{t}.vma.zst");
            out.push(StorageBackup {
                id: format!("bench-{volid}"),
                storage: "nfs".into(),
                node: node.clone(),
                instance: "bench".into(),
                kind: "qemu".into(),
                vmid,
                time: UtcTime::from_unix(t),
                ctime: t,
                size: 2_000_000_000 + g as i64,
                format: "vma.zst".into(),
                volid,
                ..StorageBackup::default()
            });
        }
    }
    out
}

fn pbs_backups(guests: usize, per_guest: usize, store: &str) -> Vec<PBSBackup> {
    let mut out = Vec::with_capacity(guests * per_guest);
    for g in 0..guests {
        let vmid = (100 + g).to_string();
        for d in 0..per_guest as i64 {
            let t = NOW - d * DAY - 1800;
            out.push(PBSBackup {
                id: format!("pbs-bench-{store}--vm-{vmid}-{t}"),
                instance: "pbs-bench".into(),
                datastore: store.into(),
                backup_type: "vm".into(),
                vmid: vmid.clone(),
                backup_time: UtcTime::from_unix(t),
                size: 1_500_000_000,
                verified: d % 7 != 3,
                verification: if d % 7 == 3 { "failed" } else { "ok" }.into(),
                files: vec!["drive-scsi0.img.fidx".into(), "index.json.blob".into()],
                owner: "root@pam".into(),
                ..PBSBackup::default()
            });
        }
    }
    out
}

fn snapshots(n: usize) -> Vec<GuestSnapshot> {
    (0..n)
        .map(|i| GuestSnapshot {
            id: format!("bench-pve{}-{}-snap{i}", i % 30 + 1, 100 + i % 3000),
            name: format!("snap{i}"),
            node: format!("pve{}", i % 30 + 1),
            instance: "bench".into(),
            kind: "qemu".into(),
            vmid: 100 + (i % 3000) as i64,
            time: UtcTime::from_unix(NOW - i as i64 * 60),
            ..GuestSnapshot::default()
        })
        .collect()
}

fn pbs_instance() -> PBSInstance {
    PBSInstance {
        id: "pbs-pbs-bench".into(),
        name: "pbs-bench".into(),
        status: "online".into(),
        ..PBSInstance::default()
    }
}

/// `n` sequential requests; (p50, p99, max) in ms and the body size of the last.
fn timed(s: &TestServer, path: &str, n: usize) -> (f64, f64, f64, usize) {
    let mut samples = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = request(s.addr, "GET", path, &[], None);
        samples.push(t.elapsed());
        assert_eq!(r.status, 200, "{path}");
        size = r.body.len();
    }
    samples.sort();
    (
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
        size,
    )
}

#[test]
#[ignore]
fn backups_unified_3000_guests_30_days() {
    let s = TestServer::start(&[]);
    let (pve, pbs) = (storage_backups(3000, 30), pbs_backups(3000, 30, "main"));
    let rows = pve.len() + pbs.len();
    s.apply(move |app| {
        let st = app.polling.core.state_mut();
        let update = PveBackupsUpdate {
            storage_backups: Some(pve),
            ..PveBackupsUpdate::default()
        };
        st.update_pve_backups("bench", update, NOW * 1000);
        st.replace_pbs_instance(pbs_instance(), Some(pbs), NOW * 1000);
    });
    println!("\n/api/backups/unified, 3,000 guests x 30 days ({rows} rows: PVE storage + PBS)\n");
    println!("| request | p50 ms | p99 ms | max ms | body |");
    println!("|---|---:|---:|---:|---:|");
    for (label, path, n) in [
        ("default page (10,000 rows)", "/api/backups/unified", 20),
        (
            "one guest (`vmid=1500`)",
            "/api/backups/unified?vmid=1500",
            50,
        ),
        (
            "first 100 rows (`limit=100`)",
            "/api/backups/unified?limit=100",
            50,
        ),
        (
            "last week (`since=` 7 days)",
            &*format!("/api/backups/unified?since={}&limit=100", NOW - 7 * DAY),
            50,
        ),
    ] {
        let (p50, p99, max, size) = timed(&s, path, n);
        println!(
            "| {label} | {p50:.1} | {p99:.1} | {max:.1} | {:.1} KiB |",
            size as f64 / 1024.0
        );
    }
    s.stop();
}

#[test]
#[ignore]
fn backups_100k_snapshot_datastore_memory_and_paging() {
    let s = TestServer::start(&[]);
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kb();
    // 100,000 snapshots in one datastore: 1,000 groups x 100.
    let pbs = pbs_backups(1000, 100, "big");
    s.apply(move |app| {
        app.polling
            .core
            .state_mut()
            .replace_pbs_instance(pbs_instance(), Some(pbs), NOW * 1000);
    });
    let after_pbs = rss_kb();
    let snaps = snapshots(100_000);
    s.apply(move |app| {
        let update = PveBackupsUpdate {
            guest_snapshots: Some(snaps),
            ..PveBackupsUpdate::default()
        };
        app.polling
            .core
            .state_mut()
            .update_pve_backups("bench", update, NOW * 1000);
    });
    let after_snaps = rss_kb();
    // Page through every guest snapshot, 1,000 at a time.
    let mut samples = Vec::new();
    let mut seen = 0;
    let started = Instant::now();
    for page in 0..100 {
        let t = Instant::now();
        let r = request(
            s.addr,
            "GET",
            &format!("/api/snapshots?limit=1000&offset={}", page * 1000),
            &[],
            None,
        );
        samples.push(t.elapsed());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        seen += v["snapshots"].as_array().unwrap().len();
    }
    let total = started.elapsed();
    assert_eq!(seen, 100_000);
    samples.sort();
    let (pbs_page_p50, pbs_page_p99, _, pbs_size) = timed(
        &s,
        "/api/backups?instance=pbs-bench&limit=1000&offset=50000",
        20,
    );
    let after_paging = rss_kb();
    println!("\n100,000-snapshot datastore and 100,000 guest snapshots (in-process, RSS of the test process)\n");
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| RSS before | {:.1} MiB |", before as f64 / 1024.0);
    println!(
        "| + 100,000 PBS snapshots in one datastore | {:+.1} MiB |",
        (after_pbs as f64 - before as f64) / 1024.0
    );
    println!(
        "| + 100,000 guest snapshots | {:+.1} MiB |",
        (after_snaps as f64 - after_pbs as f64) / 1024.0
    );
    println!(
        "| after paging both (peak of the answers) | {:+.1} MiB |",
        (after_paging as f64 - after_snaps as f64) / 1024.0
    );
    println!(
        "| `/api/snapshots?limit=1000` page, p50 / p99 | {:.1} / {:.1} ms |",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
    println!("| all 100 pages | {:.0} ms |", ms(total));
    println!("| `/api/backups?instance=…&limit=1000` page (PBS), p50 / p99 | {pbs_page_p50:.1} / {pbs_page_p99:.1} ms ({:.0} KiB) |", pbs_size as f64 / 1024.0);
    s.stop();
}

/// A PBS answering one datastore of 100,000 snapshots (100 groups × 1,000), a group per
/// request, as `poll_pbs_backups` asks.
struct HugeStore;

impl pulse::monitor::poll_pbs::PbsApi for HugeStore {
    fn version(
        &mut self,
    ) -> Result<pulse::proxmox::pve_types::Version, pulse::proxmox::ProxmoxError> {
        Ok(serde_json::from_value(serde_json::json!({"version": "3.4"})).unwrap())
    }
    fn node_status(
        &mut self,
    ) -> Result<pulse::proxmox::pbs_types::PbsNodeStatus, pulse::proxmox::ProxmoxError> {
        Ok(serde_json::from_value(serde_json::json!({})).unwrap())
    }
    fn datastores(
        &mut self,
    ) -> Result<Vec<pulse::proxmox::pbs_types::DatastoreListEntry>, pulse::proxmox::ProxmoxError>
    {
        Ok(serde_json::from_value(serde_json::json!([{"store": "big"}])).unwrap())
    }
    fn datastore_status(
        &mut self,
        _: &str,
    ) -> Result<pulse::proxmox::pbs_types::DatastoreStatus, pulse::proxmox::ProxmoxError> {
        Ok(serde_json::from_value(serde_json::json!({"used": 1, "avail": 1})).unwrap())
    }
    fn datastore_gc(
        &mut self,
        _: &str,
    ) -> Result<pulse::proxmox::pbs_types::GcStatus, pulse::proxmox::ProxmoxError> {
        Ok(serde_json::from_value(serde_json::json!({})).unwrap())
    }
    fn namespaces(
        &mut self,
        _: &str,
    ) -> Result<Vec<pulse::proxmox::pbs_types::Namespace>, pulse::proxmox::ProxmoxError> {
        Ok(serde_json::from_value(serde_json::json!([{"ns": ""}])).unwrap())
    }
    fn groups(
        &mut self,
        _: &str,
        _: &str,
    ) -> Result<Vec<pulse::proxmox::pbs_types::BackupGroup>, pulse::proxmox::ProxmoxError> {
        let list: Vec<serde_json::Value> = (0..100)
            .map(|g| serde_json::json!({"backup-type": "vm", "backup-id": (100 + g).to_string(), "backup-count": 1000, "last-backup": 1}))
            .collect();
        Ok(serde_json::from_value(serde_json::json!(list)).unwrap())
    }
    fn snapshots(
        &mut self,
        _: &str,
        _: &str,
        t: &str,
        id: &str,
    ) -> Result<Vec<pulse::proxmox::pbs_types::BackupSnapshot>, pulse::proxmox::ProxmoxError> {
        let list: Vec<serde_json::Value> = (0..1000i64)
            .map(|i| serde_json::json!({"backup-type": t, "backup-id": id, "backup-time": NOW - i * 3600, "size": 1_500_000_000, "owner": "root@pam", "files": [{"filename": "index.json.blob"}, {"filename": "drive-scsi0.img.fidx"}], "verification": {"state": "ok"}}))
            .collect();
        Ok(serde_json::from_value(serde_json::json!(list)).unwrap())
    }
}

/// The same 100,000-snapshot datastore through the poll (a group per request, the newest
/// `MAX_SNAPSHOTS_PER_DATASTORE` kept) into the live state: the memory it costs now.
#[test]
#[ignore]
fn backups_100k_snapshot_datastore_through_the_poll_is_bounded() {
    use pulse::monitor::poll_pbs::{poll_pbs_backups, MAX_SNAPSHOTS_PER_DATASTORE};
    let rss0 = rss_kb();
    let t = Instant::now();
    let list = poll_pbs_backups(&mut HugeStore, "pbs-bench", &["big".to_string()]).unwrap();
    let poll_ms = ms(t.elapsed());
    let kept = list.len();
    let mut state = pulse::state::LiveState::new();
    state.replace_pbs_instance(pbs_instance(), Some(list), NOW * 1000);
    let rss1 = rss_kb();
    println!("\n| 100,000-snapshot datastore through the poll | value |\n|---|---:|");
    println!("| snapshots kept (cap {MAX_SNAPSHOTS_PER_DATASTORE}) | {kept} |");
    println!("| poll of the 100 groups (decode + keep newest) | {poll_ms:.0} ms |");
    println!(
        "| RSS after, minus before | +{:.1} MiB |",
        (rss1 as f64 - rss0 as f64) / 1024.0
    );
    assert_eq!(kept, MAX_SNAPSHOTS_PER_DATASTORE);
    drop(state);
}
