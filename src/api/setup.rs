//! Node onboarding: `POST /api/setup-script-url` (one-time code + command), `GET
//! /api/setup-script` (the bash script), `POST /api/auto-register` (the script calling back), and
//! discovery (`GET /api/discover` cached results, `POST /api/discover` start a scan now).

use crate::auth::policy::Principal;
use crate::config::model::nodes::NodeType;
use crate::config::state::Saved;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::{Body, Reply};
use crate::http::request::{ApiRequest, Method};
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::setup::codes::SetupCodes;
use crate::setup::registration::{Registration, RegistrationAuth};
use crate::setup::script::{render, ScriptParams};
use crate::util::secret::Secret;
use crate::util::time::{unix_now, UtcTime};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

/// What Go's `url.QueryEscape` leaves alone: RFC 3986 unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A query-string value as Go's `url.QueryEscape` writes it (space as `+`, the rest `%XX`).
fn query_escape(s: &str) -> String {
    // A literal '%' is itself escaped, so every "%20" here came from a space.
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE)
        .to_string()
        .replace("%20", "+")
}

/// The URL nodes use to reach this Pulse: `PULSE_PUBLIC_URL` if set, else the scheme and `Host`
/// of the request (which is how the admin's browser reached us).
fn pulse_url(app: &App, req: &ApiRequest) -> Result<String, Reply> {
    if let Some(url) = app.cfg.vars.get("PULSE_PUBLIC_URL") {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let host = req.header("host").unwrap_or("").trim();
    let safe = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !safe {
        return Err(Reply::error(
            400,
            "Cannot build the Pulse URL: missing or invalid Host header",
        ));
    }
    let https = req.is_https
        || req
            .header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Ok(format!("{}://{host}", if https { "https" } else { "http" }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScriptUrlRequest {
    #[serde(rename = "type", default)]
    node_type: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    backup_perms: bool,
}

fn script_url(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: ScriptUrlRequest = match ctx.req.json() {
        Ok(b) => b,
        Err(reply) => return reply.into(),
    };
    let Some(node_type) = NodeType::parse(&body.node_type) else {
        return Reply::error(400, "type must be pve, pbs or pmg").into();
    };
    let pulse = match pulse_url(app, ctx.req) {
        Ok(u) => u,
        Err(reply) => return reply.into(),
    };
    let host = Some(body.host.as_str()).filter(|h| !h.trim().is_empty());
    let issued = match app.config.setup_codes.issue(node_type, host, unix_now()) {
        Ok(i) => i,
        Err(e) => return Reply::from(e).into(),
    };
    let mut url = format!("{pulse}/api/setup-script?type={}", node_type.as_str());
    if let Some(h) = host {
        url.push_str(&format!("&host={}", query_escape(h.trim())));
    }
    url.push_str(&format!("&pulse_url={}", query_escape(&pulse)));
    if body.backup_perms && node_type == NodeType::Pve {
        url.push_str("&backup_perms=true");
    }
    let without_env = format!("curl -sSL \"{url}\" | bash");
    let with_env = format!(
        "curl -sSL \"{url}\" | PULSE_SETUP_TOKEN={} bash",
        issued.code
    );
    Reply::json(
        200,
        &json!({
            "url": url,
            "command": with_env,
            "commandWithEnv": with_env,
            "commandWithoutEnv": without_env,
            "expires": issued.expires_at,
            "setupToken": issued.code,
            "tokenHint": issued.code,
        }),
    )
    .into()
}

fn setup_script(app: &mut App, ctx: &Ctx) -> Outcome {
    let q = |k: &str| ctx.req.query_param(k).filter(|v| !v.is_empty());
    let Some(node_type) = q("type").as_deref().and_then(NodeType::parse) else {
        return Reply::error(400, "type is required (pve, pbs or pmg)").into();
    };
    // Without pulse_url the script calls back to the address this request came in on.
    let pulse_url = match q("pulse_url") {
        Some(u) => u,
        None => match pulse_url(app, ctx.req) {
            Ok(u) => u,
            Err(reply) => return reply.into(),
        },
    };
    let params = ScriptParams {
        node_type,
        host: q("host"),
        pulse_url,
        backup_perms: q("backup_perms").as_deref() == Some("true"),
        auth_token: q("auth_token"),
        now: unix_now(),
    };
    match render(&params) {
        Ok(script) => Reply::new(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .header(
                "Content-Disposition",
                &format!("inline; filename=pulse-setup-{}.sh", node_type.as_str()),
            )
            .header("Cache-Control", "no-store")
            .body(Body::Bytes(script.into_bytes()))
            .into(),
        Err(e) => Reply::from(e).into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoRegisterRequest {
    #[serde(rename = "type", default)]
    node_type: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    token_id: String,
    #[serde(default)]
    token_value: Secret,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Secret,
    #[serde(default)]
    auth_token: Secret,
    #[serde(default)]
    setup_code: Secret,
}

/// How an auto-registration proved it may add a node.
enum Proof {
    /// An API token with `settings:write` (header, or `authToken` in the body).
    ApiToken,
    /// A one-time setup code, still to be consumed (it is bound to type and host).
    SetupCode(String),
}

/// Pulse's order: the body's `authToken` (else `setupCode`) as an API token, else as a setup
/// code; then a token in `X-API-Token` / `Authorization: Bearer` (already verified by the
/// gate); then `X-Setup-Token`. API tokens need `settings:write`: registering adds a node.
fn registration_proof(
    app: &mut App,
    ctx: &Ctx,
    body: &AutoRegisterRequest,
) -> Result<Proof, Reply> {
    let missing_scope = || {
        Reply::error(
            403,
            "The API token lacks the settings:write scope needed to register nodes",
        )
    };
    let in_body = [body.auth_token.expose(), body.setup_code.expose()]
        .into_iter()
        .map(str::trim)
        .find(|c| !c.is_empty());
    if let Some(value) = in_body {
        if SetupCodes::looks_like_code(value) {
            return Ok(Proof::SetupCode(value.to_string()));
        }
        return match app.security.tokens.authenticate(value, UtcTime::now()) {
            Some(record) if record.has_scope(Scope::SettingsWrite) => Ok(Proof::ApiToken),
            Some(_) => Err(missing_scope()),
            None => Err(Reply::error(401, "Invalid or expired setup code")),
        };
    }
    if let Principal::Token { scopes, .. } = &ctx.principal {
        let write = Scope::SettingsWrite.as_str();
        return if scopes.iter().any(|s| s == "*" || s == write) {
            Ok(Proof::ApiToken)
        } else {
            Err(missing_scope())
        };
    }
    match ctx.req.header("x-setup-token").map(str::trim) {
        Some(code) if !code.is_empty() => Ok(Proof::SetupCode(code.to_string())),
        _ => Err(Reply::error(401, "Pulse requires authentication")),
    }
}

fn auto_register(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: AutoRegisterRequest = match ctx.req.json() {
        Ok(b) => b,
        Err(reply) => return reply.into(),
    };
    let proof = match registration_proof(app, ctx, &body) {
        Ok(p) => p,
        Err(reply) => return reply.into(),
    };
    let node_type = NodeType::parse(&body.node_type);
    let auth = if !body.token_id.is_empty() && !body.token_value.is_empty() {
        Some(RegistrationAuth::Token {
            token_id: body.token_id.clone(),
            token_value: body.token_value.clone(),
        })
    } else if !body.username.is_empty() && !body.password.is_empty() {
        Some(RegistrationAuth::Password {
            user: body.username.clone(),
            password: body.password.clone(),
        })
    } else {
        None
    };
    let (Some(node_type), Some(auth)) = (node_type, auth) else {
        return Reply::error(
            400,
            "Missing required fields: type, host, and tokenId+tokenValue (or username+password)",
        )
        .into();
    };
    if body.host.trim().is_empty() {
        return Reply::error(400, "Missing required fields: host").into();
    }
    if let Proof::SetupCode(code) = &proof {
        if !SetupCodes::looks_like_code(code) {
            return Reply::error(401, "Invalid or expired setup code").into();
        }
        if let Err(e) = app
            .config
            .setup_codes
            .consume(code, node_type, &body.host, unix_now())
        {
            crate::log_warn!("auto-registration refused", peer = ctx.req.peer, reason = e);
            return Reply::error(401, &e.to_string()).into();
        }
    }
    let reg = Registration {
        node_type,
        host: body.host.clone(),
        server_name: body.server_name.clone(),
        auth,
    };
    let mut nodes = app.config.nodes.clone();
    let result = nodes.register(&reg).and_then(|(id, added)| {
        let ticket = app.config.replace_nodes(nodes, false, UtcTime::now())?;
        Ok((id, added, ticket))
    });
    let (id, added, ticket) = match result {
        Ok(r) => r,
        Err(e) => return Reply::from(e).into(),
    };
    let host = body.host.trim().to_string();
    let token_id = body.token_id.trim().to_string();
    crate::api::config_nodes::after_save(ticket, Saved::Nodes, move |app: &mut App| {
        let name = app
            .config
            .nodes
            .get(&id)
            .map(|n| n.name().to_string())
            .unwrap_or_default();
        app.config.mark_registered(node_type, &name, Instant::now());
        app.config.discovery.invalidate();
        crate::log_info!("node auto-registered", id = id, name = name, added = added);
        crate::api::config_nodes::node_test::detect_cluster_later(app, &id);
        // The UI shows a toast and reloads its node list.
        app.broadcast_event(
            "node_auto_registered",
            &json!({
                "type": node_type.as_str(),
                "host": host,
                "name": name,
                "tokenId": token_id,
                "hasToken": !token_id.is_empty(),
            }),
        );
        Reply::json(
            200,
            &json!({
                "status": "success",
                "message": format!("Node {host} auto-registered successfully"),
                "nodeId": host,
                "id": id,
            }),
        )
    })
}

fn discover(app: &mut App, _: &Ctx) -> Outcome {
    Reply::json(200, &app.config.discovery.response(unix_now())).into()
}

#[derive(Deserialize, Default)]
struct DiscoverRequest {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    use_cache: bool,
}

fn discover_now(app: &mut App, ctx: &Ctx) -> Outcome {
    let body: DiscoverRequest = if ctx.req.body.is_empty() {
        DiscoverRequest::default()
    } else {
        match ctx.req.json() {
            Ok(b) => b,
            Err(reply) => return reply.into(),
        }
    };
    if !body.use_cache {
        let subnet = body
            .subnet
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Err(e) = crate::core::discovery::start(app, subnet) {
            return Reply::error(400, &e).into();
        }
    }
    Reply::json(202, &app.config.discovery.response(unix_now())).into()
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/setup-script-url",
            // A setup code lets its holder add a node: same right as adding one directly.
            access: Access::Scope(Scope::SettingsWrite),
            // The UI posts it without the CSRF header (as Pulse does).
            csrf: Csrf::Exempt,
            handler: script_url,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/setup-script",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: setup_script,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/auto-register",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: auto_register,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/api/discover",
            access: Access::Authenticated,
            csrf: Csrf::Required,
            handler: discover,
        },
        Route {
            methods: &[Method::Post],
            pattern: "/api/discover",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: discover_now,
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_escaping_matches_go() {
        // url.QueryEscape("https://a.b:8006/x y+z~é") in Go.
        assert_eq!(
            super::query_escape("https://a.b:8006/x y+z~é"),
            "https%3A%2F%2Fa.b%3A8006%2Fx+y%2Bz~%C3%A9"
        );
    }
}
