//! `pulse config export|import|info` and the start-up auto-import (`PULSE_INIT_CONFIG_*`), as
//! library functions the binary calls. They work on the data dir directly, so they are meant for
//! a stopped server (or a first start); the output says so when it matters.

use crate::config::error::ConfigError;
use crate::config::export::{open_export, seal_export, ExportData, ImportOutcome, ImportPlan};
use crate::config::persist::store::{ConfigStore, NODES_FILE};
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use data_encoding::BASE64;
use std::path::Path;

pub const USAGE: &str = "\
Usage:
  pulse config export [-o FILE] [-p PASSPHRASE]   write an encrypted export (stdout without -o)
  pulse config import -i FILE [-p PASSPHRASE] [-f] replace the configuration with an export
  pulse config info                              what the data dir holds
The passphrase may also come from PULSE_PASSPHRASE (at least 12 characters for export).
-f is accepted for compatibility with Pulse; import never asks for confirmation.";

struct Args {
    sub: String,
    input: Option<String>,
    output: Option<String>,
    passphrase: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    let sub = it
        .next()
        .cloned()
        .ok_or_else(|| format!("missing config command\n{USAGE}"))?;
    let mut parsed = Args {
        sub,
        input: None,
        output: None,
        passphrase: None,
    };
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "-i" | "--input" => parsed.input = Some(value()?),
            "-o" | "--output" => parsed.output = Some(value()?),
            "-p" | "--passphrase" => parsed.passphrase = Some(value()?),
            "-f" | "--force" => {}
            other => return Err(format!("unknown option '{other}'\n{USAGE}")),
        }
    }
    Ok(parsed)
}

/// Runs `pulse config <args>`; returns what to print on stdout, or an error message.
/// `env` looks up `PULSE_PASSPHRASE`.
pub fn run(
    args: &[String],
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let a = parse(args)?;
    let passphrase = || {
        a.passphrase
            .clone()
            .or_else(|| env("PULSE_PASSPHRASE"))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                "a passphrase is required: -p PASSPHRASE or PULSE_PASSPHRASE".to_string()
            })
    };
    let now = UtcTime::now();
    let open_store = || {
        ConfigStore::open(data_dir)
            .map(|l| l.value)
            .map_err(|e| e.to_string())
    };
    match a.sub.as_str() {
        "export" => {
            let store = open_store()?;
            let data = ExportData::collect(&store, now).map_err(|e| e.to_string())?;
            let blob = seal_export(&data, &passphrase()?).map_err(|e| e.to_string())?;
            match &a.output {
                Some(file) => {
                    write_atomic(Path::new(file), blob.as_bytes(), 0o600)
                        .map_err(|e| format!("writing {file}: {e}"))?;
                    Ok(format!("Configuration exported to {file}\n"))
                }
                None => Ok(format!("{blob}\n")),
            }
        }
        "import" => {
            let file = a
                .input
                .as_deref()
                .ok_or_else(|| format!("import needs -i FILE\n{USAGE}"))?;
            let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
            let store = open_store()?;
            let outcome =
                import_text(&store, &text, &passphrase()?, now).map_err(|e| e.to_string())?;
            Ok(format!(
                "Configuration imported ({} node(s)); restart Pulse if it is running\n",
                outcome.nodes.len()
            ))
        }
        "info" => {
            let store = open_store()?;
            let nodes = store.load_nodes(now).map_err(|e| e.to_string())?;
            let mut out = format!("Data directory: {}\n", data_dir.display());
            out.push_str(&format!(
                "Nodes: {} PVE, {} PBS, {} PMG\n",
                nodes.value.pve.len(),
                nodes.value.pbs.len(),
                nodes.value.pmg.len()
            ));
            for w in nodes.warnings {
                out.push_str(&format!("Warning: {w}\n"));
            }
            Ok(out)
        }
        other => Err(format!("unknown config command '{other}'\n{USAGE}")),
    }
}

/// Decrypts and commits an export given as text. Also accepts the export base64-encoded once
/// more (what `PULSE_INIT_CONFIG_DATA` users sometimes paste). Slow (PBKDF2).
pub fn import_text(
    store: &ConfigStore,
    text: &str,
    passphrase: &str,
    now: UtcTime,
) -> Result<ImportOutcome, ConfigError> {
    let data = open_export(&unwrap_double_base64(text), passphrase)?;
    let current = store.load_nodes(now)?.value;
    ImportPlan::prepare(store, data, &current)?.commit(store, now)
}

/// An export is base64 of random-looking bytes; if decoding yields base64 text again, it was
/// wrapped once more and the inner text is the export.
fn unwrap_double_base64(text: &str) -> String {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    match BASE64.decode(compact.as_bytes()) {
        Ok(inner)
            if inner
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n".contains(b)) =>
        {
            String::from_utf8(inner).unwrap_or(compact)
        }
        _ => compact,
    }
}

/// First start with `PULSE_INIT_CONFIG_DATA` (or `PULSE_INIT_CONFIG_FILE`) and
/// `PULSE_INIT_CONFIG_PASSPHRASE`: imports it when the data dir has no `nodes.enc` yet.
/// Returns whether an import happened.
pub fn auto_import(
    store: &ConfigStore,
    env: &dyn Fn(&str) -> Option<String>,
    now: UtcTime,
) -> Result<bool, String> {
    if store.dir().join(NODES_FILE).exists() {
        return Ok(false);
    }
    let text = match (env("PULSE_INIT_CONFIG_DATA"), env("PULSE_INIT_CONFIG_FILE")) {
        (Some(data), _) => data,
        (None, Some(file)) => std::fs::read_to_string(&file)
            .map_err(|e| format!("PULSE_INIT_CONFIG_FILE {file}: {e}"))?,
        (None, None) => return Ok(false),
    };
    let passphrase = env("PULSE_INIT_CONFIG_PASSPHRASE")
        .or_else(|| env("PULSE_PASSPHRASE"))
        .ok_or("PULSE_INIT_CONFIG_PASSPHRASE is required with PULSE_INIT_CONFIG_DATA/FILE")?;
    import_text(store, &text, &passphrase, now)
        .map_err(|e| format!("initial configuration import failed: {e}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::node_edit::NodeRequest;
    use crate::config::model::nodes::NodesConfig;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pulse-cmd-{tag}-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn export_import_info_round_trip() {
        let src = temp_dir("src");
        let store = ConfigStore::open(&src).unwrap().value;
        let mut nodes = NodesConfig::default();
        let req: NodeRequest = serde_json::from_str(
            r#"{"type":"pmg","name":"mail","host":"m","user":"a@pmg","password":"p"}"#,
        )
        .unwrap();
        nodes.add_node(&req).unwrap();
        store
            .save_nodes(&nodes, false, UtcTime::from_unix(0))
            .unwrap();
        let no_env = |_: &str| None;
        let file = src.join("backup.txt");
        let out = run(
            &args(&[
                "export",
                "-o",
                file.to_str().unwrap(),
                "-p",
                "cli passphrase!",
            ]),
            &src,
            &no_env,
        )
        .unwrap();
        assert!(out.contains("exported"));
        assert!(run(&args(&["export"]), &src, &no_env)
            .unwrap_err()
            .contains("passphrase"));

        let dst = temp_dir("dst");
        let env = |k: &str| (k == "PULSE_PASSPHRASE").then(|| "cli passphrase!".to_string());
        let out = run(
            &args(&["import", "-i", file.to_str().unwrap(), "-f"]),
            &dst,
            &env,
        )
        .unwrap();
        assert!(out.contains("1 node"), "{out}");
        assert!(run(&args(&["info"]), &dst, &no_env)
            .unwrap()
            .contains("0 PVE, 0 PBS, 1 PMG"));
        assert!(run(&args(&["bogus"]), &dst, &no_env).is_err());
        assert!(run(&args(&["import", "-x"]), &dst, &no_env).is_err());
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&dst).unwrap();
    }

    #[test]
    fn auto_import_only_on_first_start() {
        let src = temp_dir("auto-src");
        let store = ConfigStore::open(&src).unwrap().value;
        let mut nodes = NodesConfig::default();
        let req: NodeRequest = serde_json::from_str(
            r#"{"type":"pve","name":"a","host":"h","user":"u","password":"p"}"#,
        )
        .unwrap();
        nodes.add_node(&req).unwrap();
        store
            .save_nodes(&nodes, false, UtcTime::from_unix(0))
            .unwrap();
        let blob = seal_export(
            &ExportData::collect(&store, UtcTime::from_unix(0)).unwrap(),
            "init passphrase",
        )
        .unwrap();
        // Base64 of the export string is tolerated.
        let wrapped = BASE64.encode(blob.as_bytes());
        let env = move |k: &str| match k {
            "PULSE_INIT_CONFIG_DATA" => Some(wrapped.clone()),
            "PULSE_INIT_CONFIG_PASSPHRASE" => Some("init passphrase".to_string()),
            _ => None,
        };
        let dst = temp_dir("auto-dst");
        let target = ConfigStore::open(&dst).unwrap().value;
        assert_eq!(auto_import(&target, &env, UtcTime::from_unix(1)), Ok(true));
        assert_eq!(
            target.load_nodes(UtcTime::from_unix(2)).unwrap().value.pve[0].name,
            "a"
        );
        assert_eq!(
            auto_import(&target, &env, UtcTime::from_unix(3)),
            Ok(false),
            "never over an existing config"
        );
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&dst).unwrap();
    }
}
