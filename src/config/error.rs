//! One error type for the configuration layer. Every variant carries enough context to be shown to
//! an administrator as is, and maps onto the HTTP status a handler should answer with.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum ConfigError {
    /// A file-system operation failed.
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `.encryption.key` is missing while encrypted files exist: creating a fresh key would make
    /// them unreadable forever, so we refuse (as Pulse does).
    KeyMissing {
        dir: PathBuf,
        encrypted: Vec<String>,
    },
    /// `.encryption.key` exists but is not base64 of 32 bytes.
    BadKey { path: PathBuf, reason: String },
    /// AES-GCM authentication failed: wrong key or a damaged file.
    Decrypt { what: String },
    /// The bytes decrypted (or were plain) but are not the JSON we expect.
    Parse { what: String, reason: String },
    /// Input rejected by validation (HTTP 400).
    Invalid(String),
    /// The change would create a duplicate (HTTP 409).
    Conflict(String),
    /// No such node / entry (HTTP 404).
    NotFound(String),
    /// Export/import passphrase does not open the data (HTTP 400).
    WrongPassphrase,
    /// The data dir could not be opened at start-up (HTTP 503); the reason says why.
    Unavailable(String),
    /// The system random generator failed (practically never).
    Random,
    /// The data-dir writer's queue is full (HTTP 503): nothing was changed, retry shortly.
    Busy(String),
    /// The writer thread reported that a save failed (HTTP 500).
    Write(crate::core::writer::WriteError),
}

impl From<crate::core::writer::Refused> for ConfigError {
    fn from(r: crate::core::writer::Refused) -> ConfigError {
        ConfigError::Busy(r.to_string())
    }
}

impl From<crate::core::writer::WriteError> for ConfigError {
    fn from(e: crate::core::writer::WriteError) -> ConfigError {
        ConfigError::Write(e)
    }
}

impl ConfigError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> ConfigError {
        ConfigError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The HTTP status a handler should use for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            ConfigError::Invalid(_) | ConfigError::WrongPassphrase | ConfigError::Parse { .. } => {
                400
            }
            ConfigError::Conflict(_) => 409,
            ConfigError::NotFound(_) => 404,
            ConfigError::Unavailable(_) | ConfigError::Busy(_) => 503,
            _ => 500,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io {
                action,
                path,
                source,
            } => {
                write!(f, "failed to {action} {}: {source}", path.display())
            }
            ConfigError::KeyMissing { dir, encrypted } => write!(
                f,
                "encryption key {}/.encryption.key is missing but encrypted files exist ({}); \
                 restore the key file instead of letting a new key orphan them",
                dir.display(),
                encrypted.join(", ")
            ),
            ConfigError::BadKey { path, reason } => {
                write!(f, "invalid encryption key {}: {reason}", path.display())
            }
            ConfigError::Decrypt { what } => {
                write!(f, "failed to decrypt {what}: wrong key or corrupted data")
            }
            ConfigError::Parse { what, reason } => write!(f, "invalid {what}: {reason}"),
            ConfigError::Invalid(msg) | ConfigError::Conflict(msg) | ConfigError::NotFound(msg) => {
                f.write_str(msg)
            }
            ConfigError::WrongPassphrase => f.write_str(
                "failed to decrypt configuration: wrong passphrase or corrupted export data",
            ),
            ConfigError::Unavailable(why) => write!(f, "configuration storage unavailable: {why}"),
            ConfigError::Random => f.write_str("system random number generator failed"),
            ConfigError::Busy(why) => f.write_str(why),
            ConfigError::Write(e) => write!(f, "saving failed: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
