//! API tokens over real HTTP: create (value shown once), list (no secret), delete (204),
//! scope enforcement, `X-API-Token` and `Authorization: Bearer`, query-string tokens
//! rejected, API-only mode, regenerate.

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use support::TestServer;

#[test]
fn create_list_delete_and_scopes() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let r = b.send(
        &srv,
        "POST",
        "/api/security/tokens",
        Some(r#"{"name":"reader","scopes":["settings:read"]}"#),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    let raw = v["token"].as_str().unwrap().to_string();
    let id = v["record"]["id"].as_str().unwrap().to_string();
    assert!(raw.starts_with("pulse_") && raw.len() == 70);
    assert_eq!(v["record"]["name"], "reader");
    assert_eq!(v["record"]["scopes"], serde_json::json!(["settings:read"]));
    assert_eq!(v["record"]["prefix"], &raw[..10]);
    assert_eq!(v["record"]["suffix"], &raw[66..]);
    assert!(v["record"].get("hash").is_none());

    // Listed without the secret or its hash.
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &raw)],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(!r.text().contains(&raw));
    assert!(!r.text().contains("\"hash\""));
    let listed = &r.json()["tokens"][0];
    assert_eq!(listed["id"], id);
    assert!(
        listed["lastUsedAt"].is_string(),
        "the listing call itself used the token"
    );

    // Scope enforcement: settings:read cannot write.
    let r = srv.req(
        "POST",
        "/api/security/tokens",
        &[("X-API-Token", &raw)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "missing_scope", "requiredScope": "settings:write"})
    );

    // Bearer form works the same.
    let bearer = format!("Bearer {raw}");
    assert_eq!(
        srv.req(
            "GET",
            "/api/security/tokens",
            &[("Authorization", &bearer)],
            None
        )
        .status,
        200
    );
    let lower = format!("bearer {raw}");
    assert_eq!(
        srv.req(
            "GET",
            "/api/security/tokens",
            &[("Authorization", &lower)],
            None
        )
        .status,
        200
    );

    // Validation errors are 400 with Pulse's messages.
    let r = b.send(
        &srv,
        "POST",
        "/api/security/tokens",
        Some(r#"{"scopes":[]}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str().map(str::to_string)),
        (
            400,
            Some("select at least one scope or omit the field for full access".into())
        )
    );
    let r = b.send(
        &srv,
        "POST",
        "/api/security/tokens",
        Some(r#"{"scopes":["root"]}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str().map(str::to_string)),
        (400, Some("unknown scope \"root\"".into()))
    );

    // Delete: 204, then the token is dead and a second delete is 404.
    let path = format!("/api/security/tokens/{id}");
    let r = b.send(&srv, "DELETE", &path, None);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(b.send(&srv, "DELETE", &path, None).status, 404);
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &raw)],
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str().map(str::to_string)),
        (401, Some("Invalid API token".into()))
    );
}

#[test]
fn query_string_tokens_are_rejected() {
    let srv = start_with_admin(&[("API_TOKENS", "query-token-value-0001")]);
    for q in ["token", "api_token", "apiToken", "access_token"] {
        let r = srv.get(&format!("/api/security/tokens?{q}=query-token-value-0001"));
        assert_eq!(r.status, 400, "{q}");
        assert!(!r.text().contains("query-token-value-0001"), "never echoed");
    }
    // Even alongside a valid header, and on public routes.
    let r = srv.req(
        "GET",
        "/api/security/tokens?token=x",
        &[("X-API-Token", "query-token-value-0001")],
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(srv.get("/api/health?token=x").status, 400);
    assert_eq!(srv.get("/api/health?range=1h").status, 200);
}

#[test]
fn api_only_mode_needs_a_token_for_every_protected_call() {
    let srv = TestServer::start(&[
        ("API_TOKENS", "first-env-token-0001,second-env-token-0002"),
        ("API_TOKEN", "legacy-env-token-0003"),
    ]);
    let r = srv.get("/api/security/tokens");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["error"],
        "API token required via Authorization header or X-API-Token header"
    );
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer "));
    for t in [
        "first-env-token-0001",
        "second-env-token-0002",
        "legacy-env-token-0003",
    ] {
        assert_eq!(
            srv.req("GET", "/api/security/tokens", &[("X-API-Token", t)], None)
                .status,
            200,
            "{t}"
        );
    }
    let bearer = "Bearer second-env-token-0002";
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Authorization", bearer)],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tokens"].as_array().unwrap().len(), 3);
    // Public endpoints stay open; the UI learns auth exists.
    assert_eq!(srv.get("/api/health").status, 200);
    let s = srv.get("/api/security/status").json();
    assert_eq!(s["hasAuthentication"], true);
    assert_eq!(s["apiTokenConfigured"], true);
    assert_eq!(s["apiTokenHint"], "", "no hint without credentials");
    // No password exists, so password login is refused clearly.
    let r = login_as(&srv, "anything");
    assert_eq!(
        (r.status, r.json()["error"].as_str().map(str::to_string)),
        (400, Some("password_auth_disabled".into()))
    );
    // Env tokens cannot be deleted through the API (they would come back at restart).
    let id = r_id(&srv);
    let r = srv.req(
        "DELETE",
        &format!("/api/security/tokens/{id}"),
        &[("X-API-Token", "first-env-token-0001")],
        None,
    );
    assert_eq!(r.status, 409);
}

fn r_id(srv: &TestServer) -> String {
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", "first-env-token-0001")],
        None,
    );
    r.json()["tokens"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn regenerate_replaces_every_token() {
    let srv = start_with_admin(&[("API_TOKENS", "env-token-to-be-replaced")]);
    let b = login(&srv);
    let (old, _) = mint(&srv, &b, "old", None);
    let r = b.send(&srv, "POST", "/api/security/regenerate-token", None);
    assert_eq!(r.status, 200);
    let v = r.json();
    let new = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["success"], true);
    for dead in [old.as_str(), "env-token-to-be-replaced"] {
        assert_eq!(
            srv.req(
                "GET",
                "/api/security/tokens",
                &[("X-API-Token", dead)],
                None
            )
            .status,
            401
        );
    }
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("X-API-Token", &new)],
        None,
    );
    assert_eq!(r.json()["tokens"].as_array().unwrap().len(), 1);
}

#[test]
fn a_limited_token_cannot_mint_a_broader_one() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let (limited, _) = mint(
        &srv,
        &b,
        "limited",
        Some(&["settings:read", "settings:write"]),
    );
    let h = [("X-API-Token", limited.as_str())];
    let star = post_json(&srv, "/api/security/tokens", r#"{"scopes":["*"]}"#, &h);
    assert_eq!(star.status, 403);
    let r = post_json(&srv, "/api/security/tokens", "{}", &h);
    assert_eq!(
        r.json()["record"]["scopes"],
        serde_json::json!(["settings:read", "settings:write"]),
        "omitted scopes = the caller's own"
    );
    assert_eq!(
        post_json(
            &srv,
            "/api/security/tokens",
            r#"{"scopes":["docker:manage"]}"#,
            &h
        )
        .status,
        403
    );
    assert_eq!(
        post_json(
            &srv,
            "/api/security/tokens",
            r#"{"scopes":["settings:read"]}"#,
            &h
        )
        .status,
        200
    );
}

#[test]
fn validate_token_answers_without_using_the_token() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let (raw, _) = mint(&srv, &b, "probe", Some(&["monitoring:read"]));
    let check = |t: &str| {
        let body = serde_json::json!({ "token": t }).to_string();
        b.send(&srv, "POST", "/api/security/validate-token", Some(&body))
            .json()
    };
    assert_eq!(check(&raw)["valid"], true);
    assert_eq!(check("pulse_nope")["valid"], false);
    assert!(!check(&raw).to_string().contains(&raw));
    let list = b.send(&srv, "GET", "/api/security/tokens", None).json();
    assert!(
        list["tokens"][0]["lastUsedAt"].is_null(),
        "validation is not a use"
    );
}

#[test]
fn last_used_survives_a_graceful_stop() {
    let dir = support::temp_dir("auth-lastused");
    let dir_s = dir.display().to_string();
    let h = hash(PASSWORD);
    let env = [
        ("PULSE_AUTH_USER", USER),
        ("PULSE_AUTH_PASS", h.as_str()),
        ("PULSE_DATA_DIR", dir_s.as_str()),
    ];
    let srv = TestServer::start(&env);
    let b = login(&srv);
    let (raw, _) = mint(&srv, &b, "used", None);
    assert_eq!(
        srv.req(
            "GET",
            "/api/security/tokens",
            &[("X-API-Token", &raw)],
            None
        )
        .status,
        200
    );
    srv.stop();
    let srv = TestServer::start(&env);
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &b.cookie_header())],
        None,
    );
    let used = &r.json()["tokens"][0]["lastUsedAt"];
    assert!(used.is_string(), "lastUsedAt persisted at shutdown: {used}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
