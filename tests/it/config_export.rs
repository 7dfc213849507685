//! Export → import between real data dirs, and failed imports that must change nothing.

use pulse::config::export::{open_export, seal_export, ExportData, ImportPlan};
use pulse::config::metadata::GuestMetadataUpdate;
use pulse::config::model::node_edit::NodeRequest;
use pulse::config::model::nodes::NodesConfig;
use pulse::config::persist::store::ConfigStore;
use pulse::config::ConfigError;
use pulse::util::time::UtcTime;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const PASS: &str = "a long enough passphrase";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pulse-cfgexport-{tag}-{}-{}",
        std::process::id(),
        pulse::util::time::now_ms()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn at(secs: i64) -> UtcTime {
    UtcTime::from_unix(1_700_000_000 + secs)
}

fn req(json: &str) -> NodeRequest {
    serde_json::from_str(json).unwrap()
}

/// A source data dir with nodes, settings, metadata and files owned by other modules.
fn populated(dir: &Path) -> ConfigStore {
    let store = ConfigStore::open(dir).unwrap().value;
    let mut nodes = NodesConfig::default();
    nodes
        .add_node(&req(
            r#"{"type":"pve","name":"pve1","host":"10.0.0.1","user":"root@pam","password":"pw"}"#,
        ))
        .unwrap();
    nodes.add_node(&req(r#"{"type":"pve","name":"pve2","host":"10.0.0.2","tokenName":"p@pam!t","tokenValue":"v"}"#)).unwrap();
    nodes.remove_node("pve-0").unwrap();
    nodes.add_node(&req(r#"{"type":"pbs","name":"pbs1","host":"10.0.0.9","tokenName":"p@pbs!t","tokenValue":"v"}"#)).unwrap();
    store.save_nodes(&nodes, false, at(0)).unwrap();
    let mut system = store.load_system(at(0)).unwrap().value;
    system
        .apply_update(&serde_json::json!({"theme":"dark","pbsPollingInterval":90}))
        .unwrap();
    store.save_system(&system).unwrap();
    let mut meta = store.load_guest_metadata(at(0)).unwrap().value;
    let upd: GuestMetadataUpdate =
        serde_json::from_str(r#"{"customUrl":"https://vm.lan","tags":["db"]}"#).unwrap();
    meta.set("pve2-100", &upd).unwrap();
    store.save_guest_metadata(&meta).unwrap();
    fs::write(
        dir.join("alerts.json"),
        br#"{"enabled":true,"guestDefaults":{"cpu":{"trigger":80}}}"#,
    )
    .unwrap();
    fs::write(
        dir.join("webhooks.enc"),
        store
            .cipher()
            .seal(br#"[{"name":"hook","url":"https://h"}]"#)
            .unwrap(),
    )
    .unwrap();
    fs::write(
        dir.join("api_tokens.json"),
        br#"[{"id":"t1","hash":"abc"}]"#,
    )
    .unwrap();
    store
}

fn export(store: &ConfigStore) -> String {
    seal_export(&ExportData::collect(store, at(10)).unwrap(), PASS).unwrap()
}

#[test]
fn export_import_into_fresh_dir_restores_everything() {
    let src_dir = temp_dir("src");
    let src = populated(&src_dir);
    let blob = export(&src);

    let dst_dir = temp_dir("dst");
    let dst = ConfigStore::open(&dst_dir).unwrap().value;
    let data = open_export(&blob, PASS).unwrap();
    assert_eq!(data.version, "4.1");
    let outcome = ImportPlan::prepare(&dst, data, &NodesConfig::default())
        .unwrap()
        .commit(&dst, at(20))
        .unwrap();
    let src_nodes = src.load_nodes(at(30)).unwrap().value;
    assert_eq!(outcome.nodes, src_nodes);
    assert!(
        outcome.files_changed.contains(&"alerts.json")
            && outcome.files_changed.contains(&"webhooks.enc")
    );

    // What is on disk in the destination (a different encryption key) matches the source.
    let reopened = ConfigStore::open(&dst_dir).unwrap().value;
    let nodes = reopened.load_nodes(at(30)).unwrap();
    assert!(nodes.warnings.is_empty(), "{:?}", nodes.warnings);
    assert_eq!(nodes.value, src_nodes);
    assert_eq!(
        nodes.value.pve[0].id, "pve-1",
        "stable ids travel with the export"
    );
    assert_eq!(
        reopened.load_system(at(30)).unwrap().value,
        src.load_system(at(30)).unwrap().value
    );
    assert_eq!(
        reopened
            .load_guest_metadata(at(30))
            .unwrap()
            .value
            .get("pve2-100")
            .tags,
        ["db"]
    );
    assert_eq!(
        reopened.read_json("alerts.json").unwrap(),
        src.read_json("alerts.json").unwrap()
    );
    assert_eq!(
        reopened
            .read_encrypted_json("webhooks.enc")
            .unwrap()
            .unwrap()[0]["name"],
        "hook"
    );
    assert_eq!(
        reopened.read_json("api_tokens.json").unwrap().unwrap()[0]["id"],
        "t1"
    );
    let leftovers: Vec<_> = fs::read_dir(&dst_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".import-staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    fs::remove_dir_all(&src_dir).unwrap();
    fs::remove_dir_all(&dst_dir).unwrap();
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn wrong_passphrase_is_an_error_and_changes_nothing() {
    let src_dir = temp_dir("wrong-src");
    let blob = export(&populated(&src_dir));
    let dst_dir = temp_dir("wrong-dst");
    let dst = populated(&dst_dir);
    let before = snapshot(&dst_dir);
    let err = open_export(&blob, "not the passphrase").unwrap_err();
    assert!(matches!(err, ConfigError::WrongPassphrase));
    assert_eq!(err.http_status(), 400);
    assert!(err.to_string().contains("wrong passphrase"));
    drop(dst);
    assert_eq!(snapshot(&dst_dir), before);
    fs::remove_dir_all(&src_dir).unwrap();
    fs::remove_dir_all(&dst_dir).unwrap();
}

#[test]
fn an_invalid_section_aborts_the_whole_import() {
    let dst_dir = temp_dir("invalid");
    let dst = populated(&dst_dir);
    let current = dst.load_nodes(at(0)).unwrap().value;
    let before = snapshot(&dst_dir);
    let mut data = ExportData::collect(&dst, at(1)).unwrap();
    data.system = serde_json::json!({"theme":"light"});
    data.webhooks = serde_json::json!({"not":"an array"});
    let err = ImportPlan::prepare(&dst, data, &current).unwrap_err();
    assert!(err.to_string().contains("webhooks"), "{err}");
    assert_eq!(
        snapshot(&dst_dir),
        before,
        "nothing written when validation fails"
    );

    let empty = ExportData {
        version: "4.1".into(),
        ..Default::default()
    };
    let err = ImportPlan::prepare(&dst, empty, &current).unwrap_err();
    assert!(err.to_string().contains("no nodes"), "{err}");
    assert_eq!(snapshot(&dst_dir), before);
    fs::remove_dir_all(&dst_dir).unwrap();
}

#[test]
fn short_passphrase_rejected_on_export() {
    let dir = temp_dir("short");
    let store = populated(&dir);
    let err = seal_export(&ExportData::collect(&store, at(0)).unwrap(), "elevenchars").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Passphrase must be at least 12 characters long"
    );
    fs::remove_dir_all(&dir).unwrap();
}
