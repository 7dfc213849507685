//! System settings (`system.json`, `GET/POST /api/system/settings…`): Pulse's defaults, its
//! validation of partial updates, and which settings are pinned by environment variables.

use crate::config::error::ConfigError;
use crate::config::model::nodes::null_as_default;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Discovery tuning, snake_case on the wire as in Pulse (camelCase accepted on input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiscoveryConfig {
    #[serde(alias = "environmentOverride")]
    pub environment_override: String,
    #[serde(alias = "subnetAllowlist", deserialize_with = "null_as_default")]
    pub subnet_allowlist: Vec<String>,
    #[serde(alias = "subnetBlocklist", deserialize_with = "null_as_default")]
    pub subnet_blocklist: Vec<String>,
    #[serde(alias = "maxHostsPerScan")]
    pub max_hosts_per_scan: i64,
    #[serde(alias = "maxConcurrent")]
    pub max_concurrent: i64,
    #[serde(alias = "enableReverseDns")]
    pub enable_reverse_dns: bool,
    #[serde(alias = "scanGateways")]
    pub scan_gateways: bool,
    #[serde(alias = "dialTimeoutMs")]
    pub dial_timeout_ms: i64,
    #[serde(alias = "httpTimeoutMs")]
    pub http_timeout_ms: i64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            environment_override: "auto".to_string(),
            subnet_allowlist: Vec::new(),
            subnet_blocklist: vec!["169.254.0.0/16".to_string()],
            max_hosts_per_scan: 1024,
            max_concurrent: 50,
            enable_reverse_dns: true,
            scan_gateways: true,
            dial_timeout_ms: 1000,
            http_timeout_ms: 2000,
        }
    }
}

/// `system.json`. Optional Go fields (`omitempty`) are zero/empty when unset and omitted on write;
/// keys we do not know are dropped, as Pulse does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SystemSettings {
    pub pbs_polling_interval: i64,
    pub pmg_polling_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub backup_polling_interval: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_polling_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_polling_enabled: Option<bool>,
    #[serde(skip_serializing_if = "is_zero")]
    pub adaptive_polling_base_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub adaptive_polling_min_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub adaptive_polling_max_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub backend_port: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub frontend_port: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub allowed_origins: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub connection_timeout: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub update_channel: String,
    pub auto_update_enabled: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub auto_update_check_interval: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auto_update_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_level: String,
    pub discovery_enabled: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub discovery_subnet: String,
    pub discovery_config: DiscoveryConfig,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub theme: String,
    pub allow_embedding: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub allowed_embed_origins: String,
    pub temperature_monitoring_enabled: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub dns_cache_timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub ssh_port: i64,
    /// CIDRs webhooks may reach although loopback/link-local (`PULSE_WEBHOOK_ALLOWED_CIDRS` adds).
    #[serde(
        rename = "webhookAllowedCIDRs",
        skip_serializing_if = "String::is_empty"
    )]
    pub webhook_allowed_cidrs: String,
    /// Days of metric history kept (1–7; 0 = the default, 7: the history rings' span).
    #[serde(skip_serializing_if = "is_zero")]
    pub metrics_retention_days: i64,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            pbs_polling_interval: 60,
            pmg_polling_interval: 60,
            backup_polling_interval: 0,
            backup_polling_enabled: None,
            adaptive_polling_enabled: None,
            adaptive_polling_base_interval: 0,
            adaptive_polling_min_interval: 0,
            adaptive_polling_max_interval: 0,
            backend_port: 0,
            frontend_port: 0,
            allowed_origins: String::new(),
            connection_timeout: 0,
            update_channel: String::new(),
            auto_update_enabled: false,
            auto_update_check_interval: 0,
            auto_update_time: String::new(),
            log_level: String::new(),
            discovery_enabled: false,
            discovery_subnet: "auto".to_string(),
            discovery_config: DiscoveryConfig::default(),
            theme: String::new(),
            allow_embedding: false,
            allowed_embed_origins: String::new(),
            temperature_monitoring_enabled: true,
            dns_cache_timeout: 300,
            ssh_port: 0,
            webhook_allowed_cidrs: String::new(),
            metrics_retention_days: 0,
        }
    }
}

/// Settings pinned by environment variables, keyed as Pulse reports them in `envOverrides`.
pub type EnvOverrides = BTreeMap<String, bool>;

/// `GET /api/system/settings`: effective settings plus the env-pinned keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemSettingsResponse {
    #[serde(flatten)]
    pub settings: SystemSettings,
    pub env_overrides: EnvOverrides,
}

impl SystemSettings {
    pub fn decode(json: &[u8]) -> Result<SystemSettings, ConfigError> {
        let err = |reason: String| ConfigError::Parse {
            what: "system.json".to_string(),
            reason,
        };
        // Serde would accept a JSON array as a struct; system.json is always an object.
        let value: Value = serde_json::from_slice(json).map_err(|e| err(e.to_string()))?;
        if !value.is_object() {
            return Err(err("expected a JSON object".to_string()));
        }
        serde_json::from_value(value).map_err(|e| err(e.to_string()))
    }

    pub fn encode(&self) -> Result<Vec<u8>, ConfigError> {
        serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Parse {
            what: "system.json".to_string(),
            reason: e.to_string(),
        })
    }

    /// Applies a partial update (`POST /api/system/settings/update`). The whole patch is validated
    /// before anything changes; only keys present change, strings only when non-empty (except
    /// `allowedEmbedOrigins`, which may be cleared). Returns the camelCase keys that changed, so
    /// the caller can apply them at run time. Unknown or read-only keys are ignored, as in Pulse.
    pub fn apply_update(&mut self, patch: &Value) -> Result<Vec<&'static str>, ConfigError> {
        let obj = patch.as_object().ok_or_else(|| {
            ConfigError::Invalid("Request body must be a JSON object".to_string())
        })?;
        let mut next = self.clone();
        next.pbs_polling_interval =
            int_in(obj, "pbsPollingInterval", &[(10, 3600)])?.unwrap_or(next.pbs_polling_interval);
        next.pmg_polling_interval =
            int_in(obj, "pmgPollingInterval", &[(10, 3600)])?.unwrap_or(next.pmg_polling_interval);
        next.backup_polling_interval =
            int_in(obj, "backupPollingInterval", &[(0, 0), (10, 604_800)])?
                .unwrap_or(next.backup_polling_interval);
        next.auto_update_check_interval = int_in(obj, "autoUpdateCheckInterval", &[(0, 168)])?
            .unwrap_or(next.auto_update_check_interval);
        next.connection_timeout =
            int_in(obj, "connectionTimeout", &[(0, 300)])?.unwrap_or(next.connection_timeout);
        next.metrics_retention_days =
            int_in(obj, "metricsRetentionDays", &[(0, 7)])?.unwrap_or(next.metrics_retention_days);
        next.auto_update_enabled =
            boolean(obj, "autoUpdateEnabled")?.unwrap_or(next.auto_update_enabled);
        next.discovery_enabled =
            boolean(obj, "discoveryEnabled")?.unwrap_or(next.discovery_enabled);
        next.allow_embedding = boolean(obj, "allowEmbedding")?.unwrap_or(next.allow_embedding);
        next.temperature_monitoring_enabled = boolean(obj, "temperatureMonitoringEnabled")?
            .unwrap_or(next.temperature_monitoring_enabled);
        if let Some(b) = boolean(obj, "backupPollingEnabled")? {
            next.backup_polling_enabled = Some(b);
        }
        if let Some(t) = non_empty(obj, "theme")? {
            one_of("theme", &t, &["light", "dark"])?;
            next.theme = t;
        }
        if let Some(c) = non_empty(obj, "updateChannel")? {
            one_of("updateChannel", &c, &["stable", "rc"])?;
            next.update_channel = c;
        }
        if let Some(t) = non_empty(obj, "autoUpdateTime")? {
            if !is_hh_mm(&t) {
                return Err(ConfigError::Invalid(
                    "autoUpdateTime must be HH:MM (24-hour)".to_string(),
                ));
            }
            next.auto_update_time = t;
        }
        if let Some(o) = non_empty(obj, "allowedOrigins")? {
            next.allowed_origins = o;
        }
        if let Some(s) = non_empty(obj, "discoverySubnet")? {
            if s != "auto" {
                for cidr in s.split(',') {
                    parse_cidr(cidr.trim())
                        .map_err(|e| ConfigError::Invalid(format!("discoverySubnet: {e}")))?;
                }
            }
            next.discovery_subnet = s;
        }
        if let Some(v) = obj.get("allowedEmbedOrigins") {
            next.allowed_embed_origins = v
                .as_str()
                .ok_or_else(|| {
                    ConfigError::Invalid("allowedEmbedOrigins must be a string".to_string())
                })?
                .trim()
                .to_string();
        }
        if let Some(v) = obj.get("webhookAllowedCIDRs") {
            let list = v.as_str().ok_or_else(|| {
                ConfigError::Invalid("webhookAllowedCIDRs must be a string".to_string())
            })?;
            crate::auth::client_ip::CidrList::parse(list)
                .map_err(|e| ConfigError::Invalid(format!("webhookAllowedCIDRs: {e}")))?;
            next.webhook_allowed_cidrs = list.trim().to_string();
        }
        if let Some(v) = obj.get("discoveryConfig") {
            next.discovery_config = merge_discovery(&next.discovery_config, v)?;
        }
        let changed = next.changed_keys(self);
        *self = next;
        Ok(changed)
    }

    fn changed_keys(&self, old: &SystemSettings) -> Vec<&'static str> {
        let (new, old) = (
            serde_json::to_value(self).unwrap_or(Value::Null),
            serde_json::to_value(old).unwrap_or(Value::Null),
        );
        // The writable keys are the only ones an update can move.
        crate::config::system_patch::WRITABLE
            .into_iter()
            .filter(|k| new.get(k) != old.get(k))
            .collect()
    }
}

fn int_in(
    obj: &Map<String, Value>,
    key: &str,
    ranges: &[(i64, i64)],
) -> Result<Option<i64>, ConfigError> {
    let Some(v) = obj.get(key) else {
        return Ok(None);
    };
    let n = v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    });
    let describe = || {
        ranges
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(" or ")
    };
    match n {
        Some(n) if ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n)) => Ok(Some(n)),
        _ => Err(ConfigError::Invalid(format!(
            "{key} must be a whole number in {}",
            describe()
        ))),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, ConfigError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ConfigError::Invalid(format!("{key} must be true or false"))),
    }
}

fn non_empty(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(ConfigError::Invalid(format!("{key} must be a string"))),
    }
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "{key} must be one of: {}",
            allowed.join(", ")
        )))
    }
}

fn is_hh_mm(s: &str) -> bool {
    let Some((h, m)) = s.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

fn merge_discovery(
    current: &DiscoveryConfig,
    patch: &Value,
) -> Result<DiscoveryConfig, ConfigError> {
    let invalid = |m: &str| ConfigError::Invalid(format!("discoveryConfig: {m}"));
    let obj = patch
        .as_object()
        .ok_or_else(|| invalid("must be an object"))?;
    // Merge the patch over the current values, then decode: keys absent keep their values.
    let mut merged = match serde_json::to_value(current) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in obj {
        let snake = to_snake(k);
        if merged.contains_key(&snake) {
            merged.insert(snake, v.clone());
        }
    }
    let dc: DiscoveryConfig =
        serde_json::from_value(Value::Object(merged)).map_err(|e| invalid(&e.to_string()))?;
    for cidr in dc.subnet_allowlist.iter().chain(&dc.subnet_blocklist) {
        parse_cidr(cidr).map_err(|e| invalid(&e))?;
    }
    one_of(
        "discoveryConfig.environment_override",
        &dc.environment_override,
        &[
            "auto",
            "native",
            "docker_host",
            "docker_bridge",
            "lxc_privileged",
            "lxc_unprivileged",
        ],
    )?;
    if dc.max_hosts_per_scan <= 0 {
        return Err(invalid("max_hosts_per_scan must be greater than 0"));
    }
    if !(1..=1000).contains(&dc.max_concurrent) {
        return Err(invalid("max_concurrent must be between 1 and 1000"));
    }
    if dc.dial_timeout_ms <= 0 || dc.http_timeout_ms <= 0 {
        return Err(invalid("timeouts must be greater than 0"));
    }
    Ok(dc)
}

fn to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses an IPv4 CIDR (`a.b.c.d/n`) into (network, prefix length).
pub fn parse_cidr(s: &str) -> Result<(std::net::Ipv4Addr, u8), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a CIDR (a.b.c.d/n)"))?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{s:?}: invalid IPv4 address"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|n| *n <= 32)
        .ok_or_else(|| format!("{s:?}: prefix must be 0-32"))?;
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_missing_keys_and_unknown_keys_drop() {
        let s = SystemSettings::decode(br#"{"pbsPollingInterval":120,"mystery":1}"#).unwrap();
        assert_eq!(s.pbs_polling_interval, 120);
        assert_eq!(s.pmg_polling_interval, 60);
        assert!(s.temperature_monitoring_enabled);
        assert_eq!(s.discovery_config.max_concurrent, 50);
        let text = String::from_utf8(s.encode().unwrap()).unwrap();
        assert!(!text.contains("mystery") && text.contains("\"autoUpdateEnabled\": false"));
        assert!(text.contains("\"max_hosts_per_scan\""));
        assert_eq!(SystemSettings::decode(text.as_bytes()).unwrap(), s);
        assert!(SystemSettings::decode(b"[1]").is_err());
    }

    #[test]
    fn partial_update_changes_only_given_keys() {
        let mut s = SystemSettings::default();
        let changed = s
            .apply_update(&json!({"theme":"dark","pmgPollingInterval":30}))
            .unwrap();
        assert_eq!(changed, ["pmgPollingInterval", "theme"]);
        assert_eq!(
            (
                s.theme.as_str(),
                s.pmg_polling_interval,
                s.pbs_polling_interval
            ),
            ("dark", 30, 60)
        );
        // Empty strings do not clear, except allowedEmbedOrigins.
        s.allowed_embed_origins = "https://a".into();
        s.apply_update(&json!({"theme":"","allowedEmbedOrigins":""}))
            .unwrap();
        assert_eq!(
            (s.theme.as_str(), s.allowed_embed_origins.as_str()),
            ("dark", "")
        );
        s.apply_update(&json!({"discoveryConfig":{"maxConcurrent":10}}))
            .unwrap();
        assert_eq!(s.discovery_config.max_concurrent, 10);
        assert_eq!(s.discovery_config.dial_timeout_ms, 1000);
    }

    #[test]
    fn invalid_updates_change_nothing() {
        let mut s = SystemSettings::default();
        let before = s.clone();
        for (patch, needle) in [
            (json!({"pbsPollingInterval":5}), "pbsPollingInterval"),
            (json!({"backupPollingInterval":5}), "0 or 10-604800"),
            (json!({"theme":"pink","pmgPollingInterval":30}), "theme"),
            (json!({"updateChannel":"beta"}), "updateChannel"),
            (json!({"discoveryEnabled":"yes"}), "true or false"),
            (json!({"connectionTimeout":301}), "connectionTimeout"),
            (json!({"autoUpdateTime":"25:00"}), "HH:MM"),
            (json!({"discoverySubnet":"10.0.0.0/33"}), "prefix"),
            (
                json!({"discoveryConfig":{"max_concurrent":0}}),
                "max_concurrent",
            ),
            (
                json!({"discoveryConfig":{"subnet_blocklist":["nope"]}}),
                "CIDR",
            ),
            (json!({"discoveryConfig":[]}), "object"),
            (json!([1]), "object"),
        ] {
            let err = s.apply_update(&patch).unwrap_err();
            assert!(err.to_string().contains(needle), "{patch}: {err}");
            assert_eq!(err.http_status(), 400);
            assert_eq!(s, before, "{patch} must not change anything");
        }
    }
}
