//! Security endpoints (login, logout, tokens, setup, password, lockout, recovery, status) and
//! the request gate's security steps (rate limit, authorization) that `core::dispatch` calls.
//!
//! The logic lives in `crate::auth` as HTTP-independent [`Answer`]s; this file adapts it to
//! `ApiRequest`/`Reply` and sends bcrypt work to the task pool with `Outcome::defer`.

use crate::auth::answer::Answer;
use crate::auth::cookies;
use crate::auth::guard::{RequestInfo, Security, SecurityConfig};
use crate::auth::policy::{Principal, RouteAuth};
use crate::auth::sessions::SESSION_COOKIE;
use crate::auth::tokens::Scope;
use crate::core::app::App;
use crate::core::outcome::{Deferred, Outcome};
use crate::env::RuntimeConfig;
use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};
use crate::http::router::{Access, Ctx, Route};
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

fn info(req: &ApiRequest) -> RequestInfo<'_> {
    RequestInfo {
        method: req.method.as_str(),
        path: &req.path,
        query: &req.query,
        peer: req.peer,
        is_tls: req.is_https,
        headers: &req.headers,
    }
}

fn reply(a: Answer) -> Reply {
    let mut r = match a.body {
        Some(body) => Reply::json(a.status, &body),
        None => Reply::new(a.status),
    };
    r.headers.extend(a.headers);
    r
}

/// Counts the request against its rate-limit category. Returns the `X-RateLimit-*` headers
/// for the response (empty for exempt paths) and, when over the limit, the 429 reply.
pub fn rate_limit(app: &mut App, req: &ApiRequest) -> (Vec<(String, String)>, Option<Reply>) {
    let ip = app.security.client_ip(&info(req));
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
        (
            Vec::new(),
            Some(reply(Answer::json(429, status.error_body())).with_headers(headers)),
        )
    }
}

trait WithHeaders {
    fn with_headers(self, headers: Vec<(String, String)>) -> Self;
}

impl WithHeaders for Reply {
    fn with_headers(mut self, headers: Vec<(String, String)>) -> Reply {
        self.headers.extend(headers);
        self
    }
}

/// Adds `headers` to the eventual reply, also when it is built later from deferred work.
pub fn with_headers(outcome: Outcome, headers: Vec<(String, String)>) -> Outcome {
    if headers.is_empty() {
        return outcome;
    }
    match outcome {
        Outcome::Reply(r) => Outcome::Reply(r.with_headers(headers)),
        Outcome::Defer(d) => {
            let finish = d.finish;
            Outcome::Defer(Deferred {
                pool: d.pool,
                work: d.work,
                finish: Box::new(move |app, result| finish(app, result).with_headers(headers)),
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

/// The route's access rule as the policy knows it. Scope strings are validated by
/// `route_scopes_are_known` below, so `None` only happens for a typo caught by tests.
fn route_auth(access: Access) -> Option<RouteAuth> {
    Some(match access {
        Access::Public => RouteAuth::Public,
        Access::Authenticated => RouteAuth::Authenticated,
        Access::Scope(s) => RouteAuth::Scope(Scope::parse(s)?),
        Access::Setup => RouteAuth::Setup,
        Access::LocalhostOnly => RouteAuth::LocalhostOnly,
        Access::Export => RouteAuth::Export,
    })
}

/// Whether a WebSocket handshake may receive the feed: the same rule as `GET /api/state`
/// (session, or a token with `monitoring:read`). Checked after the upgrade so that a refusal
/// reaches the browser as close code 1008.
pub fn ws_allowed(app: &mut App, req: &ApiRequest) -> bool {
    let verdict = app.security.authorize(
        &info(req),
        RouteAuth::Scope(crate::auth::tokens::Scope::MonitoringRead),
        UtcTime::now(),
    );
    verdict.outcome.is_ok()
}

/// Authorizes a routed request; `Err` is the refusal (400/401/403) with its headers.
pub fn admit(app: &mut App, req: &ApiRequest, access: Access) -> Result<Admission, Reply> {
    let Some(route) = route_auth(access) else {
        return Err(Reply::error(500, "route has an unknown scope"));
    };
    let verdict = app.security.authorize(&info(req), route, UtcTime::now());
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

fn user_agent(req: &ApiRequest) -> Option<String> {
    info(req).header("user-agent").map(str::to_string)
}

fn login(app: &mut App, ctx: &Ctx) -> Outcome {
    let secure = info(ctx.req).is_https();
    let ua = user_agent(ctx.req);
    match app
        .security
        .login_start(&ctx.req.body, ctx.client_ip, UtcTime::now())
    {
        Err(a) => reply(a).into(),
        Ok(job) => {
            // The account-wide guard's delay holds the answer on a loop timer, whatever the
            // password: the bcrypt worker is free again as soon as it has verified.
            let release = std::time::Instant::now() + job.delay();
            Outcome::defer(
                move || job.run(),
                move |app, verified| {
                    reply(app.security.login_finish(
                        verified,
                        ua.as_deref(),
                        secure,
                        UtcTime::now(),
                    ))
                },
            )
            .not_before(release)
        }
    }
}

fn logout(app: &mut App, ctx: &Ctx) -> Outcome {
    let i = info(ctx.req);
    let cookie = i.header("cookie").unwrap_or("");
    let session = cookies::cookie_value(cookie, SESSION_COOKIE);
    reply(
        app.security
            .logout(session, ctx.client_ip, i.is_https(), UtcTime::now()),
    )
    .into()
}

fn status(app: &mut App, ctx: &Ctx) -> Outcome {
    let s = app
        .security
        .status(&ctx.principal, ctx.client_ip, info(ctx.req).is_https());
    Reply::json(200, &s).into()
}

fn list_tokens(app: &mut App, _: &Ctx) -> Outcome {
    reply(app.security.list_tokens()).into()
}

fn create_token(app: &mut App, ctx: &Ctx) -> Outcome {
    let a = app
        .security
        .create_token(&ctx.req.body, &ctx.principal, ctx.client_ip, UtcTime::now());
    reply(a).into()
}

fn delete_token(app: &mut App, ctx: &Ctx) -> Outcome {
    reply(
        app.security
            .delete_token(ctx.param("id"), ctx.client_ip, UtcTime::now()),
    )
    .into()
}

fn regenerate_token(app: &mut App, ctx: &Ctx) -> Outcome {
    reply(app.security.regenerate_token(ctx.client_ip, UtcTime::now())).into()
}

fn validate_token(app: &mut App, ctx: &Ctx) -> Outcome {
    reply(app.security.validate_token(&ctx.req.body)).into()
}

fn quick_setup(app: &mut App, ctx: &Ctx) -> Outcome {
    let setup_header = info(ctx.req).header("x-setup-token");
    match app
        .security
        .quick_setup_start(&ctx.req.body, setup_header, ctx.client_ip)
    {
        Err(a) => reply(a).into(),
        Ok(job) => Outcome::defer(
            move || job.run(),
            |app, done| reply(app.security.quick_setup_finish(done, UtcTime::now())),
        ),
    }
}

fn change_password(app: &mut App, ctx: &Ctx) -> Outcome {
    let now = UtcTime::now();
    match app
        .security
        .change_password_start(&ctx.req.body, &ctx.principal, ctx.client_ip, now)
    {
        Err(a) => reply(a).into(),
        Ok(job) => Outcome::defer(
            move || job.run(),
            |app, done| reply(app.security.change_password_finish(done, UtcTime::now())),
        ),
    }
}

fn reset_lockout(app: &mut App, ctx: &Ctx) -> Outcome {
    reply(
        app.security
            .reset_lockout(&ctx.req.body, ctx.client_ip, UtcTime::now()),
    )
    .into()
}

fn recovery(app: &mut App, ctx: &Ctx) -> Outcome {
    if ctx.req.method != Method::Post {
        return reply(app.security.recovery_status()).into();
    }
    let direct = info(ctx.req).is_direct_local();
    let a = app
        .security
        .recovery_action(&ctx.req.body, direct, ctx.client_ip, UtcTime::now());
    reply(a).into()
}

fn apply_restart(app: &mut App, _: &Ctx) -> Outcome {
    reply(app.security.apply_restart()).into()
}

pub fn routes() -> Vec<Route> {
    let write = Access::Scope("settings:write");
    let r = |methods: &'static [Method], pattern: &'static str, access, handler| Route {
        methods,
        pattern,
        access,
        handler,
    };
    vec![
        r(&[Method::Post], "/api/login", Access::Public, login),
        r(
            &[Method::Post],
            "/api/logout",
            Access::Authenticated,
            logout,
        ),
        r(
            &[Method::Get],
            "/api/security/status",
            Access::Public,
            status,
        ),
        r(
            &[Method::Get],
            "/api/security/tokens",
            Access::Scope("settings:read"),
            list_tokens,
        ),
        r(&[Method::Post], "/api/security/tokens", write, create_token),
        r(
            &[Method::Delete],
            "/api/security/tokens/{id}",
            write,
            delete_token,
        ),
        r(
            &[Method::Post],
            "/api/security/regenerate-token",
            write,
            regenerate_token,
        ),
        r(
            &[Method::Post],
            "/api/security/validate-token",
            write,
            validate_token,
        ),
        r(
            &[Method::Post],
            "/api/security/quick-setup",
            Access::Setup,
            quick_setup,
        ),
        r(
            &[Method::Post],
            "/api/security/change-password",
            write,
            change_password,
        ),
        r(
            &[Method::Post],
            "/api/security/reset-lockout",
            write,
            reset_lockout,
        ),
        r(
            &[Method::Get, Method::Post],
            "/api/security/recovery",
            Access::LocalhostOnly,
            recovery,
        ),
        r(
            &[Method::Post],
            "/api/security/apply-restart",
            write,
            apply_restart,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::is_public_route;

    /// Every scope string in the whole route table is one the policy knows, and routes are
    /// public exactly when `auth::policy::PUBLIC_ROUTES` says so.
    #[test]
    fn route_table_agrees_with_the_policy() {
        for route in crate::api::all_routes() {
            assert!(
                route_auth(route.access).is_some(),
                "{}: unknown scope",
                route.pattern
            );
            for m in route.methods {
                let public = route.access == Access::Public;
                assert_eq!(
                    public,
                    is_public_route(m.as_str(), route.pattern),
                    "{} {}: Access::Public must match PUBLIC_ROUTES",
                    m.as_str(),
                    route.pattern
                );
            }
        }
    }
}
