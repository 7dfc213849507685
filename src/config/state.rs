//! `ConfigState`: everything configuration-related the event loop owns — the data-dir store and
//! the in-memory copies of nodes, system settings and guest metadata, plus setup codes and the
//! discovery cache. Handlers change the in-memory value, then persist it through this type, so
//! memory and disk never disagree for longer than one handler call.

use super::discovery::DiscoveryCache;
use super::error::ConfigError;
use super::metadata::GuestMetadataStore;
use super::nodes::{NodeType, NodesConfig};
use super::setup_codes::SetupCodes;
use super::store::{ConfigStore, LoadWarning};
use super::system::SystemSettings;
use crate::util::time::UtcTime;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// A node that registered itself is shown as connected for this long before the first poll.
const RECENT_REGISTRATION: Duration = Duration::from_secs(120);

pub struct ConfigState {
    store: Result<ConfigStore, String>,
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
    pub fn open(dir: &Path, env: &dyn Fn(&str) -> Option<String>, now: UtcTime) -> ConfigState {
        let mut state = ConfigState {
            store: Err(String::new()),
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
            match super::command::auto_import(&store, env, now) {
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

    /// Saves `nodes` and only then makes them current, so a failed write changes nothing.
    /// `allow_empty` only when the last node was just deleted.
    pub fn replace_nodes(
        &mut self,
        nodes: NodesConfig,
        allow_empty: bool,
        now: UtcTime,
    ) -> Result<(), ConfigError> {
        self.store()?.save_nodes(&nodes, allow_empty, now)?;
        self.nodes = nodes;
        self.nodes_revision += 1;
        Ok(())
    }

    /// Saves `system`, then makes it current.
    pub fn replace_system(&mut self, system: SystemSettings) -> Result<(), ConfigError> {
        self.store()?.save_system(&system)?;
        self.system = system;
        Ok(())
    }

    /// Saves `metadata`, then makes it current.
    pub fn replace_metadata(&mut self, metadata: GuestMetadataStore) -> Result<(), ConfigError> {
        self.store()?.save_guest_metadata(&metadata)?;
        self.metadata = metadata;
        Ok(())
    }

    /// Saves Docker `metadata`, then makes it current.
    pub fn replace_docker_metadata(
        &mut self,
        metadata: GuestMetadataStore,
    ) -> Result<(), ConfigError> {
        self.store()?.save_docker_metadata(&metadata)?;
        self.docker_metadata = metadata;
        Ok(())
    }

    /// Installs what a committed import wrote (the files are already on disk).
    pub fn installed_import(&mut self, outcome: super::export::ImportOutcome) {
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
        let state = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0));
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
        let mut state = ConfigState::open(&dir, &|_| None, UtcTime::from_unix(0));
        let t0 = Instant::now();
        state.mark_registered(NodeType::Pve, "a", t0);
        assert!(state.is_connected(NodeType::Pve, "a", t0 + Duration::from_secs(119)));
        assert!(!state.is_connected(NodeType::Pve, "a", t0 + Duration::from_secs(121)));
        assert!(!state.is_connected(NodeType::Pbs, "a", t0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
