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
use super::client_ip::{self, CidrList, FORWARDING_HEADERS};
use super::cookies;
use super::csrf::{self, CSRF_COOKIE, CSRF_HEADER};
use super::lockout::Lockout;
use super::password::{PasswordHash, PasswordSource};
use super::policy::{
    self, Access, AuthMode, Denial, Facts, Principal, RouteRule, SessionFact, TokenFact,
};
use super::ratelimit::{RateLimiter, RateStatus};
use super::recovery::Recovery;
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

/// The credentials a request carries, read from its headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub api_token: Option<&'a str>,
    pub session: Option<&'a str>,
    pub csrf_header: Option<&'a str>,
    pub has_csrf_cookie: bool,
    pub recovery_token: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// `X-API-Token`, else `Authorization: Bearer …`; `pulse_session`/`pulse_csrf` cookies;
    /// `X-CSRF-Token`; `X-Recovery-Token`. `header` looks up a lower-case header name.
    pub fn from_headers(header: impl Fn(&str) -> Option<&'a str>) -> Credentials<'a> {
        let bearer = header("authorization").and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        let cookie = header("cookie").unwrap_or("");
        let non_empty = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
        Credentials {
            api_token: non_empty(header("x-api-token")).or(non_empty(bearer)),
            session: non_empty(cookies::cookie_value(cookie, SESSION_COOKIE)),
            csrf_header: non_empty(header("x-csrf-token")),
            has_csrf_cookie: non_empty(cookies::cookie_value(cookie, CSRF_COOKIE)).is_some(),
            recovery_token: non_empty(header("x-recovery-token")),
        }
    }
}

/// One request as the security layer sees it. `headers` have lower-case names.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Raw query string without `?` (names are checked, values never read).
    pub query: &'a str,
    pub peer: IpAddr,
    pub is_tls: bool,
    pub headers: &'a [(String, String)],
}

impl<'a> RequestInfo<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether cookies set on this response need `Secure`.
    pub fn is_https(&self) -> bool {
        cookies::request_is_https(
            self.is_tls,
            self.header("x-forwarded-proto"),
            self.header("forwarded"),
        )
    }

    /// Straight from this machine, and not a browser being steered by another site: a
    /// loopback peer, no proxy headers, a loopback `Host` (defeats DNS rebinding), and no
    /// cross-site `Origin`/`Sec-Fetch-Site`. Recovery mode and the recovery endpoint trust
    /// only such requests, so a web page open on the Pulse host cannot use them.
    pub fn is_direct_local(&self) -> bool {
        let has_forwarding = FORWARDING_HEADERS.iter().any(|h| self.header(h).is_some());
        let host = self.header("host");
        client_ip::is_direct_loopback(self.peer, has_forwarding)
            && host.is_none_or(client_ip::is_local_host_header)
            && !client_ip::is_cross_site(host, self.header("origin"), self.header("sec-fetch-site"))
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
#[path = "guard_tests.rs"]
mod tests;
