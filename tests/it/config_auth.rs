//! Authentication of the configuration routes that hand out or take in credentials, over real
//! HTTP: export/import (sessions, scoped tokens, the private-network rule without auth,
//! `ALLOW_UNPROTECTED_EXPORT`, recovery mode) and auto-registration with an API token instead
//! of a setup code.

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use serde_json::{json, Value};
use support::{temp_dir, Response, TestServer};

const PASSPHRASE: &str = "a long enough passphrase";

fn export_body() -> String {
    json!({ "passphrase": PASSPHRASE }).to_string()
}

fn export_with(srv: &TestServer, headers: &[(&str, &str)]) -> Response {
    post_json(srv, "/api/config/export", &export_body(), headers)
}

fn error(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn export_and_import_need_a_session_or_a_settings_write_token() {
    // Export and import share a budget of 5 per client: each request below is its own client
    // (loopback is a trusted proxy, the forwarded address is private).
    let srv = start_with_admin(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1")]);
    let admin = login(&srv);
    let mut n = 0;
    let mut client = || {
        n += 1;
        format!("10.9.0.{n}")
    };
    let call = |path: &str, body: &str, headers: &[(&str, &str)], ip: String| {
        let mut h = vec![("X-Forwarded-For", ip.as_str())];
        h.extend_from_slice(headers);
        post_json(&srv, path, body, &h)
    };
    let export = "/api/config/export";

    let anon = call(export, &export_body(), &[], client());
    assert_eq!(
        (anon.status, error(&anon).as_str()),
        (401, "Authentication required")
    );

    let (reader, _) = mint(&srv, &admin, "reader", Some(&["settings:read"]));
    let weak = call(
        export,
        &export_body(),
        &[("X-API-Token", &reader)],
        client(),
    );
    assert_eq!(weak.status, 403, "{}", weak.text());
    assert_eq!(weak.json()["requiredScope"], "settings:write");

    let (writer, _) = mint(&srv, &admin, "writer", Some(&["settings:write"]));
    let ok = call(
        export,
        &export_body(),
        &[("X-API-Token", &writer)],
        client(),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let data = ok.json()["data"].as_str().unwrap_or_default().to_string();
    assert!(!data.is_empty());

    let by_session = admin.send(&srv, "POST", export, Some(&export_body()));
    assert_eq!(by_session.status, 200, "{}", by_session.text());

    // Import follows the same rule.
    let import = json!({ "data": data, "passphrase": PASSPHRASE }).to_string();
    let path = "/api/config/import";
    assert_eq!(call(path, &import, &[], client()).status, 401);
    let weak = call(path, &import, &[("X-API-Token", &reader)], client());
    assert_eq!(weak.status, 403);
    let bearer = format!("Bearer {writer}");
    let ok = call(path, &import, &[("Authorization", &bearer)], client());
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[test]
fn without_auth_export_is_for_private_networks_only() {
    // Loopback is a trusted proxy, so X-Forwarded-For decides the client address.
    let trust = ("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1");
    let srv = TestServer::start(&[trust]);
    let public = export_with(&srv, &[("X-Forwarded-For", "203.0.113.7")]);
    assert_eq!(
        (public.status, error(&public).as_str()),
        (403, "Export requires authentication on public networks")
    );
    let lan = export_with(&srv, &[("X-Forwarded-For", "192.168.1.20")]);
    assert_eq!(lan.status, 200, "{}", lan.text());
    drop(srv);

    let srv = TestServer::start(&[trust, ("ALLOW_UNPROTECTED_EXPORT", "true")]);
    let public = export_with(&srv, &[("X-Forwarded-For", "203.0.113.7")]);
    assert_eq!(public.status, 200, "{}", public.text());
}

#[test]
fn recovery_mode_does_not_open_export() {
    let dir = temp_dir("recovery-export");
    std::fs::write(dir.join(".auth_recovery"), "on\n").unwrap();
    let d = dir.display().to_string();
    let srv = start_with_admin(&[("PULSE_DATA_DIR", d.as_str())]);
    // Recovery mode lets direct loopback through the gate, but export wants real credentials.
    let r = export_with(&srv, &[]);
    assert_eq!(
        (r.status, error(&r).as_str()),
        (401, "Unauthorized - please log in or provide API token")
    );
    assert!(srv.get("/api/config/nodes").status == 200, "recovery is on");
    drop(srv);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn registration(host: &str) -> Value {
    json!({
        "type": "pve",
        "host": host,
        "serverName": "node-a",
        "tokenId": "pulse-monitor@pam!pulse-test",
        "tokenValue": "11111111-2222-3333-4444-555555555555",
    })
}

fn register(srv: &TestServer, body: &Value, headers: &[(&str, &str)]) -> Response {
    post_json(srv, "/api/auto-register", &body.to_string(), headers)
}

#[test]
fn auto_register_accepts_a_settings_write_token_instead_of_a_code() {
    let srv = start_with_admin(&[]);
    let admin = login(&srv);
    let (writer, _) = mint(&srv, &admin, "writer", Some(&["settings:write"]));
    let (reader, _) = mint(&srv, &admin, "reader", Some(&["monitoring:read"]));

    // Header token (X-API-Token, then Bearer).
    let r = register(
        &srv,
        &registration("127.0.7.1:9"),
        &[("X-API-Token", &writer)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "success");
    let bearer = format!("Bearer {writer}");
    let r = register(
        &srv,
        &registration("127.0.7.2:9"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The token in the body, as the setup script sends an embedded one.
    let mut body = registration("127.0.7.3:9");
    body["authToken"] = json!(writer);
    assert_eq!(register(&srv, &body, &[]).status, 200);

    // Wrong scope, unknown token, nothing at all.
    let r = register(
        &srv,
        &registration("127.0.7.4:9"),
        &[("X-API-Token", &reader)],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(error(&r).contains("settings:write"));
    body["authToken"] = json!(reader);
    assert_eq!(register(&srv, &body, &[]).status, 403);
    body["authToken"] = json!(format!("pulse_{}", "ab".repeat(32)));
    assert_eq!(register(&srv, &body, &[]).status, 401);
    let r = register(&srv, &registration("127.0.7.5:9"), &[]);
    assert_eq!(
        (r.status, error(&r).as_str()),
        (401, "Pulse requires authentication")
    );

    let nodes = admin.send(&srv, "GET", "/api/config/nodes", None).json();
    let hosts: Vec<&str> = nodes
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["host"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        hosts,
        vec![
            "https://127.0.7.1:9",
            "https://127.0.7.2:9",
            "https://127.0.7.3:9"
        ]
    );
}

#[test]
fn setup_script_embeds_a_pulse_api_token() {
    let srv = TestServer::start(&[]);
    let token = format!("pulse_{}", "0a".repeat(32));
    let r = srv.get(&format!("/api/setup-script?type=pve&auth_token={token}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&format!("EMBEDDED_AUTH_TOKEN='{token}'")));
    let r = srv.get("/api/setup-script?type=pve&auth_token=ABC234");
    assert_eq!(r.status, 400, "a setup code is never embedded");
}
