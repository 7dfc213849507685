//! Network discovery (`GET /api/discover`): probe every address of the configured subnets on
//! ports 8006 and 8007 and report the PVE, PBS and PMG servers found.
//!
//! [`scan`] blocks for up to `targets × ports / max_concurrent × (dial + http timeout)` and runs
//! on a worker thread (it spawns up to `max_concurrent` scoped threads of its own).
//! [`DiscoveryCache`] is the event loop's record of the last result and when the next scan is due.

use crate::config::error::ConfigError;
use crate::config::model::nodes::NodeType;
use crate::config::system::{parse_cidr, DiscoveryConfig};
use crate::discovery::probe::{fetch, identify, probe_tls_config, ProbeError};
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub const DEFAULT_PORTS: [u16; 2] = [8006, 8007];
/// Background scans run this often when discovery is enabled.
pub const SCAN_INTERVAL_SECS: i64 = 5 * 60;
const PROBE_STACK: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredServer {
    pub ip: String,
    pub port: u16,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// `"Unknown"` when the server does not reveal it without authentication.
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub release: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanResult {
    pub servers: Vec<DiscoveredServer>,
    /// `"<ip>:<port>: <what failed>"` for ports that answered but not as expected.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub targets: Vec<Ipv4Addr>,
    pub ports: Vec<u16>,
    pub max_concurrent: usize,
    pub dial_timeout: Duration,
    pub http_timeout: Duration,
}

impl ScanOptions {
    /// Builds the target list from `discoverySubnet` (`"auto"` = this host's own LANs, or a comma
    /// list of CIDRs) and the discovery settings (blocklist, allowlist, host cap, timeouts).
    /// Checks the syntax of a subnet list without expanding it (cheap: safe on the loop).
    pub fn validate_subnets(subnet: &str) -> Result<(), ConfigError> {
        if subnet.trim().is_empty() || subnet.trim() == "auto" {
            return Ok(());
        }
        for s in subnet.split(',') {
            parse_cidr(s.trim())
                .map_err(|e| ConfigError::Invalid(format!("discovery subnet: {e}")))?;
        }
        Ok(())
    }

    pub fn from_settings(subnet: &str, cfg: &DiscoveryConfig) -> Result<ScanOptions, ConfigError> {
        let subnets = if subnet.trim().is_empty() || subnet.trim() == "auto" {
            local_subnets()
        } else {
            subnet
                .split(',')
                .map(|s| {
                    parse_cidr(s.trim())
                        .map_err(|e| ConfigError::Invalid(format!("discovery subnet: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let parse_list = |list: &[String]| -> Result<Vec<(Ipv4Addr, u8)>, ConfigError> {
            list.iter()
                .map(|c| parse_cidr(c).map_err(|e| ConfigError::Invalid(format!("discovery: {e}"))))
                .collect()
        };
        let block = parse_list(&cfg.subnet_blocklist)?;
        let allow = parse_list(&cfg.subnet_allowlist)?;
        let max_hosts = usize::try_from(cfg.max_hosts_per_scan).unwrap_or(0).max(1);
        let targets = expand(&subnets, &allow, &block, max_hosts);
        Ok(ScanOptions {
            targets,
            ports: DEFAULT_PORTS.to_vec(),
            max_concurrent: usize::try_from(cfg.max_concurrent)
                .unwrap_or(1)
                .clamp(1, 1000),
            dial_timeout: Duration::from_millis(
                u64::try_from(cfg.dial_timeout_ms).unwrap_or(1000).max(1),
            ),
            http_timeout: Duration::from_millis(
                u64::try_from(cfg.http_timeout_ms).unwrap_or(2000).max(1),
            ),
        })
    }
}

fn in_cidr(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Host addresses of `subnets` (network and broadcast addresses excluded for prefixes < 31),
/// minus the blocklist, limited to the allowlist when one is given, de-duplicated, at most
/// `max_hosts`.
pub fn expand(
    subnets: &[(Ipv4Addr, u8)],
    allow: &[(Ipv4Addr, u8)],
    block: &[(Ipv4Addr, u8)],
    max_hosts: usize,
) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &(net, len) in subnets {
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        };
        let first = u32::from(net) & mask;
        let last = first | !mask;
        let (start, end) = if len >= 31 {
            (first, last)
        } else {
            (first + 1, last - 1)
        };
        for n in start..=end {
            if out.len() >= max_hosts {
                return out;
            }
            let ip = Ipv4Addr::from(n);
            let allowed = allow.is_empty() || allow.iter().any(|c| in_cidr(ip, *c));
            if allowed && !block.iter().any(|c| in_cidr(ip, *c)) && seen.insert(ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// This host's IPv4 LANs: up, non-loopback interfaces with at most ~1k addresses, skipping
/// container bridges (`docker*`, `br-*`, `veth*`) whose members are not Proxmox servers.
pub fn local_subnets() -> Vec<(Ipv4Addr, u8)> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list we only read and free with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs, valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_netmask.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated C string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        let up = ifa.ifa_flags & (libc::IFF_UP as u32) != 0;
        let loopback = ifa.ifa_flags & (libc::IFF_LOOPBACK as u32) != 0;
        if !up
            || loopback
            || ["docker", "br-", "veth"]
                .iter()
                .any(|p| name.starts_with(p))
        {
            continue;
        }
        // SAFETY: sa_family is readable for any sockaddr; we reinterpret only AF_INET ones.
        if i32::from(unsafe { (*ifa.ifa_addr).sa_family }) != libc::AF_INET {
            continue;
        }
        // SAFETY: both are AF_INET sockaddrs (netmask shares the address family).
        let (addr, mask) = unsafe {
            let a = &*(ifa.ifa_addr as *const libc::sockaddr_in);
            let m = &*(ifa.ifa_netmask as *const libc::sockaddr_in);
            (
                u32::from_be(a.sin_addr.s_addr),
                u32::from_be(m.sin_addr.s_addr),
            )
        };
        let len = mask.count_ones() as u8;
        let ip = Ipv4Addr::from(addr);
        if (22..=30).contains(&len) && !ip.is_link_local() {
            out.push((Ipv4Addr::from(addr & mask), len));
        }
    }
    // SAFETY: `ifap` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(ifap) };
    out.sort();
    out.dedup();
    out
}

/// Probes every target and port. Blocking: worker thread only.
pub fn scan(opts: &ScanOptions) -> ScanResult {
    let tls = match probe_tls_config() {
        Ok(t) => t,
        Err(e) => {
            return ScanResult {
                servers: Vec::new(),
                errors: vec![e],
            }
        }
    };
    let jobs: Vec<SocketAddr> = opts
        .targets
        .iter()
        .flat_map(|ip| opts.ports.iter().map(move |p| SocketAddr::from((*ip, *p))))
        .collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let workers = opts.max_concurrent.clamp(1, 1000).min(jobs.len().max(1));
    let started = std::thread::scope(|s| {
        let mut started = 0;
        for _ in 0..workers {
            let tx = tx.clone();
            let (jobs, next, tls) = (&jobs, &next, &tls);
            // Probes need little stack; 50 default-sized (2 MiB) stacks would be wasteful.
            let spawned = std::thread::Builder::new()
                .name("discovery-probe".into())
                .stack_size(PROBE_STACK)
                .spawn_scoped(s, move || {
                    while let Some(addr) = jobs.get(next.fetch_add(1, Ordering::Relaxed)).copied() {
                        let outcome = fetch(
                            tls,
                            addr,
                            "/api2/json/version",
                            opts.dial_timeout,
                            opts.http_timeout,
                        );
                        let _ = tx.send((addr, outcome));
                    }
                });
            if spawned.is_err() {
                // Fewer workers only makes the scan slower; the jobs are still all taken.
                break;
            }
            started += 1;
        }
        started
    });
    drop(tx);
    let mut result = ScanResult::default();
    if started == 0 && !jobs.is_empty() {
        result
            .errors
            .push("could not start discovery threads".to_string());
    }
    for (addr, outcome) in rx {
        match outcome {
            Ok(resp) => {
                if let Some(found) = identify(addr.port(), &resp) {
                    result.servers.push(DiscoveredServer {
                        ip: addr.ip().to_string(),
                        port: addr.port(),
                        // 8006 without a product signal: PVE is by far the common case.
                        node_type: found.node_type.unwrap_or(NodeType::Pve),
                        version: if found.version.is_empty() {
                            "Unknown".to_string()
                        } else {
                            found.version
                        },
                        hostname: None,
                        release: found.release,
                    });
                }
            }
            Err(ProbeError::Closed) => {}
            Err(ProbeError::Failed(e)) => result.errors.push(format!("{addr}: {e}")),
        }
    }
    result
        .servers
        .sort_by_key(|s| (s.ip.parse::<Ipv4Addr>().ok(), s.port));
    result.errors.sort();
    result
}

/// `GET /api/discover` body.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoverResponse {
    pub servers: Vec<DiscoveredServer>,
    pub errors: Vec<String>,
    /// Pulse reports its environment detection here; we do not detect environments.
    pub environment: Option<()>,
    pub cached: bool,
    pub scanning: bool,
    /// Unix seconds of the last completed scan (0 = never).
    pub updated: i64,
    /// Seconds since then.
    pub age: i64,
}

/// The last scan result and the background schedule, owned by the event loop.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryCache {
    /// Result and unix seconds it completed.
    last: Option<(ScanResult, i64)>,
    scanning: bool,
    forced: bool,
}

impl DiscoveryCache {
    /// Whether a background scan should start now.
    pub fn due(&self, enabled: bool, now: i64) -> bool {
        let stale = self.forced
            || self
                .last
                .as_ref()
                .is_none_or(|(_, at)| now - at >= SCAN_INTERVAL_SECS);
        enabled && !self.scanning && stale
    }

    pub fn is_scanning(&self) -> bool {
        self.scanning
    }

    pub fn started(&mut self) {
        self.scanning = true;
    }

    pub fn finished(&mut self, result: ScanResult, now: i64) {
        self.scanning = false;
        self.forced = false;
        self.last = Some((result, now));
    }

    /// Makes the next `due` true (after a node is added, removed or auto-registered).
    pub fn invalidate(&mut self) {
        self.forced = true;
    }

    pub fn response(&self, now: i64) -> DiscoverResponse {
        let (servers, errors, updated) = match &self.last {
            Some((r, at)) => (r.servers.clone(), r.errors.clone(), *at),
            None => (Vec::new(), Vec::new(), 0),
        };
        DiscoverResponse {
            servers,
            errors,
            environment: None,
            cached: self.last.is_some(),
            scanning: self.scanning,
            updated,
            age: if self.last.is_some() {
                (now - updated).max(0)
            } else {
                0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> (Ipv4Addr, u8) {
        parse_cidr(s).unwrap()
    }

    #[test]
    fn expands_with_lists_and_cap() {
        let hosts = expand(&[cidr("192.168.1.0/30")], &[], &[], 100);
        assert_eq!(
            hosts,
            [Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 2)]
        );
        assert_eq!(
            expand(&[cidr("10.0.0.7/32")], &[], &[], 100),
            [Ipv4Addr::new(10, 0, 0, 7)]
        );
        assert_eq!(expand(&[cidr("10.0.0.0/16")], &[], &[], 1024).len(), 1024);
        let blocked = expand(&[cidr("10.0.0.0/29")], &[], &[cidr("10.0.0.4/30")], 100);
        assert_eq!(
            blocked,
            [
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2),
                Ipv4Addr::new(10, 0, 0, 3)
            ]
        );
        let allowed = expand(&[cidr("10.0.0.0/29")], &[cidr("10.0.0.6/32")], &[], 100);
        assert_eq!(allowed, [Ipv4Addr::new(10, 0, 0, 6)]);
        let dedup = expand(&[cidr("10.0.0.0/30"), cidr("10.0.0.0/30")], &[], &[], 100);
        assert_eq!(dedup.len(), 2);
    }

    #[test]
    fn options_from_settings() {
        let cfg = DiscoveryConfig::default();
        let o = ScanOptions::from_settings("10.1.0.0/24, 10.2.0.0/30", &cfg).unwrap();
        assert_eq!(o.targets.len(), 254 + 2);
        assert_eq!(
            (o.max_concurrent, o.ports.as_slice()),
            (50, &DEFAULT_PORTS[..])
        );
        assert!(ScanOptions::from_settings("10.1.0.0/33", &cfg).is_err());
        // "auto" reads interfaces; it must not fail even where there are none.
        assert!(ScanOptions::from_settings("auto", &cfg).is_ok());
    }

    #[test]
    fn cache_schedule() {
        let mut c = DiscoveryCache::default();
        assert!(!c.due(false, 0));
        assert!(c.due(true, 1000));
        assert!(!c.response(1000).cached);
        c.started();
        assert!(!c.due(true, 1000) && c.response(1000).scanning);
        c.finished(ScanResult::default(), 1000);
        assert!(!c.due(true, 1299) && c.due(true, 1300));
        let r = c.response(1010);
        assert!(r.cached && r.updated == 1000 && r.age == 10);
        c.invalidate();
        assert!(c.due(true, 1001));
    }
}
