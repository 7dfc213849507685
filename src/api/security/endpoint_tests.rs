//! Tests of the endpoint logic (account, tokens, recovery) against real stores in a temp dir.
//! The HTTP wiring is tested over TCP in `tests/auth_*.rs`.

use crate::auth::guard::{Admin, Security, SecurityConfig};
use crate::auth::password::PasswordHash;
use crate::auth::policy::Principal;
use crate::auth::secret;
use crate::http::reply::Reply;
use crate::util::time::UtcTime;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "pulse-endpoints-{tag}-{}-{}",
        std::process::id(),
        secret::random_hex(4).unwrap().expose()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn t(secs: i64) -> UtcTime {
    UtcTime::from_unix(1_700_000_000 + secs)
}

fn ip() -> IpAddr {
    "192.168.1.7".parse().unwrap()
}

fn open(dir: &Path, with_admin: bool) -> Security {
    let admin = with_admin.then(|| Admin {
        username: "admin".into(),
        hash: PasswordHash::parse_hash(&bcrypt::hash("old-password", 4).unwrap()).unwrap(),
    });
    let cfg = SecurityConfig {
        data_dir: dir.to_path_buf(),
        admin,
        ..Default::default()
    };
    Security::open(cfg, t(0)).unwrap().0
}

fn body(a: &Reply) -> Value {
    serde_json::from_slice(a.body.as_slice()).unwrap()
}

fn bytes(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn quick_setup_first_run_needs_the_bootstrap_token_then_removes_it() {
    let dir = temp_dir("setup");
    let mut s = open(&dir, false);
    let boot = std::fs::read_to_string(dir.join(".bootstrap_token"))
        .unwrap()
        .trim()
        .to_string();
    let req = json!({"username": "admin", "password": "new-password-1", "apiToken": "0123456789abcdef0123456789abcdef0123456789abcdef"});

    let r = s
        .quick_setup_start(&bytes(req.clone()), None, ip())
        .unwrap_err();
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (401, Some("Bootstrap setup token required"))
    );
    let r = s
        .quick_setup_start(&bytes(req.clone()), Some("nope"), ip())
        .unwrap_err();
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (401, Some("Invalid bootstrap setup token"))
    );
    let short = json!({"username": "admin", "password": "short", "setupToken": boot});
    let r = s.quick_setup_start(&bytes(short), None, ip()).unwrap_err();
    assert_eq!(r.status, 400);

    let job = s
        .quick_setup_start(&bytes(req.clone()), Some(&boot), ip())
        .unwrap();
    let r = s.quick_setup_finish(job.run(), t(1));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(body(&r)["success"], true);
    assert!(!dir.join(".bootstrap_token").exists());
    assert!(s.admin.as_ref().unwrap().hash.verify("new-password-1"));
    assert!(s
        .tokens
        .authenticate("0123456789abcdef0123456789abcdef0123456789abcdef", t(2))
        .is_some());
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    assert!(env.contains("PULSE_AUTH_USER='admin'") && env.contains("PULSE_AUTH_PASS='$2b$12$"));
    assert!(!env.contains("new-password-1") && !env.contains("0123456789abcdef"));

    // Configured now: without force it is skipped; with force it rotates the credentials
    // and ends every session. (Who may call it is the policy's job: `RouteAuth::Setup`.)
    let r = s.quick_setup_start(&bytes(req), None, ip()).unwrap_err();
    assert_eq!((r.status, body(&r)["skipped"].as_bool()), (200, Some(true)));
    let old = s.sessions.create("admin", None, None, t(2)).unwrap();
    let rotate = json!({"username": "root", "password": "rotated-password", "force": true});
    let job = s.quick_setup_start(&bytes(rotate), None, ip()).unwrap();
    assert_eq!(s.quick_setup_finish(job.run(), t(3)).status, 200);
    assert!(s.sessions.validate(old.token.expose(), t(4)).is_none());
    assert_eq!(s.admin.as_ref().unwrap().username, "root");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn change_password_verifies_current_counts_failures_and_keeps_caller_session() {
    let dir = temp_dir("passwd");
    let mut s = open(&dir, true);
    let mine = s.sessions.create("admin", None, None, t(0)).unwrap();
    let other = s.sessions.create("admin", None, None, t(0)).unwrap();
    let key = s
        .sessions
        .validate(mine.token.expose(), t(0))
        .unwrap()
        .key
        .clone();
    let me = Principal::Session {
        key,
        username: Some("admin".into()),
    };

    let wrong = json!({"currentPassword": "not-it", "newPassword": "brand-new-pass"});
    let job = s
        .change_password_start(&bytes(wrong), &me, ip(), t(1))
        .unwrap();
    let r = s.change_password_finish(job.run(), t(1));
    assert_eq!(
        (r.status, body(&r)["error"].as_str()),
        (401, Some("Current password is incorrect"))
    );
    let short = json!({"currentPassword": "old-password", "newPassword": "short"});
    assert_eq!(
        s.change_password_start(&bytes(short), &me, ip(), t(2))
            .unwrap_err()
            .status,
        400
    );

    let ok = json!({"currentPassword": "old-password", "newPassword": "brand-new-pass"});
    let job = s
        .change_password_start(&bytes(ok), &me, ip(), t(3))
        .unwrap();
    let r = s.change_password_finish(job.run(), t(3));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(s.admin.as_ref().unwrap().hash.verify("brand-new-pass"));
    assert!(s.sessions.validate(mine.token.expose(), t(4)).is_some());
    assert!(s.sessions.validate(other.token.expose(), t(4)).is_none());
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    assert!(env.contains("PULSE_AUTH_PASS='$2b$12$") && !env.contains("brand-new-pass"));
    let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    assert!(
        audit.contains("password_change")
            && !audit.contains("brand-new-pass")
            && !audit.contains("old-password")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logout_and_reset_lockout() {
    let dir = temp_dir("logout");
    let mut s = open(&dir, true);
    let sess = s.sessions.create("admin", None, None, t(0)).unwrap();
    let r = s.logout(Some(sess.token.expose()), ip(), true, t(1));
    assert_eq!(body(&r)["message"], "Successfully logged out");
    let cookies: Vec<&str> = r.headers.iter().map(|(_, v)| v.as_str()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("pulse_session=;")
        && c.contains("Max-Age=0")
        && c.contains("Secure")));
    assert!(cookies.iter().any(|c| c.starts_with("pulse_csrf=;")));
    assert!(s.sessions.validate(sess.token.expose(), t(2)).is_none());

    for n in 0..5 {
        s.lockout.login_failed("admin", ip(), t(n));
    }
    let r = s.reset_lockout(&bytes(json!({"identifier": "admin"})), ip(), t(6));
    assert_eq!(body(&r)["message"], "Lockout reset for admin");
    assert!(s
        .lockout
        .check_login("admin", "10.9.9.9".parse().unwrap(), t(7))
        .is_ok());
    let r = s.reset_lockout(&bytes(json!({})), ip(), t(8));
    assert_eq!(
        (r.status, body(&r)["code"].as_str()),
        (400, Some("missing_identifier"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn token_endpoints() {
    let dir = temp_dir("tokens");
    let mut s = open(&dir, true);
    s.tokens.merge_env(Some("env-token-value"), None);
    let admin = Principal::Session {
        key: "k".into(),
        username: Some("admin".into()),
    };
    let r = s.create_token(
        &bytes(json!({"name": "ci", "scopes": ["settings:read"]})),
        &admin,
        ip(),
        t(1),
    );
    assert_eq!(r.status, 200);
    let raw = body(&r)["token"].as_str().unwrap().to_string();
    let id = body(&r)["record"]["id"].as_str().unwrap().to_string();
    assert!(body(&r)["record"].get("hash").is_none());

    let list = s.list_tokens();
    assert!(!serde_json::to_string(&body(&list)).unwrap().contains(&raw));
    assert_eq!(body(&list)["tokens"].as_array().unwrap().len(), 2);

    let bad = s.create_token(&bytes(json!({"scopes": ["nope"]})), &admin, ip(), t(2));
    assert_eq!(
        (bad.status, body(&bad)["error"].as_str()),
        (400, Some("unknown scope \"nope\""))
    );
    assert_eq!(s.create_token(b"[", &admin, ip(), t(2)).status, 400);

    // A limited token cannot mint a broader one.
    let limited = Principal::Token {
        id: id.clone(),
        scopes: vec!["settings:read".into(), "settings:write".into()],
    };
    let inherited = s.create_token(&bytes(json!({"name": "x"})), &limited, ip(), t(3));
    assert_eq!(
        body(&inherited)["record"]["scopes"],
        json!(["settings:read", "settings:write"]),
        "omitted scopes = the caller's own"
    );
    let star = s.create_token(&bytes(json!({"scopes": ["*"]})), &limited, ip(), t(3));
    assert_eq!(star.status, 403);
    assert_eq!(
        s.create_token(
            &bytes(json!({"scopes": ["docker:manage"]})),
            &limited,
            ip(),
            t(3)
        )
        .status,
        403
    );
    assert_eq!(
        s.create_token(
            &bytes(json!({"scopes": ["settings:read"]})),
            &limited,
            ip(),
            t(3)
        )
        .status,
        200
    );

    let env_id = s
        .tokens
        .list()
        .into_iter()
        .find(|v| v.name == "Environment token")
        .unwrap()
        .id;
    assert_eq!(s.delete_token(&env_id, ip(), t(4)).status, 409);
    assert_eq!(s.delete_token(&id, ip(), t(4)).status, 204);
    assert_eq!(s.delete_token(&id, ip(), t(4)).status, 404);
    assert!(s.tokens.authenticate(&raw, t(5)).is_none());

    std::fs::write(dir.join(".env"), "API_TOKEN='abc'\nLOG_LEVEL=info\n").unwrap();
    let r = s.regenerate_token(ip(), t(6));
    let new = body(&r)["token"].as_str().unwrap().to_string();
    assert_eq!(s.tokens.len(), 1);
    assert!(s.tokens.authenticate(&new, t(7)).is_some());
    assert!(s.tokens.authenticate("env-token-value", t(7)).is_none());
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).unwrap(),
        "LOG_LEVEL=info\n"
    );
    let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    assert!(audit.contains("token_create") && audit.contains("token_delete"));
    assert!(!audit.contains(&raw) && !audit.contains(&new));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recovery_endpoint_actions() {
    let dir = temp_dir("recovery");
    let mut s = open(&dir, true);
    assert_eq!(body(&s.recovery_status())["recovery_mode"], false);
    let r = s.recovery_action(
        &bytes(json!({"action": "generate_token"})),
        false,
        ip(),
        t(0),
    );
    assert_eq!(r.status, 403, "token generation needs loopback");
    let r = s.recovery_action(
        &bytes(json!({"action": "generate_token", "duration": 5})),
        true,
        ip(),
        t(0),
    );
    assert_eq!(body(&r)["expires_in_minutes"], 5);
    assert_eq!(body(&r)["token"].as_str().unwrap().len(), 64);
    let r = s.recovery_action(&bytes(json!({"action": "disable_auth"})), true, ip(), t(1));
    assert_eq!(body(&r)["success"], true);
    assert_eq!(body(&s.recovery_status())["recovery_mode"], true);
    s.recovery_action(&bytes(json!({"action": "enable_auth"})), true, ip(), t(2));
    assert_eq!(body(&s.recovery_status())["recovery_mode"], false);
    let r = s.recovery_action(&bytes(json!({"action": "dance"})), true, ip(), t(3));
    assert_eq!(
        (r.status, body(&r)["success"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(body(&s.apply_restart())["success"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}
