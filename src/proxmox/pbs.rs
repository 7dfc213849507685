//! Proxmox Backup Server client (pulse-backend.md §2.5). Every method blocks.

use super::api::{enc, ApiClient};
use super::config::{ClientConfig, Product};
use super::error::ProxmoxError;
use super::pbs_types::*;
use std::time::Duration;

/// Pulse's fallback probe of `/admin/datastore` uses a 10 s budget.
const DATASTORE_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PbsClient {
    api: ApiClient,
}

impl PbsClient {
    /// No network I/O happens here. `cfg.product` must be [`Product::Pbs`].
    pub fn new(cfg: &ClientConfig) -> Result<PbsClient, ProxmoxError> {
        if cfg.product != Product::Pbs {
            return Err(ProxmoxError::Config(
                "PbsClient needs a PBS configuration".into(),
            ));
        }
        Ok(PbsClient {
            api: ApiClient::new(cfg)?,
        })
    }

    /// `GET /admin/<kind>` for `sync`, `verify`, `prune`, `gc`: job rows as raw JSON (their
    /// fields vary between releases; `monitor::pbs_jobs` reads every spelling).
    pub fn job_list(&mut self, kind: &str) -> Result<Vec<serde_json::Value>, ProxmoxError> {
        self.api.get_list(&format!("/admin/{kind}"))
    }

    /// `GET /version`.
    pub fn version(&mut self) -> Result<Version, ProxmoxError> {
        self.api.get("/version")
    }

    /// `GET /nodes/localhost/status` (403 for tokens without Sys.Audit: callers ignore it).
    pub fn node_status(&mut self) -> Result<PbsNodeStatus, ProxmoxError> {
        self.api.get("/nodes/localhost/status")
    }

    /// `GET /admin/datastore`.
    pub fn datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError> {
        self.api.get_list("/admin/datastore")
    }

    /// `GET /admin/datastore` with the 10 s budget Pulse uses when `/version` failed.
    pub fn probe_datastores(&mut self) -> Result<Vec<DatastoreListEntry>, ProxmoxError> {
        Ok(self
            .api
            .get_opt("/admin/datastore", Some(DATASTORE_PROBE_TIMEOUT))?
            .unwrap_or_default())
    }

    /// `GET /status/datastore-usage`.
    pub fn datastore_usage(&mut self) -> Result<Vec<DatastoreUsage>, ProxmoxError> {
        self.api.get_list("/status/datastore-usage")
    }

    /// `GET /admin/datastore/{store}/status`.
    pub fn datastore_status(&mut self, store: &str) -> Result<DatastoreStatus, ProxmoxError> {
        self.api
            .get(&format!("/admin/datastore/{}/status", enc(store)))
    }

    /// `GET /admin/datastore/{store}/rrd?cf=AVERAGE&timeframe=hour`.
    pub fn datastore_rrd(&mut self, store: &str) -> Result<Vec<DatastoreRrdPoint>, ProxmoxError> {
        self.api.get_list(&format!(
            "/admin/datastore/{}/rrd?cf=AVERAGE&timeframe=hour",
            enc(store)
        ))
    }

    /// `GET /admin/datastore/{store}/gc`.
    pub fn datastore_gc(&mut self, store: &str) -> Result<GcStatus, ProxmoxError> {
        self.api.get(&format!("/admin/datastore/{}/gc", enc(store)))
    }

    /// `GET /admin/datastore/{store}/namespace`. A 404 (PBS before namespaces) is an empty
    /// list; the root namespace `""` is always first in the result.
    pub fn namespaces(&mut self, store: &str) -> Result<Vec<Namespace>, ProxmoxError> {
        let path = format!("/admin/datastore/{}/namespace", enc(store));
        let mut list: Vec<Namespace> = match self.api.get_list(&path) {
            Ok(l) => l,
            Err(ProxmoxError::Http { status: 404, .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        if !list.iter().any(|n| n.ns.is_empty()) {
            list.insert(0, Namespace::default());
        }
        Ok(list)
    }

    /// `GET /admin/datastore/{store}/groups?ns=`.
    pub fn groups(&mut self, store: &str, ns: &str) -> Result<Vec<BackupGroup>, ProxmoxError> {
        self.api.get_list(&format!(
            "/admin/datastore/{}/groups{}",
            enc(store),
            ns_query(ns, '?')
        ))
    }

    /// `GET /admin/datastore/{store}/snapshots?ns=&backup-type=&backup-id=`.
    pub fn snapshots(
        &mut self,
        store: &str,
        ns: &str,
        backup_type: &str,
        backup_id: &str,
    ) -> Result<Vec<BackupSnapshot>, ProxmoxError> {
        let path = format!(
            "/admin/datastore/{}/snapshots?backup-type={}&backup-id={}{}",
            enc(store),
            enc(backup_type),
            enc(backup_id),
            ns_query(ns, '&')
        );
        self.api.get_list(&path)
    }
}

/// `ns=<ns>` only for non-root namespaces (older PBS rejects unknown parameters).
fn ns_query(ns: &str, sep: char) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!("{sep}ns={}", enc(ns))
    }
}
