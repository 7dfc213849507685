//! Notifications: email, webhooks (built-in service payloads and custom Go-syntax templates),
//! Apprise; delivered by ONE notifier thread fed by the alerts engine through a bounded queue.
//!
//! - `config.rs`: `email.enc`, `webhooks.enc`, `apprise.enc` (AES-256-GCM like `nodes.enc`),
//!   masking of secrets in answers; `template.rs`: the Go-template subset; `payloads.rs`: template
//!   data, built-in service templates, the finished request; `ssrf.rs`: where a webhook may
//!   point; `webhook.rs` / `email.rs` / `apprise.rs`: one attempt each; `delivery.rs`: the
//!   notifier thread (grouping, retries, backoff, `Retry-After`, rate limit per destination);
//!   `history.rs`: every outcome, bounded, saved by the writer.
//! - The loop side (`core/notifying.rs`) owns [`Service`]: the configuration (saved through the
//!   writer), the history, and the sender to the thread.

pub mod apprise;
pub mod config;
pub mod delivery;
pub mod email;
pub mod history;
pub mod payloads;
pub mod ssrf;
pub mod template;
pub mod template_funcs;
pub mod webhook;

use crate::auth::client_ip::CidrList;
use crate::config::persist::crypto::Cipher;
use config::{AppriseConfig, Channels, EmailConfig, WebhookConfig};
use delivery::{Cmd, Tuning};
use std::path::Path;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;

pub const EMAIL_FILE: &str = "email.enc";
pub const WEBHOOKS_FILE: &str = "webhooks.enc";
pub const APPRISE_FILE: &str = "apprise.enc";
/// Batches of events waiting for the notifier thread.
pub const QUEUE: usize = 256;

/// What the loop owns about notifications.
pub struct Service {
    pub email: EmailConfig,
    pub webhooks: Vec<WebhookConfig>,
    pub apprise: AppriseConfig,
    pub history: history::History,
    pub tuning: Tuning,
    /// `PULSE_WEBHOOK_ALLOWED_CIDRS` as validated at start-up (the system setting adds to it).
    pub env_cidrs: String,
    pub public_url: String,
    /// `PULSE_SMTP_CA_FILE`'s PEM, read at start-up.
    pub smtp_ca: Option<Vec<u8>>,
    tx: Option<SyncSender<Cmd>>,
    /// The `webhookAllowedCIDRs` setting the thread last got.
    pub pushed_setting: String,
    /// Event batches the full queue refused (logged and counted).
    pub dropped: u64,
}

impl Service {
    /// Loads the three files (a file that cannot be opened is reported and defaults used).
    pub fn open(
        dir: &Path,
        cipher: Option<&Cipher>,
        get: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Service {
        let mut s = Service {
            email: EmailConfig::default(),
            webhooks: Vec::new(),
            apprise: AppriseConfig::default(),
            history: history::History::load(dir),
            tuning: Tuning::from_lookup(get),
            env_cidrs: String::new(),
            public_url: get("PULSE_PUBLIC_URL").unwrap_or_default(),
            smtp_ca: None,
            tx: None,
            pushed_setting: String::new(),
            dropped: 0,
        };
        let env = get("PULSE_WEBHOOK_ALLOWED_CIDRS").unwrap_or_default();
        match CidrList::parse(&env) {
            Ok(_) => s.env_cidrs = env,
            Err(e) => warnings.push(format!("PULSE_WEBHOOK_ALLOWED_CIDRS ignored: {e}")),
        }
        if let Some(path) = get("PULSE_SMTP_CA_FILE").filter(|p| !p.is_empty()) {
            match std::fs::read(&path) {
                Ok(pem) => s.smtp_ca = Some(pem),
                Err(e) => warnings.push(format!("PULSE_SMTP_CA_FILE {path}: {e}")),
            }
        }
        let Some(cipher) = cipher else { return s };
        if let Some(v) = read_enc::<EmailConfig>(dir, cipher, EMAIL_FILE, warnings) {
            s.email = v;
        }
        if let Some(v) = read_enc::<Vec<WebhookConfig>>(dir, cipher, WEBHOOKS_FILE, warnings) {
            s.webhooks = v;
            for w in &mut s.webhooks {
                w.normalise();
            }
        }
        if let Some(mut v) = read_enc::<AppriseConfig>(dir, cipher, APPRISE_FILE, warnings) {
            v.normalise();
            s.apprise = v;
        }
        s
    }

    /// Before start-up loads the files (`App::start_notifier`).
    pub fn idle(dir: &Path) -> Service {
        Service::open(dir, None, &|_| None, &mut Vec::new())
    }

    pub fn attach(&mut self, tx: SyncSender<Cmd>) {
        self.tx = Some(tx);
    }

    /// The allowed CIDRs: the environment's plus the system setting's.
    pub fn allowed(&self, setting: &str) -> CidrList {
        CidrList::parse(&format!("{},{setting}", self.env_cidrs))
            .or_else(|_| CidrList::parse(&self.env_cidrs))
            .unwrap_or_default()
    }

    /// A snapshot for the notifier thread and the test endpoints.
    pub fn channels(&self, allowed: CidrList) -> Channels {
        Channels {
            email: self.email.clone(),
            webhooks: self.webhooks.clone(),
            apprise: self.apprise.clone(),
            public_url: self.public_url.clone(),
            allowed,
        }
    }

    /// Hands a command to the thread; a full queue drops it (counted), never blocks the loop.
    pub fn send(&mut self, cmd: Cmd) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(cmd) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped += 1;
                false
            }
        }
    }

    pub fn sealed(cipher: &Cipher, value: &impl serde::Serialize) -> Result<Vec<u8>, String> {
        let plain = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        cipher.seal(&plain).map_err(|e| e.to_string())
    }
}

fn read_enc<T: serde::de::DeserializeOwned>(
    dir: &Path,
    cipher: &Cipher,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let bytes = std::fs::read(dir.join(name)).ok()?;
    let plain = match cipher.open(&bytes, name) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("{name}: {e}; notifications of this kind are off"));
            return None;
        }
    };
    match serde_json::from_slice(&plain) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("{name}: {e}; using defaults"));
            None
        }
    }
}

/// Starts the notifier thread; `report` receives every outcome (posted to the loop).
pub fn start_thread(
    tuning: Tuning,
    smtp_ca: Option<Vec<u8>>,
    report: delivery::Report,
) -> std::io::Result<SyncSender<Cmd>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    let n = delivery::Notifier::new(tx.clone(), rx, tuning, smtp_ca, report);
    std::thread::Builder::new()
        .name("notifier".into())
        .spawn(move || n.run())?;
    Ok(tx)
}

/// For `Arc` snapshots.
pub type Shared = Arc<Channels>;
