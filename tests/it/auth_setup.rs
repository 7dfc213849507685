//! First run and recovery over real HTTP: bootstrap token → quick-setup → file removed;
//! the status endpoint; recovery only from loopback (a local reverse proxy is not loopback).

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use support::TestServer;

#[test]
fn first_run_bootstrap_then_quick_setup_then_login() {
    let srv = TestServer::start(&[]);
    let boot_path = srv.data_dir.join(".bootstrap_token");
    let boot = std::fs::read_to_string(&boot_path)
        .expect("bootstrap token written")
        .trim()
        .to_string();
    assert_eq!(boot.len(), 48);

    let s = srv.get("/api/security/status").json();
    assert_eq!(
        s["hasAuthentication"], false,
        "the UI shows First-Run Setup"
    );
    assert_eq!(s["isPrivateNetwork"], true);
    assert_eq!(s["clientIP"], "127.0.0.1");

    let body = serde_json::json!({
        "username": "admin", "password": "first-run-password",
        "apiToken": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071",
    })
    .to_string();
    let r = post_json(&srv, "/api/security/quick-setup", &body, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Bootstrap setup token required");
    let r = post_json(
        &srv,
        "/api/security/quick-setup",
        &body,
        &[("X-Setup-Token", "0000")],
    );
    assert_eq!(r.json()["error"], "Invalid bootstrap setup token");
    assert!(boot_path.exists());

    let r = post_json(
        &srv,
        "/api/security/quick-setup",
        &body,
        &[("X-Setup-Token", &boot)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    assert!(
        r.json().get("warning").is_none(),
        "nothing in the environment overrides .env"
    );
    assert!(!boot_path.exists(), "bootstrap token removed after setup");

    // Auth is active at once: protected calls need credentials, the new ones work.
    assert_eq!(srv.get("/api/security/tokens").status, 401);
    assert_eq!(
        srv.get("/api/security/status").json()["hasAuthentication"],
        true
    );
    let token = [(
        "X-API-Token",
        "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071",
    )];
    assert_eq!(
        srv.req("GET", "/api/security/tokens", &token, None).status,
        200
    );
    assert_eq!(
        post_json(
            &srv,
            "/api/login",
            &login_body("admin", "first-run-password"),
            &[]
        )
        .status,
        200
    );

    // Reconfiguring now needs auth, and without `force` it is skipped.
    let r = post_json(
        &srv,
        "/api/security/quick-setup",
        &body,
        &[("X-Setup-Token", &boot)],
    );
    assert_eq!(r.status, 401);
    let r = post_json(&srv, "/api/security/quick-setup", &body, &token);
    assert_eq!((r.status, r.json()["skipped"].as_bool()), (200, Some(true)));
}

#[test]
fn setup_body_in_json_works_too_and_the_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let srv = TestServer::start(&[]);
    let path = srv.data_dir.join(".bootstrap_token");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let boot = std::fs::read_to_string(&path).unwrap();
    let body = serde_json::json!({"username": "root", "password": "another-password", "setupToken": boot.trim()}).to_string();
    let r = post_json(&srv, "/api/security/quick-setup", &body, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!path.exists());
}

#[test]
fn status_reveals_identity_only_to_authenticated_callers() {
    let srv = start_with_admin(&[("API_TOKENS", "status-token-value-0001")]);
    let anon = srv.get("/api/security/status").json();
    assert_eq!(anon["hasAuthentication"], true);
    assert_eq!(anon["requiresAuth"], true);
    assert_eq!(anon["apiTokenHint"], "");
    assert_eq!(anon["authUsername"], "");
    assert_eq!(anon["credentialsEncrypted"], true);
    assert_eq!(anon["hasHTTPS"], false);
    let me = srv
        .req(
            "GET",
            "/api/security/status",
            &[("X-API-Token", "status-token-value-0001")],
            None,
        )
        .json();
    assert_eq!(me["authUsername"], "admin");
    assert!(!me["apiTokenHint"].as_str().unwrap().is_empty());
    assert!(!me.to_string().contains("status-token-value-0001"));
}

#[test]
fn recovery_only_from_loopback() {
    // 127.0.0.1 is a trusted proxy here, so a forwarded request is a remote client.
    let srv = start_with_admin(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1/32")]);
    let b = login(&srv);
    let r = b.send(&srv, "GET", "/api/security/recovery", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["recovery_mode"], false);

    // Through the proxy: refused even with a valid session.
    let cookie = b.cookie_header();
    let proxied = [
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", b.csrf.as_str()),
        ("X-Forwarded-For", "198.51.100.20"),
    ];
    let r = srv.req("GET", "/api/security/recovery", &proxied, None);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"],
        "Recovery endpoint requires localhost access or valid recovery token"
    );

    // Loopback without credentials: still needs auth while recovery mode is off.
    assert_eq!(srv.get("/api/security/recovery").status, 401);

    // Enable recovery mode from loopback: loopback requests then skip auth (marked), remote ones do not.
    let r = b.send(
        &srv,
        "POST",
        "/api/security/recovery",
        Some(r#"{"action":"disable_auth"}"#),
    );
    assert_eq!(r.json()["success"], true);
    assert!(srv.data_dir.join(".auth_recovery").exists());
    let r = srv.get("/api/security/tokens");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-recovery"), Some("true"));
    let remote = srv.req(
        "GET",
        "/api/security/tokens",
        &[("X-Forwarded-For", "198.51.100.20")],
        None,
    );
    assert_eq!(remote.status, 401);
    // Nor does a web page open in a browser on this machine.
    let steered = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Origin", "https://evil.example")],
        None,
    );
    assert_eq!(steered.status, 401);

    // Deleting the flag file ends recovery mode at once (recovery allows 3 calls per 10 min,
    // so this test does not spend a fourth on `enable_auth`; that action is unit-tested).
    std::fs::remove_file(srv.data_dir.join(".auth_recovery")).unwrap();
    assert_eq!(srv.get("/api/security/tokens").status, 401);
}

#[test]
fn credentials_from_quick_setup_survive_a_restart() {
    let dir = support::temp_dir("auth-setup-restart");
    let dir_s = dir.display().to_string();
    let env = [("PULSE_DATA_DIR", dir_s.as_str())];
    let srv = TestServer::start(&env);
    let boot = std::fs::read_to_string(dir.join(".bootstrap_token")).unwrap();
    let body = serde_json::json!({"username": "admin", "password": "survives-restart"}).to_string();
    let r = post_json(
        &srv,
        "/api/security/quick-setup",
        &body,
        &[("X-Setup-Token", boot.trim())],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let b = login_with(&srv, "survives-restart");
    srv.stop();

    // The new process reads the hash back from <data dir>/.env.
    let srv = TestServer::start(&env);
    assert!(
        !dir.join(".bootstrap_token").exists(),
        "not recreated once configured"
    );
    assert_eq!(
        srv.get("/api/security/status").json()["hasAuthentication"],
        true
    );
    assert_eq!(
        srv.req("GET", "/api/security/tokens", &[("Cookie", &b)], None)
            .status,
        200
    );
    let r = post_json(
        &srv,
        "/api/login",
        &login_body("admin", "survives-restart"),
        &[],
    );
    assert_eq!(r.status, 200);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logs in as `admin` and returns the `Cookie` header.
fn login_with(srv: &TestServer, password: &str) -> String {
    let r = post_json(srv, "/api/login", &login_body("admin", password), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    format!(
        "pulse_session={}; pulse_csrf={}",
        cookie(&r, "pulse_session").unwrap(),
        cookie(&r, "pulse_csrf").unwrap()
    )
}
