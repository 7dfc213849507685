//! Adding, changing and removing nodes: the request body of `POST`/`PUT /api/config/nodes…`,
//! its validation (clear messages, duplicate names → conflict) and Pulse's defaults. Everything
//! here is pure and runs on the event loop; cluster detection and test connections (network)
//! are the caller's, on a worker.

use crate::config::error::ConfigError;
use crate::config::model::host::{http_url_host, normalize_host};
use crate::config::model::nodes::{
    has_token, ClusterEndpoint, NodeType, NodesConfig, PbsInstance, PmgInstance, PveInstance,
};
use crate::util::secret::Secret;
use serde::Deserialize;

/// Body of node add/update/test requests. Every field is optional so that `PUT` can be partial:
/// only the keys present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRequest {
    #[serde(rename = "type")]
    pub node_type: Option<String>,
    pub name: Option<String>,
    pub host: Option<String>,
    #[serde(rename = "guestURL", alias = "guestUrl")]
    pub guest_url: Option<String>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub token_name: Option<String>,
    pub token_value: Option<Secret>,
    pub fingerprint: Option<String>,
    #[serde(rename = "verifySSL", alias = "verifySsl")]
    pub verify_ssl: Option<bool>,
    #[serde(rename = "monitorVMs", alias = "monitorVms")]
    pub monitor_vms: Option<bool>,
    pub monitor_containers: Option<bool>,
    pub monitor_storage: Option<bool>,
    pub monitor_backups: Option<bool>,
    pub monitor_physical_disks: Option<bool>,
    pub physical_disk_polling_minutes: Option<i64>,
    pub temperature_monitoring_enabled: Option<bool>,
    pub monitor_datastores: Option<bool>,
    pub monitor_sync_jobs: Option<bool>,
    pub monitor_verify_jobs: Option<bool>,
    pub monitor_prune_jobs: Option<bool>,
    pub monitor_garbage_jobs: Option<bool>,
    pub monitor_mail_stats: Option<bool>,
    pub monitor_queues: Option<bool>,
    pub monitor_quarantine: Option<bool>,
    pub monitor_domain_stats: Option<bool>,
}

/// One node of any type, owned: the result of validating a request (before it is saved) or a copy
/// of a saved node (for test-connection on a worker).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Pve(PveInstance),
    Pbs(PbsInstance),
    Pmg(PmgInstance),
}

/// What was removed, so the caller can drop it from live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedNode {
    pub node_type: NodeType,
    pub id: String,
    pub name: String,
}

impl Node {
    pub fn node_type(&self) -> NodeType {
        match self {
            Node::Pve(_) => NodeType::Pve,
            Node::Pbs(_) => NodeType::Pbs,
            Node::Pmg(_) => NodeType::Pmg,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Node::Pve(n) => &n.id,
            Node::Pbs(n) => &n.id,
            Node::Pmg(n) => &n.id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Node::Pve(n) => &n.name,
            Node::Pbs(n) => &n.name,
            Node::Pmg(n) => &n.name,
        }
    }

    pub fn host(&self) -> &str {
        match self {
            Node::Pve(n) => &n.host,
            Node::Pbs(n) => &n.host,
            Node::Pmg(n) => &n.host,
        }
    }

    /// Validates and normalises a new node from a request, applying Pulse's defaults. The id is
    /// left empty; [`NodesConfig::insert`] assigns it.
    pub fn from_request(req: &NodeRequest) -> Result<Node, ConfigError> {
        let type_str = req.node_type.as_deref().unwrap_or("").trim();
        if type_str.is_empty() {
            return Err(ConfigError::Invalid(
                "Node type is required (pve, pbs or pmg)".to_string(),
            ));
        }
        let node_type = NodeType::parse(type_str).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "Invalid node type {type_str:?}: expected pve, pbs or pmg"
            ))
        })?;
        let name = req.name.as_deref().unwrap_or("").trim();
        if name.is_empty() {
            return Err(ConfigError::Invalid("Node name is required".to_string()));
        }
        let mut node = match node_type {
            NodeType::Pve => Node::Pve(PveInstance {
                monitor_vms: true,
                monitor_containers: true,
                monitor_storage: true,
                monitor_backups: true,
                ..PveInstance::default()
            }),
            NodeType::Pbs => Node::Pbs(PbsInstance {
                monitor_backups: true,
                ..PbsInstance::default()
            }),
            NodeType::Pmg => Node::Pmg(PmgInstance::default()),
        };
        node.apply(req)?;
        if let Node::Pmg(n) = &mut node {
            let any = [
                req.monitor_mail_stats,
                req.monitor_queues,
                req.monitor_quarantine,
                req.monitor_domain_stats,
            ]
            .contains(&Some(true));
            if !any {
                n.monitor_mail_stats = true;
            }
        }
        Ok(node)
    }

    /// Applies the keys present in `req` to this node, then validates the result.
    fn apply(&mut self, req: &NodeRequest) -> Result<(), ConfigError> {
        let node_type = self.node_type();
        if let Some(t) = req.node_type.as_deref().filter(|t| !t.trim().is_empty()) {
            if NodeType::parse(t) != Some(node_type) {
                return Err(ConfigError::Invalid(
                    "The type of an existing node cannot be changed".to_string(),
                ));
            }
        }
        let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(valid_name(n)?),
            None => None,
        };
        let host = match req.host.as_deref().filter(|h| !h.trim().is_empty()) {
            Some(h) => Some(normalize_host(node_type, h)?),
            None => None,
        };
        let user = match req.user.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(valid_user(node_type, u)?),
            None => None,
        };
        let fingerprint = match &req.fingerprint {
            Some(f) => Some(valid_fingerprint(f)?),
            None => None,
        };
        if let Some(g) = req.guest_url.as_deref() {
            if !g.trim().is_empty() && http_url_host(g.trim()).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "Invalid guest URL {g:?}: must be an http:// or https:// URL with a host"
                )));
            }
        }
        if let Some(t) = req.token_name.as_deref() {
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) || t.len() > 256 {
                return Err(ConfigError::Invalid(
                    "Invalid token name: no spaces, at most 256 characters".to_string(),
                ));
            }
        }
        if let Some(minutes) = req.physical_disk_polling_minutes {
            if !(0..=10_080).contains(&minutes) {
                return Err(ConfigError::Invalid(
                    "physicalDiskPollingMinutes must be between 0 and 10080".to_string(),
                ));
            }
        }
        let token_name = req
            .token_name
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let token_value = req.token_value.as_ref().filter(|t| !t.is_empty());
        let password = req.password.as_ref().filter(|p| !p.is_empty());

        let c = self.common_mut();
        if let Some(n) = name {
            *c.name = n;
        }
        if let Some(h) = host {
            *c.host = h;
        }
        if let Some(u) = user {
            *c.user = u;
        }
        if let Some(f) = fingerprint {
            *c.fingerprint = f;
        }
        if let Some(v) = req.verify_ssl {
            *c.verify_ssl = v;
        }
        if let Some(v) = req.temperature_monitoring_enabled {
            *c.temperature = Some(v);
        }
        // Token fields switch the node to token auth, a password switches it to password auth;
        // with neither, the stored credentials stay as they are.
        if token_name.is_some() || token_value.is_some() {
            if let Some(t) = token_name {
                *c.token_name = t.to_string();
            }
            if let Some(v) = token_value {
                *c.token_value = v.clone();
            }
            *c.password = Secret::default();
        } else if let Some(p) = password {
            *c.password = p.clone();
            c.token_name.clear();
            *c.token_value = Secret::default();
        }
        let has_password = !c.user.is_empty() && !c.password.is_empty();
        let has_tok = has_token(c.token_name, c.token_value);
        if c.name.is_empty() {
            return Err(ConfigError::Invalid("Node name is required".to_string()));
        }
        if c.host.is_empty() {
            return Err(ConfigError::Invalid("Host is required".to_string()));
        }
        if !has_password && !has_tok {
            return Err(ConfigError::Invalid(
                "Authentication credentials required: user and password, or token name and token value"
                    .to_string(),
            ));
        }
        match self {
            Node::Pve(n) => {
                if let Some(g) = &req.guest_url {
                    n.guest_url = g.trim().to_string();
                }
                set(&mut n.monitor_vms, req.monitor_vms);
                set(&mut n.monitor_containers, req.monitor_containers);
                set(&mut n.monitor_storage, req.monitor_storage);
                set(&mut n.monitor_backups, req.monitor_backups);
                if req.monitor_physical_disks.is_some() {
                    n.monitor_physical_disks = req.monitor_physical_disks;
                }
                set(
                    &mut n.physical_disk_polling_minutes,
                    req.physical_disk_polling_minutes,
                );
            }
            Node::Pbs(n) => {
                // PBS backups are always monitored (Pulse forces it on load, too).
                n.monitor_backups = true;
                set(&mut n.monitor_datastores, req.monitor_datastores);
                set(&mut n.monitor_sync_jobs, req.monitor_sync_jobs);
                set(&mut n.monitor_verify_jobs, req.monitor_verify_jobs);
                set(&mut n.monitor_prune_jobs, req.monitor_prune_jobs);
                set(&mut n.monitor_garbage_jobs, req.monitor_garbage_jobs);
            }
            Node::Pmg(n) => {
                set(&mut n.monitor_mail_stats, req.monitor_mail_stats);
                set(&mut n.monitor_queues, req.monitor_queues);
                set(&mut n.monitor_quarantine, req.monitor_quarantine);
                set(&mut n.monitor_domain_stats, req.monitor_domain_stats);
            }
        }
        Ok(())
    }

    fn common_mut(&mut self) -> Common<'_> {
        macro_rules! common {
            ($n:expr) => {
                Common {
                    id: &mut $n.id,
                    name: &mut $n.name,
                    host: &mut $n.host,
                    user: &mut $n.user,
                    password: &mut $n.password,
                    token_name: &mut $n.token_name,
                    token_value: &mut $n.token_value,
                    fingerprint: &mut $n.fingerprint,
                    verify_ssl: &mut $n.verify_ssl,
                    temperature: &mut $n.temperature_monitoring_enabled,
                }
            };
        }
        match self {
            Node::Pve(n) => common!(n),
            Node::Pbs(n) => common!(n),
            Node::Pmg(n) => common!(n),
        }
    }
}

/// Mutable views of the fields all three instance types share.
struct Common<'a> {
    id: &'a mut String,
    name: &'a mut String,
    host: &'a mut String,
    user: &'a mut String,
    password: &'a mut Secret,
    token_name: &'a mut String,
    token_value: &'a mut Secret,
    fingerprint: &'a mut String,
    verify_ssl: &'a mut bool,
    temperature: &'a mut Option<bool>,
}

fn set<T: Copy>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

pub(crate) fn valid_name(name: &str) -> Result<String, ConfigError> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ConfigError::Invalid(
            "Invalid node name: at most 100 characters, no control characters".to_string(),
        ));
    }
    Ok(name.to_string())
}

/// Users need a realm; PVE defaults to `@pam`, PBS to `@pbs`, PMG to `@pmg`.
fn valid_user(node_type: NodeType, user: &str) -> Result<String, ConfigError> {
    if user.len() > 128 || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid(
            "Invalid user: no spaces, at most 128 characters".to_string(),
        ));
    }
    if user.contains('@') {
        return Ok(user.to_string());
    }
    let realm = match node_type {
        NodeType::Pve => "pam",
        NodeType::Pbs => "pbs",
        NodeType::Pmg => "pmg",
    };
    Ok(format!("{user}@{realm}"))
}

/// A pinned certificate fingerprint is SHA-256: 32 bytes as hex, colons optional. Kept as the
/// user wrote it (upper case with colons is what Proxmox shows).
fn valid_fingerprint(fp: &str) -> Result<String, ConfigError> {
    let fp = fp.trim();
    let hex: String = fp.chars().filter(|c| *c != ':').collect();
    if fp.is_empty() || (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())) {
        Ok(fp.to_string())
    } else {
        Err(ConfigError::Invalid(
            "Invalid fingerprint: expected a SHA-256 fingerprint (64 hex digits, colons optional)"
                .to_string(),
        ))
    }
}

impl NodesConfig {
    /// A copy of one saved node (for test-connection on a worker thread).
    pub fn get(&self, id: &str) -> Option<Node> {
        if let Some(n) = self.pve.iter().find(|n| n.id == id) {
            return Some(Node::Pve(n.clone()));
        }
        if let Some(n) = self.pbs.iter().find(|n| n.id == id) {
            return Some(Node::Pbs(n.clone()));
        }
        self.pmg
            .iter()
            .find(|n| n.id == id)
            .map(|n| Node::Pmg(n.clone()))
    }

    /// Validates a request and adds the node; returns its new id.
    pub fn add_node(&mut self, req: &NodeRequest) -> Result<String, ConfigError> {
        self.insert(Node::from_request(req)?)
    }

    /// Adds an already validated node (e.g. after cluster detection on a worker); returns its id.
    /// A name already used by a node of the same type is a conflict.
    pub fn insert(&mut self, mut node: Node) -> Result<String, ConfigError> {
        if self.name_taken(node.node_type(), node.name(), None) {
            return Err(ConfigError::Conflict(
                "A node with this name already exists".to_string(),
            ));
        }
        let id = self.next_id(node.node_type());
        *node.common_mut().id = id.clone();
        match node {
            Node::Pve(n) => self.pve.push(n),
            Node::Pbs(n) => self.pbs.push(n),
            Node::Pmg(n) => self.pmg.push(n),
        }
        Ok(id)
    }

    /// Applies a partial update. Nothing changes unless the whole result is valid.
    pub fn update_node(&mut self, id: &str, req: &NodeRequest) -> Result<(), ConfigError> {
        let mut node = self
            .get(id)
            .ok_or_else(|| ConfigError::NotFound(format!("Node {id:?} not found")))?;
        node.apply(req)?;
        if self.name_taken(node.node_type(), node.name(), Some(id)) {
            return Err(ConfigError::Conflict(
                "A node with this name already exists".to_string(),
            ));
        }
        self.replace(node);
        Ok(())
    }

    /// Stores cluster detection results for a PVE node.
    pub fn set_cluster_info(
        &mut self,
        id: &str,
        cluster_name: Option<String>,
        endpoints: Vec<ClusterEndpoint>,
    ) -> Result<(), ConfigError> {
        let n = self
            .pve
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| ConfigError::NotFound(format!("PVE node {id:?} not found")))?;
        n.is_cluster = cluster_name.is_some();
        n.cluster_name = cluster_name.unwrap_or_default();
        n.cluster_endpoints = endpoints;
        Ok(())
    }

    pub fn remove_node(&mut self, id: &str) -> Result<RemovedNode, ConfigError> {
        let node = self
            .get(id)
            .ok_or_else(|| ConfigError::NotFound(format!("Node {id:?} not found")))?;
        match node.node_type() {
            NodeType::Pve => self.pve.retain(|n| n.id != id),
            NodeType::Pbs => self.pbs.retain(|n| n.id != id),
            NodeType::Pmg => self.pmg.retain(|n| n.id != id),
        }
        Ok(RemovedNode {
            node_type: node.node_type(),
            id: id.to_string(),
            name: node.name().to_string(),
        })
    }

    fn replace(&mut self, node: Node) {
        match node {
            Node::Pve(n) => {
                if let Some(slot) = self.pve.iter_mut().find(|x| x.id == n.id) {
                    *slot = n;
                }
            }
            Node::Pbs(n) => {
                if let Some(slot) = self.pbs.iter_mut().find(|x| x.id == n.id) {
                    *slot = n;
                }
            }
            Node::Pmg(n) => {
                if let Some(slot) = self.pmg.iter_mut().find(|x| x.id == n.id) {
                    *slot = n;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> NodeRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn add_applies_defaults_and_normalizes() {
        let mut cfg = NodesConfig::default();
        let id = cfg
            .add_node(&req(
                r#"{"type":"pve","name":"a","host":"10.0.0.1","user":"root","password":"pw"}"#,
            ))
            .unwrap();
        assert_eq!(id, "pve-0");
        let n = &cfg.pve[0];
        assert_eq!(
            (n.host.as_str(), n.user.as_str()),
            ("https://10.0.0.1:8006", "root@pam")
        );
        assert!(
            n.monitor_vms
                && n.monitor_containers
                && n.monitor_storage
                && n.monitor_backups
                && !n.verify_ssl
        );

        cfg.add_node(&req(
            r#"{"type":"pbs","name":"b","host":"pbs","tokenName":"x@pbs!t","tokenValue":"v"}"#,
        ))
        .unwrap();
        assert_eq!(cfg.pbs[0].host, "https://pbs:8007");
        assert!(cfg.pbs[0].monitor_backups && !cfg.pbs[0].monitor_datastores);

        cfg.add_node(&req(
            r#"{"type":"pmg","name":"m","host":"m","user":"api@pmg","password":"p"}"#,
        ))
        .unwrap();
        assert!(cfg.pmg[0].monitor_mail_stats);
        cfg.add_node(&req(
            r#"{"type":"pmg","name":"m2","host":"m2","user":"api@pmg","password":"p","monitorQueues":true}"#,
        ))
        .unwrap();
        assert!(!cfg.pmg[1].monitor_mail_stats && cfg.pmg[1].monitor_queues);
    }

    #[test]
    fn validation_messages() {
        let mut cfg = NodesConfig::default();
        let err = |cfg: &mut NodesConfig, j: &str| cfg.add_node(&req(j)).unwrap_err();
        assert!(err(&mut cfg, r#"{"name":"a","host":"h"}"#)
            .to_string()
            .contains("type is required"));
        assert!(err(&mut cfg, r#"{"type":"xyz","name":"a","host":"h"}"#)
            .to_string()
            .contains("Invalid node type"));
        assert!(err(
            &mut cfg,
            r#"{"type":"pve","host":"h","user":"u","password":"p"}"#
        )
        .to_string()
        .contains("name"));
        assert!(err(
            &mut cfg,
            r#"{"type":"pve","name":"a","user":"u","password":"p"}"#
        )
        .to_string()
        .contains("Host"));
        let e = err(&mut cfg, r#"{"type":"pve","name":"a","host":"h"}"#);
        assert!(e.to_string().contains("credentials") && e.http_status() == 400);
        let e = err(
            &mut cfg,
            r#"{"type":"pve","name":"a","host":"h:99999","user":"u","password":"p"}"#,
        );
        assert!(e.to_string().contains("port"));
        let e = err(
            &mut cfg,
            r#"{"type":"pve","name":"a","host":"h","user":"u","password":"p","fingerprint":"zz"}"#,
        );
        assert!(e.to_string().contains("fingerprint"));
        cfg.add_node(&req(
            r#"{"type":"pve","name":"a","host":"h","user":"u","password":"p"}"#,
        ))
        .unwrap();
        let e = err(
            &mut cfg,
            r#"{"type":"pve","name":"a","host":"h2","user":"u","password":"p"}"#,
        );
        assert_eq!(
            (e.http_status(), e.to_string().as_str()),
            (409, "A node with this name already exists")
        );
        // Same name, other type: allowed.
        cfg.add_node(&req(
            r#"{"type":"pbs","name":"a","host":"h","user":"u","password":"p"}"#,
        ))
        .unwrap();
    }

    #[test]
    fn update_is_partial_and_switches_auth() {
        let mut cfg = NodesConfig::default();
        let id = cfg
            .add_node(&req(
                r#"{"type":"pve","name":"a","host":"h","user":"u","password":"p","fingerprint":"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"}"#,
            ))
            .unwrap();
        cfg.update_node(&id, &req(r#"{"temperatureMonitoringEnabled":false}"#))
            .unwrap();
        let n = &cfg.pve[0];
        assert_eq!(n.temperature_monitoring_enabled, Some(false));
        assert!(
            !n.fingerprint.is_empty() && n.password.expose() == "p",
            "untouched keys keep their values"
        );
        cfg.update_node(&id, &req(r#"{"tokenName":"u@pam!t","tokenValue":"s"}"#))
            .unwrap();
        assert!(cfg.pve[0].password.is_empty() && cfg.pve[0].token_value.expose() == "s");
        cfg.update_node(&id, &req(r#"{"password":"new"}"#)).unwrap();
        assert!(cfg.pve[0].token_name.is_empty() && cfg.pve[0].password.expose() == "new");
        // Invalid update leaves the node unchanged.
        let before = cfg.clone();
        assert!(cfg
            .update_node(&id, &req(r#"{"name":"b","host":"bad host"}"#))
            .is_err());
        assert_eq!(cfg, before);
        assert_eq!(
            cfg.update_node("pve-9", &req("{}"))
                .unwrap_err()
                .http_status(),
            404
        );
        assert!(cfg.update_node(&id, &req(r#"{"type":"pbs"}"#)).is_err());
    }

    #[test]
    fn delete_keeps_other_ids() {
        let mut cfg = NodesConfig::default();
        for name in ["a", "b", "c"] {
            cfg.add_node(&req(&format!(
                r#"{{"type":"pve","name":"{name}","host":"h","user":"u","password":"p"}}"#
            )))
            .unwrap();
        }
        let removed = cfg.remove_node("pve-0").unwrap();
        assert_eq!(removed.name, "a");
        assert_eq!(
            cfg.get("pve-2").map(|n| n.name().to_string()),
            Some("c".to_string())
        );
        assert!(cfg.remove_node("pve-0").is_err());
    }
}
