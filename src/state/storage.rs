//! PVE storage as `/api/state` shows it, and the merging of shared storage: a storage that
//! every cluster node mounts (NFS, Ceph, PBS) is one pool of space, so it is listed once with
//! `node: "cluster"` and the nodes that see it, not once per node (which would multiply it).

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageFrontend {
    /// `"<node>-<storage>"` when the instance is named after the node, else `"<instance>-<node>-<storage>"`.
    pub id: String,
    pub storage: String,
    pub name: String,
    /// Node name, or `"cluster"` for merged shared storage.
    pub node: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_ids: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub node_count: usize,
    #[serde(rename = "type")]
    pub kind: String,
    /// `"available"`, `"inactive"` or `"disabled"`.
    pub status: String,
    pub total: i64,
    pub used: i64,
    pub avail: i64,
    pub free: i64,
    /// Percent.
    pub usage: f64,
    /// Comma-separated, sorted.
    pub content: String,
    pub shared: bool,
    pub enabled: bool,
    pub active: bool,
    /// The pool behind a `zfspool` storage, from the node's slow ZFS refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zfs_pool: Option<super::zfs::ZfsPool>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Storage id: same rule as guest ids.
pub fn storage_id(instance: &str, node: &str, storage: &str) -> String {
    if instance == node {
        format!("{node}-{storage}")
    } else {
        format!("{instance}-{node}-{storage}")
    }
}

/// Merges per-node entries of shared storages (one instance's list) into one `"cluster"` entry
/// each: the id of the first reporter, the numbers of the reporter with the largest `used`
/// (nodes that could not read it report 0), and the sorted node names and node ids.
/// Non-shared entries pass through unchanged.
pub fn merge_shared_storage(entries: Vec<StorageFrontend>) -> Vec<StorageFrontend> {
    let mut out = Vec::with_capacity(entries.len());
    let mut shared: BTreeMap<String, (StorageFrontend, Vec<(String, String)>)> = BTreeMap::new();
    for entry in entries {
        if !entry.shared {
            out.push(entry);
            continue;
        }
        let member = (
            entry.node.clone(),
            format!("{}-{}", entry.instance, entry.node),
        );
        match shared.get_mut(&entry.name) {
            None => {
                shared.insert(entry.name.clone(), (entry, vec![member]));
            }
            Some((best, members)) => {
                if !members.contains(&member) {
                    members.push(member);
                }
                if entry.used > best.used {
                    let id = std::mem::take(&mut best.id);
                    *best = StorageFrontend { id, ..entry };
                }
            }
        }
    }
    for (_, (mut merged, mut members)) in shared {
        members.sort();
        merged.node = "cluster".to_string();
        merged.node_count = members.len();
        let (nodes, node_ids) = members.into_iter().unzip();
        merged.nodes = nodes;
        merged.node_ids = node_ids;
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(node: &str, name: &str, shared: bool, used: i64) -> StorageFrontend {
        StorageFrontend {
            id: storage_id("pve", node, name),
            storage: name.into(),
            name: name.into(),
            node: node.into(),
            instance: "pve".into(),
            shared,
            used,
            total: 1000,
            ..StorageFrontend::default()
        }
    }

    #[test]
    fn shared_storage_is_listed_once_with_its_nodes() {
        let merged = merge_shared_storage(vec![
            st("n2", "nfs", true, 0),
            st("n1", "local", false, 10),
            st("n1", "nfs", true, 400),
            st("n2", "local", false, 20),
        ]);
        assert_eq!(merged.len(), 3);
        let nfs = merged.iter().find(|s| s.name == "nfs").expect("nfs kept");
        assert_eq!(nfs.node, "cluster");
        assert_eq!(nfs.id, "pve-n2-nfs", "id of the first reporter");
        assert_eq!(nfs.used, 400, "numbers of the node that could read it");
        assert_eq!(nfs.nodes, vec!["n1", "n2"]);
        assert_eq!(nfs.node_ids, vec!["pve-n1", "pve-n2"]);
        assert_eq!(nfs.node_count, 2);
        assert_eq!(merged.iter().filter(|s| s.name == "local").count(), 2);
    }
}
