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
