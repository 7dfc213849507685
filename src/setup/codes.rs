//! One-time setup codes for node auto-registration (`POST /api/setup-script-url` issues one,
//! `POST /api/auto-register` consumes it).
//!
//! A code is 6 characters from an alphabet without look-alikes (`0/O`, `1/I`), stored only as its
//! SHA3-256 hash, valid for 5 minutes, bound to the node type and (when given) the host it was
//! issued for, and usable once. The clock is passed in (unix seconds) so tests can move it.

use crate::config::error::ConfigError;
use crate::config::model::host::normalize_host;
use crate::config::model::nodes::NodeType;
use ring::rand::{SecureRandom, SystemRandom};
use sha3::{Digest, Sha3_256};
use std::collections::HashMap;
use std::fmt;

pub const SETUP_CODE_TTL_SECS: i64 = 5 * 60;
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 6;
/// Bounds memory if the issuing endpoint is hammered; the oldest code is dropped first.
const MAX_OUTSTANDING: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Why a code was not accepted. Unknown, expired and already-used codes are deliberately
/// indistinguishable to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupCodeError {
    InvalidOrExpired,
    WrongType { issued_for: NodeType },
    WrongHost,
}

impl fmt::Display for SetupCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupCodeError::InvalidOrExpired => f.write_str("Invalid or expired setup code"),
            SetupCodeError::WrongType { issued_for } => {
                write!(
                    f,
                    "Setup code was issued for a {} node",
                    issued_for.as_str().to_uppercase()
                )
            }
            SetupCodeError::WrongHost => f.write_str("Setup code was issued for a different host"),
        }
    }
}

impl std::error::Error for SetupCodeError {}

#[derive(Debug, Clone)]
struct Entry {
    node_type: NodeType,
    /// Normalised host, or `None` when the code was issued without one (any host accepted).
    host: Option<String>,
    issued_at: i64,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Default)]
pub struct SetupCodes {
    entries: HashMap<[u8; 32], Entry>,
}

fn hash(code: &str) -> [u8; 32] {
    Sha3_256::digest(code.trim().to_ascii_uppercase().as_bytes()).into()
}

impl SetupCodes {
    pub fn new() -> SetupCodes {
        SetupCodes::default()
    }

    /// Issues a code for `node_type` (and `host`, normalised, if non-empty).
    pub fn issue(
        &mut self,
        node_type: NodeType,
        host: Option<&str>,
        now: i64,
    ) -> Result<IssuedCode, ConfigError> {
        let host = match host.map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => Some(normalize_host(node_type, h)?.to_ascii_lowercase()),
            None => None,
        };
        self.cleanup(now);
        while self.entries.len() >= MAX_OUTSTANDING {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.issued_at)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
        let rng = SystemRandom::new();
        loop {
            let mut bytes = [0u8; CODE_LEN];
            rng.fill(&mut bytes).map_err(|_| ConfigError::Random)?;
            // 32 divides 256, so masking keeps the distribution uniform.
            let code: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect();
            let key = hash(&code);
            if self.entries.contains_key(&key) {
                continue;
            }
            let expires_at = now + SETUP_CODE_TTL_SECS;
            self.entries.insert(
                key,
                Entry {
                    node_type,
                    host,
                    issued_at: now,
                    expires_at,
                    used: false,
                },
            );
            return Ok(IssuedCode { code, expires_at });
        }
    }

    /// Checks a code for a registration of `node_type` at `host` and marks it used. A mismatch
    /// of type or host does not burn the code (the legitimate script can still use it).
    pub fn consume(
        &mut self,
        code: &str,
        node_type: NodeType,
        host: &str,
        now: i64,
    ) -> Result<(), SetupCodeError> {
        let entry = self
            .entries
            .get_mut(&hash(code))
            .ok_or(SetupCodeError::InvalidOrExpired)?;
        if entry.used || now >= entry.expires_at {
            return Err(SetupCodeError::InvalidOrExpired);
        }
        if entry.node_type != node_type {
            return Err(SetupCodeError::WrongType {
                issued_for: entry.node_type,
            });
        }
        if let Some(bound) = &entry.host {
            let given = normalize_host(node_type, host)
                .ok()
                .map(|h| h.to_ascii_lowercase());
            if given.as_deref() != Some(bound.as_str()) {
                return Err(SetupCodeError::WrongHost);
            }
        }
        entry.used = true;
        Ok(())
    }

    /// Whether `code` looks like a setup code at all (so a caller can tell it from an API token).
    pub fn looks_like_code(code: &str) -> bool {
        let c = code.trim();
        c.len() == CODE_LEN
            && c.bytes()
                .all(|b| ALPHABET.contains(&b.to_ascii_uppercase()))
    }

    /// Drops expired and used codes. Call periodically (every few minutes) and on issue.
    pub fn cleanup(&mut self, now: i64) {
        self.entries.retain(|_, e| !e.used && now < e.expires_at);
    }

    pub fn outstanding(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "https://10.0.0.5:8006";

    #[test]
    fn valid_once() {
        let mut codes = SetupCodes::new();
        let issued = codes.issue(NodeType::Pve, Some(HOST), 1000).unwrap();
        assert_eq!(issued.expires_at, 1300);
        assert!(SetupCodes::looks_like_code(&issued.code));
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, HOST, 1001),
            Ok(())
        );
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, HOST, 1002),
            Err(SetupCodeError::InvalidOrExpired)
        );
    }

    #[test]
    fn expires_after_five_minutes() {
        let mut codes = SetupCodes::new();
        let issued = codes.issue(NodeType::Pve, None, 1000).unwrap();
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, HOST, 1300),
            Err(SetupCodeError::InvalidOrExpired)
        );
        let issued = codes.issue(NodeType::Pve, None, 2000).unwrap();
        assert_eq!(
            codes.consume(&issued.code.to_lowercase(), NodeType::Pve, "any.host", 2299),
            Ok(())
        );
    }

    #[test]
    fn wrong_type_or_host_rejected_without_burning() {
        let mut codes = SetupCodes::new();
        let issued = codes.issue(NodeType::Pve, Some("10.0.0.5"), 0).unwrap();
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pbs, HOST, 1),
            Err(SetupCodeError::WrongType {
                issued_for: NodeType::Pve
            })
        );
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, "https://10.0.0.6:8006", 1),
            Err(SetupCodeError::WrongHost)
        );
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, "bad host", 1),
            Err(SetupCodeError::WrongHost)
        );
        // Normalisation makes equivalent spellings match.
        assert_eq!(
            codes.consume(&issued.code, NodeType::Pve, "HTTPS://10.0.0.5:8006/", 1),
            Ok(())
        );
    }

    #[test]
    fn unknown_code_and_storage_is_hashed() {
        let mut codes = SetupCodes::new();
        assert_eq!(
            codes.consume("ABCDEF", NodeType::Pve, HOST, 0),
            Err(SetupCodeError::InvalidOrExpired)
        );
        let issued = codes.issue(NodeType::Pmg, None, 0).unwrap();
        assert!(
            !format!("{codes:?}").contains(&issued.code),
            "plaintext code must not be stored"
        );
    }

    #[test]
    fn outstanding_codes_are_bounded() {
        let mut codes = SetupCodes::new();
        let first = codes.issue(NodeType::Pve, None, 0).unwrap();
        for i in 1..=MAX_OUTSTANDING as i64 {
            codes.issue(NodeType::Pve, None, i).unwrap();
        }
        assert_eq!(codes.outstanding(), MAX_OUTSTANDING);
        assert_eq!(
            codes.consume(&first.code, NodeType::Pve, HOST, 200),
            Err(SetupCodeError::InvalidOrExpired)
        );
        codes.cleanup(10_000);
        assert_eq!(codes.outstanding(), 0);
    }

    #[test]
    fn bad_issue_host_is_rejected() {
        assert!(SetupCodes::new()
            .issue(NodeType::Pve, Some("not a host"), 0)
            .is_err());
    }
}
