//! Guest metadata (`guest_metadata.json`): per-guest custom console URL, description and tags,
//! keyed by the guest id the state uses (`<node>-<vmid>` or `<instance>-<node>-<vmid>`).
//! The API also accepts `<node>/<vmid>`; the caller resolves that to a guest id.

use crate::config::error::ConfigError;
use crate::config::model::host::http_url_host;
use crate::config::model::nodes::null_as_default;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const MAX_ID_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 4096;
const MAX_TAGS: usize = 64;
const MAX_TAG_LEN: usize = 128;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestMetadata {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub custom_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tags: Vec<String>,
    /// Fields written by other Pulse versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `PUT/POST /api/guests/metadata/<id>`. Keys present change; `""` clears. Parse it with
/// [`GuestMetadataUpdate::from_value`] in the API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestMetadataUpdate {
    #[serde(alias = "customURL")]
    pub custom_url: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
}

impl GuestMetadataUpdate {
    /// The API body. The document's names (`consoleUrl`, `notes`) are the original's `customUrl`
    /// and `description`; both may come (a record read back and sent again) if they agree. `id`
    /// is ignored (it comes from the path). Any other key is a 400 naming it, never a 200 that
    /// stores nothing.
    pub fn from_value(v: &Value) -> Result<GuestMetadataUpdate, ConfigError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ConfigError::Invalid("body must be a JSON object".to_string()))?;
        let text = |key: &str| -> Result<Option<String>, ConfigError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ConfigError::Invalid(format!("{key} must be a string"))),
            }
        };
        let one_of = |keys: &[&str]| -> Result<Option<String>, ConfigError> {
            let mut found: Option<(String, &str)> = None;
            for key in keys {
                if let Some(v) = text(key)? {
                    match &found {
                        Some((prev, pk)) if *prev != v => {
                            return Err(ConfigError::Invalid(format!(
                                "{pk} and {key} name the same field and disagree"
                            )))
                        }
                        _ => found = Some((v, key)),
                    }
                }
            }
            Ok(found.map(|(v, _)| v))
        };
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "id" | "customUrl" | "customURL" | "consoleUrl" | "description" | "notes" | "tags"
            ) {
                return Err(ConfigError::Invalid(format!(
                    "unknown field {key:?} (expected consoleUrl/customUrl, notes/description, tags)"
                )));
            }
        }
        let tags = match obj.get("tags") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|t| {
                        t.as_str().map(str::to_string).ok_or_else(|| {
                            ConfigError::Invalid("tags must be a list of strings".to_string())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "tags must be a list of strings".to_string(),
                ))
            }
        };
        Ok(GuestMetadataUpdate {
            custom_url: one_of(&["customUrl", "customURL", "consoleUrl"])?,
            description: one_of(&["description", "notes"])?,
            tags,
        })
    }
}

/// How a request names a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestKey {
    /// A guest id as in state (`pve1-100`, `cluster-pve1-100`).
    Id(String),
    /// `<node>/<vmid>` from the path form.
    NodeVmid { node: String, vmid: u32 },
}

impl GuestKey {
    /// Parses the path remainder after `/api/guests/metadata/` (already percent-decoded).
    pub fn parse(rest: &str) -> Result<GuestKey, ConfigError> {
        let rest = rest.trim_matches('/');
        if rest.is_empty() || rest.len() > MAX_ID_LEN || rest.chars().any(char::is_control) {
            return Err(ConfigError::Invalid("Invalid guest id".to_string()));
        }
        match rest.split_once('/') {
            None => Ok(GuestKey::Id(rest.to_string())),
            Some((node, vmid)) => {
                let vmid = vmid
                    .parse::<u32>()
                    .ok()
                    .filter(|_| !node.is_empty() && !node.contains('/'));
                match vmid {
                    Some(vmid) => Ok(GuestKey::NodeVmid {
                        node: node.to_string(),
                        vmid,
                    }),
                    None => Err(ConfigError::Invalid(
                        "Guest must be <guest-id> or <node>/<vmid>".to_string(),
                    )),
                }
            }
        }
    }

    /// The id to store under. `lookup(node, vmid)` finds the guest id in live state; without a
    /// match the state's own form for a standalone node, `<node>-<vmid>`, is used.
    pub fn resolve(&self, lookup: &dyn Fn(&str, u32) -> Option<String>) -> String {
        match self {
            GuestKey::Id(id) => id.clone(),
            GuestKey::NodeVmid { node, vmid } => {
                lookup(node, *vmid).unwrap_or_else(|| format!("{node}-{vmid}"))
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuestMetadataStore {
    entries: BTreeMap<String, GuestMetadata>,
}

impl GuestMetadataStore {
    /// Parses `guest_metadata.json` (`{id: record}`; `null` is an empty map).
    pub fn decode(json: &[u8]) -> Result<GuestMetadataStore, ConfigError> {
        let entries: Option<BTreeMap<String, GuestMetadata>> = serde_json::from_slice(json)
            .map_err(|e| ConfigError::Parse {
                what: "guest_metadata.json".to_string(),
                reason: e.to_string(),
            })?;
        let mut entries = entries.unwrap_or_default();
        for (id, rec) in entries.iter_mut() {
            rec.id.clone_from(id);
        }
        Ok(GuestMetadataStore { entries })
    }

    pub fn from_map(entries: BTreeMap<String, GuestMetadata>) -> GuestMetadataStore {
        let mut store = GuestMetadataStore { entries };
        for (id, rec) in store.entries.iter_mut() {
            rec.id.clone_from(id);
        }
        store
    }

    pub fn encode(&self) -> Result<Vec<u8>, ConfigError> {
        serde_json::to_vec_pretty(&self.entries).map_err(|e| ConfigError::Parse {
            what: "guest_metadata.json".to_string(),
            reason: e.to_string(),
        })
    }

    /// All records (`GET /api/guests/metadata`).
    pub fn all(&self) -> &BTreeMap<String, GuestMetadata> {
        &self.entries
    }

    /// One record; an unknown id gives an empty record, never an error (as Pulse).
    pub fn get(&self, id: &str) -> GuestMetadata {
        self.entries
            .get(id)
            .cloned()
            .unwrap_or_else(|| GuestMetadata {
                id: id.to_string(),
                ..GuestMetadata::default()
            })
    }

    /// Validates and applies an update, returning the stored record. A record left with nothing
    /// in it is removed rather than kept empty.
    pub fn set(
        &mut self,
        id: &str,
        update: &GuestMetadataUpdate,
    ) -> Result<GuestMetadata, ConfigError> {
        if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Err(ConfigError::Invalid("Invalid guest id".to_string()));
        }
        let mut rec = self.get(id);
        if let Some(url) = &update.custom_url {
            let url = url.trim();
            if !url.is_empty() && (url.len() > MAX_URL_LEN || http_url_host(url).is_none()) {
                return Err(ConfigError::Invalid(
                    "customUrl must be an http:// or https:// URL with a host".to_string(),
                ));
            }
            rec.custom_url = url.to_string();
        }
        if let Some(d) = &update.description {
            if d.len() > MAX_DESCRIPTION_LEN {
                return Err(ConfigError::Invalid(format!(
                    "description is longer than {MAX_DESCRIPTION_LEN} bytes"
                )));
            }
            rec.description = d.clone();
        }
        if let Some(tags) = &update.tags {
            if tags.len() > MAX_TAGS
                || tags
                    .iter()
                    .any(|t| t.len() > MAX_TAG_LEN || t.chars().any(char::is_control))
            {
                return Err(ConfigError::Invalid(format!(
                    "tags: at most {MAX_TAGS} tags of at most {MAX_TAG_LEN} characters"
                )));
            }
            rec.tags = tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
        }
        if rec.custom_url.is_empty()
            && rec.description.is_empty()
            && rec.tags.is_empty()
            && rec.extra.is_empty()
        {
            self.entries.remove(id);
        } else {
            self.entries.insert(id.to_string(), rec.clone());
        }
        Ok(rec)
    }

    /// Removes a record; `false` if there was none.
    pub fn delete(&mut self, id: &str) -> bool {
        self.entries.remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(json: &str) -> GuestMetadataUpdate {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn document_names_and_unknown_keys() {
        let u = GuestMetadataUpdate::from_value(&serde_json::json!({
            "consoleUrl": "https://c.example/vm/100", "notes": "db", "id": "x",
            "customUrl": "https://c.example/vm/100"
        }))
        .unwrap();
        assert_eq!(u.custom_url.as_deref(), Some("https://c.example/vm/100"));
        assert_eq!(u.description.as_deref(), Some("db"));
        let err =
            GuestMetadataUpdate::from_value(&serde_json::json!({"consoleURL": "x"})).unwrap_err();
        assert!(err.to_string().contains("consoleURL"), "{err}");
        let err =
            GuestMetadataUpdate::from_value(&serde_json::json!({"notes": "a", "description": "b"}))
                .unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
    }

    #[test]
    fn set_get_delete_and_round_trip() {
        let mut s = GuestMetadataStore::default();
        let rec = s
            .set(
                "pve1-100",
                &upd(r#"{"customUrl":"https://vm.lan:8443/console"}"#),
            )
            .unwrap();
        assert_eq!(rec.custom_url, "https://vm.lan:8443/console");
        s.set(
            "pve1-100",
            &upd(r#"{"description":"db","tags":["prod"," "]}"#),
        )
        .unwrap();
        let got = s.get("pve1-100");
        assert_eq!(
            (
                got.custom_url.as_str(),
                got.description.as_str(),
                got.tags.len()
            ),
            ("https://vm.lan:8443/console", "db", 1)
        );
        let back = GuestMetadataStore::decode(&s.encode().unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(s.get("nope").id, "nope");
        assert!(s.delete("pve1-100") && !s.delete("pve1-100"));
    }

    #[test]
    fn clearing_everything_removes_record() {
        let mut s = GuestMetadataStore::default();
        s.set("a", &upd(r#"{"customUrl":"http://x"}"#)).unwrap();
        s.set("a", &upd(r#"{"customUrl":""}"#)).unwrap();
        assert!(s.all().is_empty());
    }

    #[test]
    fn rejects_bad_urls_without_change() {
        let mut s = GuestMetadataStore::default();
        s.set("a", &upd(r#"{"customUrl":"http://x"}"#)).unwrap();
        for bad in [
            r#"{"customUrl":"javascript:alert(1)"}"#,
            r#"{"customUrl":"ftp://x"}"#,
            r#"{"customUrl":"https://"}"#,
        ] {
            assert_eq!(s.set("a", &upd(bad)).unwrap_err().http_status(), 400);
        }
        assert_eq!(s.get("a").custom_url, "http://x");
    }

    #[test]
    fn keys() {
        assert_eq!(
            GuestKey::parse("pve1-100").unwrap(),
            GuestKey::Id("pve1-100".into())
        );
        let k = GuestKey::parse("pve1/100").unwrap();
        assert_eq!(
            k,
            GuestKey::NodeVmid {
                node: "pve1".into(),
                vmid: 100
            }
        );
        assert_eq!(k.resolve(&|_, _| None), "pve1-100");
        assert_eq!(
            k.resolve(&|n, v| Some(format!("lab-{n}-{v}"))),
            "lab-pve1-100"
        );
        assert!(GuestKey::parse("a/b").is_err());
        assert!(GuestKey::parse("").is_err());
    }

    #[test]
    fn reads_pulse_file_keeping_unknown_fields() {
        let s = GuestMetadataStore::decode(
            br#"{"pve1-101":{"id":"pve1-101","customUrl":"http://a","lastKnownName":"web"}}"#,
        )
        .unwrap();
        assert_eq!(s.get("pve1-101").extra["lastKnownName"], "web");
        assert!(String::from_utf8(s.encode().unwrap())
            .unwrap()
            .contains("lastKnownName"));
        assert!(GuestMetadataStore::decode(b"null")
            .unwrap()
            .all()
            .is_empty());
        assert!(GuestMetadataStore::decode(b"[1]").is_err());
    }
}
