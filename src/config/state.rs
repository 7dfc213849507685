//! `ConfigState`: everything configuration-related the event loop owns — the data-dir store and
//! the in-memory copies of nodes, system settings and guest metadata, plus setup codes and the
//! discovery cache. Handlers change the in-memory value and queue its bytes on the data-dir
//! writer thread through this type (the loop never fsyncs); the API answers once the writer
//! confirms (`Outcome::after_write`), and a failed write reloads the file, so memory follows
//! the disk.

use crate::config::error::ConfigError;
use crate::config::metadata::GuestMetadataStore;
use crate::config::model::nodes::{NodeType, NodesConfig};
use crate::config::persist::store::{
    ConfigStore, LoadWarning, DOCKER_METADATA_FILE, GUEST_METADATA_FILE, SYSTEM_FILE,
};
use crate::config::system::SystemSettings;
use crate::core::writer::{Ticket, Write, WriterHandle};
use crate::discovery::scan::DiscoveryCache;
use crate::setup::codes::SetupCodes;
use crate::util::time::UtcTime;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// A node that registered itself is shown as connected for this long before the first poll.
const RECENT_REGISTRATION: Duration = Duration::from_secs(120);

/// Which file a save went to (to reload it when the writer reports a failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Nodes,
    System,
    Metadata,
    DockerMetadata,
}

pub struct ConfigState {
    store: Result<ConfigStore, String>,
    writer: WriterHandle,
    /// What `nodes.enc` holds once the writer has caught up: the next save's backup source.
    nodes_on_disk: Option<Vec<u8>>,
    pub nodes: NodesConfig,
    pub system: SystemSettings,
    pub metadata: GuestMetadataStore,
    /// Docker container/service metadata (`docker_metadata.json`), same record shape.
    pub docker_metadata: GuestMetadataStore,
    pub setup_codes: SetupCodes,
    pub discovery: DiscoveryCache,
    /// Bumped on every saved node change; the monitor compares it to pick up changes.
    pub nodes_revision: u64,
    /// `<type>-<name>` of instances the monitor currently reaches (maintained by the monitor).
    pub connected: HashSet<String>,
    recently_registered: Vec<(String, Instant)>,
    /// What loading repaired (already logged); kept for diagnostics.
    pub load_warnings: Vec<LoadWarning>,
}

impl ConfigState {
    /// Opens the data dir and loads everything. Problems are logged; a data dir that cannot be
    /// opened at all (e.g. the encryption key is missing but encrypted files exist) leaves the
    /// state empty and every configuration endpoint answers 503 with the reason, instead of
    /// Pulse starting with a fresh key and orphaning the files. On a first start,
    /// `PULSE_INIT_CONFIG_DATA|FILE` (+ `_PASSPHRASE`) from `env` is imported first (PBKDF2,
    /// ~0.1 s, once at start-up).
    pub fn open(
        dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        now: UtcTime,
        writer: WriterHandle,
    ) -> ConfigState {
        let mut state = ConfigState {
            store: Err(String::new()),
            writer,
            nodes_on_disk: None,
            nodes: NodesConfig::default(),
            system: SystemSettings::default(),
            metadata: GuestMetadataStore::default(),
            docker_metadata: GuestMetadataStore::default(),
            setup_codes: SetupCodes::new(),
            discovery: DiscoveryCache::default(),
            nodes_revision: 0,
            connected: HashSet::new(),
            recently_registered: Vec::new(),
            load_warnings: Vec::new(),
        };
        let loaded = ConfigStore::open(dir).and_then(|opened| {
            let mut warnings = opened.warnings;
            let store = opened.value;
            match crate::cli::config_command::auto_import(&store, env, now) {
                Ok(true) => crate::log_info!("initial configuration imported", dir = dir.display()),
                Ok(false) => {}
                Err(e) => crate::log_error!("initial configuration not imported", error = e),
            }
            let nodes = store.load_nodes(now)?;
            let system = store.load_system(now)?;
            let metadata = store.load_guest_metadata(now)?;
            let docker = store.load_docker_metadata(now)?;
            warnings.extend(nodes.warnings);
            warnings.extend(system.warnings);
            warnings.extend(metadata.warnings);
            warnings.extend(docker.warnings);
            let loaded = (nodes.value, system.value, metadata.value, docker.value);
            Ok((store, loaded, warnings))
        });
        match loaded {
            Ok((store, (nodes, system, metadata, docker), warnings)) => {
                for w in &warnings {
                    crate::log_warn!("configuration repaired", file = w.file, detail = w.message);
                }
                match store.read_nodes_raw() {
                    Ok(raw) => state.nodes_on_disk = raw,
                    Err(e) => crate::log_warn!("reading nodes.enc for backups failed", error = e),
                }
                state.store = Ok(store);
                state.nodes = nodes;
                state.system = system;
                state.metadata = metadata;
                state.docker_metadata = docker;
                state.load_warnings = warnings;
            }
            Err(e) => {
                crate::log_error!("configuration unavailable", dir = dir.display(), error = e);
                state.store = Err(e.to_string());
            }
        }
        state
    }

    pub fn store(&self) -> Result<&ConfigStore, ConfigError> {
        self.store
            .as_ref()
            .map_err(|e| ConfigError::Unavailable(e.clone()))
    }

    /// Queues `writes` on the writer; the ticket holds the outcome for the deferred answer.
    fn submit(&self, writes: Vec<Write>) -> Result<Ticket, ConfigError> {
        let ticket = Ticket::new();
        self.writer.submit(writes, Some(ticket.done()))?;
        Ok(ticket)
    }

    /// Makes `nodes` current and queues their save (backups first). Nothing changes when the
    /// save cannot be queued. `allow_empty` only when the last node was just deleted.
    pub fn replace_nodes(
        &mut self,
        nodes: NodesConfig,
        allow_empty: bool,
        now: UtcTime,
    ) -> Result<Ticket, ConfigError> {
        let (writes, sealed) =
            self.store()?
                .nodes_writes(&nodes, self.nodes_on_disk.as_deref(), allow_empty, now)?;
        let ticket = self.submit(writes)?;
        self.nodes_on_disk = Some(sealed);
        self.nodes = nodes;
        self.nodes_revision += 1;
        Ok(ticket)
    }

    /// Makes `system` current and queues its save.
    pub fn replace_system(&mut self, system: SystemSettings) -> Result<Ticket, ConfigError> {
        let write = self.store()?.replace_write(SYSTEM_FILE, system.encode()?);
        let ticket = self.submit(vec![write])?;
        self.system = system;
        Ok(ticket)
    }

    /// Makes `metadata` current and queues its save.
    pub fn replace_metadata(
        &mut self,
        metadata: GuestMetadataStore,
    ) -> Result<Ticket, ConfigError> {
        let write = self
            .store()?
            .replace_write(GUEST_METADATA_FILE, metadata.encode()?);
        let ticket = self.submit(vec![write])?;
        self.metadata = metadata;
        Ok(ticket)
    }

    /// Makes Docker `metadata` current and queues its save.
    pub fn replace_docker_metadata(
        &mut self,
        metadata: GuestMetadataStore,
    ) -> Result<Ticket, ConfigError> {
        let write = self
            .store()?
            .replace_write(DOCKER_METADATA_FILE, metadata.encode()?);
        let ticket = self.submit(vec![write])?;
        self.docker_metadata = metadata;
        Ok(ticket)
    }

    /// The writer could not save `which`: memory goes back to what the disk holds, so what the
    /// API shows is what a restart would load. (A small, bounded read, as at start-up.)
    pub fn reload_after_failed_write(&mut self, which: Saved, now: UtcTime) {
        let Ok(store) = self.store() else { return };
        let reloaded = match which {
            Saved::Nodes => store
                .load_nodes(now)
                .and_then(|l| {
                    let raw = store.read_nodes_raw()?;
                    Ok((l, raw))
                })
                .map(|(l, raw)| {
                    self.nodes = l.value;
                    self.nodes_on_disk = raw;
                    self.nodes_revision += 1;
                }),
            Saved::System => store.load_system(now).map(|l| self.system = l.value),
            Saved::Metadata => store
                .load_guest_metadata(now)
                .map(|l| self.metadata = l.value),
            Saved::DockerMetadata => store
                .load_docker_metadata(now)
                .map(|l| self.docker_metadata = l.value),
        };
        if let Err(e) = reloaded {
            crate::log_error!(
                "reloading configuration after a failed save failed",
                error = e
            );
        }
    }

    /// Installs what a committed import wrote (the files are already on disk).
    pub fn installed_import(&mut self, outcome: crate::config::export::ImportOutcome) {
        if let Ok(store) = self.store() {
            match store.read_nodes_raw() {
                Ok(raw) => self.nodes_on_disk = raw,
                Err(e) => crate::log_warn!("reading nodes.enc for backups failed", error = e),
            }
        }
        self.nodes = outcome.nodes;
        self.nodes_revision += 1;
        if let Some(system) = outcome.system {
            self.system = system;
        }
        if let Some(metadata) = outcome.guest_metadata {
            self.metadata = metadata;
        }
    }

    pub fn mark_registered(&mut self, node_type: NodeType, name: &str, now: Instant) {
        self.recently_registered
            .retain(|(_, at)| now.duration_since(*at) < RECENT_REGISTRATION);
        self.recently_registered
            .push((format!("{}-{name}", node_type.as_str()), now));
    }

    /// Pulse's status rule: reachable by the monitor, or registered in the last two minutes.
    pub fn is_connected(&self, node_type: NodeType, name: &str, now: Instant) -> bool {
        let key = format!("{}-{name}", node_type.as_str());
        self.connected.contains(&key)
            || self
                .recently_registered
                .iter()
                .any(|(k, at)| *k == key && now.duration_since(*at) < RECENT_REGISTRATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_key_with_encrypted_files_makes_state_unavailable_not_empty() {
        let dir = std::env::temp_dir().join(format!(
            "pulse-state-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nodes.enc"), b"encrypted with a lost key").unwrap();
        let writer = crate::core::writer::Writer::start(4).unwrap();
        let state = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0), writer.handle());
        let err = state.store().unwrap_err().to_string();
        assert!(err.contains("encryption key"), "{err}");
        assert!(dir.join("nodes.enc").exists() && !dir.join(".encryption.key").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recent_registration_counts_as_connected_for_two_minutes() {
        let dir = std::env::temp_dir().join(format!(
            "pulse-state2-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        let writer = crate::core::writer::Writer::start(4).unwrap();
        let mut state = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0), writer.handle());
        let t0 = Instant::now();
        state.mark_registered(NodeType::Pve, "a", t0);
        assert!(state.is_connected(NodeType::Pve, "a", t0 + Duration::from_secs(119)));
        assert!(!state.is_connected(NodeType::Pve, "a", t0 + Duration::from_secs(121)));
        assert!(!state.is_connected(NodeType::Pbs, "a", t0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
