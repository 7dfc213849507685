//! API tokens: the `api_tokens.json` store (Pulse's format), the scope list, and the legacy
//! `API_TOKENS` / `API_TOKEN` environment tokens.
//!
//! Only SHA3-256 hashes are kept; the raw value exists once, in the create response. New
//! tokens are `pulse_` + 64 hex characters as the API documentation shows (the Go code mints
//! bare hex, which its own env loader then mistakes for a hash).

use super::secret::{self, RandomUnavailable, Secret};
use crate::core::writer::{Write, WriterHandle};
use crate::util::atomic::write_atomic;
use crate::util::time::UtcTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// File name inside the data directory.
pub const TOKENS_FILE: &str = "api_tokens.json";
/// Prefix of tokens minted by this server.
pub const TOKEN_PREFIX: &str = "pulse_";
/// Upper bound on stored tokens: keeps the constant-time scan and the file small.
pub const MAX_TOKENS: usize = 1000;
const MAX_NAME_CHARS: usize = 128;

pub use super::scopes::Scope;

/// One element of `api_tokens.json`. `hash` never leaves the process except in that file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    hash: String,
    pub prefix: String,
    pub suffix: String,
    pub created_at: UtcTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<UtcTime>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// From `API_TOKENS`/`API_TOKEN`: listed and usable, but never written to the file, so
    /// removing the variable really removes the token.
    #[serde(skip)]
    from_env: bool,
}

impl TokenRecord {
    /// `*` grants everything; otherwise the exact scope must be listed.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == "*" || s == scope.as_str())
    }

    pub fn is_from_env(&self) -> bool {
        self.from_env
    }

    /// `prefix…suffix` as shown in the UI (three ASCII dots, as Pulse writes it).
    pub fn hint(&self) -> String {
        format!("{}...{}", self.prefix, self.suffix)
    }

    /// The JSON the API returns for this token: everything but the hash.
    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            scopes: self.scopes.clone(),
        }
    }
}

/// TokenDTO: a token record without its hash (`GET /api/security/tokens`, create `record`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub suffix: String,
    pub created_at: UtcTime,
    /// `null` until first use, as the API documentation shows.
    pub last_used_at: Option<UtcTime>,
    pub scopes: Vec<String>,
}

/// Why a token could not be created. `Display` is the exact 400 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    EmptyScopes,
    BlankScope,
    UnknownScope(String),
    WildcardMixed,
    NameTooLong,
    RawTokenInvalid,
    TooMany,
    Random,
    /// The store could not be written; the change was rolled back (a 500, not a 400).
    Persist(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::EmptyScopes => {
                f.write_str("select at least one scope or omit the field for full access")
            }
            TokenError::BlankScope => f.write_str("scope must not be empty"),
            TokenError::UnknownScope(s) => write!(f, "unknown scope {s:?}"),
            TokenError::WildcardMixed => {
                f.write_str("wildcard scope \"*\" cannot be combined with other scopes")
            }
            TokenError::NameTooLong => {
                write!(f, "token name must be at most {MAX_NAME_CHARS} characters")
            }
            TokenError::RawTokenInvalid => {
                f.write_str("API token must be 16 to 256 printable characters without spaces")
            }
            TokenError::TooMany => write!(f, "at most {MAX_TOKENS} API tokens can exist"),
            TokenError::Random => f.write_str("random generator unavailable"),
            TokenError::Persist(e) => write!(f, "failed to save API tokens: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<RandomUnavailable> for TokenError {
    fn from(_: RandomUnavailable) -> Self {
        TokenError::Random
    }
}

/// Validates a create request's `scopes`: omitted → `["*"]`; the result is de-duplicated and
/// sorted, as Pulse stores it.
pub fn normalize_scopes(requested: Option<&[String]>) -> Result<Vec<String>, TokenError> {
    let Some(requested) = requested else {
        return Ok(vec![Scope::All.as_str().to_string()]);
    };
    if requested.is_empty() {
        return Err(TokenError::EmptyScopes);
    }
    let mut out: Vec<String> = Vec::with_capacity(requested.len());
    for s in requested {
        let s = s.trim();
        if s.is_empty() {
            return Err(TokenError::BlankScope);
        }
        let scope = Scope::parse(s).ok_or_else(|| TokenError::UnknownScope(s.to_string()))?;
        out.push(scope.as_str().to_string());
    }
    out.sort();
    out.dedup();
    if out.len() > 1 && out.iter().any(|s| s == "*") {
        return Err(TokenError::WildcardMixed);
    }
    Ok(out)
}

/// Loading or saving `api_tokens.json` failed.
#[derive(Debug)]
pub enum TokenStoreError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl fmt::Display for TokenStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStoreError::Io { path, source } => {
                write!(
                    f,
                    "cannot access API token store {}: {source}",
                    path.display()
                )
            }
            TokenStoreError::Corrupt { path, source } => write!(
                f,
                "API token store {} is not valid JSON ({source}); fix or move it away",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TokenStoreError {}

/// All API tokens, owned by the event loop.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    records: Vec<TokenRecord>,
    /// `lastUsedAt` changed since the last save (saved periodically, not per request).
    dirty: bool,
    /// Inside Pulse, saves go through the data-dir writer thread; see `attach_writer`.
    writer: Option<WriterHandle>,
    /// What the file holds (or will once the writer catches up): the next save's backup.
    on_disk: Option<Vec<u8>>,
}

impl TokenStore {
    /// Loads `<data_dir>/api_tokens.json`; a missing file is an empty store, a corrupt one an
    /// error that names the file (never silently replaced: that would drop every token).
    pub fn load(data_dir: &Path) -> Result<TokenStore, TokenStoreError> {
        let path = data_dir.join(TOKENS_FILE);
        let records = match std::fs::read(&path) {
            Ok(bytes) => {
                // Go writes `null` for an empty list.
                let parsed: Option<Vec<TokenRecord>> =
                    serde_json::from_slice(&bytes).map_err(|source| TokenStoreError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                parsed.unwrap_or_default()
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(TokenStoreError::Io { path, source }),
        };
        let mut store = TokenStore {
            path,
            records: Vec::new(),
            dirty: false,
            writer: None,
            on_disk: None,
        };
        for mut r in records {
            if r.scopes.is_empty() {
                r.scopes = vec![Scope::All.as_str().to_string()];
            }
            if !store.records.iter().any(|e| e.hash == r.hash) {
                store.records.push(r);
            }
        }
        Ok(store)
    }

    /// Adds the legacy environment tokens: `API_TOKENS` (comma list) then `API_TOKEN`. A value
    /// of exactly 64 hex characters is taken as an already-hashed token (Pulse's rule);
    /// anything else is hashed. Duplicates of stored tokens are skipped. Returns how many
    /// were added.
    pub fn merge_env(&mut self, api_tokens: Option<&str>, api_token: Option<&str>) -> usize {
        let values = api_tokens
            .into_iter()
            .flat_map(|v| v.split(','))
            .chain(api_token);
        let mut added = 0;
        for v in values.map(str::trim).filter(|v| !v.is_empty()) {
            let hash = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                v.to_ascii_lowercase()
            } else {
                secret::sha3_256_hex(v.as_bytes())
            };
            if self.records.iter().any(|r| r.hash == hash) {
                continue;
            }
            // Hints come from the hash: the raw value may not even be known.
            let record = TokenRecord {
                id: format!("env-{}", &hash[..12]),
                name: "Environment token".into(),
                prefix: hash[..6].to_string(),
                suffix: hash[60..].to_string(),
                hash,
                created_at: UtcTime::ZERO,
                last_used_at: None,
                scopes: vec![Scope::All.as_str().to_string()],
                from_env: true,
            };
            self.records.push(record);
            added += 1;
        }
        added
    }

    /// Parses an `api_tokens.json` document (a configuration import's `apiTokens` section), with
    /// `load`'s rules: `null` is none, missing scopes are full access, duplicates drop. Run before
    /// the import commits, so a bad section fails the whole import.
    pub fn parse_records(value: &serde_json::Value) -> Result<Vec<TokenRecord>, String> {
        let parsed: Option<Vec<TokenRecord>> =
            serde_json::from_value(value.clone()).map_err(|e| format!("apiTokens: {e}"))?;
        let mut out: Vec<TokenRecord> = Vec::new();
        for mut r in parsed.unwrap_or_default() {
            if r.scopes.is_empty() {
                r.scopes = vec![Scope::All.as_str().to_string()];
            }
            if r.hash.len() != 64 || !r.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("apiTokens: token {:?} has no valid hash", r.id));
            }
            r.from_env = false;
            if !out.iter().any(|e| e.hash == r.hash) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A configuration import restored `api_tokens.json`: its tokens replace the stored ones at
    /// once (environment tokens stay), so a token only in the backup works and one the backup
    /// dropped stops working, without a restart. The list is queued on the writer again, so an
    /// older save still in its queue can never land last and bring the old tokens back.
    pub fn adopt(&mut self, records: Vec<TokenRecord>) -> Result<(), TokenStoreError> {
        let env: Vec<TokenRecord> = self.records.drain(..).filter(|r| r.from_env).collect();
        self.records = records;
        for r in env {
            if !self.records.iter().any(|e| e.hash == r.hash) {
                self.records.push(r);
            }
        }
        self.dirty = false;
        self.save()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Tokens newest first, without hashes.
    pub fn list(&self) -> Vec<TokenView> {
        let mut v: Vec<&TokenRecord> = self.records.iter().collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        v.into_iter().map(TokenRecord::view).collect()
    }

    /// The hint of the newest token (`/api/security/status` `apiTokenHint`).
    pub fn primary_hint(&self) -> Option<String> {
        self.records
            .iter()
            .max_by_key(|r| r.created_at)
            .map(TokenRecord::hint)
    }

    pub fn has_env_tokens(&self) -> bool {
        self.records.iter().any(|r| r.from_env)
    }

    /// Mints a new token and persists the store (rolled back if the write fails). The raw
    /// value is returned once and never stored. `name` blank → `"API token"`; `scopes` as [`normalize_scopes`].
    pub fn create(
        &mut self,
        name: &str,
        scopes: Option<&[String]>,
        now: UtcTime,
    ) -> Result<(Secret, TokenView), TokenError> {
        let scopes = normalize_scopes(scopes)?;
        let name = clean_name(name, "API token")?;
        if self.records.len() >= MAX_TOKENS {
            return Err(TokenError::TooMany);
        }
        let raw = Secret::new(format!(
            "{TOKEN_PREFIX}{}",
            secret::random_hex(32)?.expose()
        ));
        let record = new_record(&raw, name, scopes, now)?;
        let view = record.view();
        self.records.push(record);
        if let Err(e) = self.save() {
            self.records.pop();
            return Err(TokenError::Persist(e.to_string()));
        }
        Ok((raw, view))
    }

    /// Replaces every token (stored and env) with one full-access token, as
    /// `regenerate-token` and quick-setup do. With `raw` the caller supplies the value
    /// (quick-setup's client-generated token); otherwise one is minted.
    pub fn replace_all(
        &mut self,
        name: &str,
        raw: Option<&Secret>,
        now: UtcTime,
    ) -> Result<(Secret, TokenView), TokenError> {
        let raw = match raw {
            Some(r) => {
                validate_raw_token(r)?;
                r.clone()
            }
            None => Secret::new(format!(
                "{TOKEN_PREFIX}{}",
                secret::random_hex(32)?.expose()
            )),
        };
        let record = new_record(&raw, clean_name(name, "API token")?, vec!["*".into()], now)?;
        let view = record.view();
        let old = std::mem::replace(&mut self.records, vec![record]);
        if let Err(e) = self.save() {
            self.records = old;
            return Err(TokenError::Persist(e.to_string()));
        }
        Ok((raw, view))
    }

    pub fn get(&self, id: &str) -> Option<&TokenRecord> {
        self.records.iter().find(|r| r.id == id)
    }

    /// Removes a token by id and persists. `Ok(false)`: no such token.
    pub fn delete(&mut self, id: &str) -> Result<bool, TokenStoreError> {
        let Some(i) = self.records.iter().position(|r| r.id == id) else {
            return Ok(false);
        };
        let removed = self.records.remove(i);
        if let Err(e) = self.save() {
            self.records.insert(i, removed);
            return Err(e);
        }
        Ok(true)
    }

    /// Finds the token whose hash matches `raw` and records the use. Every stored hash is
    /// compared in constant time, with no early exit, so timing reveals neither which token
    /// matched nor how much of a guess was right.
    pub fn authenticate(&mut self, raw: &str, now: UtcTime) -> Option<&TokenRecord> {
        let i = self.position(raw)?;
        let record = self.records.get_mut(i)?;
        record.last_used_at = Some(now);
        self.dirty = true;
        Some(&*record)
    }

    /// Like [`TokenStore::authenticate`] without recording a use (`validate-token`).
    pub fn find(&self, raw: &str) -> Option<&TokenRecord> {
        self.position(raw).and_then(|i| self.records.get(i))
    }

    fn position(&self, raw: &str) -> Option<usize> {
        let presented = secret::sha3_256_hex(raw.as_bytes());
        let mut found = None;
        for (i, r) in self.records.iter().enumerate() {
            let matches = secret::constant_time_eq(presented.as_bytes(), r.hash.as_bytes());
            if matches && found.is_none() {
                found = Some(i);
            }
        }
        found
    }

    /// Writes the file when `lastUsedAt` changed; call it from a periodic tick.
    pub fn save_if_dirty(&mut self) -> Result<(), TokenStoreError> {
        if self.dirty {
            self.save()?;
        }
        Ok(())
    }

    /// From now on, saves are queued on the data-dir writer (the loop never fsyncs). The
    /// current file is read once here, to be the next save's backup.
    pub fn attach_writer(&mut self, writer: WriterHandle) {
        self.on_disk = std::fs::read(&self.path).ok();
        self.writer = Some(writer);
    }

    /// Writes `api_tokens.json` (0600, atomic), keeping the previous file as
    /// `api_tokens.json.backup` as Pulse does. Env tokens are not written. With a writer
    /// attached both writes are queued as one job; a full queue is an error.
    pub fn save(&mut self) -> Result<(), TokenStoreError> {
        let io_err = |path: &Path, source| TokenStoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let persisted: Vec<&TokenRecord> = self.records.iter().filter(|r| !r.from_env).collect();
        let json = serde_json::to_vec_pretty(&persisted)
            .map_err(|e| io_err(&self.path, io::Error::other(e)))?;
        if let Some(writer) = &self.writer {
            let backup = self.path.with_extension("json.backup");
            let mut writes = Vec::new();
            if let Some(old) = &self.on_disk {
                writes.push(Write::replace(backup, old.clone(), 0o600));
            }
            writes.push(Write::replace(&self.path, json.clone(), 0o600));
            writer
                .submit(writes, None)
                .map_err(|r| io_err(&self.path, io::Error::other(r.to_string())))?;
            self.on_disk = Some(json);
            self.dirty = false;
            return Ok(());
        }
        if let Ok(old) = std::fs::read(&self.path) {
            let backup = self.path.with_extension("json.backup");
            write_atomic(&backup, &old, 0o600).map_err(|e| io_err(&backup, e))?;
        }
        write_atomic(&self.path, &json, 0o600).map_err(|e| io_err(&self.path, e))?;
        self.dirty = false;
        Ok(())
    }
}

/// A caller-chosen token value (quick-setup's client-generated token): 16–256 printable
/// characters without spaces.
pub fn validate_raw_token(raw: &Secret) -> Result<(), TokenError> {
    let v = raw.expose();
    let printable = v.bytes().all(|b| b.is_ascii_graphic());
    if (16..=256).contains(&v.len()) && printable {
        Ok(())
    } else {
        Err(TokenError::RawTokenInvalid)
    }
}

fn clean_name(name: &str, default: &str) -> Result<String, TokenError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::NameTooLong);
    }
    Ok(if name.is_empty() {
        default.to_string()
    } else {
        name.to_string()
    })
}

fn new_record(
    raw: &Secret,
    name: String,
    scopes: Vec<String>,
    now: UtcTime,
) -> Result<TokenRecord, TokenError> {
    let v = raw.expose();
    // `pulse_1a2b` as in the docs for our tokens; Pulse's 6 characters for foreign ones.
    let prefix_len = if v.starts_with(TOKEN_PREFIX) {
        TOKEN_PREFIX.len() + 4
    } else {
        6
    };
    let prefix: String = v.chars().take(prefix_len).collect();
    let suffix: String = v
        .chars()
        .skip(v.chars().count().saturating_sub(4))
        .collect();
    Ok(TokenRecord {
        id: secret::random_uuid_v4()?,
        name,
        hash: secret::sha3_256_hex(v.as_bytes()),
        prefix,
        suffix,
        created_at: now,
        last_used_at: None,
        scopes,
        from_env: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-tokens-{tag}-{}-{}",
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
    fn scope_validation_follows_pulse_rules() {
        assert_eq!(normalize_scopes(None).unwrap(), vec!["*"]);
        assert_eq!(normalize_scopes(Some(&[])), Err(TokenError::EmptyScopes));
        assert_eq!(
            normalize_scopes(Some(&[" ".into()])),
            Err(TokenError::BlankScope)
        );
        assert_eq!(
            normalize_scopes(Some(&["nope".into()]))
                .unwrap_err()
                .to_string(),
            "unknown scope \"nope\""
        );
        assert_eq!(
            normalize_scopes(Some(&["*".into(), "settings:read".into()])),
            Err(TokenError::WildcardMixed)
        );
        let s = ["settings:write", "monitoring:read", "settings:write"].map(String::from);
        assert_eq!(
            normalize_scopes(Some(&s)).unwrap(),
            vec!["monitoring:read", "settings:write"]
        );
        for k in Scope::KNOWN {
            assert_eq!(Scope::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn create_list_lookup_delete_round_trip() {
        let dir = temp_dir("crud");
        let mut store = TokenStore::load(&dir).unwrap();
        assert!(store.is_empty());
        let scopes = vec!["monitoring:read".to_string()];
        let (raw, view) = store.create("  ansible ", Some(&scopes), t(0)).unwrap();
        let raw_s = raw.expose().to_string();
        assert!(raw_s.starts_with("pulse_") && raw_s.len() == 70);
        assert_eq!(view.name, "ansible");
        assert_eq!(view.prefix, &raw_s[..10]);
        assert_eq!(view.suffix, &raw_s[66..]);
        assert_eq!(view.last_used_at, None);
        let (_raw2, view2) = store.create("", None, t(10)).unwrap();
        assert_eq!(view2.name, "API token");
        assert_eq!(view2.scopes, vec!["*"]);

        // Listing: newest first, never the secret or its hash.
        let list = store.list();
        assert_eq!(
            list.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            [&view2.id, &view.id]
        );
        let json = serde_json::to_string(&list).unwrap();
        assert!(!json.contains(&raw_s));
        assert!(!json.contains(&secret::sha3_256_hex(raw_s.as_bytes())));
        assert!(!json.contains("hash"));
        assert!(json.contains("\"lastUsedAt\":null"));

        // Lookup by raw value records the use; scopes are enforced per record.
        let rec = store.authenticate(&raw_s, t(20)).unwrap();
        assert_eq!(rec.id, view.id);
        assert!(rec.has_scope(Scope::MonitoringRead));
        assert!(!rec.has_scope(Scope::SettingsWrite));
        assert_eq!(rec.last_used_at, Some(t(20)));
        assert!(store.authenticate("pulse_wrong", t(21)).is_none());
        assert!(store.authenticate(&raw_s[..69], t(21)).is_none());

        assert!(store.delete(&view.id).unwrap());
        assert!(!store.delete(&view.id).unwrap());
        assert_eq!(
            TokenStore::load(&dir).unwrap().len(),
            1,
            "delete was persisted"
        );
        assert!(store.authenticate(&raw_s, t(30)).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn persistence_round_trip_keeps_hashes_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("persist");
        let mut store = TokenStore::load(&dir).unwrap();
        let (raw, view) = store.create("ci", None, t(0)).unwrap();
        store.create("second", None, t(1)).unwrap();
        store.authenticate(raw.expose(), t(5)).unwrap();
        store.save_if_dirty().unwrap();
        let path = dir.join(TOKENS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(raw.expose()));
        assert!(text.contains(&secret::sha3_256_hex(raw.expose().as_bytes())));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(dir.join("api_tokens.json.backup").exists());

        let mut again = TokenStore::load(&dir).unwrap();
        assert_eq!(again.list()[1].last_used_at, Some(t(5)));
        assert_eq!(again.authenticate(raw.expose(), t(6)).unwrap().id, view.id);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn go_written_file_loads() {
        let dir = temp_dir("go");
        let hash = secret::sha3_256_hex(b"legacy-raw-token-value");
        let go = format!(
            r#"[{{"id":"9bf9aa59-3b85-4fd8-9aad-3f19b2c9b6f0","name":"old","hash":"{hash}","prefix":"legacy","suffix":"alue","createdAt":"2025-10-14T12:12:34Z"}}]"#
        );
        std::fs::write(dir.join(TOKENS_FILE), go).unwrap();
        let mut store = TokenStore::load(&dir).unwrap();
        let rec = store.authenticate("legacy-raw-token-value", t(0)).unwrap();
        assert_eq!(
            rec.scopes,
            vec!["*"],
            "scopes omitted in old files mean full access"
        );
        std::fs::write(dir.join(TOKENS_FILE), "null").unwrap();
        assert!(TokenStore::load(&dir).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_write_rolls_back() {
        // A data dir that does not exist: loading is fine (no file), saving fails.
        let dir = temp_dir("rollback").join("missing");
        let mut store = TokenStore::load(&dir).unwrap();
        assert!(matches!(
            store.create("x", None, t(0)),
            Err(TokenError::Persist(_))
        ));
        assert!(store.is_empty());
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join(TOKENS_FILE), "[{not json").unwrap();
        let err = TokenStore::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("api_tokens.json") && err.contains("not valid JSON"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_tokens_merge_hash_rule_and_are_not_persisted() {
        let dir = temp_dir("env");
        let mut store = TokenStore::load(&dir).unwrap();
        let hashed = secret::sha3_256_hex(b"from-hash");
        let added = store.merge_env(Some(&format!("alpha, beta,,{hashed}")), Some("alpha"));
        assert_eq!(added, 3, "duplicate API_TOKEN merged away");
        assert!(store.authenticate("alpha", t(0)).is_some());
        assert!(store.authenticate("beta", t(0)).unwrap().is_from_env());
        assert!(store.authenticate("from-hash", t(0)).is_some());
        assert!(store.has_env_tokens());
        store.create("stored", None, t(1)).unwrap();
        let reloaded = TokenStore::load(&dir).unwrap();
        assert_eq!(reloaded.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn replace_all_keeps_exactly_one_full_access_token() {
        let dir = temp_dir("replace");
        let mut store = TokenStore::load(&dir).unwrap();
        store.merge_env(Some("envtok"), None);
        let (old, _) = store.create("a", None, t(0)).unwrap();
        let (new, view) = store.replace_all("Regenerated token", None, t(1)).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(view.scopes, vec!["*"]);
        assert!(store.authenticate(old.expose(), t(2)).is_none());
        assert!(store.authenticate("envtok", t(2)).is_none());
        assert!(store.authenticate(new.expose(), t(2)).is_some());

        let client = Secret::new("0123456789abcdef0123456789abcdef0123456789abcdef");
        let (_, view) = store
            .replace_all("Primary token", Some(&client), t(3))
            .unwrap();
        assert_eq!(view.prefix, "012345");
        assert!(store.authenticate(client.expose(), t(4)).is_some());
        let short = Secret::new("short");
        assert_eq!(
            store.replace_all("x", Some(&short), t(5)).unwrap_err(),
            TokenError::RawTokenInvalid
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
