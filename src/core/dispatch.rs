//! The request gate, run on the event loop for every HTTP request: path hygiene, OPTIONS,
//! routing (404/405), access control, then the handler; static UI for everything else.

use crate::core::app::App;
use crate::core::gate;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};
use crate::http::router::{Ctx, Match};

/// Paths that belong to the API even outside `/api/` (never served the SPA).
fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/ws"
        || path.starts_with("/ws/")
        || path.starts_with("/socket.io")
}

/// Rejects traversal and non-canonical paths before anything else looks at them.
fn path_is_clean(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains("//")
        && !path.split('/').any(|seg| seg == ".." || seg == ".")
        && !path.contains('\\')
        && !path.bytes().any(|b| b < 0x20 || b == 0x7f)
        && crate::http::request::percent_decode(path)
            .is_some_and(|d| !d.split('/').any(|s| s == ".."))
}

pub fn handle_http(app: &mut App, req: &ApiRequest) -> Outcome {
    if !path_is_clean(&req.path) {
        return Reply::error(400, "Invalid path").into();
    }
    if req.method == Method::Options {
        return Reply::new(200).into();
    }
    // Rate limit first (every response carries the X-RateLimit-* headers), then route.
    let (rate_headers, limited) = gate::rate_limit(app, req);
    let outcome = match limited {
        Some(reply) => reply.into(),
        None => route(app, req),
    };
    gate::with_headers(outcome, rate_headers)
}

/// A request on the `/metrics`-only listener: `GET /metrics` without credentials (the
/// operator opened this port for a scraper), everything else 404. Rate limited like the rest.
pub fn handle_metrics_port(app: &mut App, req: &ApiRequest) -> Outcome {
    if req.path != "/metrics" {
        return Reply::error(404, "Not found: this port serves only /metrics").into();
    }
    if !matches!(req.method, Method::Get | Method::Head) {
        return Reply::error(405, &format!("Method {} not allowed", req.method.as_str()))
            .header("Allow", "GET, HEAD")
            .into();
    }
    let (rate_headers, limited) = gate::rate_limit(app, req);
    let outcome = match limited {
        Some(reply) => reply.into(),
        // The route the main port serves, minus its access rule (the core never names the
        // API layer: the table is the caller's).
        None => match std::sync::Arc::clone(&app.router).lookup(Method::Get, "/metrics") {
            Match::Found(route, params) => {
                let ctx = Ctx {
                    req,
                    params,
                    principal: crate::auth::policy::Principal::Anonymous,
                    client_ip: req.peer,
                };
                (route.handler)(app, &ctx)
            }
            _ => Reply::error(404, "Not found").into(),
        },
    };
    gate::with_headers(outcome, rate_headers)
}

fn route(app: &mut App, req: &ApiRequest) -> Outcome {
    let router = std::sync::Arc::clone(&app.router);
    match router.lookup(req.method, &req.path) {
        Match::Found(route, params) => match gate::admit(app, req, route.rule()) {
            Ok(admission) => {
                let ctx = Ctx {
                    req,
                    params,
                    principal: admission.principal,
                    client_ip: admission.client_ip,
                };
                gate::with_headers((route.handler)(app, &ctx), admission.headers)
            }
            Err(reply) => reply.into(),
        },
        Match::MethodNotAllowed(allowed) => {
            let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            Reply::error(405, &format!("Method {} not allowed", req.method.as_str()))
                .header("Allow", &allow.join(", "))
                .into()
        }
        Match::NotFound if is_api_path(&req.path) => Reply::error(404, "Not found").into(),
        Match::NotFound => match req.method {
            Method::Get | Method::Head => crate::http::static_files::serve(&req.path).into(),
            _ => Reply::error(405, &format!("Method {} not allowed", req.method.as_str()))
                .header("Allow", "GET, HEAD")
                .into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_hygiene() {
        assert!(path_is_clean("/api/health"));
        assert!(path_is_clean("/"));
        assert!(!path_is_clean("/api/../etc/passwd"));
        assert!(!path_is_clean("/api/%2e%2e/x"));
        assert!(!path_is_clean("//api"));
        assert!(!path_is_clean("api"));
        assert!(!path_is_clean("/a\\b"));
    }
}
