//! [`Security`]: all security state of one Pulse instance, owned by the event loop, and the
//! two calls the HTTP pipeline makes for every request:
//!
//! ```text
//! let ip = security.client_ip(peer, &headers);
//! let rate = security.rate_limit(ip, method, path, now);        // Option<RateStatus>
//! if let Some(r) = rate.filter(|r| !r.allowed) { 429 + r.headers() + r.error_body() }
//! let verdict = security.authorize(&request, route.rule(), now);  // Verdict
//! match verdict.outcome { Ok(principal) => handler, Err(d) => d.status()/d.body() }
//! // every response: rate headers (if any) + verdict.headers
//! ```

use super::audit::{AuditEvent, AuditLog};
use super::bootstrap::{self, BootstrapToken};
use super::client_ip::{self, CidrList};
use super::cookies;
use super::csrf::{self, CSRF_COOKIE, CSRF_HEADER};
use super::lockout::Lockout;
use super::password::{PasswordHash, PasswordSource};
use super::policy::{
    self, Access, AuthMode, Denial, Facts, Principal, RouteRule, SessionFact, TokenFact,
};
use super::ratelimit::{RateLimiter, RateStatus};
use super::recovery::Recovery;
use super::request::{Credentials, RequestInfo};
use super::sessions::{SessionStore, SESSION_COOKIE, SESSION_TTL_SECS};
use super::tokens::TokenStore;
use crate::util::time::UtcTime;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The single admin account (`PULSE_AUTH_USER` / `PULSE_AUTH_PASS`).
#[derive(Debug, Clone)]
pub struct Admin {
    pub username: String,
    pub hash: PasswordHash,
}

/// Startup configuration of the security layer.
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    pub data_dir: PathBuf,
    pub admin: Option<Admin>,
    /// `API_TOKENS` (comma list).
    pub env_api_tokens: Option<String>,
    /// Legacy `API_TOKEN`.
    pub env_api_token: Option<String>,
    /// `PULSE_TRUSTED_PROXY_CIDRS`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: CidrList,
    /// `PULSE_TRUSTED_NETWORKS`: informational (`isTrustedNetwork` in the status).
    pub trusted_networks: CidrList,
    /// `ALLOW_UNPROTECTED_EXPORT=true`.
    pub allow_unprotected_export: bool,
    /// `PULSE_AUTH_USER`/`PULSE_AUTH_PASS` come from the process environment (systemd,
    /// Docker), which outranks `.env`: a password saved to `.env` would be undone at restart.
    pub credentials_pinned_by_env: bool,
}

/// A configuration or startup error; the message names the variable or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityError(pub String);

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SecurityError {}

impl SecurityConfig {
    /// Reads the security variables through `get` (process environment already merged with
    /// `<data dir>/.env` by the caller). Returns warnings to log.
    ///
    /// **Blocking:** a plaintext `PULSE_AUTH_PASS` is hashed here (bcrypt, ≈250 ms). Call
    /// it at startup, before the event loop runs.
    pub fn from_env(
        data_dir: &Path,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(SecurityConfig, Vec<String>), SecurityError> {
        let mut warnings = Vec::new();
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let admin = match (non_empty("PULSE_AUTH_USER"), non_empty("PULSE_AUTH_PASS")) {
            (Some(username), Some(pass)) => {
                let (hash, source) = PasswordHash::from_env_value(&pass)
                    .map_err(|e| SecurityError(format!("PULSE_AUTH_PASS: {e}")))?;
                if source == PasswordSource::TruncatedHashTreatedAsPlaintext {
                    warnings.push("PULSE_AUTH_PASS looks like a truncated bcrypt hash (quote it: an unquoted `$` is expanded by the shell); it is used as a plain password".to_string());
                }
                Some(Admin {
                    username: username.trim().to_string(),
                    hash,
                })
            }
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(SecurityError(
                    "PULSE_AUTH_USER and PULSE_AUTH_PASS must be set together".into(),
                ))
            }
        };
        let cidrs = |k: &str| {
            CidrList::parse(&get(k).unwrap_or_default()).map_err(|e| {
                SecurityError(format!(
                    "{k}: {e}; expected comma-separated CIDRs or IP addresses"
                ))
            })
        };
        if get("DISABLE_AUTH").is_some() {
            warnings.push(
                "DISABLE_AUTH is deprecated and ignored: authentication stays as configured".into(),
            );
        }
        let config = SecurityConfig {
            data_dir: data_dir.to_path_buf(),
            admin,
            env_api_tokens: get("API_TOKENS"),
            env_api_token: get("API_TOKEN"),
            trusted_proxies: cidrs("PULSE_TRUSTED_PROXY_CIDRS")?,
            trusted_networks: cidrs("PULSE_TRUSTED_NETWORKS")?,
            credentials_pinned_by_env: false,
            allow_unprotected_export: get("ALLOW_UNPROTECTED_EXPORT")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        };
        Ok((config, warnings))
    }
}

/// The outcome of [`Security::authorize`].
#[derive(Debug)]
pub struct Verdict {
    pub outcome: Result<Principal, Denial>,
    /// Headers for the response whatever the outcome: `Set-Cookie` for a fresh CSRF token,
    /// `X-CSRF-Token` after a CSRF failure, `X-Auth-Recovery`, `WWW-Authenticate`.
    pub headers: Vec<(String, String)>,
    pub client_ip: IpAddr,
}

/// All security state. Fields are public so endpoint handlers can reach each store.
#[derive(Debug)]
pub struct Security {
    pub data_dir: PathBuf,
    pub admin: Option<Admin>,
    pub tokens: TokenStore,
    pub sessions: SessionStore,
    pub lockout: Lockout,
    pub rate: RateLimiter,
    pub recovery: Recovery,
    /// Present while no credentials are configured.
    pub bootstrap: Option<BootstrapToken>,
    pub audit: AuditLog,
    pub trusted_proxies: CidrList,
    pub trusted_networks: CidrList,
    pub allow_unprotected_export: bool,
    pub credentials_pinned_by_env: bool,
}

impl Security {
    /// Loads the stores from the data dir and creates (or removes) the bootstrap token.
    /// Blocking file I/O: call at startup. Returns warnings to log; none contains a secret.
    pub fn open(
        config: SecurityConfig,
        now: UtcTime,
    ) -> Result<(Security, Vec<String>), SecurityError> {
        let mut warnings = Vec::new();
        let dir = config.data_dir;
        let mut tokens = TokenStore::load(&dir).map_err(|e| SecurityError(e.to_string()))?;
        tokens.merge_env(
            config.env_api_tokens.as_deref(),
            config.env_api_token.as_deref(),
        );
        let sessions = SessionStore::load(&dir, now).unwrap_or_else(|e| {
            warnings.push(format!(
                "{e}; starting with no sessions (everyone must log in again)"
            ));
            SessionStore::empty(&dir)
        });
        let recovery = Recovery::load(&dir, now).map_err(|e| SecurityError(e.to_string()))?;
        let configured = config.admin.is_some() || !tokens.is_empty();
        let bootstrap = if configured {
            bootstrap::remove_stale(&dir)
                .map_err(|e| SecurityError(format!("removing stale bootstrap token: {e}")))?;
            None
        } else {
            let b =
                BootstrapToken::load_or_create(&dir).map_err(|e| SecurityError(e.to_string()))?;
            warnings.push(format!(
                "no authentication configured: open the UI to finish setup; the bootstrap token is in {}",
                b.path().display()
            ));
            Some(b)
        };
        let security = Security {
            audit: AuditLog::new(&dir),
            data_dir: dir,
            admin: config.admin,
            tokens,
            sessions,
            lockout: Lockout::new(),
            rate: RateLimiter::new(),
            recovery,
            bootstrap,
            trusted_proxies: config.trusted_proxies,
            trusted_networks: config.trusted_networks,
            allow_unprotected_export: config.allow_unprotected_export,
            credentials_pinned_by_env: config.credentials_pinned_by_env,
        };
        Ok((security, warnings))
    }

    /// Routes every later save (sessions, tokens, audit) through the data-dir writer thread.
    pub fn attach_writer(&mut self, writer: crate::core::writer::WriterHandle) {
        self.sessions.attach_writer(writer.clone());
        self.tokens.attach_writer(writer.clone());
        self.audit.attach_writer(writer);
    }

    pub fn mode(&self) -> AuthMode {
        AuthMode {
            password: self.admin.is_some(),
            tokens: !self.tokens.is_empty(),
            recovery_mode: self.recovery.is_active(),
            allow_unprotected_export: self.allow_unprotected_export,
        }
    }

    /// The client address (forwarding headers only from trusted proxies).
    pub fn client_ip(&self, req: &RequestInfo<'_>) -> IpAddr {
        client_ip::client_ip(
            req.peer,
            req.header("x-forwarded-for"),
            req.header("x-real-ip"),
            &self.trusted_proxies,
        )
    }

    /// Counts the request against its rate-limit category; `None` when exempt. On
    /// `allowed == false` answer 429 with `headers()` and `error_body()`; otherwise add
    /// `headers()` to the response.
    pub fn rate_limit(
        &mut self,
        client_ip: IpAddr,
        method: &str,
        path: &str,
        now: UtcTime,
    ) -> Option<RateStatus> {
        self.rate.check_request(client_ip, method, path, now)
    }

    /// Decides whether `req` may reach a route that requires `route`, with side effects:
    /// token `lastUsedAt`, recovery-token consumption, CSRF re-issue, audit of CSRF failures.
    pub fn authorize(
        &mut self,
        req: &RequestInfo<'_>,
        rule: impl Into<RouteRule>,
        now: UtcTime,
    ) -> Verdict {
        let RouteRule {
            access: route,
            csrf,
        } = rule.into();
        let ip = self.client_ip(req);
        let creds = Credentials::from_headers(|n| req.header(n));
        let mode = self.mode();

        let token = match creds.api_token {
            None => TokenFact::Absent,
            Some(raw) => match self.tokens.authenticate(raw, now) {
                Some(r) => TokenFact::Valid {
                    id: r.id.clone(),
                    scopes: r.scopes.clone(),
                },
                None => TokenFact::Invalid,
            },
        };
        let session = match creds.session {
            None => SessionFact::Absent,
            Some(raw) => match self.sessions.validate(raw, now) {
                Some(r) => SessionFact::Valid {
                    key: r.key.clone(),
                    username: r.username.clone(),
                    csrf_ok: creds
                        .csrf_header
                        .is_some_and(|c| self.sessions.check_csrf(&r.key, c)),
                },
                None => SessionFact::Invalid,
            },
        };
        // A single-use recovery token is only spent where it matters and nothing else worked.
        let identified = matches!(token, TokenFact::Valid { .. })
            || (mode.password && matches!(session, SessionFact::Valid { .. }));
        let recovery_token = matches!(route, Access::Setup | Access::LocalhostOnly)
            && !identified
            && creds
                .recovery_token
                .is_some_and(|t| self.recovery.consume_token(t, Some(ip), now));

        let facts = Facts {
            method: req.method.to_string(),
            path: req.path.to_string(),
            query_token: policy::query_has_token(req.query),
            token,
            session,
            recovery_token,
            direct_loopback: req.is_direct_local(),
            private_client: client_ip::is_private(ip),
            csrf_exempt: csrf.exempt(mode.password),
        };
        let outcome = policy::decide(route, mode, &facts);

        let mut headers: Vec<(String, String)> = Vec::new();
        let secure = req.is_https();
        match &outcome {
            Err(Denial::Csrf) => {
                if let SessionFact::Valid { key, .. } = &facts.session {
                    if let Ok(Some(fresh)) = self.sessions.rotate_csrf(key) {
                        headers.push((CSRF_HEADER.into(), fresh.expose().to_string()));
                        headers.push(("Set-Cookie".into(), csrf_cookie(fresh.expose(), secure)));
                    }
                }
                let _ = self
                    .audit
                    .record(AuditEvent::CsrfFailure, Some(ip), None, now);
            }
            Err(d) => {
                headers.extend(d.headers().into_iter().map(|(k, v)| (k.to_string(), v)));
            }
            Ok(Principal::Session { key, .. })
                if !creds.has_csrf_cookie
                    && req.path.starts_with("/api/")
                    && !csrf::method_needs_csrf(req.method) =>
            {
                // The browser lost its CSRF cookie (or it predates a restart): issue one.
                if let Ok(Some(fresh)) = self.sessions.rotate_csrf(key) {
                    headers.push(("Set-Cookie".into(), csrf_cookie(fresh.expose(), secure)));
                }
            }
            Ok(Principal::Recovery) => headers.push(("X-Auth-Recovery".into(), "true".into())),
            Ok(Principal::RecoveryToken) => {
                let _ = self
                    .audit
                    .record(AuditEvent::RecoveryTokenUsed, Some(ip), None, now);
            }
            Ok(_) => {}
        }
        Verdict {
            outcome,
            headers,
            client_ip: ip,
        }
    }

    /// Periodic housekeeping (every minute or so): drop expired sessions, idle rate windows
    /// and stale lockout entries; persist token `lastUsedAt`. Returns errors to log.
    pub fn tick(&mut self, now: UtcTime) -> Vec<String> {
        let mut errors = Vec::new();
        if self.sessions.prune(now) > 0 {
            if let Err(e) = self.sessions.save() {
                errors.push(e.to_string());
            }
        }
        if let Err(e) = self.sessions.save_if_dirty() {
            errors.push(e.to_string());
        }
        self.rate.prune(now);
        self.lockout.prune(now);
        self.recovery.prune(now);
        if let Err(e) = self.tokens.save_if_dirty() {
            errors.push(e.to_string());
        }
        errors
    }
}

/// `Set-Cookie` for the session cookie (HttpOnly).
pub fn session_cookie(token: &str, secure: bool) -> String {
    cookies::set_cookie(SESSION_COOKIE, token, SESSION_TTL_SECS, true, secure)
}

/// `Set-Cookie` for the CSRF cookie (readable by the UI's JavaScript).
pub fn csrf_cookie(token: &str, secure: bool) -> String {
    cookies::set_cookie(CSRF_COOKIE, token, SESSION_TTL_SECS, false, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secret;
    use crate::auth::tokens::Scope;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-guard-{tag}-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    /// Cost 4 keeps tests fast; the cost-12 path is covered in `password`.
    fn admin() -> Admin {
        let hash = PasswordHash::parse_hash(&bcrypt::hash("correct horse", 4).unwrap()).unwrap();
        Admin {
            username: "admin".into(),
            hash,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req<'a>(method: &'a str, path: &'a str, headers: &'a [(String, String)]) -> RequestInfo<'a> {
        RequestInfo {
            method,
            path,
            query: "",
            peer: "192.168.1.50".parse().unwrap(),
            is_tls: false,
            headers,
        }
    }

    fn header<'v>(v: &'v Verdict, name: &str) -> Option<&'v str> {
        v.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn config_from_env() {
        let dir = temp_dir("env");
        let hash = bcrypt::hash("pw", 4).unwrap();
        let (c, w) = SecurityConfig::from_env(
            &dir,
            env(&[
                ("PULSE_AUTH_USER", "admin"),
                ("PULSE_AUTH_PASS", &hash),
                ("API_TOKENS", "a,b"),
                ("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/8"),
                ("ALLOW_UNPROTECTED_EXPORT", "TRUE"),
                ("DISABLE_AUTH", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.admin.as_ref().unwrap().username, "admin");
        assert!(c.admin.unwrap().hash.verify("pw"));
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(c.allow_unprotected_export);
        assert_eq!(w.len(), 1, "DISABLE_AUTH warning");

        let err = SecurityConfig::from_env(&dir, env(&[("PULSE_AUTH_USER", "admin")])).unwrap_err();
        assert!(err.0.contains("PULSE_AUTH_PASS"));
        let err =
            SecurityConfig::from_env(&dir, env(&[("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/99")]))
                .unwrap_err();
        assert!(err.0.starts_with("PULSE_TRUSTED_PROXY_CIDRS"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bootstrap_exists_only_without_credentials() {
        let dir = temp_dir("boot");
        let (s, warnings) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                ..Default::default()
            },
            t(0),
        )
        .unwrap();
        assert!(s.bootstrap.is_some());
        assert!(dir.join(".bootstrap_token").exists());
        assert!(warnings.iter().any(|w| w.contains(".bootstrap_token")));
        let token = std::fs::read_to_string(dir.join(".bootstrap_token")).unwrap();
        assert!(
            !warnings.iter().any(|w| w.contains(token.trim())),
            "path only, never the token"
        );

        let (s, _) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                admin: Some(admin()),
                ..Default::default()
            },
            t(0),
        )
        .unwrap();
        assert!(s.bootstrap.is_none());
        assert!(!dir.join(".bootstrap_token").exists(), "stale file removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_bearer_and_header_forms_with_scopes() {
        let dir = temp_dir("tokens");
        let cfg = SecurityConfig {
            data_dir: dir.clone(),
            admin: Some(admin()),
            ..Default::default()
        };
        let (mut s, _) = Security::open(cfg, t(0)).unwrap();
        let scopes = vec!["monitoring:read".to_string()];
        let (raw, view) = s.tokens.create("ro", Some(&scopes), t(0)).unwrap();
        let read = Access::Scope(Scope::MonitoringRead);
        let write = Access::Scope(Scope::SettingsWrite);

        let h = hdrs(&[("x-api-token", raw.expose())]);
        let v = s.authorize(&req("GET", "/api/state", &h), read, t(1));
        assert_eq!(
            v.outcome,
            Ok(Principal::Token {
                id: view.id.clone(),
                scopes: scopes.clone()
            })
        );
        let bearer = format!("Bearer {}", raw.expose());
        let h = hdrs(&[("authorization", &bearer)]);
        assert!(s
            .authorize(&req("GET", "/api/state", &h), read, t(2))
            .outcome
            .is_ok());
        assert_eq!(
            s.authorize(&req("POST", "/api/config/nodes", &h), write, t(3))
                .outcome,
            Err(Denial::MissingScope(Scope::SettingsWrite))
        );
        assert_eq!(s.tokens.list()[0].last_used_at, Some(t(3)));

        let h = hdrs(&[("x-api-token", "pulse_bogus")]);
        assert_eq!(
            s.authorize(&req("GET", "/api/state", &h), read, t(4))
                .outcome,
            Err(Denial::InvalidToken)
        );
        let h = hdrs(&[("authorization", "Basic YWRtaW46cHc=")]);
        assert_eq!(
            s.authorize(&req("GET", "/api/state", &h), read, t(4))
                .outcome,
            Err(Denial::AuthRequired)
        );

        let h = hdrs(&[]);
        let mut r = req("GET", "/api/state", &h);
        r.query = "token=abc";
        assert_eq!(s.authorize(&r, read, t(5)).outcome, Err(Denial::QueryToken));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn session_csrf_failure_reissues_and_retry_succeeds() {
        let dir = temp_dir("csrf");
        let cfg = SecurityConfig {
            data_dir: dir.clone(),
            admin: Some(admin()),
            ..Default::default()
        };
        let (mut s, _) = Security::open(cfg, t(0)).unwrap();
        let new = s.sessions.create("admin", None, None, t(0)).unwrap();
        let cookie = format!(
            "pulse_session={}; pulse_csrf={}",
            new.token.expose(),
            new.csrf_token.expose()
        );
        let route = Access::Scope(Scope::SettingsWrite);

        // No header: 403 with a fresh token in header and cookie.
        let h = hdrs(&[("cookie", &cookie)]);
        let v = s.authorize(&req("POST", "/api/config/nodes", &h), route, t(1));
        assert_eq!(v.outcome, Err(Denial::Csrf));
        let fresh = header(&v, "X-CSRF-Token").unwrap().to_string();
        assert!(header(&v, "Set-Cookie")
            .unwrap()
            .starts_with(&format!("pulse_csrf={fresh}; Path=/")));
        assert!(!header(&v, "Set-Cookie").unwrap().contains("HttpOnly"));
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(audit.contains("csrf_failure"));

        // Retry with the fresh token: allowed. The old token no longer works.
        let h = hdrs(&[("cookie", &cookie), ("x-csrf-token", &fresh)]);
        assert!(matches!(
            s.authorize(&req("POST", "/api/config/nodes", &h), route, t(2))
                .outcome,
            Ok(Principal::Session { .. })
        ));
        let h = hdrs(&[
            ("cookie", &cookie),
            ("x-csrf-token", new.csrf_token.expose()),
        ]);
        assert_eq!(
            s.authorize(&req("POST", "/api/config/nodes", &h), route, t(3))
                .outcome,
            Err(Denial::Csrf)
        );

        // A GET without the CSRF cookie gets one issued.
        let only_session = format!("pulse_session={}", new.token.expose());
        let h = hdrs(&[("cookie", &only_session)]);
        let v = s.authorize(&req("GET", "/api/state", &h), Access::Authenticated, t(4));
        assert!(v.outcome.is_ok());
        assert!(header(&v, "Set-Cookie").unwrap().starts_with("pulse_csrf="));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn api_only_mode_and_open_mode() {
        let dir = temp_dir("modes");
        let (mut s, _) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                ..Default::default()
            },
            t(0),
        )
        .unwrap();
        let h = hdrs(&[]);
        assert_eq!(
            s.authorize(
                &req("POST", "/api/config/nodes", &h),
                Access::Authenticated,
                t(1)
            )
            .outcome,
            Ok(Principal::Anonymous)
        );

        let (raw, _) = s.tokens.create("only", None, t(1)).unwrap();
        let v = s.authorize(&req("GET", "/api/state", &h), Access::Authenticated, t(2));
        assert_eq!(v.outcome, Err(Denial::ApiTokenRequired));
        assert!(header(&v, "WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer "));
        let h = hdrs(&[("x-api-token", raw.expose())]);
        assert!(s
            .authorize(&req("GET", "/api/state", &h), Access::Authenticated, t(3))
            .outcome
            .is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recovery_mode_from_loopback_only_and_trusted_proxy_ip() {
        let dir = temp_dir("recovery");
        let cfg = SecurityConfig {
            data_dir: dir.clone(),
            admin: Some(admin()),
            trusted_proxies: CidrList::parse("127.0.0.1").unwrap(),
            ..Default::default()
        };
        let (mut s, _) = Security::open(cfg, t(0)).unwrap();
        s.recovery.enable_mode().unwrap();
        let h = hdrs(&[]);
        let mut r = req("GET", "/api/state", &h);
        r.peer = "127.0.0.1".parse().unwrap();
        let v = s.authorize(&r, Access::Authenticated, t(1));
        assert_eq!(v.outcome, Ok(Principal::Recovery));
        assert_eq!(header(&v, "X-Auth-Recovery"), Some("true"));

        // A browser on this machine steered by another site is not "the local admin": neither a
        // cross-site page nor a DNS-rebinding hostname gets the bypass.
        for (k, v) in [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
            ("host", "evil.example:7655"),
        ] {
            let h = hdrs(&[(k, v)]);
            let mut r = req("POST", "/api/config/nodes", &h);
            r.peer = "127.0.0.1".parse().unwrap();
            let v = s.authorize(&r, Access::Authenticated, t(1));
            assert_eq!(v.outcome, Err(Denial::AuthRequired), "{k}");
        }
        let h = hdrs(&[
            ("host", "localhost:7655"),
            ("origin", "http://localhost:7655"),
        ]);
        let mut r = req("POST", "/api/config/nodes", &h);
        r.peer = "::1".parse().unwrap();
        assert_eq!(
            s.authorize(&r, Access::Authenticated, t(1)).outcome,
            Ok(Principal::Recovery)
        );

        // Through a local reverse proxy: not the local user, and the client IP is the forwarded one.
        let h = hdrs(&[("x-forwarded-for", "203.0.113.9")]);
        let mut r = req("GET", "/api/state", &h);
        r.peer = "127.0.0.1".parse().unwrap();
        let v = s.authorize(&r, Access::Authenticated, t(2));
        assert_eq!(v.outcome, Err(Denial::AuthRequired));
        assert_eq!(v.client_ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        // From an untrusted peer the header is ignored.
        let r = req("GET", "/api/state", &h);
        assert_eq!(s.client_ip(&r), "192.168.1.50".parse::<IpAddr>().unwrap());

        // A recovery token opens quick-setup once.
        let (tok, _) = s.recovery.generate_token(5, t(3)).unwrap();
        let h = hdrs(&[("x-recovery-token", tok.expose())]);
        let r = req("POST", "/api/security/quick-setup", &h);
        assert_eq!(
            s.authorize(&r, Access::Setup, t(4)).outcome,
            Ok(Principal::RecoveryToken)
        );
        assert_eq!(
            s.authorize(&r, Access::Setup, t(5)).outcome,
            Err(Denial::AuthRequired)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rate_limit_and_tick() {
        let dir = temp_dir("rate");
        let (mut s, _) = Security::open(
            SecurityConfig {
                data_dir: dir.clone(),
                admin: Some(admin()),
                ..Default::default()
            },
            t(0),
        )
        .unwrap();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..10 {
            assert!(
                s.rate_limit(ip, "POST", "/api/login", t(0))
                    .unwrap()
                    .allowed
            );
        }
        let denied = s.rate_limit(ip, "POST", "/api/login", t(1)).unwrap();
        assert!(!denied.allowed);
        assert!(s.rate_limit(ip, "GET", "/api/state", t(1)).is_none());
        assert!(s.tick(t(120)).is_empty());
        assert!(
            s.rate_limit(ip, "POST", "/api/login", t(121))
                .unwrap()
                .allowed
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
