//! Security endpoints (login, logout, tokens, setup, password, lockout, recovery, status). The
//! request gate's security steps (rate limit, authorization) are in `core::gate`.
//!
//! The endpoint bodies are in the submodules (`account`, `tokens`, `recovery`, `status`; login in
//! `auth::login`) as methods on `Security`; this file routes to them and sends bcrypt work to
//! the task pool with `Outcome::defer`.

mod account;
mod recovery;
mod sessions;
mod status;
mod tokens;

use crate::auth::cookies;
use crate::auth::request::RequestInfo;
use crate::auth::sessions::SESSION_COOKIE;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::util::time::UtcTime;

fn info(req: &ApiRequest) -> RequestInfo<'_> {
    crate::core::gate::request_info(req)
}

/// Whether a WebSocket handshake may receive the feed: the same rule as `GET /api/state`
/// (session, or a token with `monitoring:read`). Checked after the upgrade so that a refusal
/// reaches the browser as close code 1008.
pub fn ws_allowed(app: &mut App, req: &ApiRequest) -> bool {
    let verdict = app.security.authorize(
        &info(req),
        Access::Scope(Scope::MonitoringRead),
        UtcTime::now(),
    );
    verdict.outcome.is_ok()
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
        Err(a) => a.into(),
        Ok(job) => {
            // The account-wide guard's delay holds the answer on a loop timer, whatever the
            // password: the bcrypt worker is free again as soon as it has verified.
            let release = std::time::Instant::now() + job.delay();
            Outcome::defer(
                move || job.run(),
                move |app, verified| {
                    app.security
                        .login_finish(verified, ua.as_deref(), secure, UtcTime::now())
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

    app.security
        .logout(session, ctx.client_ip, i.is_https(), UtcTime::now())
        .into()
}

fn status(app: &mut App, ctx: &Ctx) -> Outcome {
    let s = app
        .security
        .status(&ctx.principal, ctx.client_ip, info(ctx.req).is_https());
    Reply::json(200, &s).into()
}

fn list_tokens(app: &mut App, _: &Ctx) -> Outcome {
    app.security.list_tokens().into()
}

fn create_token(app: &mut App, ctx: &Ctx) -> Outcome {
    let a = app
        .security
        .create_token(&ctx.req.body, &ctx.principal, ctx.client_ip, UtcTime::now());
    a.into()
}

fn delete_token(app: &mut App, ctx: &Ctx) -> Outcome {
    app.security
        .delete_token(ctx.param("id"), ctx.client_ip, UtcTime::now())
        .into()
}

fn regenerate_token(app: &mut App, ctx: &Ctx) -> Outcome {
    app.security
        .regenerate_token(ctx.client_ip, UtcTime::now())
        .into()
}

fn validate_token(app: &mut App, ctx: &Ctx) -> Outcome {
    app.security.validate_token(&ctx.req.body).into()
}

fn quick_setup(app: &mut App, ctx: &Ctx) -> Outcome {
    let setup_header = info(ctx.req).header("x-setup-token");
    match app
        .security
        .quick_setup_start(&ctx.req.body, setup_header, ctx.client_ip)
    {
        Err(a) => a.into(),
        Ok(job) => Outcome::defer(
            move || job.run(),
            |app, done| app.security.quick_setup_finish(done, UtcTime::now()),
        ),
    }
}

fn change_password(app: &mut App, ctx: &Ctx) -> Outcome {
    let now = UtcTime::now();
    match app
        .security
        .change_password_start(&ctx.req.body, &ctx.principal, ctx.client_ip, now)
    {
        Err(a) => a.into(),
        Ok(job) => Outcome::defer(
            move || job.run(),
            |app, done| app.security.change_password_finish(done, UtcTime::now()),
        ),
    }
}

fn reset_lockout(app: &mut App, ctx: &Ctx) -> Outcome {
    app.security
        .reset_lockout(&ctx.req.body, ctx.client_ip, UtcTime::now())
        .into()
}

fn recovery(app: &mut App, ctx: &Ctx) -> Outcome {
    if ctx.req.method != Method::Post {
        return app.security.recovery_status().into();
    }
    let direct = info(ctx.req).is_direct_local();
    let a = app
        .security
        .recovery_action(&ctx.req.body, direct, ctx.client_ip, UtcTime::now());
    a.into()
}

fn apply_restart(app: &mut App, _: &Ctx) -> Outcome {
    app.security.apply_restart().into()
}

pub fn routes() -> Vec<Route> {
    let write = Access::Scope(Scope::SettingsWrite);
    let r = |methods: &'static [Method], pattern: &'static str, access, handler| Route {
        methods,
        pattern,
        access,
        csrf: Csrf::Required,
        handler,
    };
    // First-Run Setup has no session to take a CSRF token from.
    let until_password = |route: Route| Route {
        csrf: Csrf::ExemptWithoutPassword,
        ..route
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
            Access::Scope(Scope::SettingsRead),
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
        until_password(r(
            &[Method::Post],
            "/api/security/quick-setup",
            Access::Setup,
            quick_setup,
        )),
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
            &[Method::Get],
            "/api/security/sessions",
            Access::Scope(Scope::SettingsRead),
            sessions::list,
        ),
        r(
            &[Method::Delete],
            "/api/security/sessions/{id}",
            write,
            sessions::revoke,
        ),
        r(
            &[Method::Get, Method::Post],
            "/api/security/recovery",
            Access::LocalhostOnly,
            recovery,
        ),
        until_password(r(
            &[Method::Post],
            "/api/security/apply-restart",
            write,
            apply_restart,
        )),
    ]
}

/// Fixtures for the endpoint tests at the end of `account.rs`, `tokens.rs` and `recovery.rs`:
/// real stores in a temp dir (the HTTP wiring is tested over TCP in `tests/auth_*.rs`).
#[cfg(test)]
mod fixtures {
    use crate::auth::guard::{Admin, Security, SecurityConfig};
    use crate::auth::password::PasswordHash;
    use crate::auth::secret;
    use crate::http::reply::Reply;
    use crate::util::time::UtcTime;
    use serde_json::Value;
    use std::net::IpAddr;
    use std::path::{Path, PathBuf};

    pub fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-endpoints-{tag}-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    pub fn ip() -> IpAddr {
        "192.168.1.7".parse().unwrap()
    }

    pub fn open(dir: &Path, with_admin: bool) -> Security {
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

    pub fn body(a: &Reply) -> Value {
        serde_json::from_slice(a.body.as_slice()).unwrap()
    }

    pub fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use crate::http::router::{Access, Csrf};

    /// The route table is the one source of access truth: this pins which routes are public
    /// and which skip CSRF, so a change to either is a deliberate edit here.
    #[test]
    fn public_and_csrf_exempt_routes_are_exactly_these() {
        let mut public = Vec::new();
        let mut exempt = Vec::new();
        for route in crate::api::all_routes() {
            for m in route.methods {
                let name = format!("{} {}", m.as_str(), route.pattern);
                if route.access == Access::Public {
                    public.push(name.clone());
                }
                if route.csrf != Csrf::Required {
                    exempt.push((name, route.csrf));
                }
            }
        }
        public.sort();
        assert_eq!(
            public,
            [
                // Agents check for updates and install themselves before they hold a token;
                // the binaries and scripts carry no data (Pulse serves them publicly too).
                "GET /api/agent/version",
                "GET /api/health",
                "GET /api/security/status",
                "GET /api/setup-script",
                "GET /api/version",
                "GET /download/pulse-docker-agent",
                "GET /download/pulse-host-agent",
                "GET /install-docker-agent.sh",
                "GET /install-host-agent.sh",
                // A page without data; its `/ws` feed authorizes the caller.
                "GET /simple-stats",
                "GET /socket.io",
                "GET /socket.io/{*rest}",
                "GET /ws",
                "POST /api/auto-register",
                "POST /api/login",
            ]
        );
        exempt.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            exempt,
            [
                (
                    "POST /api/security/apply-restart".to_string(),
                    Csrf::ExemptWithoutPassword
                ),
                (
                    "POST /api/security/quick-setup".to_string(),
                    Csrf::ExemptWithoutPassword
                ),
                ("POST /api/setup-script-url".to_string(), Csrf::Exempt),
            ]
        );
    }
}
