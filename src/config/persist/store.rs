//! The data directory: load and save `nodes.enc`, `system.json` and `guest_metadata.json` in
//! Pulse's formats, read the files other modules own (alerts, notifications, tokens) raw.
//!
//! Durability rules: every write goes through `write_atomic` (temp file, fsync, rename, fsync
//! dir) with mode 0600, so a crash leaves the old or the new file, never a torn one. Before
//! `nodes.enc` is replaced, the current (readable) file is copied to `nodes.enc.backup` and
//! `nodes.enc.backup-YYYYMMDD-HHMMSS` (newest 10 kept). A file that cannot be read is never
//! overwritten or deleted: it is renamed `<name>.corrupted-YYYYMMDD-HHMMSS`, a [`LoadWarning`]
//! is returned for the caller to log, and the newest readable backup (nodes) or the defaults
//! (settings, metadata) are used.

use crate::config::error::ConfigError;
use crate::config::metadata::GuestMetadataStore;
use crate::config::model::nodes::NodesConfig;
use crate::config::persist::crypto::Cipher;
use crate::config::persist::transaction;
use crate::config::system::SystemSettings;
use crate::core::writer::Write;
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use serde_json::Value;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const NODES_FILE: &str = "nodes.enc";
pub const SYSTEM_FILE: &str = "system.json";
pub const GUEST_METADATA_FILE: &str = "guest_metadata.json";
pub const DOCKER_METADATA_FILE: &str = "docker_metadata.json";
pub const ALERTS_FILE: &str = "alerts.json";
pub const API_TOKENS_FILE: &str = "api_tokens.json";
pub const EMAIL_FILE: &str = "email.enc";
pub const WEBHOOKS_FILE: &str = "webhooks.enc";
pub const APPRISE_FILE: &str = "apprise.enc";
pub const OIDC_FILE: &str = "oidc.enc";

const NODES_BACKUP: &str = "nodes.enc.backup";
const NODES_BACKUP_PREFIX: &str = "nodes.enc.backup-";
const KEEP_TIMESTAMPED_BACKUPS: usize = 10;
pub(crate) const FILE_MODE: u32 = 0o600;
/// No configuration file comes anywhere near this; a bigger one is not ours.
const MAX_FILE_LEN: u64 = 32 * 1024 * 1024;

/// Something went wrong while loading but was recovered from; log it at warn level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// A loaded value plus what had to be repaired to get it.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    pub warnings: Vec<LoadWarning>,
}

/// The data dir and its encryption key. Owned by the event-loop thread; no interior locking.
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    cipher: Cipher,
}

/// `YYYYMMDD-HHMMSS` (UTC), the suffix Pulse uses for backups.
pub(crate) fn stamp(now: UtcTime) -> String {
    let s = now.to_rfc3339();
    let digits: String = s
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    digits.replace('T', "-")
}

impl ConfigStore {
    /// Opens (creating, mode 0700) the data dir, loads or creates `.encryption.key`, and finishes
    /// or discards an import that was interrupted by a crash. The warnings describe such repairs.
    pub fn open(dir: &Path) -> Result<Loaded<ConfigStore>, ConfigError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| ConfigError::io("create data directory", dir, e))?;
        }
        let cipher = Cipher::load_or_create(dir)?;
        let warnings = transaction::recover(dir)?;
        remove_stale_temp_files(dir)?;
        Ok(Loaded {
            value: ConfigStore {
                dir: dir.to_path_buf(),
                cipher,
            },
            warnings,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a data-dir file, refusing absurd sizes: these reads happen on the event loop.
    fn read_optional(&self, name: &str) -> Result<Option<Vec<u8>>, ConfigError> {
        let path = self.path(name);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ConfigError::io("read", &path, e)),
        };
        let too_big = || {
            let why = format!("larger than {} MiB", MAX_FILE_LEN >> 20);
            ConfigError::io("read", &path, std::io::Error::other(why))
        };
        if file.metadata().map(|m| m.len()).unwrap_or(0) > MAX_FILE_LEN {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ConfigError::io("read", &path, e))?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(too_big());
        }
        Ok(Some(bytes))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), ConfigError> {
        let path = self.path(name);
        write_atomic(&path, bytes, FILE_MODE).map_err(|e| ConfigError::io("write", &path, e))
    }

    /// Renames an unreadable file out of the way; returns its new name.
    fn set_aside(&self, name: &str, now: UtcTime) -> Result<String, ConfigError> {
        let aside = format!("{name}.corrupted-{}", stamp(now));
        let from = self.path(name);
        fs::rename(&from, self.path(&aside)).map_err(|e| ConfigError::io("set aside", &from, e))?;
        Ok(aside)
    }

    fn decode_nodes(&self, bytes: &[u8], what: &str) -> Result<NodesConfig, ConfigError> {
        NodesConfig::decode(&self.cipher.open(bytes, what)?)
    }

    /// Loads `nodes.enc`. A missing file is an empty configuration (first start). An unreadable
    /// one is set aside and the newest readable backup restored; if none is readable the result
    /// is empty, with warnings saying where the unreadable data was kept.
    pub fn load_nodes(&self, now: UtcTime) -> Result<Loaded<NodesConfig>, ConfigError> {
        let Some(bytes) = self.read_optional(NODES_FILE)? else {
            // A first start has no backups either; backups without the file mean it was removed.
            let mut warnings = Vec::new();
            if self.path(NODES_BACKUP).exists() {
                warnings.push(LoadWarning {
                    file: NODES_FILE.to_string(),
                    message: format!(
                        "missing while {NODES_BACKUP} exists: starting with no nodes; \
                         copy the backup to {NODES_FILE} if that was not intended"
                    ),
                });
            }
            return Ok(Loaded {
                value: NodesConfig::default(),
                warnings,
            });
        };
        let mut warnings = Vec::new();
        let warn = |message: String| LoadWarning {
            file: NODES_FILE.to_string(),
            message,
        };
        let value = match self.decode_nodes(&bytes, NODES_FILE) {
            Ok(cfg) => cfg,
            Err(err) => {
                let aside = self.set_aside(NODES_FILE, now)?;
                warnings.push(warn(format!("{err}; unreadable file kept as {aside}")));
                match self.newest_readable_backup()? {
                    Some((name, raw, cfg)) => {
                        self.write(NODES_FILE, &raw)?;
                        warnings.push(warn(format!("restored {} node(s) from {name}", cfg.len())));
                        cfg
                    }
                    None => {
                        warnings.push(warn(
                            "no readable backup; starting with no nodes (nothing was deleted)"
                                .to_string(),
                        ));
                        NodesConfig::default()
                    }
                }
            }
        };
        warnings.extend(value.problems().into_iter().map(warn));
        Ok(Loaded { value, warnings })
    }

    /// `nodes.enc.backup`, then the timestamped backups, newest first.
    fn newest_readable_backup(
        &self,
    ) -> Result<Option<(String, Vec<u8>, NodesConfig)>, ConfigError> {
        let mut candidates = vec![NODES_BACKUP.to_string()];
        let mut stamped = self.timestamped_backups()?;
        stamped.reverse();
        candidates.extend(stamped);
        for name in candidates {
            if let Some(raw) = self.read_optional(&name)? {
                if let Ok(cfg) = self.decode_nodes(&raw, &name) {
                    return Ok(Some((name, raw, cfg)));
                }
            }
        }
        Ok(None)
    }

    /// Timestamped backup names, oldest first (the stamp sorts chronologically).
    fn timestamped_backups(&self) -> Result<Vec<String>, ConfigError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| ConfigError::io("list", &self.dir, e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(NODES_BACKUP_PREFIX))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Copies the current `nodes.enc` to the rolling backups if it is readable; an unreadable one
    /// is set aside instead so it is not lost when replaced.
    pub(crate) fn backup_nodes(&self, now: UtcTime) -> Result<(), ConfigError> {
        let Some(current) = self.read_optional(NODES_FILE)? else {
            return Ok(());
        };
        if self.decode_nodes(&current, NODES_FILE).is_err() {
            self.set_aside(NODES_FILE, now)?;
            return Ok(());
        }
        self.write(NODES_BACKUP, &current)?;
        self.write(&format!("{NODES_BACKUP_PREFIX}{}", stamp(now)), &current)?;
        let stamped = self.timestamped_backups()?;
        let excess = stamped.len().saturating_sub(KEEP_TIMESTAMPED_BACKUPS);
        for old in &stamped[..excess] {
            let path = self.path(old);
            fs::remove_file(&path).map_err(|e| ConfigError::io("remove old backup", &path, e))?;
        }
        Ok(())
    }

    /// Encrypts and saves the node configuration. Saving an empty list over a file that has
    /// nodes is refused unless `allow_empty` (deleting the last node): a bug elsewhere must not be
    /// able to wipe the configuration.
    pub fn save_nodes(
        &self,
        nodes: &NodesConfig,
        allow_empty: bool,
        now: UtcTime,
    ) -> Result<(), ConfigError> {
        if nodes.is_empty() && !allow_empty {
            let existing = self.read_optional(NODES_FILE)?;
            let has_nodes = existing
                .as_deref()
                .and_then(|b| self.decode_nodes(b, NODES_FILE).ok())
                .is_some_and(|c| !c.is_empty());
            if has_nodes {
                return Err(ConfigError::Invalid(
                    "refusing to replace a non-empty node configuration with an empty one"
                        .to_string(),
                ));
            }
        }
        let current = match self.read_optional(NODES_FILE)? {
            Some(raw) if self.decode_nodes(&raw, NODES_FILE).is_err() => {
                // Unreadable: kept aside (never overwritten), so there is nothing to back up.
                self.set_aside(NODES_FILE, now)?;
                None
            }
            other => other,
        };
        let (mut writes, _) = self.nodes_writes(nodes, current.as_deref(), allow_empty, now)?;
        for w in &mut writes {
            w.perform()
                .map_err(|e| ConfigError::io("write", w.path(), e))?;
        }
        Ok(())
    }

    /// The writes that save `nodes` over `current` (what `nodes.enc` holds): the rolling
    /// backups of `current`, then the new sealed file, in that order, as one writer job.
    /// Returns them with the sealed bytes (the next save's `current`). Refuses an empty list
    /// over a non-empty file unless `allow_empty`, as [`ConfigStore::save_nodes`] does.
    pub(crate) fn nodes_writes(
        &self,
        nodes: &NodesConfig,
        current: Option<&[u8]>,
        allow_empty: bool,
        now: UtcTime,
    ) -> Result<(Vec<Write>, Vec<u8>), ConfigError> {
        let current_nodes = current.and_then(|b| self.decode_nodes(b, NODES_FILE).ok());
        if nodes.is_empty() && !allow_empty && current_nodes.as_ref().is_some_and(|c| !c.is_empty())
        {
            return Err(ConfigError::Invalid(
                "refusing to replace a non-empty node configuration with an empty one".to_string(),
            ));
        }
        let sealed = self.cipher.seal(&nodes.encode()?)?;
        let mut writes = Vec::new();
        if let (Some(raw), Some(_)) = (current, current_nodes) {
            writes.push(Write::replace(
                self.path(NODES_BACKUP),
                raw.to_vec(),
                FILE_MODE,
            ));
            let stamped = format!("{NODES_BACKUP_PREFIX}{}", stamp(now));
            writes.push(Write::replace(self.path(&stamped), raw.to_vec(), FILE_MODE));
            writes.push(Write::Prune {
                dir: self.dir.clone(),
                prefix: NODES_BACKUP_PREFIX.to_string(),
                keep: KEEP_TIMESTAMPED_BACKUPS,
            });
        }
        writes.push(Write::replace(
            self.path(NODES_FILE),
            sealed.clone(),
            FILE_MODE,
        ));
        Ok((writes, sealed))
    }

    /// The raw bytes of `nodes.enc` (the encrypted file), if it exists.
    pub(crate) fn read_nodes_raw(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        self.read_optional(NODES_FILE)
    }

    /// The write that replaces data-dir file `name` with `bytes` (atomic, 0600).
    pub(crate) fn replace_write(&self, name: &str, bytes: Vec<u8>) -> Write {
        Write::replace(self.path(name), bytes, FILE_MODE)
    }

    /// Loads `system.json`; missing → Pulse's defaults, unreadable → set aside + defaults.
    pub fn load_system(&self, now: UtcTime) -> Result<Loaded<SystemSettings>, ConfigError> {
        self.load_plain(
            SYSTEM_FILE,
            now,
            SystemSettings::decode,
            SystemSettings::default,
        )
    }

    pub fn save_system(&self, settings: &SystemSettings) -> Result<(), ConfigError> {
        self.write(SYSTEM_FILE, &settings.encode()?)
    }

    /// Loads `guest_metadata.json`; missing → empty, unreadable → set aside + empty.
    pub fn load_guest_metadata(
        &self,
        now: UtcTime,
    ) -> Result<Loaded<GuestMetadataStore>, ConfigError> {
        self.load_plain(
            GUEST_METADATA_FILE,
            now,
            GuestMetadataStore::decode,
            GuestMetadataStore::default,
        )
    }

    pub fn save_guest_metadata(&self, metadata: &GuestMetadataStore) -> Result<(), ConfigError> {
        self.write(GUEST_METADATA_FILE, &metadata.encode()?)
    }

    /// `docker_metadata.json`: the same records, keyed by container/service resource id.
    pub fn load_docker_metadata(
        &self,
        now: UtcTime,
    ) -> Result<Loaded<GuestMetadataStore>, ConfigError> {
        self.load_plain(
            DOCKER_METADATA_FILE,
            now,
            GuestMetadataStore::decode,
            GuestMetadataStore::default,
        )
    }

    pub fn save_docker_metadata(&self, metadata: &GuestMetadataStore) -> Result<(), ConfigError> {
        self.write(DOCKER_METADATA_FILE, &metadata.encode()?)
    }

    fn load_plain<T>(
        &self,
        name: &str,
        now: UtcTime,
        decode: fn(&[u8]) -> Result<T, ConfigError>,
        default: fn() -> T,
    ) -> Result<Loaded<T>, ConfigError> {
        let Some(bytes) = self.read_optional(name)? else {
            return Ok(Loaded {
                value: default(),
                warnings: Vec::new(),
            });
        };
        match decode(&bytes) {
            Ok(value) => Ok(Loaded {
                value,
                warnings: Vec::new(),
            }),
            Err(err) => {
                let aside = self.set_aside(name, now)?;
                let message = format!("{err}; unreadable file kept as {aside}, using defaults");
                Ok(Loaded {
                    value: default(),
                    warnings: vec![LoadWarning {
                        file: name.to_string(),
                        message,
                    }],
                })
            }
        }
    }

    /// `alerts.json` as stored (the alerts module parses it).
    pub fn read_alerts_raw(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        self.read_optional(ALERTS_FILE)
    }

    /// A plain JSON file owned by another module (`alerts.json`, `api_tokens.json`), parsed only
    /// as far as JSON, for export.
    pub fn read_json(&self, name: &str) -> Result<Option<Value>, ConfigError> {
        match self.read_optional(name)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| ConfigError::Parse {
                        what: name.to_string(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// An encrypted JSON file owned by another module (`email.enc`, `webhooks.enc`, …), for export.
    pub fn read_encrypted_json(&self, name: &str) -> Result<Option<Value>, ConfigError> {
        match self.read_optional(name)? {
            None => Ok(None),
            Some(bytes) => {
                let plain = self.cipher.open(&bytes, name)?;
                serde_json::from_slice(&plain)
                    .map(Some)
                    .map_err(|e| ConfigError::Parse {
                        what: name.to_string(),
                        reason: e.to_string(),
                    })
            }
        }
    }
}

/// `write_atomic` temp files (`.<name>.tmp.<pid>.<n>`) left by a process killed mid-write. They
/// never replaced a real file, so removing them loses nothing.
fn remove_stale_temp_files(dir: &Path) -> Result<(), ConfigError> {
    const OURS: [&str; 6] = [
        NODES_FILE,
        NODES_BACKUP,
        SYSTEM_FILE,
        GUEST_METADATA_FILE,
        DOCKER_METADATA_FILE,
        NODES_BACKUP_PREFIX,
    ];
    let entries = fs::read_dir(dir).map_err(|e| ConfigError::io("list", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name
            .strip_prefix('.')
            .is_some_and(|rest| rest.contains(".tmp.") && OURS.iter().any(|f| rest.starts_with(f)));
        if stale {
            let path = entry.path();
            fs::remove_file(&path)
                .map_err(|e| ConfigError::io("remove stale temp file", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_format() {
        assert_eq!(
            stamp(UtcTime::parse("2024-05-01T10:02:03Z").unwrap()),
            "20240501-100203"
        );
    }
}
