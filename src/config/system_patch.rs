//! The checks around a settings update (`POST /api/system/settings/update`, `PUT
//! /api/config/system`) that Pulse itself skips: a key we do not know, a read-only key given a new
//! value, or a key an environment variable pins would all answer `{"success": true}` there while
//! nothing changes, so a client believes a change that never happened. Here each is a 400 naming
//! the key, and nothing of the patch is applied.

use crate::config::error::ConfigError;
use crate::config::system::SystemSettings;
use serde_json::Value;

/// Keys `apply_update` changes.
pub const WRITABLE: [&str; 19] = [
    "metricsRetentionDays",
    "pbsPollingInterval",
    "pmgPollingInterval",
    "backupPollingInterval",
    "backupPollingEnabled",
    "autoUpdateCheckInterval",
    "connectionTimeout",
    "autoUpdateEnabled",
    "discoveryEnabled",
    "allowEmbedding",
    "temperatureMonitoringEnabled",
    "theme",
    "updateChannel",
    "autoUpdateTime",
    "allowedOrigins",
    "discoverySubnet",
    "allowedEmbedOrigins",
    "discoveryConfig",
    "webhookAllowedCIDRs",
];

/// Keys the settings responses show but an update cannot change (they come from the environment
/// or the command line). A client that read the settings and sends them back unchanged is fine;
/// a new value is refused.
pub const READ_ONLY: [&str; 10] = [
    "adaptivePollingEnabled",
    "adaptivePollingBaseInterval",
    "adaptivePollingMinInterval",
    "adaptivePollingMaxInterval",
    "backendPort",
    "frontendPort",
    "logLevel",
    "dnsCacheTimeout",
    "sshPort",
    "envOverrides",
];

/// A value the responses omit (Go `omitempty`) reads back as its zero.
fn is_zeroish(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

impl SystemSettings {
    /// [`SystemSettings::apply_update`] with the strict checks: unknown keys, read-only keys with a
    /// value none of `views` (what the GET endpoints show) holds, and keys pinned by `env` whose
    /// effective value would not become the requested one are refused before anything changes.
    pub fn apply_checked(
        &mut self,
        patch: &Value,
        env: &dyn Fn(&str) -> Option<String>,
        views: &[Value],
    ) -> Result<Vec<&'static str>, ConfigError> {
        let obj = patch.as_object().ok_or_else(|| {
            ConfigError::Invalid("Request body must be a JSON object".to_string())
        })?;
        for (key, value) in obj {
            if WRITABLE.contains(&key.as_str()) {
                continue;
            }
            if !READ_ONLY.contains(&key.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "unknown setting {key:?}: nothing was changed"
                )));
            }
            if key == "envOverrides" {
                continue;
            }
            let shown = views.iter().any(|view| match view.get(key) {
                Some(v) => v == value,
                None => is_zeroish(value),
            });
            if !shown {
                return Err(ConfigError::Invalid(format!(
                    "setting {key:?} is read-only (set by the environment or the command line): nothing was changed"
                )));
            }
        }
        let mut next = self.clone();
        let changed = next.apply_update(patch)?;
        // A key pinned by the environment keeps its environment value whatever the file says.
        let (effective, _) = next.with_env(env);
        let old = serde_json::to_value(&*self).unwrap_or(Value::Null);
        let stored = serde_json::to_value(&next).unwrap_or(Value::Null);
        let effective = serde_json::to_value(&effective).unwrap_or(Value::Null);
        // Every key the patch names, changed or not: `false` sent for a key the environment
        // pins to `true` changes nothing stored, yet the caller must learn it did not apply.
        let named = obj.keys().map(String::as_str);
        for key in changed.iter().copied().chain(named) {
            let masked = masked_by_env(old.get(key), stored.get(key), effective.get(key));
            if let Some(sub) = masked {
                let name = match sub {
                    Some(sub) => format!("{key}.{sub}"),
                    None => key.to_string(),
                };
                return Err(ConfigError::Invalid(format!(
                    "setting {name:?} is set by an environment variable (see envOverrides): nothing was changed"
                )));
            }
        }
        *self = next;
        Ok(changed)
    }
}

/// `Some(None)` when the stored value differs from the effective one (an environment variable
/// wins), `Some(Some(field))` for a changed field of an object value (`discoveryConfig`).
fn masked_by_env(
    old: Option<&Value>,
    stored: Option<&Value>,
    effective: Option<&Value>,
) -> Option<Option<String>> {
    match (stored, effective) {
        (Some(Value::Object(s)), Some(Value::Object(e))) => s
            .iter()
            .find(|(k, v)| old.and_then(|o| o.get(*k)) != Some(*v) && e.get(*k) != Some(*v))
            .map(|(k, _)| Some(k.clone())),
        (s, e) if s != e => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn unknown_key_is_refused_and_nothing_applies() {
        let mut s = SystemSettings::default();
        let before = s.clone();
        let err = s
            .apply_checked(
                &json!({"theme":"dark","pvePollingInterval":5}),
                &no_env,
                &[],
            )
            .unwrap_err();
        assert!(err.to_string().contains("pvePollingInterval"), "{err}");
        assert_eq!(err.http_status(), 400);
        assert_eq!(s, before);
        assert_eq!(
            s.apply_checked(&json!({"theme":"dark"}), &no_env, &[])
                .unwrap(),
            ["theme"]
        );
    }

    #[test]
    fn read_only_keys_round_trip_but_never_change() {
        let mut s = SystemSettings::default();
        let view = json!({"frontendPort": 7655, "logLevel": "info"});
        s.apply_checked(
            &json!({"frontendPort":7655,"logLevel":"info","envOverrides":{},"sshPort":0}),
            &no_env,
            std::slice::from_ref(&view),
        )
        .unwrap();
        let err = s
            .apply_checked(&json!({"frontendPort":9000}), &no_env, &[view])
            .unwrap_err();
        assert!(err.to_string().contains("frontendPort"), "{err}");
    }

    #[test]
    fn env_pinned_key_is_refused_unless_it_matches() {
        let env = |k: &str| (k == "DISCOVERY_ENABLED").then(|| "true".to_string());
        let mut s = SystemSettings::default();
        let err = s
            .apply_checked(&json!({"discoveryEnabled":false,"theme":"dark"}), &env, &[])
            .unwrap_err();
        assert!(err.to_string().contains("discoveryEnabled"), "{err}");
        assert_eq!(s, SystemSettings::default());
        // Sending the pinned value back (a GET → PUT round trip) is fine.
        s.apply_checked(&json!({"discoveryEnabled":true}), &env, &[])
            .unwrap();
        let env = |k: &str| (k == "DISCOVERY_MAX_CONCURRENT").then(|| "7".to_string());
        // Another field of the same object is not pinned.
        s.apply_checked(
            &json!({"discoveryConfig":{"dial_timeout_ms":900}}),
            &env,
            &[],
        )
        .unwrap();
        let err = s
            .apply_checked(&json!({"discoveryConfig":{"max_concurrent":9}}), &env, &[])
            .unwrap_err();
        assert!(
            err.to_string().contains("discoveryConfig.max_concurrent"),
            "{err}"
        );
    }
}
