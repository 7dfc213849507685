//! The auth matrix: every route of the one route table (`pulse::api::all_routes()`), each
//! checked against the rule it declares. Without credentials every route not declared
//! `Access::Public` answers 401; a token lacking the route's scope gets 403; a token holding
//! it is let through; a session without the CSRF token is refused on state-changing routes
//! unless the route declares itself exempt.

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use pulse::http::router::{Access, Csrf, Scope};

/// A concrete path for a pattern (`{id}` → `x`, `{*rest}` → `x/y`).
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| match seg {
            s if s.starts_with("{*") => "x/y",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn error_of(r: &support::Response) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v["error"].as_str().map(str::to_string)
}

/// Whether the security gate (not the handler) refused the request.
fn gate_refused(r: &support::Response) -> bool {
    const GATE: [&str; 7] = [
        "Authentication required",
        "Invalid API token",
        "API token required via Authorization header or X-API-Token header",
        "missing_scope",
        "CSRF token validation failed",
        "Recovery endpoint requires localhost access or valid recovery token",
        "Export requires authentication on public networks",
    ];
    matches!(r.status, 401 | 403) && error_of(r).is_some_and(|e| GATE.contains(&e.as_str()))
}

/// A scope the route does not accept (for the 403 check).
fn other_scope(required: Scope) -> &'static str {
    if required == Scope::MonitoringRead {
        "docker:report"
    } else {
        "monitoring:read"
    }
}

#[test]
fn every_route_enforces_its_access_rule() {
    // Loopback is a trusted proxy: every anonymous/token probe is its own client, so rate
    // limits never interfere. Probes that must be direct loopback omit the header.
    let srv = start_with_admin(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1")]);
    let admin = login(&srv);
    let mut client = 0u32;
    let mut next_ip = || {
        client += 1;
        format!(
            "10.{}.{}.{}",
            client / 65536 % 256,
            client / 256 % 256,
            client % 256
        )
    };
    let mut checked = 0;
    for route in pulse::api::all_routes() {
        for m in route.methods {
            let (method, path) = (m.as_str(), concrete(route.pattern));
            let body: Option<&[u8]> = matches!(method, "POST" | "PUT" | "PATCH").then_some(b"{}");
            let public = route.access == Access::Public;

            // 1. No credentials.
            let ip = next_ip();
            let r = srv.req(method, &path, &[("X-Forwarded-For", &ip)], body);
            if public {
                // The handler may still refuse (auto-register checks its own code); the gate
                // must not.
                assert!(!gate_refused(&r), "{method} {path} is public: {}", r.text());
            } else {
                assert_eq!(
                    (r.status, error_of(&r).as_deref()),
                    (401, Some("Authentication required")),
                    "{method} {path} without credentials"
                );
            }

            // 2. A token without the required scope.
            let required = match route.access {
                Access::Scope(s) => Some(s),
                Access::Setup | Access::LocalhostOnly | Access::Export => {
                    Some(Scope::SettingsWrite)
                }
                _ => None,
            };
            if let Some(scope) = required {
                let (weak, _) = mint(&srv, &admin, "weak", Some(&[other_scope(scope)]));
                let ip = next_ip();
                let r = srv.req(
                    method,
                    &path,
                    &[("X-API-Token", &weak), ("X-Forwarded-For", &ip)],
                    body,
                );
                assert_eq!(
                    r.status,
                    403,
                    "{method} {path} with a token lacking {scope}: {}",
                    r.text()
                );
                assert_eq!(r.json()["requiredScope"], scope.as_str());
            }

            // 3. A token holding it (recovery must also come straight from loopback).
            let scopes: &[&str] = &[required.unwrap_or(Scope::MonitoringRead).as_str()];
            let (strong, _) = mint(&srv, &admin, "strong", Some(scopes));
            let ip = next_ip();
            let mut headers = vec![("X-API-Token", strong.as_str())];
            if route.access != Access::LocalhostOnly {
                headers.push(("X-Forwarded-For", &ip));
            }
            let r = srv.req(method, &path, &headers, body);
            assert!(
                !gate_refused(&r),
                "{method} {path} with {scopes:?}: {} {}",
                r.status,
                r.text()
            );
            if !public {
                // Handlers must not answer 401 for anything but credentials (the UI logs out).
                assert_ne!(r.status, 401, "{method} {path}: {}", r.text());
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} routes walked");
}

#[test]
fn every_state_changing_route_checks_csrf_unless_it_declares_otherwise() {
    let srv = start_with_admin(&[("PULSE_TRUSTED_PROXY_CIDRS", "127.0.0.1")]);
    // A session whose CSRF token is never sent: each refusal rotates it, which is harmless.
    let admin = login(&srv);
    let cookie = format!("pulse_session={}", admin.session);
    let (mut refused, mut exempt) = (0, 0);
    for (n, route) in pulse::api::all_routes().into_iter().enumerate() {
        if route.access == Access::Public {
            continue;
        }
        for m in route.methods {
            let method = m.as_str();
            if matches!(method, "GET" | "HEAD") {
                continue;
            }
            let path = concrete(route.pattern);
            let ip = format!("10.200.{}.{}", n / 256, n % 256);
            let mut headers = vec![("Cookie", cookie.as_str())];
            if route.access != Access::LocalhostOnly {
                headers.push(("X-Forwarded-For", &ip));
            }
            let r = srv.req(method, &path, &headers, Some(b"{}"));
            // A password is configured, so "exempt without password" means "required".
            if route.csrf.exempt(true) {
                assert!(!gate_refused(&r), "{method} {path}: {}", r.text());
                exempt += 1;
            } else {
                assert_eq!(
                    (r.status, error_of(&r).as_deref()),
                    (403, Some("CSRF token validation failed")),
                    "{method} {path} without X-CSRF-Token"
                );
                refused += 1;
            }
        }
    }
    assert!(
        refused >= 10 && exempt >= 1,
        "{refused} refused, {exempt} exempt"
    );
    // The declared exemptions are the ones the handlers rely on.
    let declared = |p: &str| {
        pulse::api::all_routes()
            .into_iter()
            .find(|r| r.pattern == p)
            .map(|r| r.csrf)
    };
    assert_eq!(declared("/api/setup-script-url"), Some(Csrf::Exempt));
    assert_eq!(
        declared("/api/security/quick-setup"),
        Some(Csrf::ExemptWithoutPassword)
    );
}
