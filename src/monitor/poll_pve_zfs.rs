//! ZFS pools of a PVE instance's nodes (`/nodes/{n}/disks/zfs` and one detail per pool), read
//! on the slow cadence of the physical disks and held between reads, then attached to the
//! `zfspool` storage entries they back (`zfsPool`).
//!
//! A node is read when it is online, has a `zfspool` storage, and its last read is at least
//! the slow interval old; at most [`ZFS_NODES_PER_CYCLE`] nodes per poll, oldest first, so a
//! large cluster's reads spread over a few cycles instead of landing in one.

use super::poll_pve::{PveApi, SlowReads};
use crate::proxmox::pve_types::{StorageConfig, ZfsPoolDetail, ZfsPoolListEntry, ZfsVdev};
use crate::state::zfs::{ZfsDevice, ZfsPool};
use crate::state::{PveSnapshot, StorageFrontend};
use std::collections::BTreeMap;

/// Nodes whose pools one poll reads at most (each costs 1 + pools requests).
pub const ZFS_NODES_PER_CYCLE: usize = 8;
/// Pools read per node at most (a node with more is not a PVE host we know).
const MAX_POOLS_PER_NODE: usize = 32;
/// Devices kept per pool at most: the list is for a person to read.
const MAX_DEVICES: usize = 64;
/// vdev trees are shallow (pool → vdev → disk, spares one more); deeper input is cut.
const MAX_DEPTH: usize = 8;
/// The storage type whose pool lives on the node itself.
pub const ZFS_STORAGE_TYPE: &str = "zfspool";

/// Per node: when its pools were last read, and what that read gave.
#[derive(Debug, Clone, Default)]
pub struct ZfsCache {
    nodes: BTreeMap<String, (i64, Vec<ZfsPool>)>,
}

impl ZfsCache {
    /// Reads the pools of the due nodes among `nodes` (never read, or read `interval_ms` ago
    /// or more), oldest first, at most [`ZFS_NODES_PER_CYCLE`]. A failed listing keeps what
    /// the node had and waits for the next interval like a successful one (it is asked again
    /// then, not every cycle). Returns the requests spent.
    pub fn refresh(
        &mut self,
        api: &mut dyn PveApi,
        nodes: &[String],
        now_ms: i64,
        interval_ms: i64,
    ) -> u32 {
        let mut due: Vec<(i64, &String)> = nodes
            .iter()
            .map(|n| (self.nodes.get(n).map_or(i64::MIN, |(at, _)| *at), n))
            .filter(|(at, _)| *at == i64::MIN || now_ms - *at >= interval_ms)
            .collect();
        due.sort();
        let mut spent = 0u32;
        for (_, node) in due.into_iter().take(ZFS_NODES_PER_CYCLE) {
            spent += 1;
            let listed = api.zfs_pools(node);
            let entry = self.nodes.entry(node.clone()).or_default();
            entry.0 = now_ms;
            let Ok(list) = listed else {
                continue;
            };
            let mut pools = Vec::with_capacity(list.len().min(MAX_POOLS_PER_NODE));
            for row in list.iter().take(MAX_POOLS_PER_NODE) {
                spent += 1;
                // Without the detail the listing's health still says whether it is ONLINE.
                let detail = api.zfs_pool(node, &row.name).ok();
                pools.push(build_pool(row, detail.as_ref()));
            }
            entry.1 = pools;
        }
        spent
    }

    /// The pools last read on `node`.
    pub fn pools(&self, node: &str) -> &[ZfsPool] {
        self.nodes.get(node).map_or(&[], |(_, p)| p.as_slice())
    }

    /// Forgets nodes that left the cluster.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.nodes.retain(|n, _| keep(n));
    }

    /// Forgets everything (ZFS monitoring switched off).
    pub fn clear(&mut self) {
        self.nodes.clear();
    }
}

/// The ZFS part of a PVE poll: the due nodes' pools read (on the slow cadence), then every
/// `zfspool` storage entry given its pool from what is held. Unlike the disks, also on an
/// instance's first poll (after its live part is on screen, so it costs the first display
/// nothing): a pool's health is known from the first complete poll on.
pub(super) fn poll(
    api: &mut dyn PveApi,
    cache: &mut ZfsCache,
    slow: SlowReads,
    config: &[StorageConfig],
    snap: &mut PveSnapshot,
    online: &[String],
    now_ms: i64,
) {
    if !slow.zfs {
        cache.clear();
        return;
    }
    let nodes = nodes_with_zfs(&snap.storage, online);
    cache.refresh(api, &nodes, now_ms, slow.interval_ms);
    attach(&mut snap.storage, config, cache);
}

/// Online nodes that have a `zfspool` storage: only those have pools worth asking about.
pub fn nodes_with_zfs(storage: &[StorageFrontend], online: &[String]) -> Vec<String> {
    online
        .iter()
        .filter(|n| {
            storage
                .iter()
                .any(|s| &s.node == *n && s.kind == ZFS_STORAGE_TYPE)
        })
        .cloned()
        .collect()
}

/// Gives each `zfspool` storage entry the pool it lives on, from the held reads.
pub fn attach(storage: &mut [StorageFrontend], config: &[StorageConfig], cache: &ZfsCache) {
    for s in storage.iter_mut().filter(|s| s.kind == ZFS_STORAGE_TYPE) {
        let pools = cache.pools(&s.node);
        if pools.is_empty() {
            continue;
        }
        let dataset = config
            .iter()
            .find(|c| c.storage == s.name)
            .and_then(|c| c.pool.as_deref());
        s.zfs_pool = pool_for_storage(&s.name, dataset, pools).cloned();
    }
}

/// The pool a storage lives on: the first component of its configured dataset (`rpool/data`
/// → `rpool`), else a pool named like the storage, `local-zfs` → `rpool` (what the PVE
/// installer creates), a pool named by a part of the storage name (`tank-vms` → `tank`),
/// and, when the dataset is unknown, the node's only pool.
pub fn pool_for_storage<'p>(
    storage: &str,
    dataset: Option<&str>,
    pools: &'p [ZfsPool],
) -> Option<&'p ZfsPool> {
    let named = |n: &str| pools.iter().find(|p| p.name == n);
    let root = dataset
        .and_then(|d| d.split('/').next())
        .filter(|r| !r.is_empty());
    if let Some(p) = root.and_then(named) {
        return Some(p);
    }
    if let Some(p) = named(storage) {
        return Some(p);
    }
    if storage == "local-zfs" {
        if let Some(p) = named("rpool") {
            return Some(p);
        }
    }
    let part = pools
        .iter()
        .find(|p| storage.split(['-', '_']).any(|w| w == p.name));
    if part.is_some() {
        return part;
    }
    match (root, pools) {
        (None, [only]) => Some(only),
        _ => None,
    }
}

/// The pool as the state shows it: state from the detail (the listing's `health` when the
/// detail could not be read), error counts summed over the whole tree, and the devices that
/// need a look.
pub fn build_pool(row: &ZfsPoolListEntry, detail: Option<&ZfsPoolDetail>) -> ZfsPool {
    let text = |f: fn(&ZfsPoolDetail) -> &Option<String>| {
        detail
            .and_then(|d| f(d).as_deref())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut pool = ZfsPool {
        name: row.name.clone(),
        state: detail
            .and_then(|d| d.state.as_deref())
            .filter(|s| !s.trim().is_empty())
            .or(row.health.as_deref())
            .unwrap_or("")
            .trim()
            .to_uppercase(),
        status: text(|d| &d.status),
        scan: text(|d| &d.scan),
        ..ZfsPool::default()
    };
    if let Some(d) = detail {
        flatten(&d.children, &row.name, None, 0, &mut pool);
    }
    pool
}

/// States that need no attention: in use, or a spare waiting.
fn healthy_state(state: &str) -> bool {
    state.is_empty()
        || ["ONLINE", "SPARE", "AVAIL", "INUSE"]
            .iter()
            .any(|ok| state.eq_ignore_ascii_case(ok))
}

/// The section headers of `zpool status` (no state of their own): what their members are.
fn section_kind(v: &ZfsVdev) -> Option<&'static str> {
    if v.state.as_deref().is_some_and(|s| !s.is_empty()) {
        return None;
    }
    match v.name.as_str() {
        "logs" | "log" => Some("log"),
        "cache" => Some("cache"),
        "spares" | "spare" => Some("spare"),
        "special" | "dedup" => Some("vdev"),
        _ => None,
    }
}

/// `mirror-0` → mirror, `raidz2-0` → raidz2, `spare-1` → spare-group; a leaf is a disk (or
/// a log, cache or spare device in those sections); anything else a vdev.
fn device_type(v: &ZfsVdev, section: Option<&'static str>) -> String {
    let name = v.name.as_str();
    let group = name.split('-').next().unwrap_or(name);
    let leaf = v.leaf.unwrap_or(v.children.is_empty());
    match group {
        "mirror" => "mirror".to_string(),
        g if g.starts_with("raidz") => {
            if g == "raidz" {
                "raidz1".to_string()
            } else {
                g.to_string()
            }
        }
        g if g.starts_with("draid") => "draid".to_string(),
        "spare" if !leaf => "spare-group".to_string(),
        _ if leaf => section
            .filter(|s| *s != "vdev")
            .unwrap_or("disk")
            .to_string(),
        _ => "vdev".to_string(),
    }
}

fn count(n: Option<u64>) -> i64 {
    i64::try_from(n.unwrap_or(0)).unwrap_or(i64::MAX)
}

/// Walks the vdev tree parents first: every vdev's counts go into the pool's sums; a vdev that
/// is not healthy or counts errors becomes a device. The root vdev named after the pool is the
/// pool itself, and section headers are only headings: neither is listed.
fn flatten(
    vdevs: &[ZfsVdev],
    pool_name: &str,
    section: Option<&'static str>,
    depth: usize,
    pool: &mut ZfsPool,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for v in vdevs {
        let (r, w, c) = (count(v.read), count(v.write), count(v.cksum));
        pool.read_errors = pool.read_errors.saturating_add(r);
        pool.write_errors = pool.write_errors.saturating_add(w);
        pool.checksum_errors = pool.checksum_errors.saturating_add(c);
        if let Some(kind) = section_kind(v) {
            flatten(&v.children, pool_name, Some(kind), depth + 1, pool);
            continue;
        }
        let state = v.state.as_deref().unwrap_or("").trim();
        let is_root = depth == 0 && v.name == pool_name;
        let needs_look = !healthy_state(state) || r > 0 || w > 0 || c > 0;
        if !is_root && needs_look && pool.devices.len() < MAX_DEVICES {
            pool.devices.push(ZfsDevice {
                name: v.name.clone(),
                kind: device_type(v, section),
                state: state.to_uppercase(),
                read_errors: r,
                write_errors: w,
                checksum_errors: c,
                message: v.msg.as_deref().unwrap_or("").trim().to_string(),
            });
        }
        flatten(&v.children, pool_name, section, depth + 1, pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vdev(name: &str, state: &str, errs: (u64, u64, u64), children: Vec<ZfsVdev>) -> ZfsVdev {
        ZfsVdev {
            name: name.into(),
            state: (!state.is_empty()).then(|| state.into()),
            read: Some(errs.0),
            write: Some(errs.1),
            cksum: Some(errs.2),
            msg: None,
            leaf: Some(children.is_empty()),
            children,
        }
    }

    fn row(name: &str, health: &str) -> ZfsPoolListEntry {
        ZfsPoolListEntry {
            name: name.into(),
            health: Some(health.into()),
            ..ZfsPoolListEntry::default()
        }
    }

    fn pool(name: &str) -> ZfsPool {
        ZfsPool {
            name: name.into(),
            state: "ONLINE".into(),
            ..ZfsPool::default()
        }
    }

    #[test]
    fn a_degraded_tree_keeps_only_the_devices_that_need_a_look() {
        let mut bad = vdev("sdb", "FAULTED", (3, 0, 0), vec![]);
        bad.msg = Some("too many errors".into());
        let detail = ZfsPoolDetail {
            name: Some("tank".into()),
            state: Some("DEGRADED".into()),
            status: Some("One or more devices are faulted.".into()),
            scan: Some("scrub repaired 0B".into()),
            children: vec![
                vdev(
                    "tank",
                    "DEGRADED",
                    (0, 0, 0),
                    vec![
                        vdev(
                            "mirror-0",
                            "DEGRADED",
                            (0, 0, 0),
                            vec![vdev("sda", "ONLINE", (0, 0, 0), vec![]), bad],
                        ),
                        vdev(
                            "raidz2-1",
                            "ONLINE",
                            (0, 0, 0),
                            vec![
                                vdev("sdc", "ONLINE", (0, 0, 2), vec![]),
                                vdev("sdd", "ONLINE", (0, 0, 0), vec![]),
                            ],
                        ),
                    ],
                ),
                vdev(
                    "logs",
                    "",
                    (0, 0, 0),
                    vec![vdev("nvme0n1", "UNAVAIL", (0, 1, 0), vec![])],
                ),
                vdev(
                    "spares",
                    "",
                    (0, 0, 0),
                    vec![vdev("sde", "AVAIL", (0, 0, 0), vec![])],
                ),
            ],
            ..ZfsPoolDetail::default()
        };
        let p = build_pool(&row("tank", "DEGRADED"), Some(&detail));
        assert_eq!(p.state, "DEGRADED");
        assert_eq!(p.status, "One or more devices are faulted.");
        assert_eq!(p.scan, "scrub repaired 0B");
        assert_eq!(
            (p.read_errors, p.write_errors, p.checksum_errors),
            (3, 1, 2),
            "sums over the whole tree"
        );
        let got: Vec<(&str, &str, &str)> = p
            .devices
            .iter()
            .map(|d| (d.name.as_str(), d.kind.as_str(), d.state.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("mirror-0", "mirror", "DEGRADED"),
                ("sdb", "disk", "FAULTED"),
                ("sdc", "disk", "ONLINE"),
                ("nvme0n1", "log", "UNAVAIL"),
            ],
            "the pool's root vdev, healthy disks, sections and a waiting spare are left out"
        );
        assert_eq!(p.devices[1].message, "too many errors");
        assert_eq!(p.devices[1].read_errors, 3);
        assert_eq!(p.devices[2].checksum_errors, 2);
        assert!(!p.is_online() && p.has_errors());
    }

    #[test]
    fn a_healthy_pool_lists_no_device_and_a_missing_detail_keeps_the_listed_health() {
        let detail = ZfsPoolDetail {
            state: Some("ONLINE".into()),
            children: vec![vdev(
                "rpool",
                "ONLINE",
                (0, 0, 0),
                vec![vdev(
                    "mirror-0",
                    "ONLINE",
                    (0, 0, 0),
                    vec![vdev("a", "ONLINE", (0, 0, 0), vec![])],
                )],
            )],
            ..ZfsPoolDetail::default()
        };
        let p = build_pool(&row("rpool", "ONLINE"), Some(&detail));
        assert!(p.devices.is_empty() && p.is_online() && !p.has_errors());
        let p = build_pool(&row("rpool", "faulted"), None);
        assert_eq!(p.state, "FAULTED");
        assert!(p.devices.is_empty());
    }

    #[test]
    fn device_types_follow_zfs_names() {
        let leaf = vdev("sda", "ONLINE", (0, 0, 0), vec![]);
        let group = |n: &str| vdev(n, "ONLINE", (0, 0, 0), vec![leaf.clone()]);
        assert_eq!(device_type(&group("raidz1-0"), None), "raidz1");
        assert_eq!(device_type(&group("raidz3-2"), None), "raidz3");
        assert_eq!(device_type(&group("draid2:4d:1s:8c-0"), None), "draid");
        assert_eq!(device_type(&group("spare-1"), None), "spare-group");
        assert_eq!(device_type(&group("replacing-0"), None), "vdev");
        assert_eq!(device_type(&leaf, Some("cache")), "cache");
        assert_eq!(device_type(&leaf, Some("spare")), "spare");
        assert_eq!(device_type(&leaf, Some("vdev")), "disk");
    }

    #[test]
    fn storage_finds_its_pool() {
        let pools = vec![pool("rpool"), pool("tank"), pool("fast")];
        let find = |s: &str, d: Option<&str>| pool_for_storage(s, d, &pools).map(|p| &p.name[..]);
        assert_eq!(find("local-zfs", Some("rpool/data")), Some("rpool"));
        assert_eq!(find("vmstore", Some("tank/vm/disks")), Some("tank"));
        assert_eq!(
            find("local-zfs", None),
            Some("rpool"),
            "the installer's name"
        );
        assert_eq!(find("fast", None), Some("fast"), "named like the pool");
        assert_eq!(find("tank-vms", None), Some("tank"), "a part of the name");
        assert_eq!(find("other", None), None, "several pools, no clue");
        assert_eq!(
            find("other", Some("gone/data")),
            None,
            "its pool is not listed"
        );
        let one = vec![pool("data")];
        assert_eq!(
            pool_for_storage("vm-store", None, &one).map(|p| &p.name[..]),
            Some("data"),
            "a node's only pool"
        );
        assert!(pool_for_storage("vm-store", Some("other/x"), &one).is_none());
    }

    #[test]
    fn attach_fills_zfspool_entries_of_their_own_node_only() {
        let mut cache = ZfsCache::default();
        cache.nodes.insert("n1".into(), (0, vec![pool("rpool")]));
        let entry = |node: &str, name: &str, kind: &str| StorageFrontend {
            node: node.into(),
            name: name.into(),
            kind: kind.into(),
            ..StorageFrontend::default()
        };
        let mut storage = vec![
            entry("n1", "local-zfs", "zfspool"),
            entry("n2", "local-zfs", "zfspool"),
            entry("n1", "local", "dir"),
        ];
        let config = vec![StorageConfig {
            storage: "local-zfs".into(),
            kind: "zfspool".into(),
            pool: Some("rpool/data".into()),
            ..StorageConfig::default()
        }];
        attach(&mut storage, &config, &cache);
        assert_eq!(
            storage[0].zfs_pool.as_ref().map(|p| p.name.as_str()),
            Some("rpool")
        );
        assert!(storage[1].zfs_pool.is_none() && storage[2].zfs_pool.is_none());
        assert_eq!(
            nodes_with_zfs(&storage, &["n1".into(), "n3".into()]),
            vec!["n1".to_string()]
        );
    }
}
