//! The request gate's security steps, run by `core::dispatch` for every request: the rate
//! limit (per client IP and category, headers on every answer) and the route's access rule
//! (sessions + CSRF, API tokens + scopes, API-only mode). The decisions themselves live in
//! `crate::auth`; this file adapts them to `ApiRequest`/`Reply`.

use crate::auth::guard::{Security, SecurityConfig};
use crate::auth::policy::{Principal, RouteRule};
use crate::auth::request::RequestInfo;
use crate::core::app::App;
use crate::core::outcome::{Deferred, Outcome};
use crate::env::RuntimeConfig;
use crate::http::reply::Reply;
use crate::http::request::ApiRequest;
use crate::util::time::UtcTime;
use std::net::IpAddr;

/// Builds the security state at startup (before the loop runs): reads the auth variables,
/// hashes a plaintext `PULSE_AUTH_PASS` (bcrypt, ≈250 ms), loads tokens and sessions, and
/// writes the bootstrap token when nothing is configured. Errors name the variable or file.
pub fn open(cfg: &RuntimeConfig) -> std::io::Result<Security> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let (mut config, mut warnings) =
        SecurityConfig::from_env(&cfg.data_dir, |k| cfg.vars.get(k).map(str::to_string))
            .map_err(|e| invalid(e.to_string()))?;
    config.credentials_pinned_by_env = ["PULSE_AUTH_USER", "PULSE_AUTH_PASS"]
        .iter()
        .any(|k| cfg.vars.is_set(k) && !cfg.vars.came_from_env_file(k));
    let (security, more) =
        Security::open(config, UtcTime::now()).map_err(|e| invalid(e.to_string()))?;
    warnings.extend(more);
    for w in warnings {
        crate::log_warn!("security", note = w);
    }
    Ok(security)
}

/// The request as the security layer sees it.
pub fn request_info(req: &ApiRequest) -> RequestInfo<'_> {
    RequestInfo {
        method: req.method.as_str(),
        path: &req.path,
        query: &req.query,
        peer: req.peer,
        is_tls: req.is_https,
        headers: &req.headers,
    }
}

/// Counts the request against its rate-limit category. Returns the `X-RateLimit-*` headers
/// for the response (empty for exempt paths) and, when over the limit, the 429 reply.
pub fn rate_limit(app: &mut App, req: &ApiRequest) -> (Vec<(String, String)>, Option<Reply>) {
    let ip = app.security.client_ip(&request_info(req));
    let now = UtcTime::now();
    let Some(status) = app
        .security
        .rate_limit(ip, req.method.as_str(), &req.path, now)
    else {
        return (Vec::new(), None);
    };
    let headers: Vec<(String, String)> = status
        .headers()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if status.allowed {
        (headers, None)
    } else {
        let mut r = Reply::json(429, &status.error_body());
        r.headers.extend(headers);
        (Vec::new(), Some(r))
    }
}

/// Adds `headers` to the eventual reply, also when it is built later from deferred work.
pub fn with_headers(outcome: Outcome, headers: Vec<(String, String)>) -> Outcome {
    if headers.is_empty() {
        return outcome;
    }
    let add = |mut r: Reply, headers: Vec<(String, String)>| {
        r.headers.extend(headers);
        r
    };
    match outcome {
        Outcome::Reply(r) => Outcome::Reply(add(r, headers)),
        Outcome::Defer(d) => {
            let finish = d.finish;
            Outcome::Defer(Deferred {
                pool: d.pool,
                work: d.work,
                finish: Box::new(move |app, result| with_headers(finish(app, result), headers)),
                not_before: d.not_before,
            })
        }
    }
}

/// Who passed the gate, and headers the response must carry (fresh CSRF cookie, …).
pub struct Admission {
    pub principal: Principal,
    pub client_ip: IpAddr,
    pub headers: Vec<(String, String)>,
}

/// Authorizes a routed request; `Err` is the refusal (400/401/403) with its headers.
pub fn admit(app: &mut App, req: &ApiRequest, rule: RouteRule) -> Result<Admission, Reply> {
    let verdict = app
        .security
        .authorize(&request_info(req), rule, UtcTime::now());
    match verdict.outcome {
        Ok(principal) => Ok(Admission {
            principal,
            client_ip: verdict.client_ip,
            headers: verdict.headers,
        }),
        Err(denial) => {
            let mut r = Reply::json(denial.status(), &denial.body());
            r.headers.extend(
                denial
                    .headers()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
            r.headers.extend(verdict.headers);
            Err(r)
        }
    }
}
