//! The data-dir encryption key and the AES-256-GCM envelope Pulse uses for its `.enc` files.
//!
//! On disk, `.encryption.key` is standard base64 of 32 random bytes (no newline, mode 0600) and an
//! encrypted file is the raw bytes `nonce[12] || ciphertext || tag[16]` with no associated data.
//! The key is used directly: Pulse derives nothing from it, so neither do we.

use crate::config::error::ConfigError;
use crate::util::atomic::write_atomic;
use data_encoding::BASE64;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::fs;
use std::path::Path;

pub const KEY_FILE_NAME: &str = ".encryption.key";
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Files whose presence without a key means a key was lost (Pulse refuses to start then, too).
const ENCRYPTED_PREFIXES: [&str; 4] = ["nodes.enc", "email.enc", "webhooks.enc", "oidc.enc"];

/// An AES-256-GCM key. `Debug` never shows key material.
pub struct Cipher {
    key: LessSafeKey,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(AES-256-GCM, key redacted)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; KEY_LEN]) -> Cipher {
        // AES_256_GCM accepts exactly 32 bytes, which the array type guarantees.
        let unbound = UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!());
        Cipher {
            key: LessSafeKey::new(unbound),
        }
    }

    /// Reads `<dir>/.encryption.key`, creating it (0600) when absent. Refuses to create a key
    /// when encrypted files already exist, since a new key could never open them.
    pub fn load_or_create(dir: &Path) -> Result<Cipher, ConfigError> {
        let path = dir.join(KEY_FILE_NAME);
        match fs::read(&path) {
            Ok(raw) => Ok(Cipher::from_key(&decode_key(&raw).map_err(|reason| {
                ConfigError::BadKey {
                    path: path.clone(),
                    reason,
                }
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let orphans = encrypted_files(dir)?;
                if !orphans.is_empty() {
                    return Err(ConfigError::KeyMissing {
                        dir: dir.to_path_buf(),
                        encrypted: orphans,
                    });
                }
                let mut key = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| ConfigError::Random)?;
                if create_exclusive(dir, &path, BASE64.encode(&key).as_bytes())? {
                    Ok(Cipher::from_key(&key))
                } else {
                    // Another process created the key first: use theirs, never overwrite it.
                    Cipher::load_or_create(dir)
                }
            }
            Err(e) => Err(ConfigError::io("read", &path, e)),
        }
    }

    /// Encrypts with a fresh random nonce: `nonce || ciphertext || tag`.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, ConfigError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ConfigError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| ConfigError::Random)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `nonce || ciphertext || tag`; `what` names the data in the error.
    pub fn open(&self, data: &[u8], what: &str) -> Result<Vec<u8>, ConfigError> {
        let decrypt_err = || ConfigError::Decrypt {
            what: what.to_string(),
        };
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(decrypt_err());
        }
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| decrypt_err())?;
        let mut buf = sealed.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| decrypt_err())?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

/// Writes `bytes` to `path` (0600, fsynced) only if `path` does not exist yet: the content goes to
/// a temp file that is then hard-linked into place, which fails atomically when the name is
/// taken. Returns false when another process won the race.
fn create_exclusive(dir: &Path, path: &Path, bytes: &[u8]) -> Result<bool, ConfigError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{KEY_FILE_NAME}.new.{}.{n}", std::process::id()));
    write_atomic(&tmp, bytes, 0o600).map_err(|e| ConfigError::io("create", &tmp, e))?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| ConfigError::io("sync", dir, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(ConfigError::io("create", path, e)),
    }
}

fn decode_key(raw: &[u8]) -> Result<[u8; KEY_LEN], String> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| "not text".to_string())?
        .trim();
    let bytes = BASE64
        .decode(text.as_bytes())
        .map_err(|e| format!("not base64 ({e})"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("expected {KEY_LEN} bytes, found {}", b.len()))
}

fn encrypted_files(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConfigError::io("list", dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let non_empty = entry.metadata().map(|m| m.len() > 0).unwrap_or(false);
        if non_empty && ENCRYPTED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pulse-crypto-{tag}-{}-{}",
            std::process::id(),
            crate::util::time::now_ms()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn seal_open_round_trip_and_layout() {
        let c = Cipher::from_key(&[7u8; 32]);
        let sealed = c.seal(b"hello").unwrap();
        assert_eq!(sealed.len(), 12 + 5 + 16);
        assert_eq!(c.open(&sealed, "x").unwrap(), b"hello");
        let other = Cipher::from_key(&[8u8; 32]);
        assert!(matches!(
            other.open(&sealed, "x"),
            Err(ConfigError::Decrypt { .. })
        ));
        assert!(c.open(&sealed[..20], "x").is_err());
    }

    #[test]
    fn key_file_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("create");
        let a = Cipher::load_or_create(&dir).unwrap();
        let raw = fs::read(dir.join(KEY_FILE_NAME)).unwrap();
        assert_eq!(BASE64.decode(&raw).unwrap().len(), 32);
        let mode = fs::metadata(dir.join(KEY_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Cipher::load_or_create(&dir).unwrap();
        assert_eq!(
            b.open(&a.seal(b"same key").unwrap(), "x").unwrap(),
            b"same key"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = temp_dir("race");
        let ciphers: Vec<Cipher> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| Cipher::load_or_create(&dir).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let sealed = ciphers[0].seal(b"x").unwrap();
        for c in &ciphers {
            assert_eq!(
                c.open(&sealed, "x").unwrap(),
                b"x",
                "every opener uses the key on disk"
            );
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp files left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_new_key_when_encrypted_files_exist() {
        let dir = temp_dir("orphan");
        fs::write(dir.join("nodes.enc"), b"old data").unwrap();
        let err = Cipher::load_or_create(&dir).unwrap_err();
        assert!(matches!(err, ConfigError::KeyMissing { .. }), "{err}");
        assert!(!dir.join(KEY_FILE_NAME).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_key_file_is_an_error() {
        let dir = temp_dir("bad");
        fs::write(dir.join(KEY_FILE_NAME), b"c2hvcnQ=").unwrap();
        assert!(matches!(
            Cipher::load_or_create(&dir),
            Err(ConfigError::BadKey { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
