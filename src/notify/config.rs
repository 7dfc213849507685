//! What an admin configures: `email.enc`, `webhooks.enc`, `apprise.enc` (Pulse's JSON shapes,
//! AES-256-GCM like `nodes.enc`), and how secrets are masked in API answers and kept on save.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Shown instead of a secret; sent back unchanged, it means "keep the stored value".
pub const MASK: &str = "********";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailConfig {
    pub enabled: bool,
    pub provider: String,
    pub server: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: Vec<String>,
    pub tls: bool,
    #[serde(rename = "startTLS", alias = "starttls", alias = "startTls")]
    pub start_tls: bool,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: false,
            provider: String::new(),
            server: String::new(),
            port: 587,
            username: String::new(),
            password: String::new(),
            from: String::new(),
            to: Vec::new(),
            tls: true,
            start_tls: false,
        }
    }
}

impl EmailConfig {
    /// As `GET /api/notifications/email` shows it: the password never leaves.
    pub fn view(&self) -> EmailConfig {
        EmailConfig {
            password: String::new(),
            ..self.clone()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.enabled {
            if self.server.trim().is_empty() {
                return Err("server: required when email is enabled".into());
            }
            if self.port == 0 {
                return Err("port: must be 1-65535".into());
            }
            if self.from.trim().is_empty() {
                return Err("from: required when email is enabled".into());
            }
        }
        for a in self.to.iter().chain(std::iter::once(&self.from)) {
            if !a.is_empty() && a.parse::<lettre::Address>().is_err() {
                return Err(format!("invalid email address: {a}"));
            }
        }
        Ok(())
    }

    /// Recipients: `to`, or the sender when none is given (as Pulse does).
    pub fn recipients(&self) -> Vec<String> {
        let to: Vec<String> = self
            .to
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if to.is_empty() {
            vec![self.from.clone()]
        } else {
            to
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookConfig {
    pub id: String,
    pub name: String,
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub enabled: bool,
    pub service: String,
    pub template: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            id: String::new(),
            name: String::new(),
            url: String::new(),
            method: "POST".into(),
            headers: BTreeMap::new(),
            enabled: true,
            service: "generic".into(),
            template: String::new(),
            custom_fields: BTreeMap::new(),
        }
    }
}

impl WebhookConfig {
    /// As the API shows it: the URL's path and query (where services put their tokens),
    /// header values and custom fields masked.
    pub fn view(&self) -> WebhookConfig {
        WebhookConfig {
            url: mask_url(&self.url),
            headers: self
                .headers
                .keys()
                .map(|k| (k.clone(), MASK.to_string()))
                .collect(),
            custom_fields: self
                .custom_fields
                .keys()
                .map(|k| (k.clone(), MASK.to_string()))
                .collect(),
            ..self.clone()
        }
    }

    /// Takes stored secrets back where the caller sent the masked form.
    pub fn keep_secrets_from(&mut self, old: &WebhookConfig) {
        if self.url.is_empty() || self.url == mask_url(&old.url) {
            self.url = old.url.clone();
        }
        for (k, v) in self.headers.iter_mut() {
            if v == MASK {
                *v = old.headers.get(k).cloned().unwrap_or_default();
            }
        }
        for (k, v) in self.custom_fields.iter_mut() {
            if v == MASK {
                *v = old.custom_fields.get(k).cloned().unwrap_or_default();
            }
        }
    }

    pub fn normalise(&mut self) {
        self.method = if self.method.trim().is_empty() {
            "POST".into()
        } else {
            self.method.trim().to_uppercase()
        };
        if self.service.trim().is_empty() {
            self.service = "generic".into();
        }
        self.service = self.service.trim().to_lowercase();
    }
}

/// `scheme://host[:port]/********` when the URL has a path or query (where tokens live), the
/// URL itself otherwise; a templated URL is masked whole.
pub fn mask_url(url: &str) -> String {
    if url.is_empty() {
        return String::new();
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return MASK.into();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let tail = &rest[end..];
    if host.contains("{{") {
        return format!("{scheme}://{MASK}");
    }
    if tail.is_empty() || tail == "/" {
        format!("{scheme}://{host}{tail}")
    } else {
        format!("{scheme}://{host}/{MASK}")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppriseConfig {
    pub enabled: bool,
    pub mode: String,
    pub targets: Vec<String>,
    pub cli_path: String,
    pub timeout_seconds: u32,
    pub server_url: String,
    pub config_key: String,
    pub api_key: String,
    pub api_key_header: String,
    pub skip_tls_verify: bool,
}

impl Default for AppriseConfig {
    fn default() -> Self {
        AppriseConfig {
            enabled: false,
            mode: "cli".into(),
            targets: Vec::new(),
            cli_path: "apprise".into(),
            timeout_seconds: 15,
            server_url: String::new(),
            config_key: String::new(),
            api_key: String::new(),
            api_key_header: "X-API-KEY".into(),
            skip_tls_verify: false,
        }
    }
}

impl AppriseConfig {
    /// Pulse's normalisation: mode `cli`|`http`, targets trimmed and deduplicated
    /// (case-insensitively), timeout clamped to 5..120 s, disabled when it cannot work.
    pub fn normalise(&mut self) {
        self.mode = match self.mode.trim().to_lowercase().as_str() {
            "http" | "api" => "http".into(),
            _ => "cli".into(),
        };
        let mut seen = std::collections::HashSet::new();
        self.targets = self
            .targets
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
            .collect();
        if self.cli_path.trim().is_empty() {
            self.cli_path = "apprise".into();
        }
        self.timeout_seconds = if self.timeout_seconds == 0 {
            15
        } else {
            self.timeout_seconds.clamp(5, 120)
        };
        if self.api_key_header.trim().is_empty() {
            self.api_key_header = "X-API-KEY".into();
        }
        self.server_url = self.server_url.trim().trim_end_matches('/').to_string();
        if (self.mode == "cli" && self.targets.is_empty())
            || (self.mode == "http" && self.server_url.is_empty())
        {
            self.enabled = false;
        }
    }

    /// As the API shows it: the API key and the targets' secrets masked.
    pub fn view(&self) -> AppriseConfig {
        AppriseConfig {
            api_key: if self.api_key.is_empty() {
                String::new()
            } else {
                MASK.into()
            },
            targets: self.targets.iter().map(|t| mask_url(t)).collect(),
            ..self.clone()
        }
    }

    pub fn keep_secrets_from(&mut self, old: &AppriseConfig) {
        if self.api_key == MASK {
            self.api_key = old.api_key.clone();
        }
        for t in self.targets.iter_mut() {
            if let Some(o) = old.targets.iter().find(|o| mask_url(o) == *t) {
                *t = o.clone();
            }
        }
    }
}

/// Everything the notifier needs to deliver, as the loop last saved it.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    pub email: EmailConfig,
    pub webhooks: Vec<WebhookConfig>,
    pub apprise: AppriseConfig,
    /// Where the dashboard is (for links in messages), if configured.
    pub public_url: String,
    /// CIDRs webhook targets may reach although private to this host (loopback, link-local).
    pub allowed: crate::auth::client_ip::CidrList,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_keeps_secrets() {
        assert_eq!(
            mask_url("https://discord.com/api/webhooks/1/tok"),
            "https://discord.com/********"
        );
        assert_eq!(
            mask_url("http://u:p@ntfy.local:80/"),
            "http://ntfy.local:80/"
        );
        let old = WebhookConfig {
            url: "https://hooks.slack.com/services/T/B/X".into(),
            headers: [("Authorization".to_string(), "Bearer s3".to_string())].into(),
            ..WebhookConfig::default()
        };
        let mut new = old.view();
        assert!(!serde_json::to_string(&new).unwrap().contains("s3"));
        new.keep_secrets_from(&old);
        assert_eq!(new, old);
    }
}
