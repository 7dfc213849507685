//! PVE cluster failover: a cluster is configured once; every call goes to the configured host
//! (the first member) while it is healthy, else to a random healthy member. A member that
//! fails (connection, TLS, timeout, 5xx, or a 4xx that another member does not give) is
//! skipped for a while and retried later; only a failure of every candidate reaches the
//! caller, so one bad member address can never condemn a healthy instance (issue #20).
//! Follows Pulse's `cluster_client.go` (§2.2) without its background goroutines: probing
//! happens inline, on the worker thread that makes the call.

use super::api::ApiClient;
use super::config::ClientConfig;
use super::error::ProxmoxError;
use std::time::{Duration, Instant};

/// How often an unhealthy member may be re-probed.
const REPROBE_EVERY: Duration = Duration::from_secs(10);
/// Time budget of a re-probe (`GET /nodes`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// An unhealthy member is tried again (lazily, by a real call) after this long.
const RETRY_UNHEALTHY_AFTER: Duration = Duration::from_secs(60);
/// Time budget of the initial probe of every member.
const INITIAL_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Health of one cluster member, for `connectionHealth` and the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    pub endpoint: String,
    pub healthy: bool,
    /// Last transport error that marked it unhealthy.
    pub last_error: Option<String>,
}

struct Member {
    client: ApiClient,
    healthy: bool,
    last_probe: Option<Instant>,
    cooldown_until: Option<Instant>,
    last_error: Option<String>,
}

/// What a failed call means for the member that served it.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The answer would be the same on any member (auth, 4xx, decode, node 595): return it.
    Return,
    /// Overloaded or throttled: cool the member down briefly and try another.
    Throttled,
    /// The member itself is broken or unreachable: mark unhealthy and try another.
    MemberDown,
    /// A client error (404, 400, …) that may be this member's fault (a wrong address, a
    /// proxy in front of it): try another member; if one answers, this one is skipped for a
    /// while, else the error is the same everywhere and is returned.
    Suspect,
}

fn judge(err: &ProxmoxError) -> Verdict {
    match err {
        ProxmoxError::Connect(_) | ProxmoxError::Timeout(_) | ProxmoxError::Tls(_) => {
            Verdict::MemberDown
        }
        ProxmoxError::NotProxmox(_) => Verdict::MemberDown,
        ProxmoxError::Http { status, excerpt } => match status {
            408 | 425 | 429 | 502 | 503 | 504 => Verdict::Throttled,
            595 | 501 => Verdict::Return,
            500 => {
                let e = excerpt.to_ascii_lowercase();
                let same_everywhere = e.contains("guest agent")
                    || e.contains("not running")
                    || e.contains("does not exist")
                    || e.contains("hostname lookup")
                    || e.contains("name or service not known")
                    || e.contains("not implemented");
                if same_everywhere {
                    Verdict::Return
                } else {
                    Verdict::MemberDown
                }
            }
            s if *s >= 500 => Verdict::MemberDown,
            401 | 403 => Verdict::Return,
            s if *s >= 400 => Verdict::Suspect,
            _ => Verdict::Return,
        },
        ProxmoxError::Auth { .. }
        | ProxmoxError::Decode { .. }
        | ProxmoxError::TooLarge { .. }
        | ProxmoxError::Config(_) => Verdict::Return,
    }
}

/// The members of one PVE cluster (or the single host of a standalone instance).
pub struct Cluster {
    members: Vec<Member>,
    rng: u64,
    reprobe_every: Duration,
}

impl Cluster {
    /// Members are `cfg.cluster_endpoints`, or just `cfg.host` when there are none or none
    /// of them is routable (bare node names like `pve2` that only resolve inside the cluster).
    pub fn new(cfg: &ClientConfig) -> Result<Cluster, ProxmoxError> {
        let routable = cfg.cluster_endpoints.iter().any(|e| is_routable(e));
        let hosts: Vec<&str> = if routable {
            cfg.cluster_endpoints.iter().map(String::as_str).collect()
        } else {
            vec![cfg.host.as_str()]
        };
        let members = hosts
            .into_iter()
            .map(|h| {
                Ok(Member {
                    client: ApiClient::for_host(cfg, h)?,
                    healthy: true,
                    last_probe: None,
                    cooldown_until: None,
                    last_error: None,
                })
            })
            .collect::<Result<Vec<_>, ProxmoxError>>()?;
        Ok(Cluster {
            members,
            rng: seed(),
            reprobe_every: REPROBE_EVERY,
        })
    }

    /// How long an unhealthy member rests before it is probed again (default 10 s).
    pub fn set_reprobe_interval(&mut self, every: Duration) {
        self.reprobe_every = every;
    }

    pub fn health(&self) -> Vec<EndpointHealth> {
        self.members
            .iter()
            .map(|m| EndpointHealth {
                endpoint: m.client.origin().to_string(),
                healthy: m.healthy,
                last_error: m.last_error.clone(),
            })
            .collect()
    }

    /// Checks every member with `GET /nodes` (5 s budget each) and records who answered, as
    /// Pulse does when a cluster client is created. Blocking; optional (calls work without).
    pub fn probe_all(&mut self) {
        if self.members.len() < 2 {
            return;
        }
        let now = Instant::now();
        for m in &mut self.members {
            let probe: Result<Option<serde_json::Value>, _> =
                m.client.get_opt("/nodes", Some(INITIAL_PROBE_TIMEOUT));
            m.last_probe = Some(now);
            match probe {
                Ok(_) => {
                    m.healthy = true;
                    m.last_error = None;
                }
                Err(e) if judge(&e) == Verdict::MemberDown => {
                    m.healthy = false;
                    m.last_error = Some(e.to_string());
                }
                Err(_) => {}
            }
        }
    }

    /// Runs `f` on a member, failing over as described in the module docs. Blocking.
    pub fn call<T>(
        &mut self,
        mut f: impl FnMut(&mut ApiClient) -> Result<T, ProxmoxError>,
    ) -> Result<T, ProxmoxError> {
        if let [only] = self.members.as_mut_slice() {
            // A standalone host: nothing to fail over to, and retrying a dead host only
            // multiplies the timeout.
            return f(&mut only.client);
        }
        let attempts = self.members.len() + 2;
        let mut last_err = None;
        // Members that gave a client error in this call: excluded from further picks, and
        // marked unhealthy only if another member then answers.
        let mut suspects: Vec<(usize, ProxmoxError)> = Vec::new();
        for attempt in 0..attempts {
            let now = Instant::now();
            let excluded: Vec<usize> = suspects.iter().map(|(i, _)| *i).collect();
            let idx = match self.pick(now, &excluded) {
                Some(i) => i,
                None => match self.recover(now, &excluded) {
                    Some(i) => i,
                    None => break,
                },
            };
            let Some(member) = self.members.get_mut(idx) else {
                break;
            };
            match f(&mut member.client) {
                Ok(v) => {
                    for (i, e) in suspects {
                        if let Some(m) = self.members.get_mut(i) {
                            m.healthy = false;
                            m.last_probe = Some(Instant::now());
                            m.last_error = Some(e.to_string());
                        }
                    }
                    return Ok(v);
                }
                Err(e) => match judge(&e) {
                    Verdict::Return => return Err(e),
                    Verdict::Suspect => suspects.push((idx, e)),
                    Verdict::Throttled => {
                        let jitter = Duration::from_millis(self.next_rand() % 200);
                        let wait = Duration::from_millis(150 * (attempt as u64 + 1)) + jitter;
                        if let Some(m) = self.members.get_mut(idx) {
                            m.cooldown_until = Some(Instant::now() + wait);
                        }
                        last_err = Some(e);
                    }
                    Verdict::MemberDown => {
                        if let Some(m) = self.members.get_mut(idx) {
                            m.healthy = false;
                            m.last_probe = Some(Instant::now());
                            m.last_error = Some(e.to_string());
                        }
                        last_err = Some(e);
                    }
                },
            }
        }
        if let Some((_, e)) = suspects.into_iter().next() {
            // No member answered otherwise: the client error is the answer.
            return Err(e);
        }
        let summary: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    m.client.origin(),
                    m.last_error.as_deref().unwrap_or("ok")
                )
            })
            .collect();
        Err(last_err.unwrap_or_else(|| {
            ProxmoxError::Connect(format!(
                "no healthy nodes available in cluster ({})",
                summary.join("; ")
            ))
        }))
    }

    /// The configured host (member 0) when healthy and not cooling down; else a random
    /// healthy member not cooling down; else a random healthy one. Members unhealthy for
    /// longer than [`RETRY_UNHEALTHY_AFTER`] count as healthy again (they are retried).
    fn pick(&mut self, now: Instant, excluded: &[usize]) -> Option<usize> {
        for m in &mut self.members {
            if !m.healthy
                && m.last_probe
                    .is_none_or(|t| now.duration_since(t) >= RETRY_UNHEALTHY_AFTER)
            {
                m.healthy = true;
            }
        }
        let ready_member = |m: &Member| m.healthy && m.cooldown_until.is_none_or(|t| t <= now);
        if !excluded.contains(&0) && self.members.first().is_some_and(ready_member) {
            return Some(0);
        }
        let healthy: Vec<usize> = (0..self.members.len())
            .filter(|i| !excluded.contains(i))
            .filter(|&i| self.members.get(i).is_some_and(|m| m.healthy))
            .collect();
        let ready: Vec<usize> = healthy
            .iter()
            .copied()
            .filter(|&i| {
                self.members
                    .get(i)
                    .is_some_and(|m| m.cooldown_until.is_none_or(|t| t <= now))
            })
            .collect();
        let pool = if ready.is_empty() { healthy } else { ready };
        if pool.is_empty() {
            return None;
        }
        let r = (self.next_rand() % pool.len() as u64) as usize;
        pool.get(r).copied()
    }

    /// Re-probes unhealthy members (each at most every 10 s) and returns the first that
    /// answers `GET /nodes`.
    fn recover(&mut self, now: Instant, excluded: &[usize]) -> Option<usize> {
        for (i, m) in self.members.iter_mut().enumerate() {
            if excluded.contains(&i)
                || m.healthy
                || m.last_probe
                    .is_some_and(|t| now.duration_since(t) < self.reprobe_every)
            {
                continue;
            }
            m.last_probe = Some(now);
            let probe: Result<Option<serde_json::Value>, _> =
                m.client.get_opt("/nodes", Some(PROBE_TIMEOUT));
            match probe {
                Ok(_) => {
                    m.healthy = true;
                    m.last_error = None;
                    return Some(i);
                }
                Err(e) => m.last_error = Some(e.to_string()),
            }
        }
        None
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: only spreads load, no security role.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// True for endpoints reachable from outside the cluster: an IP address, a dotted name, or a
/// URL/`host:port` around one.
fn is_routable(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else if authority.matches(':').count() > 1 {
        authority
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.parse::<std::net::IpAddr>().is_ok() || host.contains('.')
}

fn seed() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routable_endpoints() {
        assert!(is_routable("10.0.0.5"));
        assert!(is_routable("https://pve2.lan:8006"));
        assert!(is_routable("[fd00::2]:8006"));
        assert!(is_routable("fd00::2"));
        assert!(!is_routable("pve2"));
        assert!(!is_routable("https://pve2:8006"));
    }

    #[test]
    fn verdicts_follow_pulse_rules() {
        let http = |status: u16, excerpt: &str| ProxmoxError::Http {
            status,
            excerpt: excerpt.into(),
        };
        assert_eq!(
            judge(&ProxmoxError::Connect("x".into())),
            Verdict::MemberDown
        );
        assert_eq!(
            judge(&ProxmoxError::Timeout("x".into())),
            Verdict::MemberDown
        );
        assert_eq!(judge(&http(429, "")), Verdict::Throttled);
        assert_eq!(judge(&http(503, "")), Verdict::Throttled);
        assert_eq!(judge(&http(595, "")), Verdict::Return);
        assert_eq!(
            judge(&http(500, "QEMU guest agent is not running")),
            Verdict::Return
        );
        assert_eq!(judge(&http(500, "internal")), Verdict::MemberDown);
        assert_eq!(judge(&http(404, "")), Verdict::Suspect);
        assert_eq!(judge(&http(400, "")), Verdict::Suspect);
        let auth = ProxmoxError::Auth {
            status: 401,
            message: String::new(),
        };
        assert_eq!(judge(&auth), Verdict::Return);
        let dec = ProxmoxError::Decode {
            path: "/x".into(),
            msg: String::new(),
        };
        assert_eq!(judge(&dec), Verdict::Return);
    }
}
