//! Login sessions: a random token in the `pulse_session` cookie, of which only the SHA-256 is
//! kept, in memory and in `sessions.json` (Pulse's file), so a restart keeps people logged
//! in. Sessions last 24 h from login and are never extended. Each session also holds the
//! hash of its CSRF token (see [`super::csrf`]).

use super::csrf;
use super::secret::{self, RandomUnavailable, Secret};
use crate::core::writer::{Write, WriterHandle};
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub const SESSION_COOKIE: &str = "pulse_session";
pub const SESSIONS_FILE: &str = "sessions.json";
/// 24 h, also the cookies' `Max-Age`.
pub const SESSION_TTL_SECS: i64 = 86_400;
/// Bounds memory and the file; the oldest session is dropped beyond it.
pub const MAX_SESSIONS: usize = 10_000;
const MAX_USER_AGENT: usize = 256;

/// One element of `sessions.json`: Pulse's fields plus `username` and `csrf_hash` (which Go
/// ignores), in Pulse's snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// SHA-256 hex of the cookie value.
    pub key: String,
    pub expires_at: UtcTime,
    pub created_at: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csrf_hash: Option<String>,
}

/// Go's legacy layout: a map from the raw token to the record.
#[derive(Deserialize)]
struct LegacyRecord {
    expires_at: UtcTime,
    #[serde(default)]
    created_at: UtcTime,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SessionsFile {
    List(Option<Vec<SessionRecord>>),
    Legacy(HashMap<String, LegacyRecord>),
}

/// A session just created: both cookie values, shown to the client once.
#[derive(Debug)]
pub struct NewSession {
    pub token: Secret,
    pub csrf_token: Secret,
    pub expires_at: UtcTime,
}

#[derive(Debug)]
pub enum SessionError {
    Random,
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Random => f.write_str("random generator unavailable"),
            SessionError::Corrupt { path, source } => {
                write!(
                    f,
                    "session store {} is not valid JSON: {source}",
                    path.display()
                )
            }
            SessionError::Io { path, source } => {
                write!(
                    f,
                    "cannot access session store {}: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for SessionError {}

impl From<RandomUnavailable> for SessionError {
    fn from(_: RandomUnavailable) -> Self {
        SessionError::Random
    }
}

/// All live sessions, keyed by the SHA-256 of the cookie value. A lookup by hash leaks
/// nothing useful through timing: an attacker cannot choose hash prefixes.
#[derive(Debug)]
pub struct SessionStore {
    path: PathBuf,
    sessions: HashMap<String, SessionRecord>,
    /// Changes not yet on disk (CSRF rotations are saved by the periodic tick, not per request).
    dirty: bool,
    /// Inside Pulse, saves go through the data-dir writer thread (the loop never fsyncs);
    /// without one (tools, unit tests) they are written here and now.
    writer: Option<WriterHandle>,
}

impl SessionStore {
    /// Loads `<data_dir>/sessions.json`, dropping expired entries. A missing file is empty; a
    /// corrupt one is reported so the caller can log it and start with
    /// [`SessionStore::empty`] (losing sessions only logs people out).
    pub fn load(data_dir: &Path, now: UtcTime) -> Result<SessionStore, SessionError> {
        let path = data_dir.join(SESSIONS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(SessionStore::empty(data_dir))
            }
            Err(source) => return Err(SessionError::Io { path, source }),
        };
        let parsed: SessionsFile =
            serde_json::from_slice(&bytes).map_err(|source| SessionError::Corrupt {
                path: path.clone(),
                source,
            })?;
        let records: Vec<SessionRecord> = match parsed {
            SessionsFile::List(l) => l.unwrap_or_default(),
            SessionsFile::Legacy(m) => m
                .into_iter()
                .map(|(token, r)| SessionRecord {
                    key: secret::sha256_hex(token.as_bytes()),
                    expires_at: r.expires_at,
                    created_at: r.created_at,
                    user_agent: r.user_agent,
                    ip: r.ip,
                    username: None,
                    csrf_hash: None,
                })
                .collect(),
        };
        let sessions = records
            .into_iter()
            .filter(|r| r.expires_at > now)
            .map(|r| (r.key.clone(), r))
            .collect();
        Ok(SessionStore {
            path,
            sessions,
            dirty: false,
            writer: None,
        })
    }

    /// A store with no sessions that saves to `<data_dir>/sessions.json`.
    pub fn empty(data_dir: &Path) -> SessionStore {
        SessionStore {
            path: data_dir.join(SESSIONS_FILE),
            sessions: HashMap::new(),
            dirty: false,
            writer: None,
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Starts a session after a successful login and persists it. Returns both cookie values.
    pub fn create(
        &mut self,
        username: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
        now: UtcTime,
    ) -> Result<NewSession, SessionError> {
        self.prune(now);
        if self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .values()
                .min_by_key(|r| r.created_at)
                .map(|r| r.key.clone());
            if let Some(k) = oldest {
                self.sessions.remove(&k);
            }
        }
        let token = secret::random_hex(32)?;
        let (csrf_token, csrf_hash) = csrf::new_token()?;
        let key = secret::sha256_hex(token.expose().as_bytes());
        let expires_at = UtcTime::from_unix(now.secs + SESSION_TTL_SECS);
        let record = SessionRecord {
            key: key.clone(),
            expires_at,
            created_at: now,
            user_agent: user_agent.map(|u| u.chars().take(MAX_USER_AGENT).collect()),
            ip: ip.map(str::to_string),
            username: Some(username.to_string()),
            csrf_hash: Some(csrf_hash),
        };
        self.sessions.insert(key.clone(), record);
        if let Err(e) = self.save() {
            self.sessions.remove(&key);
            return Err(e);
        }
        Ok(NewSession {
            token,
            csrf_token,
            expires_at,
        })
    }

    /// The live session for a cookie value, if any.
    pub fn validate(&self, token: &str, now: UtcTime) -> Option<&SessionRecord> {
        let key = secret::sha256_hex(token.as_bytes());
        self.sessions.get(&key).filter(|r| r.expires_at > now)
    }

    /// Ends the session of a cookie value (logout). Returns whether one existed.
    pub fn remove(&mut self, token: &str) -> Result<bool, SessionError> {
        let key = secret::sha256_hex(token.as_bytes());
        if self.sessions.remove(&key).is_none() {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// Ends every session of `username` except `keep` (a session key): a password change
    /// logs out every other browser. Sessions restored from a Go file carry no user and
    /// belong to the only admin, so they end too.
    pub fn remove_user_except(
        &mut self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<usize, SessionError> {
        let before = self.sessions.len();
        self.sessions.retain(|k, r| {
            Some(k.as_str()) == keep || r.username.as_deref().is_some_and(|u| u != username)
        });
        let removed = before - self.sessions.len();
        if removed > 0 {
            self.save()?;
        }
        Ok(removed)
    }

    /// Sessions alive at `now`, newest first (the Security page lists them).
    pub fn list(&self, now: UtcTime) -> Vec<&SessionRecord> {
        let mut v: Vec<&SessionRecord> = self
            .sessions
            .values()
            .filter(|r| r.expires_at > now)
            .collect();
        v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.key.cmp(&b.key)));
        v
    }

    /// Ends the one session whose key starts with `prefix` (the id the API shows). An empty or
    /// ambiguous prefix ends nothing.
    pub fn remove_by_prefix(&mut self, prefix: &str) -> Result<bool, SessionError> {
        let mut hits = self
            .sessions
            .keys()
            .filter(|k| !prefix.is_empty() && k.starts_with(prefix));
        let (Some(key), None) = (hits.next().cloned(), hits.next()) else {
            return Ok(false);
        };
        self.sessions.remove(&key);
        self.save()?;
        Ok(true)
    }

    /// Ends every session (credentials replaced by quick-setup).
    pub fn clear(&mut self) -> Result<(), SessionError> {
        self.sessions.clear();
        self.save()
    }

    /// Whether `presented` is the CSRF token of the session `session_key`.
    pub fn check_csrf(&self, session_key: &str, presented: &str) -> bool {
        self.sessions
            .get(session_key)
            .and_then(|r| r.csrf_hash.as_deref())
            .is_some_and(|h| csrf::verify(presented, h))
    }

    /// Replaces the CSRF token of a session (after a failed check, or when the browser lost
    /// the cookie) and persists. `None` when the session no longer exists.
    pub fn rotate_csrf(&mut self, session_key: &str) -> Result<Option<Secret>, SessionError> {
        let Some(record) = self.sessions.get_mut(session_key) else {
            return Ok(None);
        };
        let (token, hash) = csrf::new_token()?;
        record.csrf_hash = Some(hash);
        // Not saved here: a client without its CSRF cookie would otherwise cost a disk write
        // on every request. Lost on a crash, the token is simply re-issued after a 403.
        self.dirty = true;
        Ok(Some(token))
    }

    /// Drops expired sessions (in memory; the next save writes them out).
    pub fn prune(&mut self, now: UtcTime) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, r| r.expires_at > now);
        before - self.sessions.len()
    }

    /// Saves when something changed since the last save.
    pub fn save_if_dirty(&mut self) -> Result<(), SessionError> {
        if self.dirty {
            self.save()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// From now on, saves are queued on the data-dir writer.
    pub fn attach_writer(&mut self, writer: WriterHandle) {
        self.writer = Some(writer);
    }

    /// Writes `sessions.json` (0600, atomic). With a writer attached the write is queued (in
    /// order, after every earlier save); a full queue is an error, a failed write is reported
    /// to the loop by the writer.
    pub fn save(&self) -> Result<(), SessionError> {
        let mut list: Vec<&SessionRecord> = self.sessions.values().collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        let json = serde_json::to_vec(&list).map_err(|e| SessionError::Io {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        if let Some(writer) = &self.writer {
            let write = Write::replace(&self.path, json, 0o600);
            return writer
                .submit(vec![write], None)
                .map_err(|r| SessionError::Io {
                    path: self.path.clone(),
                    source: io::Error::other(r.to_string()),
                });
        }
        write_atomic(&self.path, &json, 0o600).map_err(|source| SessionError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-sessions-{tag}-{}-{}",
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
    fn list_newest_first_and_remove_by_prefix() {
        let dir = temp_dir("list");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let a = store.create("admin", Some("10.0.0.1"), None, t(0)).unwrap();
        let b = store.create("admin", Some("10.0.0.2"), None, t(5)).unwrap();
        let listed: Vec<_> = store.list(t(10)).iter().map(|r| r.ip.clone()).collect();
        assert_eq!(listed, [Some("10.0.0.2".into()), Some("10.0.0.1".into())]);
        assert!(
            !store.remove_by_prefix("").unwrap(),
            "an empty prefix names nothing"
        );
        let key_b = secret::sha256_hex(b.token.expose().as_bytes());
        assert!(store.remove_by_prefix(&key_b[..16]).unwrap());
        assert!(store.validate(b.token.expose(), t(11)).is_none());
        assert!(store.validate(a.token.expose(), t(11)).is_some());
        assert!(
            !store.remove_by_prefix(&key_b[..16]).unwrap(),
            "already gone"
        );
        // Expired sessions are not listed.
        assert!(store.list(t(SESSION_TTL_SECS + 1)).is_empty());
    }

    #[test]
    fn create_validate_expire() {
        let dir = temp_dir("life");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let s = store
            .create("admin", Some("10.0.0.5"), Some("curl"), t(0))
            .unwrap();
        assert_eq!(s.token.expose().len(), 64);
        let rec = store.validate(s.token.expose(), t(10)).unwrap();
        assert_eq!(rec.username.as_deref(), Some("admin"));
        assert_eq!(rec.key, secret::sha256_hex(s.token.expose().as_bytes()));
        assert!(store
            .validate(s.token.expose(), t(SESSION_TTL_SECS - 1))
            .is_some());
        assert!(
            store
                .validate(s.token.expose(), t(SESSION_TTL_SECS))
                .is_none(),
            "24 h, not extended"
        );
        assert!(store.validate("not-a-session", t(1)).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn restart_keeps_sessions_and_file_has_no_raw_tokens() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("persist");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let s = store.create("admin", None, None, t(0)).unwrap();
        let path = dir.join(SESSIONS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(s.token.expose()));
        assert!(!text.contains(s.csrf_token.expose()));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let restarted = SessionStore::load(&dir, t(60)).unwrap();
        let key = &restarted.validate(s.token.expose(), t(60)).unwrap().key;
        assert!(
            restarted.check_csrf(key, s.csrf_token.expose()),
            "CSRF survives too"
        );
        // Loaded after expiry: gone.
        assert!(SessionStore::load(&dir, t(SESSION_TTL_SECS + 1))
            .unwrap()
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn go_legacy_map_format_is_migrated() {
        let dir = temp_dir("legacy");
        let legacy = r#"{"rawtok":{"expires_at":"2030-01-01T00:00:00Z","created_at":"2029-12-31T00:00:00Z"}}"#;
        std::fs::write(dir.join(SESSIONS_FILE), legacy).unwrap();
        let store = SessionStore::load(&dir, t(0)).unwrap();
        assert!(store.validate("rawtok", t(0)).is_some());
        std::fs::write(dir.join(SESSIONS_FILE), "{{{").unwrap();
        assert!(matches!(
            SessionStore::load(&dir, t(0)),
            Err(SessionError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csrf_check_and_rotation() {
        let dir = temp_dir("csrf");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let s = store.create("admin", None, None, t(0)).unwrap();
        let key = store.validate(s.token.expose(), t(1)).unwrap().key.clone();
        assert!(store.check_csrf(&key, s.csrf_token.expose()));
        assert!(!store.check_csrf(&key, "forged"));
        assert!(!store.check_csrf(&key, ""));
        let fresh = store.rotate_csrf(&key).unwrap().unwrap();
        assert!(store.check_csrf(&key, fresh.expose()));
        assert!(
            !store.check_csrf(&key, s.csrf_token.expose()),
            "old token replaced"
        );
        assert!(store.rotate_csrf("unknown").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csrf_rotation_is_saved_by_the_tick_not_per_request() {
        let dir = temp_dir("csrf-save");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let s = store.create("admin", None, None, t(0)).unwrap();
        let key = store.validate(s.token.expose(), t(1)).unwrap().key.clone();
        let on_disk = std::fs::read(dir.join(SESSIONS_FILE)).unwrap();
        let fresh = store.rotate_csrf(&key).unwrap().unwrap();
        assert_eq!(
            std::fs::read(dir.join(SESSIONS_FILE)).unwrap(),
            on_disk,
            "no write per rotation"
        );
        store.save_if_dirty().unwrap();
        let reloaded = SessionStore::load(&dir, t(2)).unwrap();
        assert!(
            reloaded.check_csrf(&key, fresh.expose()),
            "saved once asked"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn logout_and_password_change_end_sessions() {
        let dir = temp_dir("remove");
        let mut store = SessionStore::load(&dir, t(0)).unwrap();
        let a = store.create("admin", None, None, t(0)).unwrap();
        let b = store.create("admin", None, None, t(1)).unwrap();
        let c = store.create("other", None, None, t(2)).unwrap();
        assert!(store.remove(a.token.expose()).unwrap());
        assert!(!store.remove(a.token.expose()).unwrap());
        let d = store.create("admin", None, None, t(2)).unwrap();
        let keep = store.validate(d.token.expose(), t(2)).unwrap().key.clone();
        assert_eq!(store.remove_user_except("admin", Some(&keep)).unwrap(), 1);
        assert!(store.validate(b.token.expose(), t(3)).is_none());
        assert!(
            store.validate(c.token.expose(), t(3)).is_some(),
            "other users keep theirs"
        );
        assert!(
            store.validate(d.token.expose(), t(3)).is_some(),
            "the caller keeps theirs"
        );
        let reloaded = SessionStore::load(&dir, t(4)).unwrap();
        assert_eq!(reloaded.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
