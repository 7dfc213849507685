//! Simulator settings and the fault vocabulary.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which PVE release a node imitates; changes payload shapes, not behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PveFlavor {
    /// PVE 7.4: node `memory` is `{total,used,free}`, node RRD has no `memavailable`,
    /// container `cpus` is a string.
    Pve7,
    /// PVE 8.4: node `memory` still lacks `available`; the RRD `memavailable` is the only
    /// cache-aware figure.
    Pve84,
    /// PVE 9: node `memory.available`, RRD `memavailable`, `arcsize`, pressure columns.
    Pve9,
}

/// How simulated time moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimClock {
    /// Real wall-clock time (plus whatever `advance` adds): values move on their own.
    Real,
    /// Frozen at this Unix time; only `SimHandle::advance` moves it (deterministic tests).
    Frozen(i64),
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub nodes: usize,
    /// Total guests (VMs and containers), spread round-robin across nodes.
    pub guests: usize,
    pub seed: u64,
    /// Node `i` gets `flavors[i % len]`.
    pub flavors: Vec<PveFlavor>,
    pub ceph: bool,
    pub pbs_datastores: usize,
    /// 0 = OS choice. Otherwise PVE listens on the port, PBS on +1, PMG on +2.
    pub https_port: u16,
    pub http_port: u16,
    /// Upper bound of concurrent connection threads (all listeners together).
    pub max_connections: usize,
    pub clock: SimClock,
    pub user: String,
    pub password: String,
    /// A hanging request gives up after this long (so threads never leak forever).
    pub hang_limit: Duration,
    /// How fast the PVE API answers: fast (default) or at a real `pveproxy`'s pace.
    pub pace: super::pace::Pace,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 3,
            guests: 30,
            seed: 1,
            flavors: vec![PveFlavor::Pve9, PveFlavor::Pve84, PveFlavor::Pve7],
            ceph: true,
            pbs_datastores: 2,
            https_port: 0,
            http_port: 0,
            max_connections: 64,
            clock: SimClock::Real,
            user: "root@pam".into(),
            password: "sim-password".into(),
            hang_limit: Duration::from_secs(60),
            pace: super::pace::Pace::Fast,
        }
    }
}

/// A fault injected on every request whose path (below `/api2/json`) starts with a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally after this many milliseconds.
    Latency { ms: u64 },
    /// Never answer (until the client gives up or the simulator stops).
    Hang,
    /// Answer with this status and `{"data":null}` (500, 502, 503, 429, 595...).
    Status { status: u16 },
    /// 200 with a body that is not JSON.
    GarbageJson,
    /// 200 announcing the full length, then only half the body and a closed connection.
    TruncatedBody,
    /// Reset the TCP connection (RST) instead of answering.
    ConnectionReset,
    /// 200 with an HTML page, as a web server on the wrong port would send.
    HtmlPage,
    /// The HTTPS listener presents a different certificate (prefix is ignored: TLS happens
    /// before the path is known).
    WrongCertificate,
}
