//! Run-time configuration from the environment, exactly as Pulse users know it.
//!
//! Sources, highest precedence first: the process environment, then `<data dir>/.env`
//! (loaded without overriding anything already set). Invalid values stop start-up with a
//! message naming the variable and the accepted values.

use crate::log::Level;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_DATA_DIR: &str = "/etc/pulse";
pub const DEFAULT_PORT: u16 = 7655;

/// The merged environment: process variables plus those the data dir's `.env` added.
#[derive(Debug, Clone, Default)]
pub struct EnvVars {
    vars: BTreeMap<String, String>,
    /// Keys whose value came from `.env` rather than the process environment.
    from_file: Vec<String>,
}

impl EnvVars {
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> EnvVars {
        EnvVars {
            vars: pairs.into_iter().collect(),
            from_file: Vec::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// True when the variable is present (even if empty).
    pub fn is_set(&self, key: &str) -> bool {
        self.vars.contains_key(key)
    }

    pub fn came_from_env_file(&self, key: &str) -> bool {
        self.from_file.iter().any(|k| k == key)
    }

    /// Adds the `.env` entries that the process environment does not already set.
    fn merge_env_file(&mut self, entries: Vec<(String, String)>) {
        for (k, v) in entries {
            if !self.vars.contains_key(&k) {
                self.from_file.push(k.clone());
                self.vars.insert(k, v);
            }
        }
    }

    /// Parses an optional boolean variable.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, EnvError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| EnvError::invalid(key, v, "true, false, 1, 0, yes, no, on, off")),
        }
    }

    /// Parses an optional whole number in `0..=max`.
    pub fn count(&self, key: &str, max: u64) -> Result<Option<u64>, EnvError> {
        self.whole(key, 0..=max, &format!("a whole number 0–{max}"))
    }

    /// Parses an optional whole number within `range`; `accepted` describes it in the error.
    pub fn whole(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        accepted: &str,
    ) -> Result<Option<u64>, EnvError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| EnvError::invalid(key, v, accepted)),
        }
    }

    /// Parses an optional duration given in seconds (`30`) or Go style (`30s`, `2m`, `1h`, `500ms`).
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, EnvError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_duration(v).map(Some).ok_or_else(|| {
                EnvError::invalid(key, v, "seconds (e.g. 30) or a duration like 30s, 2m, 1h")
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub message: String,
}

impl EnvError {
    pub fn invalid(key: &str, value: &str, accepted: &str) -> EnvError {
        EnvError {
            message: format!("invalid {key}={value:?}: accepted values are {accepted}"),
        }
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EnvError {}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Parses `.env` text: `KEY=VALUE` lines, `#` comments, optional `export `, single or double quotes.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].to_string()
        } else {
            // Unquoted values may carry a trailing comment.
            match v.find(" #") {
                Some(i) => v[..i].trim_end().to_string(),
                None => v.to_string(),
            }
        };
        out.push((k.to_string(), v));
    }
    out
}

/// Everything the core needs to start; other modules read their own variables from `vars`.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub data_dir: PathBuf,
    pub port: u16,
    pub bind: IpAddr,
    pub log_level: Level,
    pub mock_mode: bool,
    pub connection_timeout: Duration,
    /// The HTTP server's connection caps and timeouts (`PULSE_HTTP_*`).
    pub http: crate::http::limits::Limits,
    pub vars: EnvVars,
}

impl RuntimeConfig {
    /// Loads from the process environment and the data dir's `.env`, creating the data dir
    /// (mode 0700) when it does not exist.
    pub fn load_from_process() -> Result<RuntimeConfig, EnvError> {
        RuntimeConfig::load(EnvVars::from_pairs(std::env::vars()))
    }

    pub fn load(mut vars: EnvVars) -> Result<RuntimeConfig, EnvError> {
        let data_dir = PathBuf::from(vars.get("PULSE_DATA_DIR").unwrap_or(DEFAULT_DATA_DIR));
        ensure_data_dir(&data_dir)?;
        let env_file = data_dir.join(".env");
        match std::fs::read_to_string(&env_file) {
            Ok(text) => vars.merge_env_file(parse_env_file(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(EnvError {
                    message: format!("cannot read {}: {e}", env_file.display()),
                });
            }
        }

        let port = match vars
            .get("FRONTEND_PORT")
            .map(|v| ("FRONTEND_PORT", v))
            .or(vars.get("PORT").map(|v| ("PORT", v)))
        {
            None => DEFAULT_PORT,
            Some((key, v)) => v
                .trim()
                .parse::<u16>()
                .map_err(|_| EnvError::invalid(key, v, "a TCP port number 0-65535"))?,
        };
        let bind = match vars.get("PULSE_BIND_ADDRESS") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v.trim().parse().map_err(|_| {
                EnvError::invalid("PULSE_BIND_ADDRESS", v, "an IPv4 or IPv6 address")
            })?,
        };
        let log_level = match vars.get("LOG_LEVEL") {
            None => Level::Info,
            Some(v) => {
                Level::parse(v).ok_or_else(|| EnvError::invalid("LOG_LEVEL", v, Level::ACCEPTED))?
            }
        };
        let mock_mode = vars.bool("PULSE_MOCK_MODE")?.unwrap_or(false);
        let connection_timeout = vars
            .duration("CONNECTION_TIMEOUT")?
            .unwrap_or(Duration::from_secs(60));
        if connection_timeout.is_zero() {
            return Err(EnvError::invalid(
                "CONNECTION_TIMEOUT",
                "0",
                "a positive number of seconds",
            ));
        }
        Ok(RuntimeConfig {
            data_dir,
            port,
            bind,
            log_level,
            mock_mode,
            connection_timeout,
            http: crate::http::limits::Limits::from_vars(&vars)?,
            vars,
        })
    }
}

fn ensure_data_dir(dir: &Path) -> Result<(), EnvError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| EnvError {
            message: format!("PULSE_DATA_DIR: cannot create {}: {e}", dir.display()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_parsing_handles_quotes_comments_and_export() {
        let parsed = parse_env_file(
            "# comment\nexport A=1\nB=\"two words\"\nC='x=y'\nD=plain # note\nbad line\n=nokey\n",
        );
        assert_eq!(
            parsed,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into()),
                ("D".into(), "plain".into()),
            ]
        );
    }

    #[test]
    fn counts_are_whole_numbers_within_their_bound() {
        let vars = |v: &str| EnvVars::from_pairs([("N".to_string(), v.to_string())]);
        assert_eq!(vars("150").count("N", 10_000), Ok(Some(150)));
        assert_eq!(vars(" 0 ").count("N", 10_000), Ok(Some(0)));
        assert_eq!(EnvVars::from_pairs([]).count("N", 10), Ok(None));
        for bad in ["-1", "1.5", "ten", "10001"] {
            let e = vars(bad).count("N", 10_000).unwrap_err();
            assert!(
                e.message.contains("N=") && e.message.contains("0–10000"),
                "{e}"
            );
        }
    }

    #[test]
    fn durations_and_bools() {
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_bool("ON"), Some(true));
        assert_eq!(parse_bool("nope"), None);
    }
}
