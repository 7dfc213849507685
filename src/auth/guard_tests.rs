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
    let err = SecurityConfig::from_env(&dir, env(&[("PULSE_TRUSTED_PROXY_CIDRS", "10.0.0.0/99")]))
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
