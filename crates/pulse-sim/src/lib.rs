//! An in-process Proxmox simulator (PVE, PBS, PMG) for tests, demos and benchmarks.
//!
//! Each product listens on its own loopback port over HTTPS (a self-signed certificate made
//! at start) and over plain HTTP. Auth is enforced like Proxmox; faults can be injected per
//! path prefix at run time through [`SimHandle`] or `POST /__sim/faults` on any listener:
//!
//! ```text
//! POST /__sim/faults   {"product":"pve","prefix":"/nodes","fault":{"kind":"latency","ms":200}}
//! DELETE /__sim/faults
//! POST /__sim/nodes/pve2/offline   (or /online)
//! POST /__sim/nodes/pve2/zfs?state=degraded   (or online; DELETE: back to the index rule)
//! POST /__sim/guests/100/cpu?value=0.95   (DELETE: the value moves again)
//! POST /__sim/advance?secs=60
//! POST /__sim/ticket-lifetime?ms=1000
//! GET  /__sim/info
//! ```
//!
//! The estate is generated from a seed (see `estate.rs`); with `SimClock::Frozen` every
//! value is reproducible. Which guest shows which variant is fixed by its index `i`
//! (vmid = 100 + i), so tests can pick one:
//!
//! | rule | variant |
//! |---|---|
//! | node `i % nodes`; node `k` is `pve{k+1}`, flavor `flavors[k % len]` (default 9, 8.4, 7) | placement |
//! | `i % 3 == 2` | container (else VM) |
//! | `i % 13 == 12` | template (stopped) |
//! | `i % 7 == 6` | stopped |
//! | VM and `i % 11 == 4` | Windows: `freemem` only, fsinfo with `total-bytes-privileged` |
//! | VM and (Windows or `i` even) | guest agent enabled |
//! | VM and `i % 5 == 1` | ballooned to half of `maxmem` (Linux+agent: `meminfo`) |
//! | Linux VM and `i % 4 == 0` | docker host: bind mounts of `/dev/sda1`, squashfs, `docker0` |
//! | `i % 4 == 1` | two snapshots (`before-upgrade` → `weekly`) |
//! | `i` even | two vzdump backups on `nfs-backup`; `i % 13 == 5`: the last task failed |
//! | VM and `i % 9 == 0` (clusters) | replication job to the next node; `i % 18 == 9`: failing |
//! | node index `% 4 == 2` | worn SSD, `wearout: "\"8\""` |
//! | node index `% 5 == 4` | ZFS pool DEGRADED (one FAULTED mirror leg; `set_zfs_degraded` changes it) |
//! | PBS store `main` (and `offsite`: every third guest, GC never ran) | groups in `""`, `prod`, `prod/db` |

mod auth;
mod cert;
mod config;
mod estate;
mod faults;
mod http;
mod pace;
mod pbs_routes;
mod pmg_routes;
mod pve_guest;
mod pve_routes;
mod pve_storage;
mod router;
mod server;
mod state;

pub use auth::{LIMITED_TOKEN_ID, TOKEN_ID};
pub use config::{Fault, PveFlavor, SimClock, SimConfig};
pub use faults::FaultRule;
pub use pace::{Pace, PveproxyPace};

pub use pulse_wire::Product;
use state::Shared;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Simulator;

impl Simulator {
    /// Generates the certificate and estate, binds six listeners on 127.0.0.1 and starts
    /// serving. Returns once every listener accepts connections.
    pub fn start(cfg: SimConfig) -> Result<SimHandle, String> {
        let identity = cert::generate()?;
        let wrong_identity = cert::generate()?;
        let epoch = match cfg.clock {
            SimClock::Real => pulse_wire::time::unix_now(),
            SimClock::Frozen(t) => t,
        };
        let estate = estate::Estate::build(&cfg, epoch);
        let auth = auth::AuthState::new(cfg.user.clone(), cfg.password.clone(), cfg.seed);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            estate: RwLock::new(estate),
            faults: Mutex::new(faults::FaultTable::default()),
            auth: Mutex::new(auth),
            stop: AtomicBool::new(false),
            offset: AtomicI64::new(0),
            requests: AtomicU64::new(0),
            gzipped: AtomicU64::new(0),
            active_connections: AtomicUsize::new(0),
            slot_wanted: AtomicBool::new(false),
            workers: pace::Workers::default(),
            counters: pace::PathCounters::default(),
            identity,
            wrong_identity,
        });
        let mut handle = SimHandle {
            shared: shared.clone(),
            listeners: Vec::new(),
            threads: Vec::new(),
        };
        let products = [Product::Pve, Product::Pbs, Product::Pmg];
        for (tls, base) in [(true, cfg.https_port), (false, cfg.http_port)] {
            for (i, product) in products.iter().enumerate() {
                let port = if base == 0 {
                    0
                } else {
                    base.saturating_add(i as u16)
                };
                let bound = server::listen(shared.clone(), *product, tls, port)
                    .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
                handle
                    .listeners
                    .push((bound.product, bound.tls, bound.addr));
                handle.threads.push(bound.thread);
            }
        }
        Ok(handle)
    }
}

/// A running simulator. Dropping it stops it.
pub struct SimHandle {
    shared: Arc<Shared>,
    listeners: Vec<(Product, bool, SocketAddr)>,
    threads: Vec<JoinHandle<()>>,
}

impl SimHandle {
    fn addr(&self, product: Product, tls: bool) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(p, t, _)| *p == product && *t == tls)
            .map(|(_, _, a)| *a)
    }

    /// `https://127.0.0.1:<port>` of `product`.
    pub fn https_url(&self, product: Product) -> String {
        self.addr(product, true)
            .map(|a| format!("https://{a}"))
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>` of `product` (demo mode).
    pub fn http_url(&self, product: Product) -> String {
        self.addr(product, false)
            .map(|a| format!("http://{a}"))
            .unwrap_or_default()
    }

    /// All listening addresses: (product, is_https, address).
    pub fn listeners(&self) -> &[(Product, bool, SocketAddr)] {
        &self.listeners
    }

    /// SHA-256 fingerprint of the HTTPS certificate (`AA:BB:...`), the same for all products.
    pub fn fingerprint(&self) -> String {
        self.shared.identity.fingerprint.clone()
    }

    /// Fingerprint of the certificate served under [`Fault::WrongCertificate`].
    pub fn wrong_fingerprint(&self) -> String {
        self.shared.wrong_identity.fingerprint.clone()
    }

    pub fn user(&self) -> String {
        self.shared.cfg.user.clone()
    }

    pub fn password(&self) -> String {
        self.shared.cfg.password.clone()
    }

    /// Secret of [`TOKEN_ID`] (full audit rights on all products).
    pub fn token_secret(&self) -> String {
        self.shared.auth().token_secret.clone()
    }

    /// Secret of [`LIMITED_TOKEN_ID`] (only `/version`; everything else answers 403).
    pub fn limited_token_secret(&self) -> String {
        self.shared.auth().limited_secret.clone()
    }

    /// Injects `fault` for every product on paths (below `/api2/json`) starting with `prefix`.
    pub fn set_fault(&self, path_prefix: &str, fault: Fault) {
        self.shared.faults().add(FaultRule {
            product: None,
            prefix: path_prefix.into(),
            fault,
        });
    }

    /// Injects `fault` for one product only.
    pub fn set_fault_for(&self, product: Product, path_prefix: &str, fault: Fault) {
        self.shared.faults().add(FaultRule {
            product: Some(product.as_str().into()),
            prefix: path_prefix.into(),
            fault,
        });
    }

    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Takes a PVE node off line (its paths answer 595) or back. False if no such node.
    pub fn set_node_online(&self, node: &str, online: bool) -> bool {
        let mut e = self.shared.estate_mut();
        match e.nodes.iter_mut().find(|n| n.name == node) {
            Some(n) => {
                n.online = online;
                true
            }
            None => false,
        }
    }

    /// Makes a node's ZFS pool degraded (`Some(true)`: a mirror leg FAULTED with read
    /// errors), healthy (`Some(false)`) or follow the index rule again (`None`). False if no
    /// such node.
    pub fn set_zfs_degraded(&self, node: &str, degraded: Option<bool>) -> bool {
        let mut e = self.shared.estate_mut();
        match e.nodes.iter_mut().find(|n| n.name == node) {
            Some(n) => {
                n.zfs_degraded = degraded;
                true
            }
            None => false,
        }
    }

    /// Starts or stops a guest. False if no such guest or it is a template.
    pub fn set_guest_running(&self, vmid: u32, running: bool) -> bool {
        let now = self.now();
        let mut e = self.shared.estate_mut();
        let Some(idx) = e.by_vmid.get(&vmid).copied() else {
            return false;
        };
        match e.guests.get_mut(idx) {
            Some(g) if !g.template => {
                if running && !g.running {
                    g.boot = now;
                }
                g.running = running;
                true
            }
            _ => false,
        }
    }

    /// Holds a guest's CPU fraction at `pin` (`None`: it moves again), e.g. to push it over an
    /// alert threshold. False if no such guest. A stopped guest still reports 0.
    pub fn set_guest_cpu(&self, vmid: u32, pin: Option<f64>) -> bool {
        let mut e = self.shared.estate_mut();
        let Some(idx) = e.by_vmid.get(&vmid).copied() else {
            return false;
        };
        match e.guests.get_mut(idx) {
            Some(g) => {
                g.cpu_pin = pin.map(|v| v.clamp(0.0, 1.0));
                true
            }
            None => false,
        }
    }

    /// Node names in order (`pve1`, `pve2`, ...).
    pub fn node_names(&self) -> Vec<String> {
        self.shared
            .estate()
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// Moves simulated time forward: counters grow, CPU and memory move.
    pub fn advance(&self, secs: i64) {
        self.shared.offset.fetch_add(secs, Ordering::Relaxed);
    }

    /// Simulated Unix time.
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    /// Lifetime of tickets issued from now on (default 2 h).
    pub fn set_ticket_lifetime(&self, lifetime: Duration) {
        self.shared.auth().ticket_lifetime = lifetime;
    }

    /// When false, JSON logins get 415 and clients must fall back to form encoding.
    pub fn set_json_login(&self, supported: bool) {
        self.shared.auth().json_login = supported;
    }

    /// Successful logins so far for `product`.
    pub fn login_count(&self, product: Product) -> u64 {
        self.shared.auth().logins(product)
    }

    /// Requests served so far (all listeners).
    /// Requests served per product and path family (`"pve /nodes/{node}/status"` → n).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.counters.snapshot()
    }

    pub fn reset_request_counts(&self) {
        self.shared.counters.reset();
    }

    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Responses sent gzip-compressed so far (clients ask for gzip; large bodies get it).
    pub fn gzip_count(&self) -> u64 {
        self.shared.gzipped.load(Ordering::Relaxed)
    }

    /// Stops accepting, ends idle connections and hanging requests, joins accept threads.
    pub fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        for (_, _, addr) in &self.listeners {
            server::wake(*addr);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
