//! Every delivery (alert, resolution, test) with its outcome: bounded, owned by the loop, saved
//! as `notification-history.json` through the writer. Targets are recorded masked (a webhook
//! URL's path holds its token), so the history can be shown and exported as it is.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

pub const FILE: &str = "notification-history.json";
/// Entries kept (oldest dropped first).
pub const CAP: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `webhook`, `email`, `apprise`.
    pub channel: String,
    /// The webhook's name, the recipients, or `apprise`.
    pub name: String,
    /// Masked target (`https://discord.com/********`, the SMTP server, the Apprise mode).
    pub target: String,
    pub service: String,
    /// `alert`, `resolved`, `test`.
    pub kind: String,
    pub alert_ids: Vec<String>,
    pub timestamp: String,
    pub status_code: u16,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Attempts after the first.
    pub retry_attempts: u32,
    pub payload_size: usize,
}

impl Entry {
    /// Pulse's `WebhookDelivery` shape (`GET /api/notifications/webhook-history`).
    pub fn webhook_view(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "webhookName": self.name,
            "webhookUrl": self.target,
            "service": self.service,
            "alertId": self.alert_ids.first().cloned().unwrap_or_default(),
            "timestamp": self.timestamp,
            "statusCode": self.status_code,
            "success": self.success,
            "retryAttempts": self.retry_attempts,
            "payloadSize": self.payload_size,
        });
        if let Some(e) = &self.error_message {
            v["errorMessage"] = serde_json::json!(e);
        }
        v
    }
}

#[derive(Debug, Default)]
pub struct History {
    entries: VecDeque<Entry>,
}

impl History {
    /// Reads the saved history (a damaged file is ignored: it is a log, not configuration).
    pub fn load(dir: &Path) -> History {
        let entries = std::fs::read(dir.join(FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<VecDeque<Entry>>(&b).ok())
            .unwrap_or_default();
        let mut h = History { entries };
        h.trim();
        h
    }

    pub fn push(&mut self, e: Entry) {
        self.entries.push_back(e);
        self.trim();
    }

    fn trim(&mut self) {
        while self.entries.len() > CAP {
            self.entries.pop_front();
        }
    }

    /// Newest first.
    pub fn newest(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().rev()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&self.entries).unwrap_or_default()
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }
}
