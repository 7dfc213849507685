//! Guest-agent metadata (OS, agent version, network interfaces) and its throttling: these
//! calls go through the node into the VM and are slow, and the data rarely changes, so each VM
//! is asked at most every 2 minutes (plus jitter, so a cluster's VMs spread out), a failed
//! fetch is retried after 30 s, and data older than 5 minutes is not shown.
//! Filesystem usage is not cached: it changes and is fetched every poll.

use super::backoff::JitterRng;
use crate::proxmox::pve_types::{AgentInfo, AgentNetworkInterface, AgentOsInfo};
use crate::state::GuestNetworkInterface;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentCacheConfig {
    pub ttl_ms: i64,
    pub min_refresh_ms: i64,
    pub refresh_jitter_ms: i64,
    pub retry_backoff_ms: i64,
}

impl Default for AgentCacheConfig {
    /// `GUEST_METADATA_MIN_REFRESH_INTERVAL` 2 m, `..._REFRESH_JITTER` 45 s, `..._RETRY_BACKOFF` 30 s, TTL 5 m.
    fn default() -> Self {
        AgentCacheConfig {
            ttl_ms: 300_000,
            min_refresh_ms: 120_000,
            refresh_jitter_ms: 45_000,
            retry_backoff_ms: 30_000,
        }
    }
}

/// What the agent told us about a VM, already shaped for the frontend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentMeta {
    pub os_name: String,
    pub os_version: String,
    pub agent_version: String,
    pub interfaces: Vec<GuestNetworkInterface>,
    pub ip_addresses: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    meta: Option<AgentMeta>,
    fetched_at_ms: i64,
    next_fetch_ms: i64,
}

/// Cache key: `"<instance>|<node>|<vmid>"`.
pub fn agent_key(instance: &str, node: &str, vmid: u32) -> String {
    format!("{instance}|{node}|{vmid}")
}

#[derive(Debug, Clone)]
pub struct AgentMetaCache {
    config: AgentCacheConfig,
    entries: HashMap<String, Entry>,
    rng: JitterRng,
}

impl AgentMetaCache {
    pub fn new(config: AgentCacheConfig, seed: u64) -> AgentMetaCache {
        AgentMetaCache {
            config,
            entries: HashMap::new(),
            rng: JitterRng::from_seed(seed),
        }
    }

    /// Whether the metadata of `key` should be fetched at `now_ms`.
    pub fn needs_refresh(&self, key: &str, now_ms: i64) -> bool {
        self.entries
            .get(key)
            .is_none_or(|e| now_ms >= e.next_fetch_ms)
    }

    pub fn store(&mut self, key: &str, meta: AgentMeta, now_ms: i64) {
        let jitter = (self.rng.next_f64() * self.config.refresh_jitter_ms.max(0) as f64) as i64;
        let next = now_ms + self.config.min_refresh_ms + jitter;
        self.entries.insert(
            key.to_string(),
            Entry {
                meta: Some(meta),
                fetched_at_ms: now_ms,
                next_fetch_ms: next,
            },
        );
    }

    /// A fetch failed: retry after the backoff; keep the old data while it is fresh enough.
    pub fn record_failure(&mut self, key: &str, now_ms: i64) {
        let next = now_ms + self.config.retry_backoff_ms;
        let entry = self.entries.entry(key.to_string()).or_insert(Entry {
            meta: None,
            fetched_at_ms: now_ms,
            next_fetch_ms: next,
        });
        entry.next_fetch_ms = next;
    }

    /// Cached metadata, if fetched within the TTL.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<&AgentMeta> {
        self.entries
            .get(key)
            .filter(|e| now_ms - e.fetched_at_ms <= self.config.ttl_ms)
            .and_then(|e| e.meta.as_ref())
    }

    /// The agent was disabled in the VM config (or the VM stopped): drop what we knew.
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `osName = name || pretty-name || id`; `osVersion = version || version-id || pretty-name
/// (when different from the name) || kernel-release`, dropped when it just repeats the name.
pub fn os_name_version(info: &AgentOsInfo) -> (String, String) {
    let name = non_empty(&info.name)
        .or(non_empty(&info.pretty_name))
        .or(non_empty(&info.id))
        .unwrap_or("");
    let version = non_empty(&info.version)
        .or(non_empty(&info.version_id))
        .or(non_empty(&info.pretty_name).filter(|p| *p != name))
        .or(non_empty(&info.kernel_release))
        .unwrap_or("");
    let version = if version == name { "" } else { version };
    (name.to_string(), version.to_string())
}

pub fn agent_version(info: &AgentInfo) -> String {
    info.agent_version().unwrap_or("").trim().to_string()
}

/// Loopback and link-local addresses say nothing about how to reach a VM.
fn useful_address(ip: &str) -> bool {
    let ip = ip.trim().to_ascii_lowercase();
    !(ip.is_empty() || ip.starts_with("127.") || ip.starts_with("fe80") || ip == "::1")
}

/// Interfaces sorted by name, with their useful addresses; `lo` and interfaces with neither
/// addresses nor traffic (a down bridge) are dropped. Returns the interfaces and all addresses, sorted.
pub fn network_interfaces(
    list: &[AgentNetworkInterface],
) -> (Vec<GuestNetworkInterface>, Vec<String>) {
    let mut out = Vec::new();
    let mut all = Vec::new();
    for iface in list.iter().filter(|i| i.name != "lo") {
        let mut addresses: Vec<String> = iface
            .ip_addresses
            .iter()
            .map(|a| a.ip_address.trim().to_string())
            .filter(|a| useful_address(a))
            .collect();
        addresses.sort();
        addresses.dedup();
        let stats = iface.statistics.as_ref();
        let rx = super::derive_pve::bytes(stats.and_then(|s| s.rx_bytes));
        let tx = super::derive_pve::bytes(stats.and_then(|s| s.tx_bytes));
        if addresses.is_empty() && rx == 0 && tx == 0 {
            continue;
        }
        all.extend(addresses.iter().cloned());
        out.push(GuestNetworkInterface {
            name: iface.name.clone(),
            mac: iface.hardware_address.clone().unwrap_or_default(),
            addresses,
            rx_bytes: rx,
            tx_bytes: tx,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    all.sort();
    all.dedup();
    (out, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_refreshes_and_expires_stale_data() {
        let mut c = AgentMetaCache::new(AgentCacheConfig::default(), 1);
        let key = agent_key("pve", "n1", 100);
        assert!(c.needs_refresh(&key, 0));
        c.store(
            &key,
            AgentMeta {
                os_name: "Debian".into(),
                ..AgentMeta::default()
            },
            0,
        );
        assert!(!c.needs_refresh(&key, 119_999));
        assert!(c.needs_refresh(&key, 165_000));
        c.record_failure(&key, 170_000);
        assert!(!c.needs_refresh(&key, 199_999));
        assert!(c.needs_refresh(&key, 200_000));
        assert_eq!(
            c.get(&key, 300_000).map(|m| m.os_name.as_str()),
            Some("Debian")
        );
        assert!(c.get(&key, 300_001).is_none(), "older than the TTL");
        c.forget(&key);
        assert!(c.needs_refresh(&key, 0));
    }

    #[test]
    fn os_version_never_repeats_the_name() {
        let info = AgentOsInfo {
            name: Some("Microsoft Windows Server 2022".into()),
            pretty_name: Some("Microsoft Windows Server 2022".into()),
            ..AgentOsInfo::default()
        };
        assert_eq!(
            os_name_version(&info),
            ("Microsoft Windows Server 2022".into(), String::new())
        );
        let info = AgentOsInfo {
            name: Some("Debian GNU/Linux".into()),
            version: Some("12 (bookworm)".into()),
            ..AgentOsInfo::default()
        };
        assert_eq!(os_name_version(&info).1, "12 (bookworm)");
    }
}
