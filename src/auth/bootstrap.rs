//! First-run bootstrap token: while no credentials exist, `<data dir>/.bootstrap_token`
//! holds a random value that only someone with file access can read; quick-setup demands it,
//! so the first visitor on the network cannot claim the instance. Removed after setup.

use super::secret::{self, RandomUnavailable};
use crate::util::atomic::write_atomic;
use std::fmt;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const BOOTSTRAP_FILE: &str = ".bootstrap_token";

#[derive(Debug)]
pub enum BootstrapError {
    Random,
    Io { path: PathBuf, source: io::Error },
}

impl fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootstrapError::Random => f.write_str("random generator unavailable"),
            BootstrapError::Io { path, source } => {
                write!(f, "bootstrap token file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for BootstrapError {}

impl From<RandomUnavailable> for BootstrapError {
    fn from(_: RandomUnavailable) -> Self {
        BootstrapError::Random
    }
}

/// The bootstrap token, kept as its SHA3-256 hash.
#[derive(Debug)]
pub struct BootstrapToken {
    path: PathBuf,
    hash: String,
    /// Created now (rather than found from an earlier start): log where to find it.
    created: bool,
}

impl BootstrapToken {
    /// Reads the existing token file or writes a new one (24 random bytes as hex + `\n`,
    /// 0600; the directory is created 0700 if missing). Call at startup when no auth is
    /// configured.
    pub fn load_or_create(data_dir: &Path) -> Result<BootstrapToken, BootstrapError> {
        let path = data_dir.join(BOOTSTRAP_FILE);
        let io_err = |source| BootstrapError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => {
                let hash = secret::sha3_256_hex(s.trim().as_bytes());
                return Ok(BootstrapToken {
                    path,
                    hash,
                    created: false,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(io_err)?;
        let token = secret::random_hex(24)?;
        write_atomic(&path, format!("{}\n", token.expose()).as_bytes(), 0o600).map_err(io_err)?;
        let hash = secret::sha3_256_hex(token.expose().as_bytes());
        Ok(BootstrapToken {
            path,
            hash,
            created: true,
        })
    }

    /// Whether `presented` (header or body value) is the token. Constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let h = secret::sha3_256_hex(presented.trim().as_bytes());
        secret::constant_time_eq(h.as_bytes(), self.hash.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Setup succeeded: delete the file. The token is consumed either way.
    pub fn consume(self) -> Result<(), BootstrapError> {
        match remove_file_if_exists(&self.path) {
            Ok(_) => Ok(()),
            Err(source) => Err(BootstrapError::Io {
                path: self.path,
                source,
            }),
        }
    }
}

/// At startup with credentials configured: delete a leftover token file (Pulse leaves it).
pub fn remove_stale(data_dir: &Path) -> io::Result<bool> {
    remove_file_if_exists(&data_dir.join(BOOTSTRAP_FILE))
}

fn remove_file_if_exists(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "pulse-bootstrap-{tag}-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ))
    }

    #[test]
    fn create_verify_reload_consume() {
        let dir = temp_dir("life");
        let b = BootstrapToken::load_or_create(&dir).unwrap();
        assert!(b.was_created());
        let text = std::fs::read_to_string(b.path()).unwrap();
        assert_eq!(text.len(), 49, "48 hex + newline");
        assert!(text.ends_with('\n'));
        assert_eq!(
            std::fs::metadata(b.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(b.verify(text.trim()));
        assert!(b.verify(&text), "surrounding whitespace tolerated");
        assert!(!b.verify(&text[..47]));
        assert!(!b.verify(""));

        // A restart finds the same token.
        let again = BootstrapToken::load_or_create(&dir).unwrap();
        assert!(!again.was_created());
        assert!(again.verify(text.trim()));

        let path = again.path().to_path_buf();
        again.consume().unwrap();
        assert!(!path.exists());
        assert!(!remove_stale(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_file_is_removed() {
        let dir = temp_dir("stale");
        BootstrapToken::load_or_create(&dir).unwrap();
        assert!(remove_stale(&dir).unwrap());
        assert!(!dir.join(BOOTSTRAP_FILE).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
