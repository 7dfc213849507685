//! Password login over real HTTP: cookies, lockout feedback and reset, sessions across a
//! restart, CSRF (required, refreshed, retried), logout.

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use support::TestServer;

#[test]
fn login_sets_session_and_csrf_cookies_and_the_session_authenticates() {
    let srv = start_with_admin(&[]);
    let r = srv.get("/api/security/tokens");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Authentication required");
    assert!(
        r.header("www-authenticate").is_none(),
        "no browser login popup"
    );

    let r = login_as(&srv, PASSWORD);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"success": true, "message": "Successfully logged in"})
    );
    let cookies = set_cookies(&r);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("pulse_session="))
        .unwrap();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("pulse_csrf="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
    assert!(!csrf.contains("HttpOnly"), "the UI must read pulse_csrf");
    assert!(
        r.header("x-ratelimit-limit").is_some(),
        "rate headers on every response"
    );

    let b = login(&srv);
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &b.cookie_header())],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.json()["tokens"].is_array());
}

#[test]
fn wrong_passwords_count_down_lock_and_reset_unlocks() {
    let srv = start_with_admin(&[("API_TOKENS", "ops-token-for-reset-0001")]);
    for n in 1..5 {
        let r = login_as(&srv, "wrong");
        assert_eq!(r.status, 401);
        let v = r.json();
        assert_eq!(v["error"], "invalid_credentials");
        assert_eq!(v["remaining"], 5 - n);
        assert_eq!(
            v["message"],
            format!(
                "Invalid username or password. You have {} attempts remaining.",
                5 - n
            )
        );
    }
    let r = login_as(&srv, "wrong");
    assert_eq!((r.status, r.json()["locked"].as_bool()), (401, Some(true)));

    // Locked: the right password is refused with the remaining time.
    let r = login_as(&srv, PASSWORD);
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(v["error"], "account_locked");
    assert_eq!(v["remainingMinutes"], 15);
    assert!(v["lockedUntil"].as_str().unwrap().ends_with('Z'));

    // An admin (here: a settings:write token) resets the user and the IP.
    let token = [("X-API-Token", "ops-token-for-reset-0001")];
    for id in ["admin", "127.0.0.1"] {
        let body = serde_json::json!({ "identifier": id }).to_string();
        let r = post_json(&srv, "/api/security/reset-lockout", &body, &token);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["message"], format!("Lockout reset for {id}"));
    }
    assert_eq!(login_as(&srv, PASSWORD).status, 200);
    let r = post_json(&srv, "/api/security/reset-lockout", "{}", &token);
    assert_eq!(r.status, 400);
}

#[test]
fn malformed_login_bodies_are_400() {
    let srv = start_with_admin(&[]);
    for body in ["", "not json", "{\"username\":\"admin\"}", "[1,2]"] {
        let r = post_json(&srv, "/api/login", body, &[]);
        assert_eq!(r.status, 400, "{body:?}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
}

#[test]
fn sessions_survive_a_restart() {
    let dir = support::temp_dir("auth-restart");
    let dir_s = dir.display().to_string();
    let h = hash(PASSWORD);
    let env = [
        ("PULSE_AUTH_USER", USER),
        ("PULSE_AUTH_PASS", h.as_str()),
        ("PULSE_DATA_DIR", &dir_s),
    ];
    let srv = TestServer::start(&env);
    let b = login(&srv);
    srv.stop();

    let srv = TestServer::start(&env);
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &b.cookie_header())],
        None,
    );
    assert_eq!(r.status, 200, "still logged in after restart");
    // CSRF survives too: a write with the old token works.
    let r = b.send(
        &srv,
        "POST",
        "/api/security/tokens",
        Some("{\"name\":\"after-restart\"}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let stored = std::fs::read_to_string(dir.join("sessions.json")).unwrap();
    assert!(!stored.contains(&b.session), "only hashes on disk");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csrf_is_required_refreshed_and_the_retry_succeeds() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let cookie = b.cookie_header();
    let body = Some(&b"{\"name\":\"csrf\"}"[..]);

    // Missing header: 403, fresh token in the response header and cookie.
    let r = srv.req("POST", "/api/security/tokens", &[("Cookie", &cookie)], body);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "CSRF token validation failed");
    let fresh = r
        .header("x-csrf-token")
        .expect("fresh token header")
        .to_string();
    assert_eq!(cookie_of(&r), Some(fresh.clone()));

    // Wrong header: same.
    let r = srv.req(
        "POST",
        "/api/security/tokens",
        &[("Cookie", &cookie), ("X-CSRF-Token", "forged")],
        body,
    );
    assert_eq!(r.status, 403);
    let fresh = r.header("x-csrf-token").unwrap().to_string();

    // The UI's retry with the fresh token succeeds.
    let retry_cookie = format!("pulse_session={}; pulse_csrf={fresh}", b.session);
    let r = srv.req(
        "POST",
        "/api/security/tokens",
        &[("Cookie", &retry_cookie), ("X-CSRF-Token", &fresh)],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Reads need no CSRF token; a GET without the CSRF cookie gets one issued.
    let only_session = format!("pulse_session={}", b.session);
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &only_session)],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(cookie_of(&r).is_some());
}

fn cookie_of(r: &support::Response) -> Option<String> {
    cookie(r, "pulse_csrf")
}

#[test]
fn token_requests_need_no_csrf() {
    let srv = start_with_admin(&[("API_TOKENS", "automation-token-0001")]);
    let b = login(&srv);
    // Even with a session cookie present, a token-authenticated write needs no CSRF token.
    let headers = [
        ("X-API-Token", "automation-token-0001"),
        ("Cookie", &b.cookie_header() as &str),
    ];
    let r = srv.req("POST", "/api/security/tokens", &headers, Some(b"{}"));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn logout_ends_the_session_and_clears_cookies() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let r = b.send(&srv, "POST", "/api/logout", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Successfully logged out");
    let cleared = set_cookies(&r);
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("pulse_session=;") && c.contains("Max-Age=0")));
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &b.cookie_header())],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn change_password_applies_at_once() {
    let srv = start_with_admin(&[]);
    let b = login(&srv);
    let body = serde_json::json!({"currentPassword": "nope-nope", "newPassword": "a-new-password"})
        .to_string();
    let r = b.send(&srv, "POST", "/api/security/change-password", Some(&body));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Current password is incorrect");
    let body = serde_json::json!({"currentPassword": PASSWORD, "newPassword": "short"}).to_string();
    assert_eq!(
        b.send(&srv, "POST", "/api/security/change-password", Some(&body))
            .status,
        400
    );

    let body = serde_json::json!({"currentPassword": PASSWORD, "newPassword": "a-new-password"})
        .to_string();
    let r = b.send(&srv, "POST", "/api/security/change-password", Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    // The test server gets PULSE_AUTH_PASS like a systemd unit would: .env cannot win at
    // the next start, and the answer says so.
    assert!(r.json()["warning"]
        .as_str()
        .unwrap()
        .contains("service environment"));
    assert_eq!(login_as(&srv, PASSWORD).status, 401);
    assert_eq!(login_as(&srv, "a-new-password").status, 200);
    // The caller's own session stays valid.
    let r = srv.req(
        "GET",
        "/api/security/tokens",
        &[("Cookie", &b.cookie_header())],
        None,
    );
    assert_eq!(r.status, 200);
    let env = std::fs::read_to_string(srv.data_dir.join(".env")).unwrap();
    assert!(env.contains("PULSE_AUTH_PASS='$2b$12$") && !env.contains("a-new-password"));
}
