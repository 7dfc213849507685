//! The auth matrix: every registered route, three callers. Without credentials every
//! non-public route answers 401 (the public ones are `pulse::auth::policy::PUBLIC_ROUTES`);
//! a token lacking the route's scope gets 403; a token holding it is let through.

use crate::support;
use crate::support::auth as auth_common;

use auth_common::*;
use pulse::auth::policy::is_public_route;
use pulse::http::router::Access;

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
fn other_scope(required: &str) -> &'static str {
    if required == "monitoring:read" {
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
            let public = is_public_route(method, route.pattern);
            assert_eq!(
                public,
                route.access == Access::Public,
                "{method} {}",
                route.pattern
            );

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
                Access::Setup | Access::LocalhostOnly | Access::Export => Some("settings:write"),
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
                assert_eq!(r.json()["requiredScope"], scope);
            }

            // 3. A token holding it (recovery must also come straight from loopback).
            let scopes: &[&str] = match required {
                Some(s) => &[s],
                None => &["monitoring:read"],
            };
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
