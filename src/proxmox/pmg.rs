//! Proxmox Mail Gateway client (pulse-backend.md §2.6). Every method blocks.

use super::api::{enc, ApiClient};
use super::config::{ClientConfig, Product};
use super::error::ProxmoxError;
use super::pmg_types::*;

pub struct PmgClient {
    api: ApiClient,
}

impl PmgClient {
    /// No network I/O happens here. `cfg.product` must be [`Product::Pmg`].
    pub fn new(cfg: &ClientConfig) -> Result<PmgClient, ProxmoxError> {
        if cfg.product != Product::Pmg {
            return Err(ProxmoxError::Config(
                "PmgClient needs a PMG configuration".into(),
            ));
        }
        Ok(PmgClient {
            api: ApiClient::new(cfg)?,
        })
    }

    /// `GET /version`.
    pub fn version(&mut self) -> Result<Version, ProxmoxError> {
        self.api.get("/version")
    }

    /// `GET /config/cluster/status?list_single_node=1`.
    pub fn cluster_status(&mut self) -> Result<Vec<PmgClusterNode>, ProxmoxError> {
        self.api
            .get_list("/config/cluster/status?list_single_node=1")
    }

    /// `GET /nodes/{node}/postfix/queue`.
    pub fn postfix_queue(&mut self, node: &str) -> Result<PostfixQueue, ProxmoxError> {
        self.api.get(&format!("/nodes/{}/postfix/queue", enc(node)))
    }

    /// `GET /nodes/{node}/backup`.
    pub fn node_backups(&mut self, node: &str) -> Result<Vec<PmgBackup>, ProxmoxError> {
        self.api.get_list(&format!("/nodes/{}/backup", enc(node)))
    }

    /// `GET /statistics/mail` (no `timeframe` parameter: real PMG answers 400 to it).
    pub fn mail_statistics(&mut self) -> Result<MailStatistics, ProxmoxError> {
        self.api.get("/statistics/mail")
    }

    /// `GET /statistics/mailcount?timespan=<seconds>` (Pulse uses 86400: hourly points).
    pub fn mail_count(&mut self, timespan_secs: u64) -> Result<Vec<MailCountPoint>, ProxmoxError> {
        self.api
            .get_list(&format!("/statistics/mailcount?timespan={timespan_secs}"))
    }

    /// `GET /statistics/spamscores`.
    pub fn spam_scores(&mut self) -> Result<Vec<SpamScore>, ProxmoxError> {
        self.api.get_list("/statistics/spamscores")
    }

    /// `GET /quarantine/spamstatus`.
    pub fn spam_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        self.api.get("/quarantine/spamstatus")
    }

    /// `GET /quarantine/virusstatus`.
    pub fn virus_quarantine(&mut self) -> Result<QuarantineStatus, ProxmoxError> {
        self.api.get("/quarantine/virusstatus")
    }
}
