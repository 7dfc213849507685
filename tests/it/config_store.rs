//! Data-dir persistence against real files: round trips, a data dir written the way Pulse writes
//! it, and recovery from corrupt files.

use data_encoding::BASE64;
use pulse::config::metadata::GuestMetadataUpdate;
use pulse::config::model::node_edit::NodeRequest;
use pulse::config::model::nodes::NodesConfig;
use pulse::config::persist::crypto::Cipher;
use pulse::config::persist::store::{ConfigStore, NODES_FILE, SYSTEM_FILE};
use pulse::util::time::UtcTime;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pulse-cfgstore-{tag}-{}-{}",
        std::process::id(),
        pulse::util::time::now_ms()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn at(secs: i64) -> UtcTime {
    UtcTime::from_unix(1_700_000_000 + secs)
}

fn open(dir: &std::path::Path) -> ConfigStore {
    let loaded = ConfigStore::open(dir).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.value
}

fn node(json: &str) -> NodeRequest {
    serde_json::from_str(json).unwrap()
}

fn sample_nodes() -> NodesConfig {
    let mut n = NodesConfig::default();
    n.add_node(&node(
        r#"{"type":"pve","name":"pve1","host":"10.0.0.1","user":"root@pam","password":"pw"}"#,
    ))
    .unwrap();
    n.add_node(&node(
        r#"{"type":"pbs","name":"pbs1","host":"10.0.0.2","tokenName":"a@pbs!t","tokenValue":"tv"}"#,
    ))
    .unwrap();
    n.add_node(&node(
        r#"{"type":"pmg","name":"pmg1","host":"10.0.0.3","user":"api@pmg","password":"pp"}"#,
    ))
    .unwrap();
    n
}

fn mode(path: PathBuf) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn every_file_round_trips_with_mode_0600() {
    let dir = temp_dir("roundtrip");
    let store = open(&dir);
    let nodes = sample_nodes();
    store.save_nodes(&nodes, false, at(0)).unwrap();
    let mut system = store.load_system(at(0)).unwrap().value;
    system
        .apply_update(&serde_json::json!({"theme":"dark","discoveryEnabled":true}))
        .unwrap();
    store.save_system(&system).unwrap();
    let mut meta = store.load_guest_metadata(at(0)).unwrap().value;
    let upd: GuestMetadataUpdate =
        serde_json::from_str(r#"{"customUrl":"https://x.lan"}"#).unwrap();
    meta.set("pve1-100", &upd).unwrap();
    store.save_guest_metadata(&meta).unwrap();

    let store = open(&dir);
    let loaded = store.load_nodes(at(1)).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.value, nodes);
    assert_eq!(store.load_system(at(1)).unwrap().value, system);
    assert_eq!(store.load_guest_metadata(at(1)).unwrap().value, meta);
    for f in [
        NODES_FILE,
        SYSTEM_FILE,
        "guest_metadata.json",
        ".encryption.key",
    ] {
        assert_eq!(mode(dir.join(f)), 0o600, "{f}");
    }
    // nodes.enc is ciphertext: no credential appears in it.
    let raw = fs::read(dir.join(NODES_FILE)).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"pve1"));
    fs::remove_dir_all(&dir).unwrap();
}

/// Builds a data dir exactly as Pulse (Go) writes it: base64 key file, AES-GCM with
/// nonce||ciphertext||tag, PascalCase instance keys, no ids, `null` slices.
#[test]
fn opens_a_data_dir_written_by_pulse() {
    let dir = temp_dir("pulse-format");
    let key = [42u8; 32];
    fs::write(dir.join(".encryption.key"), BASE64.encode(&key)).unwrap();
    let plaintext = br#"{"pveInstances":[{"Name":"homelab","Host":"https://192.168.1.10:8006","GuestURL":"",
        "User":"","Password":"","TokenName":"pulse-monitor@pam!pulse-192-168-1-5-1700000000",
        "TokenValue":"11111111-2222-3333-4444-555555555555","Fingerprint":"","VerifySSL":false,
        "MonitorVMs":true,"MonitorContainers":true,"MonitorStorage":true,"MonitorBackups":true,
        "MonitorPhysicalDisks":null,"PhysicalDiskPollingMinutes":0,"TemperatureMonitoringEnabled":null,
        "SSHPort":22,"IsCluster":false,"ClusterName":"","ClusterEndpoints":null}],
        "pbsInstances":[{"Name":"pbs","Host":"192.168.1.20","User":"root@pam","Password":"pbspass",
        "TokenName":"","TokenValue":"","Fingerprint":"AB:CD","VerifySSL":false,"MonitorBackups":true,
        "MonitorDatastores":true,"MonitorSyncJobs":false,"MonitorVerifyJobs":false,"MonitorPruneJobs":false,
        "MonitorGarbageJobs":false,"TemperatureMonitoringEnabled":null,"SSHPort":0}],
        "pmgInstances":[]}"#;
    let nonce = [9u8; 12];
    let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let mut buf = plaintext.to_vec();
    sealing
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .unwrap();
    let mut file = nonce.to_vec();
    file.extend_from_slice(&buf);
    fs::write(dir.join(NODES_FILE), &file).unwrap();
    fs::write(
        dir.join(SYSTEM_FILE),
        br#"{"pbsPollingInterval":120,"pmgPollingInterval":60,"autoUpdateEnabled":false,"discoveryEnabled":true,
            "discoverySubnet":"192.168.1.0/24","discoveryConfig":{"environment_override":"auto","subnet_allowlist":null,
            "subnet_blocklist":["169.254.0.0/16"],"max_hosts_per_scan":1024,"max_concurrent":50,"enable_reverse_dns":true,
            "scan_gateways":true,"dial_timeout_ms":1000,"http_timeout_ms":2000},"theme":"dark","allowEmbedding":false,
            "temperatureMonitoringEnabled":true,"dnsCacheTimeout":300}"#,
    )
    .unwrap();
    fs::write(
        dir.join("guest_metadata.json"),
        br#"{"pve-homelab-101":{"id":"pve-homelab-101","customUrl":"https://101.lan","description":"","tags":null}}"#,
    )
    .unwrap();
    fs::write(dir.join("alerts.json"), br#"{"enabled":true}"#).unwrap();

    let store = open(&dir);
    let nodes = store.load_nodes(at(0)).unwrap();
    assert!(nodes.warnings.is_empty(), "{:?}", nodes.warnings);
    let n = nodes.value;
    assert_eq!(n.pve.len(), 1);
    assert_eq!(n.pve[0].id, "pve-0");
    assert_eq!(
        n.pve[0].token_name,
        "pulse-monitor@pam!pulse-192-168-1-5-1700000000"
    );
    assert_eq!(n.pve[0].ssh_port, 22);
    assert_eq!(n.pbs[0].host, "https://192.168.1.20:8007");
    assert_eq!(n.pbs[0].password.expose(), "pbspass");
    assert_eq!(n.pbs[0].id, "pbs-0");
    let system = store.load_system(at(0)).unwrap();
    assert!(system.warnings.is_empty(), "{:?}", system.warnings);
    assert_eq!(
        (
            system.value.pbs_polling_interval,
            system.value.theme.as_str()
        ),
        (120, "dark")
    );
    assert!(system.value.discovery_config.subnet_allowlist.is_empty());
    let meta = store.load_guest_metadata(at(0)).unwrap();
    assert!(meta.warnings.is_empty(), "{:?}", meta.warnings);
    assert_eq!(
        meta.value.get("pve-homelab-101").custom_url,
        "https://101.lan"
    );
    assert_eq!(
        store.read_alerts_raw().unwrap().unwrap(),
        br#"{"enabled":true}"#
    );

    // Our save is readable by the same algorithm with PascalCase keys (what Go decodes).
    store.save_nodes(&n, false, at(1)).unwrap();
    let saved = fs::read(dir.join(NODES_FILE)).unwrap();
    let (nonce, sealed) = saved.split_at(12);
    let mut sealed = sealed.to_vec();
    let plain = sealing
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).unwrap(),
            Aad::empty(),
            &mut sealed,
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(plain).unwrap();
    assert_eq!(
        v["pveInstances"][0]["TokenValue"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(v["pbsInstances"][0]["Host"], "https://192.168.1.20:8007");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_nodes_file_is_set_aside_and_backup_restored() {
    let dir = temp_dir("corrupt-nodes");
    let store = open(&dir);
    let first = sample_nodes();
    store.save_nodes(&first, false, at(0)).unwrap();
    let mut second = first.clone();
    second.remove_node("pmg-0").unwrap();
    store.save_nodes(&second, false, at(1)).unwrap();
    assert!(dir.join("nodes.enc.backup").exists());
    assert!(
        dir.join("nodes.enc.backup-20231114-221321").exists(),
        "stamped at the time of the save that replaced it"
    );

    let garbage = b"definitely not AES-GCM".to_vec();
    fs::write(dir.join(NODES_FILE), &garbage).unwrap();
    let loaded = store.load_nodes(at(5)).unwrap();
    assert_eq!(
        loaded.value, first,
        "the newest backup (state before the last save) is used"
    );
    let text: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter().any(|w| w.contains("corrupted-20231114-221325")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|w| w.contains("restored 3 node(s) from nodes.enc.backup")),
        "{text:?}"
    );
    assert_eq!(
        fs::read(dir.join("nodes.enc.corrupted-20231114-221325")).unwrap(),
        garbage,
        "kept"
    );
    // The restored file is in place: the next load is clean.
    let again = store.load_nodes(at(6)).unwrap();
    assert!(again.warnings.is_empty() && again.value == first);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_nodes_without_backup_keeps_the_file_and_warns() {
    let dir = temp_dir("corrupt-nobackup");
    let store = open(&dir);
    fs::write(dir.join(NODES_FILE), b"junk junk junk junk junk junk junk").unwrap();
    let loaded = store.load_nodes(at(0)).unwrap();
    assert!(loaded.value.is_empty());
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.message.contains("no readable backup")));
    assert!(dir.join("nodes.enc.corrupted-20231114-221320").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_plain_files_fall_back_to_defaults_and_are_kept() {
    let dir = temp_dir("corrupt-plain");
    let store = open(&dir);
    fs::write(dir.join(SYSTEM_FILE), b"{\"theme\":").unwrap();
    fs::write(dir.join("guest_metadata.json"), b"[1,2]").unwrap();
    let system = store.load_system(at(0)).unwrap();
    assert_eq!(system.value.pbs_polling_interval, 60);
    assert_eq!(system.warnings.len(), 1);
    assert!(dir.join("system.json.corrupted-20231114-221320").exists());
    let meta = store.load_guest_metadata(at(0)).unwrap();
    assert!(meta.value.all().is_empty() && meta.warnings.len() == 1);
    assert!(dir
        .join("guest_metadata.json.corrupted-20231114-221320")
        .exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timestamped_backups_are_capped_at_ten_and_empty_save_is_guarded() {
    let dir = temp_dir("backups");
    let store = open(&dir);
    let nodes = sample_nodes();
    for i in 0..15 {
        store.save_nodes(&nodes, false, at(i)).unwrap();
    }
    let stamped = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("nodes.enc.backup-")
        })
        .count();
    assert_eq!(stamped, 10);
    let err = store
        .save_nodes(&NodesConfig::default(), false, at(20))
        .unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert_eq!(store.load_nodes(at(21)).unwrap().value, nodes);
    store
        .save_nodes(&NodesConfig::default(), true, at(22))
        .unwrap();
    assert!(store.load_nodes(at(23)).unwrap().value.is_empty());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_key_is_treated_as_corruption_not_emptied() {
    let dir = temp_dir("wrongkey");
    let store = open(&dir);
    store.save_nodes(&sample_nodes(), false, at(0)).unwrap();
    let other = Cipher::from_key(&[1u8; 32]);
    fs::write(dir.join(NODES_FILE), other.seal(b"{}").unwrap()).unwrap();
    let loaded = store.load_nodes(at(1)).unwrap();
    // No backup yet (only one save), so nothing to restore — but the file is kept.
    assert!(loaded.value.is_empty());
    assert!(dir.join("nodes.enc.corrupted-20231114-221321").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_removed_nodes_file_with_backups_is_reported() {
    let dir = temp_dir("removed");
    let store = open(&dir);
    store.save_nodes(&sample_nodes(), false, at(0)).unwrap();
    store.save_nodes(&sample_nodes(), false, at(1)).unwrap();
    fs::remove_file(dir.join(NODES_FILE)).unwrap();
    let loaded = store.load_nodes(at(2)).unwrap();
    assert!(loaded.value.is_empty());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("nodes.enc.backup exists")),
        "{:?}",
        loaded.warnings
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn oversized_files_are_refused_not_read() {
    let dir = temp_dir("huge");
    let store = open(&dir);
    let f = fs::File::create(dir.join(SYSTEM_FILE)).unwrap();
    f.set_len(40 * 1024 * 1024).unwrap();
    let err = store.load_system(at(0)).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    assert!(
        dir.join(SYSTEM_FILE).exists(),
        "left in place for the administrator"
    );
    fs::remove_dir_all(&dir).unwrap();
}
