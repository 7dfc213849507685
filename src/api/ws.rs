//! `GET /ws` (the live feed) and the `/socket.io/` compatibility endpoint.

use crate::auth::ratelimit::Category;
use crate::auth::request::RequestInfo;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::request::Method;
use crate::http::router::{Access, Csrf, Ctx, Route, Scope};
use crate::ws::{handshake, WsUpgrade};

fn allowed_origins(app: &App) -> Vec<String> {
    app.cfg
        .vars
        .get("ALLOWED_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Validates the upgrade; the HTTP server writes the 101 and hands the socket to the hub.
///
/// The gate counted this handshake against the per-address WebSocket limit (5 a minute);
/// an authenticated one is given back, so a signed-in user reloading the page keeps getting
/// a feed while refused and anonymous handshakes (floods) are still limited.
fn upgrade(app: &mut App, ctx: &Ctx) -> Outcome {
    let req = ctx.req;
    let accept = match handshake::accept_key(req) {
        Ok(k) => k,
        Err(msg) => return Reply::error(400, msg).into(),
    };
    if !handshake::origin_allowed(req, &allowed_origins(app)) {
        crate::log_warn!(
            "websocket origin refused",
            peer = req.peer,
            origin = req.header("origin").unwrap_or("")
        );
        return Reply::error(403, "Origin not allowed").into();
    }
    // The same rule as `security::ws_allowed` (the feed is what `GET /api/state` shows), with
    // the principal kept: only a signed-in user (session or token) gets the handshake back.
    let info = RequestInfo {
        method: req.method.as_str(),
        path: &req.path,
        query: &req.query,
        peer: req.peer,
        is_tls: req.is_https,
        headers: &req.headers,
    };
    let verdict = app.security.authorize(
        &info,
        Access::Scope(Scope::MonitoringRead),
        crate::util::time::UtcTime::now(),
    );
    let authorized = verdict.outcome.is_ok();
    if verdict.outcome.is_ok_and(|p| p.is_authenticated()) {
        let ip = app.security.client_ip(&info);
        app.security.rate.refund(ip, Category::WebSocket);
    }
    let mut reply = Reply::new(101).header("Sec-WebSocket-Accept", &accept);
    reply.upgrade = Some(WsUpgrade {
        peer: req.peer,
        authorized,
    });
    reply.into()
}

fn socket_io(app: &mut App, ctx: &Ctx) -> Outcome {
    let req = ctx.req;
    if req.path.contains("socket.io.js") {
        return Reply::new(302)
            .header("Location", "https://cdn.socket.io/4.8.1/socket.io.min.js")
            .into();
    }
    match req.query_param("transport").as_deref() {
        Some("websocket") => upgrade(app, ctx),
        Some("polling") => {
            let body = if req.query_param("sid").is_some() {
                "6".to_string()
            } else {
                let sid = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                format!("0{{\"sid\":\"{sid}\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":60000}}")
            };
            Reply::new(200)
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(crate::http::reply::Body::Bytes(body.into_bytes()))
                .into()
        }
        _ => Reply::new(302).header("Location", "/ws").into(),
    }
}

/// Broadcasts a sample `node_auto_registered` event so the UI's toast can be checked.
fn test_notification(app: &mut App, _: &Ctx) -> Outcome {
    let data = serde_json::json!({
        "type": "pve",
        "host": "https://test-node.local:8006",
        "name": "test-node",
        "tokenId": "pulse-monitor@pam!test",
        "hasToken": true,
        "verifySSL": false,
        "status": "connected",
    });
    app.broadcast_event("node_auto_registered", &data);
    Reply::json(200, &serde_json::json!({ "status": "notification sent" })).into()
}

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            methods: &[Method::Post],
            pattern: "/api/test-notification",
            access: Access::Scope(Scope::SettingsWrite),
            csrf: Csrf::Required,
            handler: test_notification,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/ws",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: upgrade,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/socket.io",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: socket_io,
        },
        Route {
            methods: &[Method::Get],
            pattern: "/socket.io/{*rest}",
            access: Access::Public,
            csrf: Csrf::Required,
            handler: socket_io,
        },
    ]
}
