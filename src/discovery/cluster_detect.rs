//! PVE cluster detection: when a PVE node is added or registers itself, Pulse asks it for
//! `/cluster/status` and, if it belongs to a cluster, stores the cluster name and every member
//! (`ClusterEndpoints`) so polling can fail over between members.
//!
//! [`detect`] blocks on the network: run it on a worker. [`cluster_info`] is the pure part.

use crate::config::model::nodes::{ClusterEndpoint, PveInstance};
use crate::proxmox::pve_types::ClusterStatusEntry;
use crate::proxmox::{ProxmoxError, PveClient};
use crate::util::time::UtcTime;
use std::time::Duration;

/// What detection found for a node that is part of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterInfo {
    pub name: String,
    pub endpoints: Vec<ClusterEndpoint>,
}

/// A `cluster` row, or more than one `node` row, means the host is a cluster member.
pub fn is_cluster(rows: &[ClusterStatusEntry]) -> bool {
    rows.iter().any(|r| r.kind == "cluster") || rows.iter().filter(|r| r.kind == "node").count() > 1
}

/// The cluster name and members from `/cluster/status`; `None` for a standalone host.
/// `now` stamps each member's `LastSeen`.
pub fn cluster_info(rows: &[ClusterStatusEntry], now: UtcTime) -> Option<ClusterInfo> {
    if !is_cluster(rows) {
        return None;
    }
    let name = rows
        .iter()
        .find(|r| r.kind == "cluster")
        .and_then(|r| r.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Unknown Cluster".to_string());
    let endpoints = rows
        .iter()
        .filter(|r| r.kind == "node")
        .filter_map(|r| {
            let node_name = r.name.clone().filter(|n| !n.is_empty())?;
            Some(ClusterEndpoint {
                node_id: r.id.clone().unwrap_or_default(),
                host: node_name.clone(),
                node_name,
                guest_url: String::new(),
                ip: r.ip.clone().unwrap_or_default(),
                online: r.online.unwrap_or(false),
                last_seen: now,
            })
        })
        .collect();
    Some(ClusterInfo { name, endpoints })
}

/// Asks `node` (its configured host only) for `/cluster/status`. Blocks up to `timeout`.
pub fn detect(
    node: &PveInstance,
    timeout: Duration,
    now: UtcTime,
) -> Result<Option<ClusterInfo>, ProxmoxError> {
    let cfg = crate::config::model::node_edit::Node::Pve(node.clone()).client_config(timeout);
    let rows = PveClient::new(&cfg)?.cluster_status()?;
    Ok(cluster_info(&rows, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(json: &str) -> Vec<ClusterStatusEntry> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn standalone_and_cluster() {
        let single =
            rows(r#"[{"type":"node","name":"pve","id":"node/pve","online":1,"ip":"10.0.0.1"}]"#);
        assert_eq!(cluster_info(&single, UtcTime::from_unix(0)), None);
        let cluster = rows(
            r#"[{"type":"cluster","name":"lab","nodes":2,"quorate":1},
                {"type":"node","name":"a","id":"node/a","nodeid":1,"online":1,"ip":"10.0.0.1"},
                {"type":"node","name":"b","id":"node/b","nodeid":"2","online":"0","ip":"10.0.0.2"}]"#,
        );
        let info = cluster_info(&cluster, UtcTime::from_unix(5)).unwrap();
        assert_eq!(info.name, "lab");
        assert_eq!(info.endpoints.len(), 2);
        let b = &info.endpoints[1];
        assert_eq!(
            (
                b.node_name.as_str(),
                b.host.as_str(),
                b.ip.as_str(),
                b.online
            ),
            ("b", "b", "10.0.0.2", false)
        );
        assert_eq!(b.node_id, "node/b");
    }
}
