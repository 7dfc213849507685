//! The admin password: bcrypt at cost 12, as Pulse stores it in `PULSE_AUTH_PASS`.
//!
//! **Every hash and verify here costs ≈250 ms of CPU.** Run them on a worker thread, never on
//! the event loop or an HTTP thread that holds a lock: a login storm must not stall polling.

use super::secret::Secret;
use std::fmt;

/// Pulse's bcrypt cost (docs: "Passwords are hashed with bcrypt (cost 12)").
pub const BCRYPT_COST: u32 = 12;
/// Pulse's only complexity rule: at least 8 characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// bcrypt only reads 72 bytes; longer passwords are refused instead of silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
    Hashing(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort => {
                write!(f, "Password must be at least {MIN_PASSWORD_LEN} characters")
            }
            PasswordError::TooLong => {
                write!(f, "Password must be at most {MAX_PASSWORD_BYTES} bytes")
            }
            PasswordError::Hashing(e) => write!(f, "password hashing failed: {e}"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// How the `PULSE_AUTH_PASS` value was understood, so startup can warn about the truncated-hash
/// case (an unquoted `$` in a shell or `.env` eats part of the hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// A complete bcrypt hash, used as is.
    ExistingHash,
    /// A plain password, hashed at startup.
    HashedPlaintext,
    /// Looked like a bcrypt hash but was 55–59 characters long: treated as a plain password,
    /// as Pulse does. The admin almost certainly lost characters to shell expansion.
    TruncatedHashTreatedAsPlaintext,
}

/// A bcrypt hash string (`$2a$`/`$2b$`/`$2y$`, 60 characters). Not secret in the strict sense,
/// but an offline-crackable credential: its `Debug` is redacted and it is not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

impl PasswordHash {
    /// Interprets a `PULSE_AUTH_PASS` value: an existing bcrypt hash is accepted verbatim,
    /// anything else is hashed. Worker thread only (may hash).
    pub fn from_env_value(value: &str) -> Result<(PasswordHash, PasswordSource), PasswordError> {
        if let Some(hash) = PasswordHash::parse_hash(value) {
            return Ok((hash, PasswordSource::ExistingHash));
        }
        let source = if value.starts_with("$2") && (55..60).contains(&value.len()) {
            PasswordSource::TruncatedHashTreatedAsPlaintext
        } else {
            PasswordSource::HashedPlaintext
        };
        // Env passwords predate the length rule, so only bcrypt's own limit applies here.
        if value.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok((PasswordHash::hash_unchecked(value)?, source))
    }

    /// Accepts a stored bcrypt hash (from `.env` or an override file) without hashing.
    pub fn parse_hash(value: &str) -> Option<PasswordHash> {
        let versioned = ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| value.starts_with(p));
        if !versioned || value.len() != 60 {
            return None;
        }
        // Cost is two digits after the version; bcrypt accepts 4..=31.
        let cost: u32 = value.get(4..6)?.parse().ok()?;
        if !(4..=31).contains(&cost) || value.as_bytes().get(6) != Some(&b'$') {
            return None;
        }
        Some(PasswordHash(value.to_string()))
    }

    /// Hashes a new password chosen through the API, enforcing the length rules.
    /// Worker thread only.
    pub fn hash_new(password: &Secret) -> Result<PasswordHash, PasswordError> {
        validate_new_password(password.expose())?;
        PasswordHash::hash_unchecked(password.expose())
    }

    fn hash_unchecked(password: &str) -> Result<PasswordHash, PasswordError> {
        bcrypt::non_truncating_hash(password, BCRYPT_COST)
            .map(PasswordHash)
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// True when `password` matches. Malformed hashes and over-long inputs are simply "no".
    /// Worker thread only.
    pub fn verify(&self, password: &str) -> bool {
        bcrypt::non_truncating_verify(password, &self.0).unwrap_or(false)
    }

    /// The hash string, for writing `PULSE_AUTH_PASS='<hash>'` into `.env`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rules for a password set through the API (quick-setup, change-password).
pub fn validate_new_password(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_hashed_at_cost_12_and_verifies() {
        let (hash, source) = PasswordHash::from_env_value("correct horse").unwrap();
        assert_eq!(source, PasswordSource::HashedPlaintext);
        assert!(hash.as_str().starts_with("$2b$12$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        assert!(!format!("{hash:?}").contains("$2b$"));
    }

    #[test]
    fn existing_hashes_are_accepted_verbatim() {
        // Go's bcrypt writes `$2a$`; htpasswd writes `$2y$`; this crate writes `$2b$`.
        let parts = bcrypt::hash_with_result("password", 4).unwrap();
        let versions = [
            bcrypt::Version::TwoA,
            bcrypt::Version::TwoB,
            bcrypt::Version::TwoY,
        ];
        for h in versions.map(|v| parts.format_for_version(v)) {
            let h = h.as_str();
            let (hash, source) = PasswordHash::from_env_value(h).unwrap();
            assert_eq!(source, PasswordSource::ExistingHash);
            assert_eq!(hash.as_str(), h);
            assert!(hash.verify("password"));
            assert!(!hash.verify("Password"));
        }
    }

    #[test]
    fn truncated_hash_is_treated_as_plaintext() {
        let full = bcrypt::hash("pw", 4).unwrap();
        let cut = &full[..57];
        let (hash, source) = PasswordHash::from_env_value(cut).unwrap();
        assert_eq!(source, PasswordSource::TruncatedHashTreatedAsPlaintext);
        assert!(hash.verify(cut));
        assert!(!hash.verify("pw"));
    }

    #[test]
    fn parse_hash_rejects_lookalikes() {
        assert!(PasswordHash::parse_hash(
            "$2x$04$wHy1bCqOLB3tjf6Opa6aQu3SrgHnsAOkXSdUiRUWhqSr7fyPuSRbi"
        )
        .is_none());
        assert!(PasswordHash::parse_hash(
            "$2a$99$wHy1bCqOLB3tjf6Opa6aQu3SrgHnsAOkXSdUiRUWhqSr7fyPuSRbi"
        )
        .is_none());
        assert!(PasswordHash::parse_hash(
            "$2a$0a$wHy1bCqOLB3tjf6Opa6aQu3SrgHnsAOkXSdUiRUWhqSr7fyPuSRbi"
        )
        .is_none());
        assert!(PasswordHash::parse_hash("plain").is_none());
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(validate_new_password("short"), Err(PasswordError::TooShort));
        assert_eq!(
            validate_new_password(&"x".repeat(73)),
            Err(PasswordError::TooLong)
        );
        assert!(validate_new_password("longenough").is_ok());
        // Eight characters, more than eight bytes: counted in characters.
        assert!(validate_new_password("ääääääää").is_ok());
        let short = Secret::new("1234567");
        assert_eq!(PasswordHash::hash_new(&short), Err(PasswordError::TooShort));
    }

    #[test]
    fn malformed_hash_never_verifies() {
        let bogus =
            PasswordHash("$2b$12$not-a-real-hash-but-sixty-characters-long-xxxxxxxxxxxxx".into());
        assert!(!bogus.verify("anything"));
    }
}
