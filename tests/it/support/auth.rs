//! Helpers shared by the `auth_*` integration tests: a server with an admin account, login,
//! cookies, CSRF and token minting over real HTTP.
#![allow(dead_code)]

use crate::support::{Response, TestServer};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery";

/// bcrypt at cost 4: the server accepts an existing hash verbatim, and tests stay fast.
pub fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// A server with `admin` / [`PASSWORD`] configured, plus `env`.
pub fn start_with_admin(env: &[(&str, &str)]) -> TestServer {
    let h = hash(PASSWORD);
    let mut vars: Vec<(&str, &str)> = vec![("PULSE_AUTH_USER", USER), ("PULSE_AUTH_PASS", &h)];
    vars.extend_from_slice(env);
    TestServer::start(&vars)
}

/// Every `Set-Cookie` value of a response.
pub fn set_cookies(r: &Response) -> Vec<&str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The value a response sets for cookie `name`.
pub fn cookie(r: &Response, name: &str) -> Option<String> {
    set_cookies(r).into_iter().find_map(|c| {
        let (k, rest) = c.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
    })
}

/// A logged-in browser: its `Cookie` header and the CSRF token it would send.
pub struct Browser {
    pub session: String,
    pub csrf: String,
}

impl Browser {
    pub fn cookie_header(&self) -> String {
        format!("pulse_session={}; pulse_csrf={}", self.session, self.csrf)
    }

    /// A request with cookies and `X-CSRF-Token`, as the UI sends it.
    pub fn send(&self, srv: &TestServer, method: &str, path: &str, body: Option<&str>) -> Response {
        let cookie = self.cookie_header();
        let headers = [
            ("Cookie", cookie.as_str()),
            ("X-CSRF-Token", self.csrf.as_str()),
            ("Content-Type", "application/json"),
        ];
        srv.req(method, path, &headers, body.map(str::as_bytes))
    }
}

pub fn login_body(user: &str, password: &str) -> String {
    serde_json::json!({"username": user, "password": password}).to_string()
}

pub fn post_json(srv: &TestServer, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    srv.req("POST", path, &h, Some(body.as_bytes()))
}

pub fn login_as(srv: &TestServer, password: &str) -> Response {
    post_json(srv, "/api/login", &login_body(USER, password), &[])
}

/// Logs in with the right password and returns the browser state.
pub fn login(srv: &TestServer) -> Browser {
    let r = login_as(srv, PASSWORD);
    assert_eq!(r.status, 200, "login: {}", r.text());
    Browser {
        session: cookie(&r, "pulse_session").expect("session cookie"),
        csrf: cookie(&r, "pulse_csrf").expect("csrf cookie"),
    }
}

/// Creates a token through the API and returns its raw value and id.
pub fn mint(
    srv: &TestServer,
    b: &Browser,
    name: &str,
    scopes: Option<&[&str]>,
) -> (String, String) {
    let body = match scopes {
        Some(s) => serde_json::json!({"name": name, "scopes": s}),
        None => serde_json::json!({"name": name}),
    };
    let r = b.send(srv, "POST", "/api/security/tokens", Some(&body.to_string()));
    assert_eq!(r.status, 200, "mint: {}", r.text());
    let v = r.json();
    (
        v["token"].as_str().unwrap().to_string(),
        v["record"]["id"].as_str().unwrap().to_string(),
    )
}
