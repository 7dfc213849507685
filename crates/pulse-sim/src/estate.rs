//! The simulated estate: nodes, guests, storage, backups, mail. Everything is generated once
//! from the seed (so `--nodes 50 --guests 3000` costs nothing per request beyond the listing
//! itself) and every moving value is a pure function of (seed, entity, simulated time).

use super::config::{PveFlavor, SimConfig};
use std::collections::HashMap;

pub const GIB: u64 = 1024 * 1024 * 1024;

/// Deterministic 64-bit mix (splitmix64 finaliser).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A value in [0, 1) for (seed, entity, salt, time bucket): smooth enough for charts because
/// it interpolates between bucket values.
pub fn wave(seed: u64, entity: u64, salt: u64, t: i64, period: i64) -> f64 {
    let period = period.max(1);
    let b = t.div_euclid(period);
    let frac = t.rem_euclid(period) as f64 / period as f64;
    let at = |k: i64| {
        (mix(seed ^ mix(entity ^ mix(salt ^ k as u64))) >> 11) as f64 / (1u64 << 53) as f64
    };
    at(b) * (1.0 - frac) + at(b + 1) * frac
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub index: usize,
    pub online: bool,
    pub flavor: PveFlavor,
    pub maxcpu: u64,
    pub maxmem: u64,
    pub maxdisk: u64,
    pub ip: String,
    /// Unix time the node booted.
    pub boot: i64,
    /// Set at run time: the ZFS pool degraded (`true`) or healthy (`false`); `None` follows
    /// the index rule (every fifth node degraded).
    pub zfs_degraded: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Guest {
    pub vmid: u32,
    pub index: usize,
    pub kind: GuestKind,
    pub node: usize,
    pub name: String,
    pub template: bool,
    pub running: bool,
    pub agent: bool,
    pub windows: bool,
    /// Balloon target below maxmem (ballooned down), VMs only.
    pub balloon: Option<u64>,
    pub maxmem: u64,
    pub maxdisk: u64,
    pub cpus: u64,
    pub tags: Option<String>,
    pub lock: Option<String>,
    pub boot: i64,
    pub snapshots: bool,
    pub backed_up: bool,
    /// Fsinfo variant: bind mounts of one device (docker hosts).
    pub bind_mounts: bool,
    /// A CPU fraction held instead of the generated wave (tests and demo mode push a guest
    /// over an alert threshold with it); `None` lets the value move.
    pub cpu_pin: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub name: &'static str,
    pub kind: &'static str,
    pub content: &'static str,
    pub shared: bool,
    pub enabled: bool,
}

/// Everything the simulator serves, built once.
pub struct Estate {
    pub seed: u64,
    pub cluster_name: String,
    pub nodes: Vec<Node>,
    pub guests: Vec<Guest>,
    pub by_vmid: HashMap<u32, usize>,
    pub by_node: Vec<Vec<usize>>,
    pub storages: Vec<Storage>,
    pub ceph: bool,
    pub pbs_stores: Vec<String>,
    pub pmg_node: String,
    /// Unix time the estate was created (backups and snapshots are dated before it).
    pub epoch: i64,
}

impl Estate {
    pub fn build(cfg: &SimConfig, epoch: i64) -> Estate {
        let seed = cfg.seed;
        let n = cfg.nodes.max(1);
        let flavors = if cfg.flavors.is_empty() {
            vec![PveFlavor::Pve9]
        } else {
            cfg.flavors.clone()
        };
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                let h = mix(seed ^ (i as u64 + 1));
                Node {
                    name: format!("pve{}", i + 1),
                    index: i,
                    online: true,
                    flavor: flavors
                        .get(i % flavors.len())
                        .copied()
                        .unwrap_or(PveFlavor::Pve9),
                    maxcpu: [4, 8, 12, 16, 24, 32][(h % 6) as usize],
                    maxmem: [16, 32, 64, 128][((h >> 8) % 4) as usize] * GIB,
                    maxdisk: (100 + (h >> 16) % 900) * GIB,
                    ip: format!("127.{}.{}.{}", 10 + i / 200, i % 200, 10),
                    boot: epoch - 86_400 * (3 + ((h >> 24) % 60) as i64),
                    zfs_degraded: None,
                }
            })
            .collect();
        let mut guests = Vec::with_capacity(cfg.guests);
        for i in 0..cfg.guests {
            let h = mix(seed ^ 0xABCD ^ (i as u64 * 7919));
            let kind = if i % 3 == 2 {
                GuestKind::Lxc
            } else {
                GuestKind::Qemu
            };
            let template = i % 13 == 12;
            let running = !template && i % 7 != 6;
            let qemu = kind == GuestKind::Qemu;
            let windows = qemu && i % 11 == 4;
            let agent = qemu && (windows || i % 2 == 0);
            let maxmem = [1, 2, 4, 8, 16][(h % 5) as usize] * GIB;
            let balloon = (qemu && i % 5 == 1).then_some(maxmem / 2);
            let vmid = 100 + i as u32;
            let name = match (kind, windows) {
                (GuestKind::Qemu, true) => format!("win-{vmid}"),
                (GuestKind::Qemu, false) => format!("vm-{vmid}"),
                (GuestKind::Lxc, _) => format!("ct-{vmid}"),
            };
            let tags = match i % 10 {
                0 => Some("prod;web".to_string()),
                3 => Some("pulse-no-alerts".to_string()),
                _ => None,
            };
            guests.push(Guest {
                vmid,
                index: i,
                kind,
                node: i % n,
                name,
                template,
                running,
                agent,
                windows,
                balloon,
                maxmem,
                maxdisk: [8, 32, 64, 128][((h >> 8) % 4) as usize] * GIB,
                cpus: [1, 2, 4, 8][((h >> 12) % 4) as usize],
                tags,
                lock: (i % 53 == 7).then(|| "backup".to_string()),
                boot: epoch - 3600 * (1 + ((h >> 20) % 500) as i64),
                snapshots: !template && i % 4 == 1,
                backed_up: !template && i % 2 == 0,
                bind_mounts: qemu && !windows && i % 4 == 0,
                cpu_pin: None,
            });
        }
        let by_vmid = guests.iter().map(|g| (g.vmid, g.index)).collect();
        let mut by_node = vec![Vec::new(); n];
        for g in &guests {
            if let Some(list) = by_node.get_mut(g.node) {
                list.push(g.index);
            }
        }
        let mut storages = vec![
            Storage {
                name: "local",
                kind: "dir",
                content: "iso,vztmpl,backup",
                shared: false,
                enabled: true,
            },
            Storage {
                name: "local-lvm",
                kind: "lvmthin",
                content: "images,rootdir",
                shared: false,
                enabled: true,
            },
            Storage {
                name: "local-zfs",
                kind: "zfspool",
                content: "images,rootdir",
                shared: false,
                enabled: true,
            },
            Storage {
                name: "nfs-backup",
                kind: "nfs",
                content: "backup,iso",
                shared: true,
                enabled: true,
            },
            Storage {
                name: "old-nfs",
                kind: "nfs",
                content: "backup",
                shared: true,
                enabled: false,
            },
        ];
        if cfg.ceph {
            storages.push(Storage {
                name: "ceph-rbd",
                kind: "rbd",
                content: "images,rootdir",
                shared: true,
                enabled: true,
            });
        }
        let pbs_stores = ["main", "offsite", "archive"]
            .iter()
            .take(cfg.pbs_datastores.max(1))
            .map(|s| s.to_string())
            .collect();
        Estate {
            seed,
            cluster_name: "sim-cluster".into(),
            nodes,
            guests,
            by_vmid,
            by_node,
            storages,
            ceph: cfg.ceph,
            pbs_stores,
            pmg_node: "pmg1".into(),
            epoch,
        }
    }

    pub fn is_cluster(&self) -> bool {
        self.nodes.len() > 1
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The guest `vmid` if it lives on `node`.
    pub fn guest_on(&self, node: &Node, vmid: u32, kind: GuestKind) -> Option<&Guest> {
        let g = self.guests.get(*self.by_vmid.get(&vmid)?)?;
        (g.node == node.index && g.kind == kind).then_some(g)
    }

    /// Guests whose node is `node`.
    pub fn guests_of(&self, node: &Node) -> impl Iterator<Item = &Guest> {
        self.by_node
            .get(node.index)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.guests.get(i))
    }

    pub fn w(&self, entity: u64, salt: u64, t: i64, period: i64) -> f64 {
        wave(self.seed, entity, salt, t, period)
    }
}

/// Node memory split at time `t`: (total, app_used, buff_cache, free).
pub fn node_memory(e: &Estate, n: &Node, t: i64) -> (u64, u64, u64, u64) {
    let total = n.maxmem;
    let app = (total as f64 * (0.25 + 0.35 * e.w(n.index as u64, 1, t, 60))) as u64;
    let cache = (total as f64 * (0.10 + 0.15 * e.w(n.index as u64, 2, t, 600))) as u64;
    let free = total.saturating_sub(app + cache);
    (total, app, cache, free)
}

pub fn node_cpu(e: &Estate, n: &Node, t: i64) -> f64 {
    0.02 + 0.6 * e.w(n.index as u64, 3, t, 20)
}

/// CPU fraction of a guest (0 when stopped).
pub fn guest_cpu(e: &Estate, g: &Guest, t: i64) -> f64 {
    if !g.running {
        return 0.0;
    }
    if let Some(pin) = g.cpu_pin {
        return pin;
    }
    0.005 + 0.5 * e.w(10_000 + g.index as u64, 3, t, 15)
}

/// Host-side memory use of a guest (`mem` in listings).
pub fn guest_mem(e: &Estate, g: &Guest, t: i64) -> u64 {
    if !g.running {
        return 0;
    }
    let limit = g.balloon.unwrap_or(g.maxmem);
    (limit as f64 * (0.35 + 0.45 * e.w(10_000 + g.index as u64, 4, t, 45))) as u64
}

/// Used bytes of a guest's root disk (slowly growing).
pub fn guest_disk_used(e: &Estate, g: &Guest, t: i64) -> u64 {
    (g.maxdisk as f64 * (0.2 + 0.5 * e.w(10_000 + g.index as u64, 5, t, 86_400))) as u64
}

/// A monotonically growing counter: `rate` bytes/s since boot, with per-entity rate.
pub fn counter(e: &Estate, entity: u64, salt: u64, boot: i64, t: i64, max_rate: u64) -> u64 {
    let rate = 1 + mix(e.seed ^ entity ^ (salt << 32)) % max_rate.max(1);
    (t - boot).max(0) as u64 * rate
}

/// Uptime in seconds, 0 when stopped.
pub fn uptime(g: &Guest, t: i64) -> u64 {
    if g.running {
        (t - g.boot).max(0) as u64
    } else {
        0
    }
}
