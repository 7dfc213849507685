//! The per-request authorization decision, as a pure function of facts already resolved
//! against the stores ([`super::guard::Security::authorize`] does the resolving), plus the
//! one list of public routes that the router and the auth-matrix test both read.
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

/// What a route requires. Every route in the router carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// No authentication, ever. Only routes listed in [`PUBLIC_ROUTES`] (or static assets).
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

/// A public route: exact path, and the methods that are public on it.
#[derive(Debug, Clone, Copy)]
pub struct PublicRoute {
    pub methods: &'static [&'static str],
    pub path: &'static str,
}

const GET: &[&str] = &["GET", "HEAD"];
const POST: &[&str] = &["POST"];

/// THE list of public (unauthenticated) endpoints. The router must give `RouteAuth::Public`
/// to exactly these (static UI files outside the API are public too); the auth-matrix test
/// expects 401 without credentials from every other registered route.
pub const PUBLIC_ROUTES: &[PublicRoute] = &[
    // The WebSocket handshake: authorization is checked by the handler after the upgrade and
    // refused with close code 1008, which the browser UI turns into the login page.
    PublicRoute {
        methods: GET,
        path: "/ws",
    },
    PublicRoute {
        methods: GET,
        path: "/socket.io",
    },
    PublicRoute {
        methods: GET,
        path: "/socket.io/{*rest}",
    },
    PublicRoute {
        methods: GET,
        path: "/api/health",
    },
    PublicRoute {
        methods: GET,
        path: "/api/version",
    },
    PublicRoute {
        methods: POST,
        path: "/api/login",
    },
    PublicRoute {
        methods: GET,
        path: "/api/security/status",
    },
    PublicRoute {
        methods: GET,
        path: "/api/agent/version",
    },
    PublicRoute {
        methods: GET,
        path: "/api/server/info",
    },
    // The script itself holds no secret; the setup code is entered interactively.
    PublicRoute {
        methods: GET,
        path: "/api/setup-script",
    },
    // Checks its own setup code / API token in the body.
    PublicRoute {
        methods: POST,
        path: "/api/auto-register",
    },
    PublicRoute {
        methods: GET,
        path: "/api/system/proxy-public-key",
    },
    PublicRoute {
        methods: GET,
        path: "/api/install/pulse-sensor-proxy",
    },
    PublicRoute {
        methods: GET,
        path: "/api/install/install-sensor-proxy.sh",
    },
    PublicRoute {
        methods: GET,
        path: "/api/install/install-docker.sh",
    },
    PublicRoute {
        methods: POST,
        path: "/api/oidc/login",
    },
    PublicRoute {
        methods: GET,
        path: "/api/oidc/callback",
    },
    PublicRoute {
        methods: GET,
        path: "/install-docker-agent.sh",
    },
    PublicRoute {
        methods: GET,
        path: "/install-container-agent.sh",
    },
    PublicRoute {
        methods: GET,
        path: "/install-host-agent.sh",
    },
    PublicRoute {
        methods: GET,
        path: "/install-host-agent.ps1",
    },
    PublicRoute {
        methods: GET,
        path: "/uninstall-host-agent.sh",
    },
    PublicRoute {
        methods: GET,
        path: "/uninstall-host-agent.ps1",
    },
    PublicRoute {
        methods: GET,
        path: "/download/pulse-docker-agent",
    },
    PublicRoute {
        methods: GET,
        path: "/download/pulse-host-agent",
    },
];

/// Whether `method path` is in [`PUBLIC_ROUTES`]. `OPTIONS` is answered before auth by the
/// HTTP layer and is not covered here.
pub fn is_public_route(method: &str, path: &str) -> bool {
    PUBLIC_ROUTES
        .iter()
        .any(|r| r.path == path && r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
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
pub fn decide(route: RouteAuth, mode: AuthMode, f: &Facts) -> Result<Principal, Denial> {
    if f.query_token {
        return Err(Denial::QueryToken);
    }
    if route == RouteAuth::Public {
        return Ok(identify(mode, f).unwrap_or(Principal::Anonymous));
    }
    if mode.recovery_mode && f.direct_loopback {
        return Ok(Principal::Recovery);
    }
    if !mode.any() {
        return match route {
            RouteAuth::Export if !(f.private_client || mode.allow_unprotected_export) => {
                Err(Denial::ExportNeedsAuth)
            }
            RouteAuth::LocalhostOnly if !f.direct_loopback => Err(Denial::LocalhostRequired),
            _ => Ok(Principal::Anonymous),
        };
    }

    let principal = match identify(mode, f) {
        Some(p) => p,
        None if f.token == TokenFact::Invalid => return Err(Denial::InvalidToken),
        None if f.recovery_token
            && matches!(route, RouteAuth::Setup | RouteAuth::LocalhostOnly) =>
        {
            Principal::RecoveryToken
        }
        None if mode.api_only() => return Err(Denial::ApiTokenRequired),
        None => return Err(Denial::AuthRequired),
    };

    // Setup, recovery and export/import hand out or reveal credentials: a token needs
    // `settings:write` for them, whatever else it may do.
    let needed = match route {
        RouteAuth::Scope(s) => Some(s),
        RouteAuth::Setup | RouteAuth::LocalhostOnly | RouteAuth::Export => {
            Some(Scope::SettingsWrite)
        }
        RouteAuth::Public | RouteAuth::Authenticated => None,
    };
    if let Some(s) = needed.filter(|s| !principal.has_scope(*s)) {
        return Err(Denial::MissingScope(s));
    }
    if route == RouteAuth::LocalhostOnly && !(f.direct_loopback || f.recovery_token) {
        return Err(Denial::LocalhostRequired);
    }

    if let (Principal::Session { .. }, SessionFact::Valid { csrf_ok: false, .. }) =
        (&principal, &f.session)
    {
        let state_changing = csrf::method_needs_csrf(&f.method);
        let api = f.path == "/api" || f.path.starts_with("/api/");
        if state_changing && api && !csrf::path_is_exempt(&f.path, mode.password) {
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
