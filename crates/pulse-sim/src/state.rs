//! State shared by the simulator's threads and its handle. The simulator is a test tool with
//! its own threads, so plain locks are fine here (the application itself avoids them).

use super::auth::AuthState;
use super::cert::Identity;
use super::config::{SimClock, SimConfig};
use super::estate::Estate;
use super::faults::FaultTable;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Shared {
    pub cfg: SimConfig,
    pub estate: RwLock<Estate>,
    pub faults: Mutex<FaultTable>,
    pub auth: Mutex<AuthState>,
    pub stop: AtomicBool,
    /// Seconds added to the clock by `advance`.
    pub offset: AtomicI64,
    pub requests: AtomicU64,
    /// Responses sent gzip-compressed.
    pub gzipped: AtomicU64,
    pub active_connections: AtomicUsize,
    /// Set while the accept loop waits for a free connection slot: idle keep-alive
    /// connections then close so a pool of clients cannot starve newcomers.
    pub slot_wanted: AtomicBool,
    /// The `pveproxy` pace's workers (unused at the fast pace).
    pub workers: super::pace::Workers,
    /// Requests per product and path family (`/__sim/requests`).
    pub counters: super::pace::PathCounters,
    pub identity: Identity,
    /// Presented instead of `identity` under the `WrongCertificate` fault.
    pub wrong_identity: Identity,
}

impl Shared {
    /// Simulated Unix time.
    pub fn now(&self) -> i64 {
        let base = match self.cfg.clock {
            SimClock::Real => pulse_wire::time::unix_now(),
            SimClock::Frozen(t) => t,
        };
        base + self.offset.load(Ordering::Relaxed)
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn estate(&self) -> RwLockReadGuard<'_, Estate> {
        self.estate.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn estate_mut(&self) -> RwLockWriteGuard<'_, Estate> {
        self.estate.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultTable> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }
}
