//! The node configuration stored (encrypted) in `nodes.enc`: PVE, PBS and PMG instances.
//!
//! Pulse's Go structs have no json tags, so the file uses PascalCase keys (`Host`, `VerifySSL`,
//! `GuestURL`, …) and Go decodes them case-insensitively. We decode by folding every key to lower
//! case first (fields are declared with lower-case deserialisation names) and always write the
//! exact Go spelling, so a data dir moves between Pulse and this implementation in both directions.
//! Keys we do not know are kept (folded) in `extra` and written back, so nothing a newer Pulse stored
//! is lost on save.
//!
//! Every instance also carries an `ID` (ignored by Go): API ids are `<type>-<n>` and never change
//! when another node is deleted. Files written by Pulse have no ids; they get the positional ids
//! Pulse itself would have shown (`pve-0`, `pve-1`, …).

use crate::config::error::ConfigError;
use crate::util::secret::Secret;
use crate::util::time::UtcTime;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    Pve,
    Pbs,
    Pmg,
}

impl NodeType {
    pub const ALL: [NodeType; 3] = [NodeType::Pve, NodeType::Pbs, NodeType::Pmg];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Pve => "pve",
            NodeType::Pbs => "pbs",
            NodeType::Pmg => "pmg",
        }
    }

    pub fn parse(s: &str) -> Option<NodeType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pve" => Some(NodeType::Pve),
            "pbs" => Some(NodeType::Pbs),
            "pmg" => Some(NodeType::Pmg),
            _ => None,
        }
    }

    /// The API port a host gets when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            NodeType::Pbs => 8007,
            NodeType::Pve | NodeType::Pmg => 8006,
        }
    }
}

/// One member of a PVE cluster. PascalCase on disk **and** in the API (the UI reads it that way).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterEndpoint {
    #[serde(rename(serialize = "NodeID", deserialize = "nodeid"), default)]
    pub node_id: String,
    #[serde(rename(serialize = "NodeName", deserialize = "nodename"), default)]
    pub node_name: String,
    #[serde(rename(serialize = "Host", deserialize = "host"), default)]
    pub host: String,
    #[serde(rename(serialize = "GuestURL", deserialize = "guesturl"), default)]
    pub guest_url: String,
    #[serde(rename(serialize = "IP", deserialize = "ip"), default)]
    pub ip: String,
    #[serde(rename(serialize = "Online", deserialize = "online"), default)]
    pub online: bool,
    #[serde(rename(serialize = "LastSeen", deserialize = "lastseen"), default)]
    pub last_seen: UtcTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PveInstance {
    #[serde(rename(serialize = "ID", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "Name", deserialize = "name"), default)]
    pub name: String,
    #[serde(rename(serialize = "Host", deserialize = "host"), default)]
    pub host: String,
    #[serde(rename(serialize = "GuestURL", deserialize = "guesturl"), default)]
    pub guest_url: String,
    #[serde(rename(serialize = "User", deserialize = "user"), default)]
    pub user: String,
    #[serde(rename(serialize = "Password", deserialize = "password"), default)]
    pub password: Secret,
    #[serde(rename(serialize = "TokenName", deserialize = "tokenname"), default)]
    pub token_name: String,
    #[serde(rename(serialize = "TokenValue", deserialize = "tokenvalue"), default)]
    pub token_value: Secret,
    #[serde(
        rename(serialize = "Fingerprint", deserialize = "fingerprint"),
        default
    )]
    pub fingerprint: String,
    #[serde(rename(serialize = "VerifySSL", deserialize = "verifyssl"), default)]
    pub verify_ssl: bool,
    #[serde(rename(serialize = "MonitorVMs", deserialize = "monitorvms"), default)]
    pub monitor_vms: bool,
    #[serde(
        rename(serialize = "MonitorContainers", deserialize = "monitorcontainers"),
        default
    )]
    pub monitor_containers: bool,
    #[serde(
        rename(serialize = "MonitorStorage", deserialize = "monitorstorage"),
        default
    )]
    pub monitor_storage: bool,
    #[serde(
        rename(serialize = "MonitorBackups", deserialize = "monitorbackups"),
        default
    )]
    pub monitor_backups: bool,
    /// `None` means "on" (Pulse's nil pointer).
    #[serde(
        rename(
            serialize = "MonitorPhysicalDisks",
            deserialize = "monitorphysicaldisks"
        ),
        default
    )]
    pub monitor_physical_disks: Option<bool>,
    #[serde(
        rename(
            serialize = "PhysicalDiskPollingMinutes",
            deserialize = "physicaldiskpollingminutes"
        ),
        default
    )]
    pub physical_disk_polling_minutes: i64,
    /// `None` means "follow the global setting".
    #[serde(
        rename(
            serialize = "TemperatureMonitoringEnabled",
            deserialize = "temperaturemonitoringenabled"
        ),
        default
    )]
    pub temperature_monitoring_enabled: Option<bool>,
    #[serde(rename(serialize = "SSHPort", deserialize = "sshport"), default)]
    pub ssh_port: i64,
    #[serde(rename(serialize = "IsCluster", deserialize = "iscluster"), default)]
    pub is_cluster: bool,
    #[serde(
        rename(serialize = "ClusterName", deserialize = "clustername"),
        default
    )]
    pub cluster_name: String,
    #[serde(
        rename(serialize = "ClusterEndpoints", deserialize = "clusterendpoints"),
        default,
        deserialize_with = "null_as_default"
    )]
    pub cluster_endpoints: Vec<ClusterEndpoint>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PbsInstance {
    #[serde(rename(serialize = "ID", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "Name", deserialize = "name"), default)]
    pub name: String,
    #[serde(rename(serialize = "Host", deserialize = "host"), default)]
    pub host: String,
    #[serde(rename(serialize = "User", deserialize = "user"), default)]
    pub user: String,
    #[serde(rename(serialize = "Password", deserialize = "password"), default)]
    pub password: Secret,
    #[serde(rename(serialize = "TokenName", deserialize = "tokenname"), default)]
    pub token_name: String,
    #[serde(rename(serialize = "TokenValue", deserialize = "tokenvalue"), default)]
    pub token_value: Secret,
    #[serde(
        rename(serialize = "Fingerprint", deserialize = "fingerprint"),
        default
    )]
    pub fingerprint: String,
    #[serde(rename(serialize = "VerifySSL", deserialize = "verifyssl"), default)]
    pub verify_ssl: bool,
    #[serde(
        rename(serialize = "MonitorBackups", deserialize = "monitorbackups"),
        default
    )]
    pub monitor_backups: bool,
    #[serde(
        rename(serialize = "MonitorDatastores", deserialize = "monitordatastores"),
        default
    )]
    pub monitor_datastores: bool,
    #[serde(
        rename(serialize = "MonitorSyncJobs", deserialize = "monitorsyncjobs"),
        default
    )]
    pub monitor_sync_jobs: bool,
    #[serde(
        rename(serialize = "MonitorVerifyJobs", deserialize = "monitorverifyjobs"),
        default
    )]
    pub monitor_verify_jobs: bool,
    #[serde(
        rename(serialize = "MonitorPruneJobs", deserialize = "monitorprunejobs"),
        default
    )]
    pub monitor_prune_jobs: bool,
    #[serde(
        rename(serialize = "MonitorGarbageJobs", deserialize = "monitorgarbagejobs"),
        default
    )]
    pub monitor_garbage_jobs: bool,
    #[serde(
        rename(
            serialize = "TemperatureMonitoringEnabled",
            deserialize = "temperaturemonitoringenabled"
        ),
        default
    )]
    pub temperature_monitoring_enabled: Option<bool>,
    #[serde(rename(serialize = "SSHPort", deserialize = "sshport"), default)]
    pub ssh_port: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PmgInstance {
    #[serde(rename(serialize = "ID", deserialize = "id"), default)]
    pub id: String,
    #[serde(rename(serialize = "Name", deserialize = "name"), default)]
    pub name: String,
    #[serde(rename(serialize = "Host", deserialize = "host"), default)]
    pub host: String,
    #[serde(rename(serialize = "User", deserialize = "user"), default)]
    pub user: String,
    #[serde(rename(serialize = "Password", deserialize = "password"), default)]
    pub password: Secret,
    #[serde(rename(serialize = "TokenName", deserialize = "tokenname"), default)]
    pub token_name: String,
    #[serde(rename(serialize = "TokenValue", deserialize = "tokenvalue"), default)]
    pub token_value: Secret,
    #[serde(
        rename(serialize = "Fingerprint", deserialize = "fingerprint"),
        default
    )]
    pub fingerprint: String,
    #[serde(rename(serialize = "VerifySSL", deserialize = "verifyssl"), default)]
    pub verify_ssl: bool,
    #[serde(
        rename(serialize = "MonitorMailStats", deserialize = "monitormailstats"),
        default
    )]
    pub monitor_mail_stats: bool,
    #[serde(
        rename(serialize = "MonitorQueues", deserialize = "monitorqueues"),
        default
    )]
    pub monitor_queues: bool,
    #[serde(
        rename(serialize = "MonitorQuarantine", deserialize = "monitorquarantine"),
        default
    )]
    pub monitor_quarantine: bool,
    #[serde(
        rename(serialize = "MonitorDomainStats", deserialize = "monitordomainstats"),
        default
    )]
    pub monitor_domain_stats: bool,
    #[serde(
        rename(
            serialize = "TemperatureMonitoringEnabled",
            deserialize = "temperaturemonitoringenabled"
        ),
        default
    )]
    pub temperature_monitoring_enabled: Option<bool>,
    #[serde(rename(serialize = "SSHPort", deserialize = "sshport"), default)]
    pub ssh_port: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The whole of `nodes.enc` (and the `nodes` section of an export).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodesConfig {
    #[serde(
        rename(serialize = "pveInstances", deserialize = "pveinstances"),
        default,
        deserialize_with = "null_as_default"
    )]
    pub pve: Vec<PveInstance>,
    #[serde(
        rename(serialize = "pbsInstances", deserialize = "pbsinstances"),
        default,
        deserialize_with = "null_as_default"
    )]
    pub pbs: Vec<PbsInstance>,
    #[serde(
        rename(serialize = "pmgInstances", deserialize = "pmginstances"),
        default,
        deserialize_with = "null_as_default"
    )]
    pub pmg: Vec<PmgInstance>,
    /// Top-level keys of other Pulse versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fields every node type shares, borrowed from whichever instance it is.
#[derive(Debug, Clone, Copy)]
pub struct NodeSummary<'a> {
    pub node_type: NodeType,
    pub id: &'a str,
    pub name: &'a str,
    pub host: &'a str,
}

/// Go writes nil slices (and nil maps) as `null`.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Lower-cases every object key, recursively: Go's case-insensitive field matching, made explicit.
pub(crate) fn fold_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), fold_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(fold_keys).collect()),
        other => other,
    }
}

impl NodesConfig {
    /// Parses decrypted `nodes.enc` plaintext (any key case), applies Pulse's load-time migrations
    /// and gives every instance a stable id.
    pub fn decode(json: &[u8]) -> Result<NodesConfig, ConfigError> {
        let parse_err = |e: serde_json::Error| ConfigError::Parse {
            what: "node configuration".to_string(),
            reason: e.to_string(),
        };
        let value: Value = serde_json::from_slice(json).map_err(parse_err)?;
        if !value.is_object() {
            return Err(ConfigError::Parse {
                what: "node configuration".to_string(),
                reason: "expected a JSON object".to_string(),
            });
        }
        Self::from_value(value)
    }

    /// Like [`decode`](Self::decode) from an already parsed value (the `nodes` section of an export).
    pub fn from_value(value: Value) -> Result<NodesConfig, ConfigError> {
        let mut cfg: NodesConfig =
            serde_json::from_value(fold_keys(value)).map_err(|e| ConfigError::Parse {
                what: "node configuration".to_string(),
                reason: e.to_string(),
            })?;
        cfg.migrate();
        cfg.assign_ids();
        Ok(cfg)
    }

    /// The plaintext JSON written (encrypted) to `nodes.enc`, in Go's key spelling.
    pub fn encode(&self) -> Result<Vec<u8>, ConfigError> {
        serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Parse {
            what: "node configuration".to_string(),
            reason: e.to_string(),
        })
    }

    pub fn len(&self) -> usize {
        self.pve.len() + self.pbs.len() + self.pmg.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All nodes in display order (PVE, then PBS, then PMG).
    pub fn summaries(&self) -> Vec<NodeSummary<'_>> {
        let pve = self.pve.iter().map(|n| NodeSummary {
            node_type: NodeType::Pve,
            id: &n.id,
            name: &n.name,
            host: &n.host,
        });
        let pbs = self.pbs.iter().map(|n| NodeSummary {
            node_type: NodeType::Pbs,
            id: &n.id,
            name: &n.name,
            host: &n.host,
        });
        let pmg = self.pmg.iter().map(|n| NodeSummary {
            node_type: NodeType::Pmg,
            id: &n.id,
            name: &n.name,
            host: &n.host,
        });
        pve.chain(pbs).chain(pmg).collect()
    }

    pub fn find(&self, id: &str) -> Option<NodeSummary<'_>> {
        self.summaries().into_iter().find(|s| s.id == id)
    }

    pub fn name_taken(&self, node_type: NodeType, name: &str, except_id: Option<&str>) -> bool {
        self.summaries()
            .iter()
            .any(|s| s.node_type == node_type && s.name == name && Some(s.id) != except_id)
    }

    /// Entries that cannot be polled as stored. Reported as load warnings, never dropped: a
    /// broken entry is for the administrator to fix, not for us to delete.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |t: NodeType, name: &str, host: &str, has_pass: bool, has_token: bool| {
            let label = format!("{} node {:?}", t.as_str().to_uppercase(), name);
            let lower = host.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                out.push(format!("{label}: host {host:?} is not an http(s) URL"));
            }
            if !has_pass && !has_token {
                out.push(format!("{label}: no password or API token configured"));
            }
        };
        for n in &self.pve {
            check(
                NodeType::Pve,
                &n.name,
                &n.host,
                !n.password.is_empty(),
                has_token(&n.token_name, &n.token_value),
            );
        }
        for n in &self.pbs {
            check(
                NodeType::Pbs,
                &n.name,
                &n.host,
                !n.password.is_empty(),
                has_token(&n.token_name, &n.token_value),
            );
        }
        for n in &self.pmg {
            check(
                NodeType::Pmg,
                &n.name,
                &n.host,
                !n.password.is_empty(),
                has_token(&n.token_name, &n.token_value),
            );
        }
        out
    }

    /// The id the next node of `node_type` gets: one past the highest number ever visible, so a
    /// deleted node's id is not handed to a different node while other nodes exist.
    pub fn next_id(&self, node_type: NodeType) -> String {
        let prefix = format!("{}-", node_type.as_str());
        let next = self
            .summaries()
            .iter()
            .filter_map(|s| s.id.strip_prefix(&prefix)?.parse::<u64>().ok())
            .max()
            .map_or(0, |n| n + 1);
        format!("{prefix}{next}")
    }

    /// Load-time fix-ups Pulse applies to old files (§4.7), so both read the same file the same way.
    fn migrate(&mut self) {
        for n in &mut self.pve {
            if !n.user.is_empty() && !n.user.contains('@') && !n.password.is_empty() {
                n.user.push_str("@pam");
            }
        }
        for n in &mut self.pbs {
            if !n.password.is_empty() && !n.token_name.is_empty() {
                n.token_name.clear();
                n.token_value = Secret::default();
            }
            n.host = add_scheme_and_port(&n.host, NodeType::Pbs.default_port());
            n.monitor_backups = true;
        }
        for n in &mut self.pmg {
            if !n.password.is_empty() && !n.token_name.is_empty() {
                n.token_name.clear();
                n.token_value = Secret::default();
            }
            n.host = add_scheme_and_port(&n.host, NodeType::Pmg.default_port());
        }
    }

    /// Gives id-less entries (files written by Pulse) the positional id Pulse would have shown,
    /// or the next free number when that one is taken; duplicates are renumbered.
    fn assign_ids(&mut self) {
        let mut seen = std::collections::HashSet::new();
        let mut missing: Vec<(NodeType, usize)> = Vec::new();
        let mut visit = |t: NodeType, i: usize, id: &mut String| {
            let valid = id.starts_with(&format!("{}-", t.as_str()));
            if !valid || !seen.insert(id.clone()) {
                id.clear();
                missing.push((t, i));
            }
        };
        for (i, n) in self.pve.iter_mut().enumerate() {
            visit(NodeType::Pve, i, &mut n.id);
        }
        for (i, n) in self.pbs.iter_mut().enumerate() {
            visit(NodeType::Pbs, i, &mut n.id);
        }
        for (i, n) in self.pmg.iter_mut().enumerate() {
            visit(NodeType::Pmg, i, &mut n.id);
        }
        for (t, i) in missing {
            let positional = format!("{}-{i}", t.as_str());
            let id = if seen.contains(&positional) {
                self.next_id(t)
            } else {
                positional
            };
            seen.insert(id.clone());
            let slot = match t {
                NodeType::Pve => self.pve.get_mut(i).map(|n| &mut n.id),
                NodeType::Pbs => self.pbs.get_mut(i).map(|n| &mut n.id),
                NodeType::Pmg => self.pmg.get_mut(i).map(|n| &mut n.id),
            };
            if let Some(slot) = slot {
                *slot = id;
            }
        }
    }
}

pub(crate) fn has_token(name: &str, value: &Secret) -> bool {
    !name.is_empty() && !value.is_empty()
}

/// Pulse's lenient load-time host fix: `host` → `https://host:<port>`; anything with a scheme or a
/// port is left alone (full validation happens on add/update, not on load).
fn add_scheme_and_port(host: &str, port: u16) -> String {
    if host.is_empty() {
        return String::new();
    }
    let (scheme, rest) = match host.split_once("://") {
        Some((s, r)) => (s.to_string(), r.to_string()),
        None => ("https".to_string(), host.to_string()),
    };
    let has_port = match rest.rfind(']') {
        Some(end) => rest[end..].contains(':'),
        None => rest.contains(':'),
    };
    if has_port {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{}:{port}", rest.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PULSE_FILE: &str = r#"{
      "pveInstances": [
        {"Name":"pve1","Host":"https://10.0.0.1:8006","GuestURL":"","User":"root","Password":"pw",
         "TokenName":"","TokenValue":"","Fingerprint":"","VerifySSL":false,"MonitorVMs":true,
         "MonitorContainers":true,"MonitorStorage":true,"MonitorBackups":true,
         "MonitorPhysicalDisks":null,"PhysicalDiskPollingMinutes":0,"TemperatureMonitoringEnabled":null,
         "SSHPort":0,"IsCluster":true,"ClusterName":"lab","ClusterEndpoints":[
           {"NodeID":"node/a","NodeName":"a","Host":"https://10.0.0.1:8006","GuestURL":"","IP":"10.0.0.1",
            "Online":true,"LastSeen":"2024-05-01T10:00:00Z"}],
         "FutureField":42},
        {"name":"pve2","host":"https://10.0.0.2:8006","tokenname":"pulse@pve!t","tokenvalue":"secret",
         "ClusterEndpoints":null}
      ],
      "pbsInstances": [{"Name":"backup","Host":"10.0.0.9","User":"root@pam","Password":"p",
                        "TokenName":"x@pbs!y","TokenValue":"v","MonitorBackups":false}],
      "pmgInstances": null,
      "dockerHosts": [1]
    }"#;

    #[test]
    fn decodes_pulse_pascal_case_and_migrates() {
        let cfg = NodesConfig::decode(PULSE_FILE.as_bytes()).unwrap();
        assert_eq!(cfg.pve.len(), 2);
        let a = &cfg.pve[0];
        assert_eq!((a.id.as_str(), a.name.as_str()), ("pve-0", "pve1"));
        assert_eq!(a.user, "root@pam", "user without realm gets @pam");
        assert!(a.is_cluster && a.cluster_endpoints[0].online);
        assert_eq!(
            a.cluster_endpoints[0].last_seen,
            UtcTime::parse("2024-05-01T10:00:00Z").unwrap()
        );
        assert_eq!(a.extra.get("futurefield"), Some(&Value::from(42)));
        let b = &cfg.pve[1];
        assert_eq!(
            (b.id.as_str(), b.token_name.as_str(), b.token_value.expose()),
            ("pve-1", "pulse@pve!t", "secret")
        );
        let pbs = &cfg.pbs[0];
        assert_eq!(pbs.host, "https://10.0.0.9:8007");
        assert!(pbs.monitor_backups && pbs.token_name.is_empty() && pbs.token_value.is_empty());
        assert!(cfg.pmg.is_empty());
        assert_eq!(cfg.extra.get("dockerhosts"), Some(&serde_json::json!([1])));
    }

    #[test]
    fn encode_writes_go_spelling_and_round_trips() {
        let cfg = NodesConfig::decode(PULSE_FILE.as_bytes()).unwrap();
        let text = String::from_utf8(cfg.encode().unwrap()).unwrap();
        for key in [
            "\"pveInstances\"",
            "\"GuestURL\"",
            "\"VerifySSL\"",
            "\"MonitorVMs\"",
            "\"SSHPort\"",
            "\"NodeID\"",
            "\"ID\"",
        ] {
            assert!(text.contains(key), "missing {key}");
        }
        assert_eq!(NodesConfig::decode(text.as_bytes()).unwrap(), cfg);
    }

    #[test]
    fn stored_ids_survive_and_new_ids_do_not_reuse() {
        let mut cfg = NodesConfig::decode(PULSE_FILE.as_bytes()).unwrap();
        cfg.pve.remove(0);
        let cfg = NodesConfig::decode(&cfg.encode().unwrap()).unwrap();
        assert_eq!(cfg.pve[0].id, "pve-1", "id must not shift after a delete");
        assert_eq!(cfg.next_id(NodeType::Pve), "pve-2");
        assert_eq!(cfg.next_id(NodeType::Pmg), "pmg-0");
    }

    #[test]
    fn duplicate_or_foreign_ids_are_renumbered() {
        let json = r#"{"pveInstances":[{"ID":"pve-5","Name":"a"},{"ID":"pve-5","Name":"b"},{"ID":"pbs-1","Name":"c"}]}"#;
        let cfg = NodesConfig::decode(json.as_bytes()).unwrap();
        let ids: Vec<_> = cfg.pve.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["pve-5", "pve-1", "pve-2"]);
    }

    #[test]
    fn rejects_non_objects_and_wrong_types() {
        assert!(NodesConfig::decode(b"[]").is_err());
        assert!(NodesConfig::decode(b"{\"pveInstances\":[{\"VerifySSL\":\"yes\"}]}").is_err());
        assert!(NodesConfig::decode(b"not json").is_err());
    }

    #[test]
    fn problems_are_reported_not_dropped() {
        let json = r#"{"pveInstances":[{"Name":"x","Host":"10.0.0.1"}]}"#;
        let cfg = NodesConfig::decode(json.as_bytes()).unwrap();
        assert_eq!(cfg.pve.len(), 1);
        assert_eq!(cfg.problems().len(), 2);
    }
}
