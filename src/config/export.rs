//! Encrypted configuration export/import, byte-compatible with Pulse (`POST /api/config/export`,
//! `/import`, `pulse config export|import`).
//!
//! Format: `base64std(salt[32] || nonce[12] || AES-256-GCM(json) || tag)`, key =
//! PBKDF2-HMAC-SHA256(passphrase, salt, 100 000 iterations, 32 bytes). The JSON is Pulse's
//! `ExportData` (`version` "4.1", `exportedAt`, `nodes`, `alerts`, `email`, `webhooks`, `apprise`,
//! `system`, `guestMetadata`, `oidc`, `apiTokens`). Sections owned by other modules travel as
//! opaque JSON: we move them, we do not reinterpret them.
//!
//! Threading: [`seal_export`] and [`open_export`] run PBKDF2 (~0.1 s) and belong on a worker.
//! [`ExportData::collect`], [`ImportPlan::prepare`] and [`ImportPlan::commit`] are file I/O on
//! the data dir and run on the thread that owns the [`ConfigStore`].

use crate::config::error::ConfigError;
use crate::config::metadata::{GuestMetadata, GuestMetadataStore};
use crate::config::model::nodes::NodesConfig;
use crate::config::persist::crypto::Cipher;
use crate::config::persist::store::{
    ConfigStore, ALERTS_FILE, API_TOKENS_FILE, APPRISE_FILE, EMAIL_FILE, GUEST_METADATA_FILE,
    NODES_FILE, OIDC_FILE, SYSTEM_FILE, WEBHOOKS_FILE,
};
use crate::config::persist::transaction::{self, FileChange};
use crate::config::system::SystemSettings;
use crate::util::time::UtcTime;
use data_encoding::BASE64;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::num::NonZeroU32;

pub const EXPORT_VERSION: &str = "4.1";
pub const MIN_PASSPHRASE_LEN: usize = 12;
const PBKDF2_ITERATIONS: u32 = 100_000;
const SALT_LEN: usize = 32;
/// Exports are a few KiB to a few hundred KiB; refuse absurd inputs before decoding.
pub const MAX_EXPORT_LEN: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportData {
    #[serde(default)]
    pub version: String,
    /// RFC 3339; kept as text so an odd timestamp never blocks an import.
    #[serde(default)]
    pub exported_at: String,
    #[serde(default)]
    pub nodes: Value,
    #[serde(default)]
    pub alerts: Value,
    #[serde(default)]
    pub email: Value,
    #[serde(default)]
    pub webhooks: Value,
    #[serde(default)]
    pub apprise: Value,
    #[serde(default)]
    pub system: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_tokens: Option<Value>,
}

fn json_err(what: &str) -> impl Fn(serde_json::Error) -> ConfigError + '_ {
    move |e| ConfigError::Parse {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

impl ExportData {
    /// Reads everything to export from the data dir. Fails (rather than exporting partial data)
    /// when a file exists but cannot be read.
    pub fn collect(store: &ConfigStore, now: UtcTime) -> Result<ExportData, ConfigError> {
        let nodes = match store.read_encrypted_json(NODES_FILE)? {
            Some(v) => NodesConfig::from_value(v)?,
            None => NodesConfig::default(),
        };
        let system = match store.read_json(SYSTEM_FILE)? {
            Some(v) => {
                serde_json::from_value::<SystemSettings>(v).map_err(json_err(SYSTEM_FILE))?
            }
            None => SystemSettings::default(),
        };
        let metadata = store.read_json(GUEST_METADATA_FILE)?;
        Ok(ExportData {
            version: EXPORT_VERSION.to_string(),
            exported_at: now.to_rfc3339(),
            nodes: serde_json::to_value(&nodes).map_err(json_err("nodes"))?,
            alerts: store.read_json(ALERTS_FILE)?.unwrap_or(Value::Null),
            email: store
                .read_encrypted_json(EMAIL_FILE)?
                .unwrap_or(Value::Null),
            webhooks: store
                .read_encrypted_json(WEBHOOKS_FILE)?
                .unwrap_or_else(|| Value::Array(Vec::new())),
            apprise: store
                .read_encrypted_json(APPRISE_FILE)?
                .unwrap_or(Value::Null),
            system: serde_json::to_value(&system).map_err(json_err("system"))?,
            guest_metadata: Some(
                metadata
                    .filter(|m| !m.is_null())
                    .unwrap_or_else(|| Value::Object(Default::default())),
            ),
            oidc: store.read_encrypted_json(OIDC_FILE)?,
            api_tokens: store.read_json(API_TOKENS_FILE)?,
        })
    }
}

fn derive_key(passphrase: &str, salt: &[u8]) -> Cipher {
    let mut key = [0u8; 32];
    let iterations = NonZeroU32::new(PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        passphrase.as_bytes(),
        &mut key,
    );
    Cipher::from_key(&key)
}

/// Encrypts an export with a passphrase of at least 12 bytes. Slow (PBKDF2): worker thread.
pub fn seal_export(data: &ExportData, passphrase: &str) -> Result<String, ConfigError> {
    if passphrase.len() < MIN_PASSPHRASE_LEN {
        return Err(ConfigError::Invalid(format!(
            "Passphrase must be at least {MIN_PASSPHRASE_LEN} characters long"
        )));
    }
    let json = serde_json::to_vec(data).map_err(json_err("export"))?;
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| ConfigError::Random)?;
    let sealed = derive_key(passphrase, &salt).seal(&json)?;
    let mut out = Vec::with_capacity(SALT_LEN + sealed.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&sealed);
    Ok(BASE64.encode(&out))
}

/// Decrypts and parses an export. A wrong passphrase is [`ConfigError::WrongPassphrase`].
/// Slow (PBKDF2): worker thread.
pub fn open_export(data: &str, passphrase: &str) -> Result<ExportData, ConfigError> {
    if passphrase.is_empty() {
        return Err(ConfigError::Invalid("Passphrase is required".to_string()));
    }
    if data.len() > MAX_EXPORT_LEN {
        return Err(ConfigError::Invalid("Export data is too large".to_string()));
    }
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = BASE64
        .decode(compact.as_bytes())
        .map_err(|_| ConfigError::Parse {
            what: "export data".to_string(),
            reason: "not base64".to_string(),
        })?;
    if raw.len() < SALT_LEN + 12 + 16 {
        return Err(ConfigError::Parse {
            what: "export data".to_string(),
            reason: "too short".to_string(),
        });
    }
    let (salt, sealed) = raw.split_at(SALT_LEN);
    let json = derive_key(passphrase, salt)
        .open(sealed, "export")
        .map_err(|_| ConfigError::WrongPassphrase)?;
    let value: Value = serde_json::from_slice(&json).map_err(json_err("export contents"))?;
    if !value.is_object() {
        return Err(ConfigError::Parse {
            what: "export contents".to_string(),
            reason: "not an object".to_string(),
        });
    }
    serde_json::from_value(value).map_err(json_err("export contents"))
}

/// A fully validated import, ready to commit. Nothing has been written yet.
#[derive(Debug)]
pub struct ImportPlan {
    changes: Vec<FileChange>,
    nodes: NodesConfig,
    system: Option<SystemSettings>,
    guest_metadata: Option<GuestMetadataStore>,
    pub notices: Vec<String>,
}

/// The result of a committed import: the new values to install in memory, and which other files
/// changed (their owners must reload them: alerts, notifications, API tokens, OIDC).
#[derive(Debug)]
pub struct ImportOutcome {
    pub nodes: NodesConfig,
    pub system: Option<SystemSettings>,
    pub guest_metadata: Option<GuestMetadataStore>,
    pub files_changed: Vec<&'static str>,
    pub notices: Vec<String>,
}

fn present(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

fn require_kind(what: &str, v: &Value, object: bool) -> Result<(), ConfigError> {
    let ok = if object { v.is_object() } else { v.is_array() };
    if ok {
        Ok(())
    } else {
        let kind = if object { "an object" } else { "an array" };
        Err(ConfigError::Parse {
            what: format!("export section {what:?}"),
            reason: format!("expected {kind}"),
        })
    }
}

impl ImportPlan {
    /// Validates every section and encodes every file before anything is written.
    /// `current_nodes` guards against replacing a configured system with an empty node list.
    pub fn prepare(
        store: &ConfigStore,
        data: ExportData,
        current_nodes: &NodesConfig,
    ) -> Result<ImportPlan, ConfigError> {
        let mut notices = Vec::new();
        match data.version.as_str() {
            "" | EXPORT_VERSION => {}
            "4.0" => notices.push("export version 4.0: API tokens are not part of it".to_string()),
            v => notices.push(format!(
                "export version {v:?} is not 4.1; importing what is understood"
            )),
        }
        let cipher = store.cipher();
        let mut changes = Vec::new();

        let nodes = match present(&data.nodes) {
            Some(v) => {
                require_kind("nodes", v, true)?;
                NodesConfig::from_value(v.clone())?
            }
            None => NodesConfig::default(),
        };
        if nodes.is_empty() && !current_nodes.is_empty() {
            return Err(ConfigError::Invalid(
                "the export contains no nodes; refusing to replace the configured nodes with none"
                    .to_string(),
            ));
        }
        changes.push(FileChange {
            name: NODES_FILE,
            contents: Some(cipher.seal(&nodes.encode()?)?),
        });

        let system = match present(&data.system) {
            Some(v) => {
                require_kind("system", v, true)?;
                let s: SystemSettings =
                    serde_json::from_value(v.clone()).map_err(json_err("system settings"))?;
                changes.push(FileChange {
                    name: SYSTEM_FILE,
                    contents: Some(s.encode()?),
                });
                Some(s)
            }
            None => None,
        };
        if let Some(v) = present(&data.alerts) {
            require_kind("alerts", v, true)?;
            changes.push(FileChange {
                name: ALERTS_FILE,
                contents: Some(pretty(v)?),
            });
        }
        for (name, section, object) in [
            (EMAIL_FILE, &data.email, true),
            (APPRISE_FILE, &data.apprise, true),
            (WEBHOOKS_FILE, &data.webhooks, false),
        ] {
            if let Some(v) = present(section) {
                require_kind(name, v, object)?;
                changes.push(FileChange {
                    name,
                    contents: Some(cipher.seal(&pretty(v)?)?),
                });
            }
        }
        if data.version == EXPORT_VERSION {
            if let Some(v) = data.api_tokens.as_ref().and_then(present) {
                require_kind("apiTokens", v, false)?;
                changes.push(FileChange {
                    name: API_TOKENS_FILE,
                    contents: Some(pretty(v)?),
                });
            }
        }
        // Pulse removes OIDC settings an export does not carry, so the result matches the source.
        match data.oidc.as_ref().and_then(present) {
            Some(v) => {
                require_kind("oidc", v, true)?;
                changes.push(FileChange {
                    name: OIDC_FILE,
                    contents: Some(cipher.seal(&pretty(v)?)?),
                });
            }
            None => changes.push(FileChange {
                name: OIDC_FILE,
                contents: None,
            }),
        }
        let guest_metadata = match data.guest_metadata.as_ref().and_then(present) {
            Some(v) => {
                require_kind("guestMetadata", v, true)?;
                let map: BTreeMap<String, GuestMetadata> =
                    serde_json::from_value(v.clone()).map_err(json_err("guest metadata"))?;
                let m = GuestMetadataStore::from_map(map);
                changes.push(FileChange {
                    name: GUEST_METADATA_FILE,
                    contents: Some(m.encode()?),
                });
                Some(m)
            }
            None => None,
        };
        Ok(ImportPlan {
            changes,
            nodes,
            system,
            guest_metadata,
            notices,
        })
    }

    /// Backs up the current `nodes.enc`, then replaces all files at once (see `transaction`).
    pub fn commit(self, store: &ConfigStore, now: UtcTime) -> Result<ImportOutcome, ConfigError> {
        store.backup_nodes(now)?;
        transaction::commit(store.dir(), &self.changes, now)?;
        Ok(ImportOutcome {
            files_changed: self.changes.iter().map(|c| c.name).collect(),
            nodes: self.nodes,
            system: self.system,
            guest_metadata: self.guest_metadata,
            notices: self.notices,
        })
    }
}

fn pretty(v: &Value) -> Result<Vec<u8>, ConfigError> {
    serde_json::to_vec_pretty(v).map_err(json_err("export section"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_layout() {
        let data = ExportData {
            version: "4.1".into(),
            system: serde_json::json!({"theme":"dark"}),
            ..Default::default()
        };
        let sealed = seal_export(&data, "correct horse battery").unwrap();
        let raw = BASE64.decode(sealed.as_bytes()).unwrap();
        let json_len = serde_json::to_vec(&data).unwrap().len();
        assert_eq!(raw.len(), 32 + 12 + json_len + 16);
        let back = open_export(&sealed, "correct horse battery").unwrap();
        assert_eq!(back.system["theme"], "dark");
        assert!(matches!(
            open_export(&sealed, "wrong horse battery"),
            Err(ConfigError::WrongPassphrase)
        ));
        assert!(seal_export(&data, "short")
            .unwrap_err()
            .to_string()
            .contains("at least 12"));
        assert!(open_export("!!!", "pass").is_err());
        assert!(open_export("", "pass").is_err());
    }
}
