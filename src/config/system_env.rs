//! Environment variables that pin system settings (`DISCOVERY_ENABLED`, `BACKUP_POLLING_INTERVAL`,
//! …): the effective settings and the `envOverrides` map `GET /api/system/settings` reports, so
//! the UI can show which fields an administrator cannot change from the browser.

use crate::config::system::{EnvOverrides, SystemSettings, SystemSettingsResponse};

impl SystemSettings {
    /// The effective settings with environment variables applied, and which keys they pin.
    /// `env` is a lookup (`std::env::var(..).ok()` in production, a map in tests).
    pub fn with_env(&self, env: &dyn Fn(&str) -> Option<String>) -> (SystemSettings, EnvOverrides) {
        let mut s = self.clone();
        let mut pinned = EnvOverrides::new();
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut pin = |key: &str| {
            pinned.insert(key.to_string(), true);
        };
        if let Some(v) = get("ENABLE_BACKUP_POLLING") {
            s.backup_polling_enabled = Some(!matches!(
                v.to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            ));
            pin("ENABLE_BACKUP_POLLING");
        }
        if let Some(secs) = get("BACKUP_POLLING_INTERVAL").and_then(|v| parse_duration_secs(&v)) {
            s.backup_polling_interval = secs;
            pin("BACKUP_POLLING_INTERVAL");
        }
        if let Some(b) = get("ENABLE_TEMPERATURE_MONITORING").and_then(|v| parse_bool(&v)) {
            s.temperature_monitoring_enabled = b;
            pin("temperatureMonitoringEnabled");
        }
        if let Some(b) = get("ADAPTIVE_POLLING_ENABLED").and_then(|v| parse_bool(&v)) {
            s.adaptive_polling_enabled = Some(b);
            pin("ADAPTIVE_POLLING_ENABLED");
        }
        for (var, field) in [
            (
                "ADAPTIVE_POLLING_BASE_INTERVAL",
                &mut s.adaptive_polling_base_interval,
            ),
            (
                "ADAPTIVE_POLLING_MIN_INTERVAL",
                &mut s.adaptive_polling_min_interval,
            ),
            (
                "ADAPTIVE_POLLING_MAX_INTERVAL",
                &mut s.adaptive_polling_max_interval,
            ),
            ("DNS_CACHE_TIMEOUT", &mut s.dns_cache_timeout),
            ("CONNECTION_TIMEOUT", &mut s.connection_timeout),
        ] {
            if let Some(secs) = get(var).and_then(|v| parse_duration_secs(&v)) {
                *field = secs;
                pin(if var == "CONNECTION_TIMEOUT" {
                    "connectionTimeout"
                } else {
                    var
                });
            }
        }
        if let Some(port) = get("SSH_PORT").and_then(|v| v.parse::<u16>().ok()) {
            s.ssh_port = i64::from(port);
            pin("SSH_PORT");
        }
        if let Some(b) = get("DISCOVERY_ENABLED").and_then(|v| parse_bool(&v)) {
            s.discovery_enabled = b;
            pin("discoveryEnabled");
        }
        if let Some(v) = get("DISCOVERY_SUBNET") {
            s.discovery_subnet = v;
            pin("discoverySubnet");
        }
        let dc = &mut s.discovery_config;
        if let Some(v) = get("DISCOVERY_ENVIRONMENT_OVERRIDE") {
            dc.environment_override = v;
            pin("discoveryEnvironmentOverride");
        }
        for (var, key, list) in [
            (
                "DISCOVERY_SUBNET_ALLOWLIST",
                "discoverySubnetAllowlist",
                &mut dc.subnet_allowlist,
            ),
            (
                "DISCOVERY_SUBNET_BLOCKLIST",
                "discoverySubnetBlocklist",
                &mut dc.subnet_blocklist,
            ),
        ] {
            if let Some(v) = get(var) {
                *list = v
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect();
                pin(key);
            }
        }
        for (var, key, field) in [
            (
                "DISCOVERY_MAX_HOSTS_PER_SCAN",
                "discoveryMaxHostsPerScan",
                &mut dc.max_hosts_per_scan,
            ),
            (
                "DISCOVERY_MAX_CONCURRENT",
                "discoveryMaxConcurrent",
                &mut dc.max_concurrent,
            ),
            (
                "DISCOVERY_DIAL_TIMEOUT_MS",
                "discoveryDialTimeoutMs",
                &mut dc.dial_timeout_ms,
            ),
            (
                "DISCOVERY_HTTP_TIMEOUT_MS",
                "discoveryHttpTimeoutMs",
                &mut dc.http_timeout_ms,
            ),
        ] {
            if let Some(n) = get(var)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|n| *n > 0)
            {
                *field = n;
                pin(key);
            }
        }
        for (var, key, field) in [
            (
                "DISCOVERY_ENABLE_REVERSE_DNS",
                "discoveryEnableReverseDns",
                &mut dc.enable_reverse_dns,
            ),
            (
                "DISCOVERY_SCAN_GATEWAYS",
                "discoveryScanGateways",
                &mut dc.scan_gateways,
            ),
        ] {
            if let Some(b) = get(var).and_then(|v| parse_bool(&v)) {
                *field = b;
                pin(key);
            }
        }
        for (var, key, field) in [
            ("LOG_LEVEL", "logLevel", &mut s.log_level),
            ("ALLOWED_ORIGINS", "allowedOrigins", &mut s.allowed_origins),
        ] {
            if let Some(v) = get(var) {
                *field = v;
                pin(key);
            }
        }
        for (var, key) in [
            ("BACKUP_POLLING_CYCLES", "BACKUP_POLLING_CYCLES"),
            ("LOG_FORMAT", "logFormat"),
            ("PULSE_PUBLIC_URL", "publicURL"),
            ("API_TOKEN", "API_TOKEN"),
            ("API_TOKENS", "API_TOKENS"),
            (
                "GUEST_METADATA_MIN_REFRESH_INTERVAL",
                "GUEST_METADATA_MIN_REFRESH_INTERVAL",
            ),
            (
                "GUEST_METADATA_REFRESH_JITTER",
                "GUEST_METADATA_REFRESH_JITTER",
            ),
            (
                "GUEST_METADATA_RETRY_BACKOFF",
                "GUEST_METADATA_RETRY_BACKOFF",
            ),
            (
                "GUEST_METADATA_MAX_CONCURRENT",
                "GUEST_METADATA_MAX_CONCURRENT",
            ),
        ] {
            if get(var).is_some() {
                pin(key);
            }
        }
        (s, pinned)
    }

    pub fn response(&self, env: &dyn Fn(&str) -> Option<String>) -> SystemSettingsResponse {
        let (settings, env_overrides) = self.with_env(env);
        SystemSettingsResponse {
            settings,
            env_overrides,
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Seconds from `"90"` or a Go duration (`"90s"`, `"5m"`, `"1h30m"`, `"500ms"` rounds down).
pub fn parse_duration_secs(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let mut total_ms: i64 = 0;
    let mut rest = v;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return None;
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
        rest = &rest[len..];
    }
    Some(total_ms / 1000)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_pin_and_apply() {
        let env = |k: &str| match k {
            "DISCOVERY_ENABLED" => Some("true".to_string()),
            "ENABLE_TEMPERATURE_MONITORING" => Some("false".to_string()),
            "BACKUP_POLLING_INTERVAL" => Some("5m".to_string()),
            "DISCOVERY_MAX_CONCURRENT" => Some("7".to_string()),
            _ => None,
        };
        let r = SystemSettings::default().response(&env);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["discoveryEnabled"], true);
        assert_eq!(v["temperatureMonitoringEnabled"], false);
        assert_eq!(v["backupPollingInterval"], 300);
        assert_eq!(v["discoveryConfig"]["max_concurrent"], 7);
        let o = &v["envOverrides"];
        for k in [
            "discoveryEnabled",
            "temperatureMonitoringEnabled",
            "BACKUP_POLLING_INTERVAL",
            "discoveryMaxConcurrent",
        ] {
            assert_eq!(o[k], true, "{k}");
        }
        assert!(o.get("logLevel").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("90"), Some(90));
        assert_eq!(parse_duration_secs("1h30m"), Some(5400));
        assert_eq!(parse_duration_secs("1500ms"), Some(1));
        assert_eq!(parse_duration_secs("5x"), None);
    }
}
