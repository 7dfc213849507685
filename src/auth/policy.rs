//! The per-request authorization decision, as a pure function of facts already resolved
//! against the stores ([`super::guard::Security::authorize`] does the resolving), and the
//! vocabulary of a route's rule ([`Access`], [`Csrf`]). Each route in the route table
//! (`api::all_routes()`) declares its own rule: that table is the one source of which routes
//! are public, which scope a token needs and which routes skip the CSRF check.
//!
//! Rules, in order:
//! 1. A token-like query parameter → 400, whatever the route (tokens in URLs end up in logs).
//! 2. Public routes → allowed; valid credentials still identify the caller.
//! 3. Recovery mode (`.auth_recovery`) and a direct-loopback request → allowed.
//! 4. No credentials configured at all → open, as Pulse (First-Run Setup must work), except
//!    that export/import then needs a private-network client and recovery needs loopback.
//! 5. A presented API token (`X-API-Token`, `Authorization: Bearer`) must be valid.
//! 6. API-only mode (tokens, no password): a token is the only accepted credential.
//! 7. Otherwise a valid `pulse_session` cookie.
//! 8. Token callers need the route's scope; sessions are the admin and need none.
//! 9. Session callers of state-changing `/api` requests need the CSRF token.

use super::csrf;
use super::tokens::Scope;
use serde_json::json;

/// Who may call a route. Every route in the route table declares one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication, ever (health, version, login, the WebSocket handshake, which
    /// authorizes in its handler; static UI files outside the API are public too).
    Public,
    /// Any authenticated caller; tokens need no particular scope.
    Authenticated,
    /// Authenticated; API-token callers need this scope (or `*`).
    Scope(Scope),
    /// Credential setup (`/api/security/quick-setup`): as `Scope(SettingsWrite)`, or a valid
    /// single-use recovery token. While nothing is configured it is open and the handler
    /// demands the bootstrap token.
    Setup,
    /// `/api/security/recovery`: authenticated (unless recovery mode is on or nothing is
    /// configured) **and** either straight from loopback or carrying a recovery token.
    /// Tokens need `settings:write`.
    LocalhostOnly,
    /// Config export/import: authenticated (tokens need `settings:write`); with nothing
    /// configured, only clients on a private network (or `ALLOW_UNPROTECTED_EXPORT=true`).
    Export,
}

/// Whether a route checks the CSRF token of session callers on state-changing methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Csrf {
    #[default]
    Required,
    /// Never checked (`/api/setup-script-url`: the UI posts it without the header).
    Exempt,
    /// Not checked while no password exists (First-Run Setup and API-only mode have no
    /// session to take a token from): quick-setup, apply-restart.
    ExemptWithoutPassword,
}

/// A route's whole access rule, as the route table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    pub access: Access,
    pub csrf: Csrf,
}

impl From<Access> for RouteRule {
    fn from(access: Access) -> RouteRule {
        RouteRule {
            access,
            csrf: Csrf::Required,
        }
    }
}

impl Csrf {
    /// Whether the check is skipped, given whether a password is configured.
    pub fn exempt(self, password_configured: bool) -> bool {
        match self {
            Csrf::Required => false,
            Csrf::Exempt => true,
            Csrf::ExemptWithoutPassword => !password_configured,
        }
    }
}

/// Query parameters that would carry an API token. `auth_token` is absent on purpose: it is
/// the setup script's parameter (a setup code), which `/api/setup-script` validates itself.
pub const TOKEN_QUERY_PARAMS: [&str; 6] = [
    "token",
    "api_token",
    "apitoken",
    "apiToken",
    "access_token",
    "x-api-token",
];

/// Whether a raw query string carries a token parameter (name match only; the value is never
/// looked at, logged or returned).
pub fn query_has_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        TOKEN_QUERY_PARAMS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
    })
}

/// How the server is configured, for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthMode {
    /// `PULSE_AUTH_USER` + password hash present.
    pub password: bool,
    /// At least one API token (stored or env).
    pub tokens: bool,
    /// `.auth_recovery` exists.
    pub recovery_mode: bool,
    /// `ALLOW_UNPROTECTED_EXPORT=true`.
    pub allow_unprotected_export: bool,
}

impl AuthMode {
    /// Any credential configured: otherwise Pulse runs open.
    pub fn any(&self) -> bool {
        self.password || self.tokens
    }

    /// Tokens but no password: every protected call needs a token.
    pub fn api_only(&self) -> bool {
        self.tokens && !self.password
    }
}

/// The API token presented on the request, after lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFact {
    Absent,
    Invalid,
    Valid { id: String, scopes: Vec<String> },
}

/// The session cookie, after lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionFact {
    Absent,
    /// Cookie present but unknown or expired.
    Invalid,
    Valid {
        key: String,
        username: Option<String>,
        csrf_ok: bool,
    },
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone)]
pub struct Facts {
    pub method: String,
    pub path: String,
    pub query_token: bool,
    pub token: TokenFact,
    pub session: SessionFact,
    /// A valid recovery token was presented (and consumed).
    pub recovery_token: bool,
    /// Loopback peer without forwarding headers.
    pub direct_loopback: bool,
    /// The resolved client address is in a private range.
    pub private_client: bool,
    /// The route skips the CSRF check for this request ([`Csrf::exempt`]).
    pub csrf_exempt: bool,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nothing is configured (or a public route without valid credentials).
    Anonymous,
    /// Direct loopback while recovery mode is on.
    Recovery,
    /// A valid single-use recovery token.
    RecoveryToken,
    Session {
        key: String,
        username: Option<String>,
    },
    Token {
        id: String,
        scopes: Vec<String>,
    },
}

impl Principal {
    /// Authenticated by a session or a token (the status endpoint's "authenticated" test).
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Principal::Session { .. } | Principal::Token { .. })
    }

    fn has_scope(&self, scope: Scope) -> bool {
        match self {
            Principal::Token { scopes, .. } => {
                scopes.iter().any(|s| s == "*" || s == scope.as_str())
            }
            _ => true,
        }
    }
}

/// Why a request is refused. `status`, `body` and `headers` are the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    QueryToken,
    AuthRequired,
    ApiTokenRequired,
    InvalidToken,
    MissingScope(Scope),
    /// The HTTP layer adds the fresh token (`X-CSRF-Token` header and cookie).
    Csrf,
    LocalhostRequired,
    ExportNeedsAuth,
}

const API_TOKEN_REQUIRED: &str =
    "API token required via Authorization header or X-API-Token header";

impl Denial {
    pub fn status(&self) -> u16 {
        match self {
            Denial::QueryToken => 400,
            Denial::AuthRequired | Denial::ApiTokenRequired | Denial::InvalidToken => 401,
            Denial::MissingScope(_)
            | Denial::Csrf
            | Denial::LocalhostRequired
            | Denial::ExportNeedsAuth => 403,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        match self {
            Denial::QueryToken => {
                json!({"error": "API tokens are not accepted in the query string; use the X-API-Token header or Authorization: Bearer"})
            }
            Denial::AuthRequired => json!({"error": "Authentication required"}),
            Denial::ApiTokenRequired => json!({"error": API_TOKEN_REQUIRED}),
            Denial::InvalidToken => json!({"error": "Invalid API token"}),
            Denial::MissingScope(s) => {
                json!({"error": "missing_scope", "requiredScope": s.as_str()})
            }
            Denial::Csrf => json!({"error": csrf::CSRF_FAILED_MESSAGE}),
            Denial::LocalhostRequired => {
                json!({"error": "Recovery endpoint requires localhost access or valid recovery token"})
            }
            Denial::ExportNeedsAuth => {
                json!({"error": "Export requires authentication on public networks"})
            }
        }
    }

    /// Headers owned by the denial itself. Only `Bearer` is ever challenged: a `Basic`
    /// challenge would pop up the browser's login dialog over the UI.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Denial::ApiTokenRequired => vec![(
                "WWW-Authenticate",
                "Bearer realm=\"API token required; supply via Authorization header or X-API-Token header\"".into(),
            )],
            _ => Vec::new(),
        }
    }
}

/// The decision for one request.
pub fn decide(route: Access, mode: AuthMode, f: &Facts) -> Result<Principal, Denial> {
    if f.query_token {
        return Err(Denial::QueryToken);
    }
    if route == Access::Public {
        return Ok(identify(mode, f).unwrap_or(Principal::Anonymous));
    }
    if mode.recovery_mode && f.direct_loopback {
        return Ok(Principal::Recovery);
    }
    if !mode.any() {
        return match route {
            Access::Export if !(f.private_client || mode.allow_unprotected_export) => {
                Err(Denial::ExportNeedsAuth)
            }
            Access::LocalhostOnly if !f.direct_loopback => Err(Denial::LocalhostRequired),
            _ => Ok(Principal::Anonymous),
        };
    }

    let principal = match identify(mode, f) {
        Some(p) => p,
        None if f.token == TokenFact::Invalid => return Err(Denial::InvalidToken),
        None if f.recovery_token && matches!(route, Access::Setup | Access::LocalhostOnly) => {
            Principal::RecoveryToken
        }
        None if mode.api_only() => return Err(Denial::ApiTokenRequired),
        None => return Err(Denial::AuthRequired),
    };

    // Setup, recovery and export/import hand out or reveal credentials: a token needs
    // `settings:write` for them, whatever else it may do.
    let needed = match route {
        Access::Scope(s) => Some(s),
        Access::Setup | Access::LocalhostOnly | Access::Export => Some(Scope::SettingsWrite),
        Access::Public | Access::Authenticated => None,
    };
    if let Some(s) = needed.filter(|s| !principal.has_scope(*s)) {
        return Err(Denial::MissingScope(s));
    }
    if route == Access::LocalhostOnly && !(f.direct_loopback || f.recovery_token) {
        return Err(Denial::LocalhostRequired);
    }

    if let (Principal::Session { .. }, SessionFact::Valid { csrf_ok: false, .. }) =
        (&principal, &f.session)
    {
        let state_changing = csrf::method_needs_csrf(&f.method);
        let api = f.path == "/api" || f.path.starts_with("/api/");
        if state_changing && api && !f.csrf_exempt {
            return Err(Denial::Csrf);
        }
    }
    Ok(principal)
}

/// The caller's identity from a token or session, if valid. A presented token wins over a
/// session cookie; in API-only mode sessions are not accepted.
fn identify(mode: AuthMode, f: &Facts) -> Option<Principal> {
    match &f.token {
        TokenFact::Valid { id, scopes } => {
            return Some(Principal::Token {
                id: id.clone(),
                scopes: scopes.clone(),
            });
        }
        TokenFact::Invalid => return None,
        TokenFact::Absent => {}
    }
    match &f.session {
        SessionFact::Valid { key, username, .. } if mode.password => Some(Principal::Session {
            key: key.clone(),
            username: username.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
