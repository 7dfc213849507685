//! The `GET /api/config/nodes` item: everything about a node except its secrets, which are
//! reduced to `hasPassword` / `hasToken`.

use crate::config::model::nodes::{has_token, ClusterEndpoint, NodeType, NodesConfig};
use serde::Serialize;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    pub name: String,
    pub host: String,
    #[serde(rename = "guestURL", skip_serializing_if = "String::is_empty")]
    pub guest_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    pub has_password: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_name: String,
    pub has_token: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    #[serde(rename = "verifySSL")]
    pub verify_ssl: bool,
    #[serde(rename = "monitorVMs", skip_serializing_if = "is_false")]
    pub monitor_vms: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_containers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_storage: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_backups: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_physical_disks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_monitoring_enabled: Option<bool>,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_datastores: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_sync_jobs: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_verify_jobs: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_prune_jobs: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_garbage_jobs: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_mail_stats: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_queues: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_quarantine: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor_domain_stats: bool,
    /// `"connected"` or `"disconnected"`, from the caller's live view.
    pub status: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    pub is_cluster: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster_endpoints: Vec<ClusterEndpoint>,
}

impl NodeView {
    fn base(node_type: NodeType, id: &str, name: &str, host: &str, connected: bool) -> NodeView {
        NodeView {
            id: id.to_string(),
            node_type,
            name: name.to_string(),
            host: host.to_string(),
            guest_url: String::new(),
            user: String::new(),
            has_password: false,
            token_name: String::new(),
            has_token: false,
            fingerprint: String::new(),
            verify_ssl: false,
            monitor_vms: false,
            monitor_containers: false,
            monitor_storage: false,
            monitor_backups: false,
            monitor_physical_disks: None,
            temperature_monitoring_enabled: None,
            monitor_datastores: false,
            monitor_sync_jobs: false,
            monitor_verify_jobs: false,
            monitor_prune_jobs: false,
            monitor_garbage_jobs: false,
            monitor_mail_stats: false,
            monitor_queues: false,
            monitor_quarantine: false,
            monitor_domain_stats: false,
            status: if connected {
                "connected"
            } else {
                "disconnected"
            },
            is_cluster: false,
            cluster_name: String::new(),
            cluster_endpoints: Vec::new(),
        }
    }
}

impl NodesConfig {
    /// API views of all nodes. `connected(type, name)` answers from live monitor state.
    pub fn views(&self, connected: &dyn Fn(NodeType, &str) -> bool) -> Vec<NodeView> {
        let mut out = Vec::with_capacity(self.len());
        for n in &self.pve {
            let mut v = NodeView::base(
                NodeType::Pve,
                &n.id,
                &n.name,
                &n.host,
                connected(NodeType::Pve, &n.name),
            );
            v.guest_url = n.guest_url.clone();
            v.user = n.user.clone();
            v.has_password = !n.password.is_empty();
            v.token_name = n.token_name.clone();
            v.has_token = has_token(&n.token_name, &n.token_value);
            v.fingerprint = n.fingerprint.clone();
            v.verify_ssl = n.verify_ssl;
            v.monitor_vms = n.monitor_vms;
            v.monitor_containers = n.monitor_containers;
            v.monitor_storage = n.monitor_storage;
            v.monitor_backups = n.monitor_backups;
            v.monitor_physical_disks = n.monitor_physical_disks;
            v.temperature_monitoring_enabled = n.temperature_monitoring_enabled;
            v.is_cluster = n.is_cluster;
            v.cluster_name = n.cluster_name.clone();
            v.cluster_endpoints = n.cluster_endpoints.clone();
            out.push(v);
        }
        for n in &self.pbs {
            let mut v = NodeView::base(
                NodeType::Pbs,
                &n.id,
                &n.name,
                &n.host,
                connected(NodeType::Pbs, &n.name),
            );
            v.user = n.user.clone();
            v.has_password = !n.password.is_empty();
            v.token_name = n.token_name.clone();
            v.has_token = has_token(&n.token_name, &n.token_value);
            v.fingerprint = n.fingerprint.clone();
            v.verify_ssl = n.verify_ssl;
            v.monitor_backups = n.monitor_backups;
            v.monitor_datastores = n.monitor_datastores;
            v.monitor_sync_jobs = n.monitor_sync_jobs;
            v.monitor_verify_jobs = n.monitor_verify_jobs;
            v.monitor_prune_jobs = n.monitor_prune_jobs;
            v.monitor_garbage_jobs = n.monitor_garbage_jobs;
            v.temperature_monitoring_enabled = n.temperature_monitoring_enabled;
            out.push(v);
        }
        for n in &self.pmg {
            let mut v = NodeView::base(
                NodeType::Pmg,
                &n.id,
                &n.name,
                &n.host,
                connected(NodeType::Pmg, &n.name),
            );
            v.user = n.user.clone();
            v.has_password = !n.password.is_empty();
            v.token_name = n.token_name.clone();
            v.has_token = has_token(&n.token_name, &n.token_value);
            v.fingerprint = n.fingerprint.clone();
            v.verify_ssl = n.verify_ssl;
            v.monitor_mail_stats = n.monitor_mail_stats;
            v.monitor_queues = n.monitor_queues;
            v.monitor_quarantine = n.monitor_quarantine;
            v.monitor_domain_stats = n.monitor_domain_stats;
            v.temperature_monitoring_enabled = n.temperature_monitoring_enabled;
            out.push(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::node_edit::NodeRequest;

    #[test]
    fn views_never_contain_secrets() {
        let mut cfg = NodesConfig::default();
        let r: NodeRequest = serde_json::from_str(
            r#"{"type":"pve","name":"a","host":"h","user":"u","password":"TOPSECRETPW"}"#,
        )
        .unwrap();
        cfg.add_node(&r).unwrap();
        let r: NodeRequest = serde_json::from_str(
            r#"{"type":"pbs","name":"b","host":"h","tokenName":"u@pbs!t","tokenValue":"TOPSECRETTOKEN"}"#,
        )
        .unwrap();
        cfg.add_node(&r).unwrap();
        let views = cfg.views(&|t, name| t == NodeType::Pve && name == "a");
        let json = serde_json::to_string(&views).unwrap();
        assert!(!json.contains("TOPSECRET"), "{json}");
        assert!(!json.contains("\"password\"") && !json.contains("tokenValue"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[0]["hasPassword"], true);
        assert_eq!(v[0]["hasToken"], false);
        assert_eq!(v[0]["status"], "connected");
        assert_eq!(v[0]["monitorVMs"], true);
        assert_eq!(v[1]["hasToken"], true);
        assert_eq!(v[1]["tokenName"], "u@pbs!t");
        assert_eq!(v[1]["status"], "disconnected");
        assert!(
            v[1].get("monitorDatastores").is_none(),
            "false flags are omitted"
        );
    }
}
