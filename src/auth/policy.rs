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

    pub fn has_scope(&self, scope: Scope) -> bool {
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
mod tests {
    use super::*;

    const CONFIGURED: AuthMode = AuthMode {
        password: true,
        tokens: true,
        recovery_mode: false,
        allow_unprotected_export: false,
    };
    const OPEN: AuthMode = AuthMode {
        password: false,
        tokens: false,
        recovery_mode: false,
        allow_unprotected_export: false,
    };
    const API_ONLY: AuthMode = AuthMode {
        password: false,
        tokens: true,
        recovery_mode: false,
        allow_unprotected_export: false,
    };

    fn facts(method: &str, path: &str) -> Facts {
        Facts {
            method: method.into(),
            path: path.into(),
            query_token: false,
            token: TokenFact::Absent,
            session: SessionFact::Absent,
            recovery_token: false,
            direct_loopback: false,
            private_client: false,
            csrf_exempt: false,
        }
    }

    fn token(scopes: &[&str]) -> TokenFact {
        TokenFact::Valid {
            id: "t1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn session(csrf_ok: bool) -> SessionFact {
        SessionFact::Valid {
            key: "k".into(),
            username: Some("admin".into()),
            csrf_ok,
        }
    }

    const READ: Access = Access::Scope(Scope::MonitoringRead);
    const WRITE: Access = Access::Scope(Scope::SettingsWrite);

    #[test]
    fn no_credentials_on_protected_routes_is_401() {
        for route in [
            Access::Authenticated,
            READ,
            WRITE,
            Access::Setup,
            Access::Export,
            Access::LocalhostOnly,
        ] {
            assert_eq!(
                decide(route, CONFIGURED, &facts("GET", "/api/x")),
                Err(Denial::AuthRequired),
                "{route:?}"
            );
        }
        let mut f = facts("GET", "/api/state");
        f.session = SessionFact::Invalid;
        assert_eq!(decide(READ, CONFIGURED, &f), Err(Denial::AuthRequired));
        assert_eq!(
            Denial::AuthRequired.body(),
            json!({"error": "Authentication required"})
        );
    }

    #[test]
    fn public_routes_allow_anyone_and_still_identify() {
        assert_eq!(
            decide(Access::Public, CONFIGURED, &facts("GET", "/api/health")),
            Ok(Principal::Anonymous)
        );
        let mut f = facts("GET", "/api/security/status");
        f.token = TokenFact::Invalid;
        assert_eq!(
            decide(Access::Public, CONFIGURED, &f),
            Ok(Principal::Anonymous)
        );
        f.token = token(&["monitoring:read"]);
        assert!(decide(Access::Public, CONFIGURED, &f)
            .unwrap()
            .is_authenticated());
    }

    #[test]
    fn tokens_need_the_route_scope() {
        let mut f = facts("GET", "/api/state");
        f.token = token(&["monitoring:read"]);
        assert!(matches!(
            decide(READ, CONFIGURED, &f),
            Ok(Principal::Token { .. })
        ));
        assert_eq!(
            decide(WRITE, CONFIGURED, &f),
            Err(Denial::MissingScope(Scope::SettingsWrite))
        );
        assert_eq!(
            Denial::MissingScope(Scope::SettingsWrite).body(),
            json!({"error": "missing_scope", "requiredScope": "settings:write"})
        );
        assert_eq!(
            decide(Access::Setup, CONFIGURED, &f),
            Err(Denial::MissingScope(Scope::SettingsWrite))
        );
        assert!(decide(Access::Authenticated, CONFIGURED, &f).is_ok());
        f.token = token(&["*"]);
        assert!(decide(WRITE, CONFIGURED, &f).is_ok());
        assert!(decide(Access::Setup, CONFIGURED, &f).is_ok());
        f.token = TokenFact::Invalid;
        f.session = session(true);
        assert_eq!(
            decide(READ, CONFIGURED, &f),
            Err(Denial::InvalidToken),
            "a bad token is not papered over by a cookie"
        );
    }

    #[test]
    fn credential_routes_need_settings_write_from_tokens() {
        let mut f = facts("POST", "/api/config/export");
        f.direct_loopback = true;
        f.token = token(&["monitoring:read"]);
        for route in [Access::Export, Access::LocalhostOnly, Access::Setup] {
            assert_eq!(
                decide(route, CONFIGURED, &f),
                Err(Denial::MissingScope(Scope::SettingsWrite)),
                "{route:?}"
            );
        }
        f.token = token(&["settings:write"]);
        for route in [Access::Export, Access::LocalhostOnly, Access::Setup] {
            assert!(decide(route, CONFIGURED, &f).is_ok(), "{route:?}");
        }
    }

    #[test]
    fn token_requests_need_no_csrf() {
        let mut f = facts("POST", "/api/config/nodes");
        f.token = token(&["settings:write"]);
        f.session = session(false);
        assert!(matches!(
            decide(WRITE, CONFIGURED, &f),
            Ok(Principal::Token { .. })
        ));
    }

    #[test]
    fn sessions_bypass_scopes_but_need_csrf_on_writes() {
        let mut f = facts("GET", "/api/config/nodes");
        f.session = session(false);
        assert!(
            matches!(decide(WRITE, CONFIGURED, &f), Ok(Principal::Session { .. })),
            "GET needs no CSRF"
        );
        for m in ["POST", "PUT", "DELETE", "PATCH"] {
            f.method = m.into();
            assert_eq!(decide(WRITE, CONFIGURED, &f), Err(Denial::Csrf), "{m}");
        }
        f.session = session(true);
        assert!(decide(WRITE, CONFIGURED, &f).is_ok());
        assert_eq!(Denial::Csrf.status(), 403);
        assert_eq!(
            Denial::Csrf.body(),
            json!({"error": "CSRF token validation failed"})
        );
    }

    #[test]
    fn csrf_exemptions() {
        let mut f = facts("POST", "/api/setup-script-url");
        f.session = session(false);
        assert_eq!(
            decide(Access::Authenticated, CONFIGURED, &f),
            Err(Denial::Csrf)
        );
        f.csrf_exempt = true;
        assert!(decide(Access::Authenticated, CONFIGURED, &f).is_ok());
        // Exempt-without-password routes need CSRF as soon as a password exists.
        assert!(Csrf::Exempt.exempt(true));
        assert!(Csrf::ExemptWithoutPassword.exempt(false));
        assert!(!Csrf::ExemptWithoutPassword.exempt(true));
        assert!(!Csrf::Required.exempt(false));
        f.csrf_exempt = Csrf::ExemptWithoutPassword.exempt(CONFIGURED.password);
        f.path = "/api/security/quick-setup".into();
        assert_eq!(decide(Access::Setup, CONFIGURED, &f), Err(Denial::Csrf));
        // Public login needs none even with a stale cookie.
        f.path = "/api/login".into();
        assert!(decide(Access::Public, CONFIGURED, &f).is_ok());
    }

    #[test]
    fn nothing_configured_is_open_except_export_and_recovery() {
        let f = facts("POST", "/api/config/nodes");
        assert_eq!(decide(WRITE, OPEN, &f), Ok(Principal::Anonymous));
        assert_eq!(decide(Access::Setup, OPEN, &f), Ok(Principal::Anonymous));
        let mut f = facts("POST", "/api/config/export");
        assert_eq!(
            decide(Access::Export, OPEN, &f),
            Err(Denial::ExportNeedsAuth)
        );
        f.private_client = true;
        assert!(decide(Access::Export, OPEN, &f).is_ok());
        f.private_client = false;
        let allow = AuthMode {
            allow_unprotected_export: true,
            ..OPEN
        };
        assert!(decide(Access::Export, allow, &f).is_ok());
        let mut f = facts("GET", "/api/security/recovery");
        assert_eq!(
            decide(Access::LocalhostOnly, OPEN, &f),
            Err(Denial::LocalhostRequired)
        );
        f.direct_loopback = true;
        assert!(decide(Access::LocalhostOnly, OPEN, &f).is_ok());
    }

    #[test]
    fn api_only_mode_accepts_tokens_only() {
        let mut f = facts("GET", "/api/state");
        assert_eq!(decide(READ, API_ONLY, &f), Err(Denial::ApiTokenRequired));
        assert_eq!(Denial::ApiTokenRequired.status(), 401);
        let h = Denial::ApiTokenRequired.headers();
        assert!(h[0].1.starts_with("Bearer "), "never a Basic challenge");
        f.session = session(true);
        assert_eq!(
            decide(READ, API_ONLY, &f),
            Err(Denial::ApiTokenRequired),
            "sessions do not count"
        );
        f.token = token(&["monitoring:read"]);
        assert!(decide(READ, API_ONLY, &f).is_ok());
        f.token = TokenFact::Invalid;
        assert_eq!(decide(READ, API_ONLY, &f), Err(Denial::InvalidToken));
        assert!(decide(Access::Public, API_ONLY, &facts("GET", "/api/health")).is_ok());
    }

    #[test]
    fn query_tokens_are_rejected_everywhere() {
        let mut f = facts("GET", "/api/health");
        f.query_token = true;
        f.token = token(&["*"]);
        assert_eq!(
            decide(Access::Public, CONFIGURED, &f),
            Err(Denial::QueryToken)
        );
        assert_eq!(decide(READ, OPEN, &f), Err(Denial::QueryToken));
        assert_eq!(Denial::QueryToken.status(), 400);
        assert!(query_has_token("a=1&token=abc"));
        assert!(query_has_token("API_TOKEN=x"));
        assert!(query_has_token("apiToken"));
        assert!(!query_has_token("type=pve&auth_token=abc&host=x"));
        assert!(!query_has_token("range=1h"));
        assert!(!query_has_token(""));
    }

    #[test]
    fn recovery_mode_and_tokens() {
        let recovery = AuthMode {
            recovery_mode: true,
            ..CONFIGURED
        };
        let mut f = facts("POST", "/api/security/quick-setup");
        f.direct_loopback = true;
        assert_eq!(decide(Access::Setup, recovery, &f), Ok(Principal::Recovery));
        f.direct_loopback = false;
        assert_eq!(
            decide(Access::Setup, recovery, &f),
            Err(Denial::AuthRequired)
        );
        f.recovery_token = true;
        assert_eq!(
            decide(Access::Setup, CONFIGURED, &f),
            Ok(Principal::RecoveryToken)
        );
        assert_eq!(
            decide(READ, CONFIGURED, &f),
            Err(Denial::AuthRequired),
            "recovery tokens only open setup/recovery"
        );

        let mut f = facts("POST", "/api/security/recovery");
        f.session = session(true);
        assert_eq!(
            decide(Access::LocalhostOnly, CONFIGURED, &f),
            Err(Denial::LocalhostRequired)
        );
        f.direct_loopback = true;
        assert!(decide(Access::LocalhostOnly, CONFIGURED, &f).is_ok());
        f.session = SessionFact::Absent;
        assert_eq!(
            decide(Access::LocalhostOnly, CONFIGURED, &f),
            Err(Denial::AuthRequired),
            "loopback alone is not auth"
        );
    }
}
