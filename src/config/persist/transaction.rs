//! All-or-nothing replacement of several data-dir files (used by import).
//!
//! Protocol: every new file is written (and fsynced) into `.import-staging-<stamp>-<pid>/`, then a
//! `COMMIT` manifest is written atomically: that is the commit point. The manifest's steps
//! (`put <name>` = rename the staged file into place, `delete <name>`) are idempotent, so if the
//! process dies half-way, [`recover`] (run by `ConfigStore::open`) rolls the import forward; a
//! staging dir without a manifest is an import that never committed and is discarded. Either
//! every file of an import is in place or none is.

use crate::config::error::ConfigError;
use crate::config::persist::store::{stamp, LoadWarning, FILE_MODE};
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

const STAGING_PREFIX: &str = ".import-staging-";
const MANIFEST: &str = "COMMIT";

/// One file of a transaction: new contents, or `None` to delete it.
#[derive(Debug, Clone)]
pub(crate) struct FileChange {
    pub name: &'static str,
    pub contents: Option<Vec<u8>>,
}

pub(crate) fn commit(dir: &Path, changes: &[FileChange], now: UtcTime) -> Result<(), ConfigError> {
    let staging = dir.join(format!(
        "{STAGING_PREFIX}{}.{:09}-{}",
        stamp(now),
        now.nanos,
        std::process::id()
    ));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| ConfigError::io("create staging directory", &staging, e))?;
    let staged = (|| {
        let mut manifest = String::new();
        for change in changes {
            match &change.contents {
                Some(bytes) => {
                    let path = staging.join(change.name);
                    write_atomic(&path, bytes, FILE_MODE)
                        .map_err(|e| ConfigError::io("stage", &path, e))?;
                    manifest.push_str(&format!("put {}\n", change.name));
                }
                None => manifest.push_str(&format!("delete {}\n", change.name)),
            }
        }
        let path = staging.join(MANIFEST);
        write_atomic(&path, manifest.as_bytes(), FILE_MODE)
            .map_err(|e| ConfigError::io("write", &path, e))
    })();
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    // Committed: from here on a crash is finished by `recover`, so failures are reported but the
    // staging dir is kept for it.
    apply(dir, &staging)
}

/// Rolls committed imports forward and removes uncommitted staging dirs.
pub(crate) fn recover(dir: &Path) -> Result<Vec<LoadWarning>, ConfigError> {
    let entries = fs::read_dir(dir).map_err(|e| ConfigError::io("list", dir, e))?;
    let mut warnings = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(STAGING_PREFIX) || !entry.path().is_dir() {
            continue;
        }
        let staging = entry.path();
        let message = if staging.join(MANIFEST).exists() {
            apply(dir, &staging)?;
            "finished an import interrupted after it committed"
        } else {
            fs::remove_dir_all(&staging).map_err(|e| ConfigError::io("remove", &staging, e))?;
            "discarded an import interrupted before it committed; configuration unchanged"
        };
        warnings.push(LoadWarning {
            file: name,
            message: message.to_string(),
        });
    }
    Ok(warnings)
}

fn apply(dir: &Path, staging: &Path) -> Result<(), ConfigError> {
    let manifest_path = staging.join(MANIFEST);
    let manifest = fs::read_to_string(&manifest_path)
        .map_err(|e| ConfigError::io("read", &manifest_path, e))?;
    for line in manifest.lines() {
        let (op, name) = line.split_once(' ').unwrap_or((line, ""));
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(ConfigError::Parse {
                what: manifest_path.display().to_string(),
                reason: format!("bad step {line:?}"),
            });
        }
        let target = dir.join(name);
        match op {
            "put" => {
                let staged = staging.join(name);
                match fs::rename(&staged, &target) {
                    Ok(()) => {}
                    // Already moved by an earlier, interrupted run.
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(ConfigError::io("install", &target, e)),
                }
            }
            "delete" => match fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(ConfigError::io("remove", &target, e)),
            },
            _ => {
                return Err(ConfigError::Parse {
                    what: manifest_path.display().to_string(),
                    reason: format!("bad step {line:?}"),
                })
            }
        }
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ConfigError::io("sync", dir, e))?;
    fs::remove_dir_all(staging).map_err(|e| ConfigError::io("remove", staging, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pulse-tx-{tag}-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn commit_puts_and_deletes() {
        let dir = temp_dir("commit");
        fs::write(dir.join("b.json"), b"old").unwrap();
        let changes = [
            FileChange {
                name: "a.json",
                contents: Some(b"new".to_vec()),
            },
            FileChange {
                name: "b.json",
                contents: None,
            },
        ];
        commit(&dir, &changes, UtcTime::from_unix(0)).unwrap();
        assert_eq!(fs::read(dir.join("a.json")).unwrap(), b"new");
        assert!(!dir.join("b.json").exists());
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "staging dir removed"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recover_rolls_forward_committed_and_discards_uncommitted() {
        let dir = temp_dir("recover");
        fs::write(dir.join("a.json"), b"old-a").unwrap();
        fs::write(dir.join("b.json"), b"old-b").unwrap();
        // Committed, crashed after moving a.json only.
        let s1 = dir.join(".import-staging-1");
        fs::create_dir(&s1).unwrap();
        fs::write(s1.join("b.json"), b"new-b").unwrap();
        fs::write(s1.join("COMMIT"), b"put a.json\nput b.json\n").unwrap();
        fs::write(dir.join("a.json"), b"new-a").unwrap();
        // Never committed.
        let s2 = dir.join(".import-staging-2");
        fs::create_dir(&s2).unwrap();
        fs::write(s2.join("a.json"), b"other").unwrap();
        let warnings = recover(&dir).unwrap();
        assert_eq!(warnings.len(), 2);
        assert_eq!(fs::read(dir.join("a.json")).unwrap(), b"new-a");
        assert_eq!(fs::read(dir.join("b.json")).unwrap(), b"new-b");
        assert!(!s1.exists() && !s2.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
