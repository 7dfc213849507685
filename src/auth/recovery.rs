//! Recovery for a locked-out admin, as Pulse does it:
//! * **recovery mode** = the file `<data dir>/.auth_recovery` exists. While it does, requests
//!   straight from loopback skip authentication (checked per request, no restart needed);
//! * **recovery tokens**: single-use, 1–60 minutes, generated from loopback, accepted in
//!   `X-Recovery-Token`. Pulse stores them in plaintext; here only SHA3-256 hashes are kept.
//!
//! That a request is "from loopback" is decided by the caller with
//! [`super::client_ip::is_direct_loopback`].

use super::secret::{self, RandomUnavailable, Secret};
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub const RECOVERY_FLAG_FILE: &str = ".auth_recovery";
pub const RECOVERY_TOKENS_FILE: &str = "recovery_tokens.json";
pub const DEFAULT_TOKEN_MINUTES: u32 = 15;
pub const MAX_TOKEN_MINUTES: u32 = 60;
/// More outstanding tokens than this is abuse; the oldest are dropped.
const MAX_TOKENS: usize = 100;
/// Used tokens are kept this long for the record, then purged.
const USED_RETENTION_SECS: i64 = 24 * 3600;

/// `POST /api/security/recovery` body actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryAction {
    GenerateToken { minutes: u32 },
    DisableAuth,
    EnableAuth,
}

impl RecoveryAction {
    /// Parses `{"action", "duration"?}`. An unknown action is `None` (Pulse answers 200
    /// `{"success":false,"message":"Invalid action. Use 'disable_auth' or 'enable_auth'"}`);
    /// a duration outside 1..=60 falls back to 15 minutes.
    pub fn parse(action: &str, duration_minutes: Option<i64>) -> Option<RecoveryAction> {
        match action {
            "generate_token" => {
                let minutes = duration_minutes
                    .and_then(|d| u32::try_from(d).ok())
                    .filter(|d| (1..=MAX_TOKEN_MINUTES).contains(d))
                    .unwrap_or(DEFAULT_TOKEN_MINUTES);
                Some(RecoveryAction::GenerateToken { minutes })
            }
            "disable_auth" => Some(RecoveryAction::DisableAuth),
            "enable_auth" => Some(RecoveryAction::EnableAuth),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    hash: String,
    created_at: UtcTime,
    expires_at: UtcTime,
    used: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_at: Option<UtcTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
}

#[derive(Debug)]
pub enum RecoveryError {
    Random,
    Io { path: PathBuf, source: io::Error },
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::Random => f.write_str("random generator unavailable"),
            RecoveryError::Io { path, source } => {
                write!(f, "recovery file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for RecoveryError {}

impl From<RandomUnavailable> for RecoveryError {
    fn from(_: RandomUnavailable) -> Self {
        RecoveryError::Random
    }
}

/// Recovery mode flag and recovery tokens of one data directory.
#[derive(Debug)]
pub struct Recovery {
    flag_path: PathBuf,
    tokens_path: PathBuf,
    tokens: Vec<TokenRecord>,
}

impl Recovery {
    /// Loads outstanding tokens. An unreadable or foreign file is replaced with an empty
    /// list: recovery tokens are short-lived, and a plaintext Pulse file must not linger.
    pub fn load(data_dir: &Path, now: UtcTime) -> Result<Recovery, RecoveryError> {
        let mut r = Recovery {
            flag_path: data_dir.join(RECOVERY_FLAG_FILE),
            tokens_path: data_dir.join(RECOVERY_TOKENS_FILE),
            tokens: Vec::new(),
        };
        let bytes = match std::fs::read(&r.tokens_path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(r),
            Err(source) => {
                return Err(RecoveryError::Io {
                    path: r.tokens_path,
                    source,
                })
            }
        };
        // Anything else (Pulse's map of plaintext tokens, garbage) is overwritten at once.
        match serde_json::from_slice::<Option<Vec<TokenRecord>>>(&bytes) {
            Ok(list) => r.tokens = list.unwrap_or_default(),
            Err(_) => r.save()?,
        }
        r.prune(now);
        Ok(r)
    }

    /// Recovery mode is on (the flag file exists). A `stat` per call, so deleting the file
    /// by hand takes effect at once.
    pub fn is_active(&self) -> bool {
        self.flag_path.exists()
    }

    /// `disable_auth`: create the flag file (0600).
    pub fn enable_mode(&self) -> Result<(), RecoveryError> {
        let content = b"Recovery mode: authentication is disabled for direct localhost requests.\n";
        write_atomic(&self.flag_path, content, 0o600).map_err(|source| RecoveryError::Io {
            path: self.flag_path.clone(),
            source,
        })
    }

    /// `enable_auth`: remove the flag file. Returns whether it existed.
    pub fn disable_mode(&self) -> Result<bool, RecoveryError> {
        match std::fs::remove_file(&self.flag_path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(RecoveryError::Io {
                path: self.flag_path.clone(),
                source,
            }),
        }
    }

    /// A new single-use token valid for `minutes` (clamped to 1..=60). Persisted as a hash.
    pub fn generate_token(
        &mut self,
        minutes: u32,
        now: UtcTime,
    ) -> Result<(Secret, UtcTime), RecoveryError> {
        self.prune(now);
        if self.tokens.len() >= MAX_TOKENS {
            self.tokens.remove(0);
        }
        let minutes = minutes.clamp(1, MAX_TOKEN_MINUTES);
        let token = secret::random_hex(32)?;
        let expires_at = UtcTime::from_unix(now.secs + i64::from(minutes) * 60);
        self.tokens.push(TokenRecord {
            hash: secret::sha3_256_hex(token.expose().as_bytes()),
            created_at: now,
            expires_at,
            used: false,
            used_at: None,
            ip: None,
        });
        if let Err(e) = self.save() {
            self.tokens.pop();
            return Err(e);
        }
        Ok((token, expires_at))
    }

    /// Accepts `presented` if it is an unused, unexpired token, and marks it used (persisted
    /// first: if the write fails, the token is refused rather than left reusable).
    pub fn consume_token(&mut self, presented: &str, ip: Option<IpAddr>, now: UtcTime) -> bool {
        let h = secret::sha3_256_hex(presented.trim().as_bytes());
        let mut found = None;
        for (i, t) in self.tokens.iter().enumerate() {
            let matches = secret::constant_time_eq(h.as_bytes(), t.hash.as_bytes());
            if matches && found.is_none() {
                found = Some(i);
            }
        }
        let Some(t) = found.and_then(|i| self.tokens.get_mut(i)) else {
            return false;
        };
        if t.used || t.expires_at <= now {
            return false;
        }
        t.used = true;
        t.used_at = Some(now);
        t.ip = ip;
        self.save().is_ok()
    }

    /// Drops expired tokens and used ones older than a day (in memory).
    pub fn prune(&mut self, now: UtcTime) {
        self.tokens.retain(|t| match t.used_at {
            Some(at) if t.used => now.secs - at.secs < USED_RETENTION_SECS,
            _ => t.expires_at > now,
        });
    }

    fn save(&self) -> Result<(), RecoveryError> {
        let json = serde_json::to_vec(&self.tokens).map_err(|e| RecoveryError::Io {
            path: self.tokens_path.clone(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.tokens_path, &json, 0o600).map_err(|source| RecoveryError::Io {
            path: self.tokens_path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-recovery-{tag}-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    #[test]
    fn actions_parse() {
        assert_eq!(
            RecoveryAction::parse("generate_token", None),
            Some(RecoveryAction::GenerateToken { minutes: 15 })
        );
        assert_eq!(
            RecoveryAction::parse("generate_token", Some(30)),
            Some(RecoveryAction::GenerateToken { minutes: 30 })
        );
        assert_eq!(
            RecoveryAction::parse("generate_token", Some(0)),
            Some(RecoveryAction::GenerateToken { minutes: 15 })
        );
        assert_eq!(
            RecoveryAction::parse("generate_token", Some(61)),
            Some(RecoveryAction::GenerateToken { minutes: 15 })
        );
        assert_eq!(
            RecoveryAction::parse("disable_auth", None),
            Some(RecoveryAction::DisableAuth)
        );
        assert_eq!(
            RecoveryAction::parse("enable_auth", None),
            Some(RecoveryAction::EnableAuth)
        );
        assert_eq!(RecoveryAction::parse("rm -rf", None), None);
    }

    #[test]
    fn mode_flag_file() {
        let dir = temp_dir("mode");
        let r = Recovery::load(&dir, t(0)).unwrap();
        assert!(!r.is_active());
        r.enable_mode().unwrap();
        assert!(r.is_active());
        assert!(dir.join(RECOVERY_FLAG_FILE).exists());
        assert!(r.disable_mode().unwrap());
        assert!(!r.is_active());
        assert!(!r.disable_mode().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_are_single_use_expire_and_are_stored_hashed() {
        let dir = temp_dir("tokens");
        let mut r = Recovery::load(&dir, t(0)).unwrap();
        let (tok, exp) = r.generate_token(10, t(0)).unwrap();
        assert_eq!(exp, t(600));
        let file = std::fs::read_to_string(dir.join(RECOVERY_TOKENS_FILE)).unwrap();
        assert!(!file.contains(tok.expose()));

        // Survives a restart, then works once.
        let mut r = Recovery::load(&dir, t(1)).unwrap();
        assert!(!r.consume_token("wrong", None, t(2)));
        assert!(r.consume_token(tok.expose(), "127.0.0.1".parse().ok(), t(2)));
        assert!(!r.consume_token(tok.expose(), None, t(3)), "single use");

        let (tok2, _) = r.generate_token(1, t(10)).unwrap();
        assert!(!r.consume_token(tok2.expose(), None, t(70)), "expired");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plaintext_pulse_file_is_overwritten() {
        let dir = temp_dir("legacy");
        let path = dir.join(RECOVERY_TOKENS_FILE);
        std::fs::write(&path, r#"{"abc123":{"token":"abc123","used":false}}"#).unwrap();
        let mut r = Recovery::load(&dir, t(0)).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("abc123"));
        assert!(!r.consume_token("abc123", None, t(1)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
