//! `GET /api/security/sessions` and `DELETE /api/security/sessions/{id}`: the signed-in browsers
//! (not in Pulse; the Settings → Security page lists and ends them). A session's id is the first
//! 16 hex characters of its stored key, the SHA-256 of the cookie: enough to name it, useless
//! as a credential.

use crate::auth::audit::AuditEvent;
use crate::auth::policy::Principal;
use crate::core::app::App;
use crate::core::outcome::Outcome;
use crate::http::reply::Reply;
use crate::http::router::Ctx;
use crate::util::time::UtcTime;
use serde_json::{json, Value};

const ID_LEN: usize = 16;

pub(super) fn list(app: &mut App, ctx: &Ctx) -> Outcome {
    let current = match &ctx.principal {
        Principal::Session { key, .. } => Some(key.as_str()),
        _ => None,
    };
    let list: Vec<Value> = app
        .security
        .sessions
        .list(UtcTime::now())
        .into_iter()
        .map(|r| {
            json!({
                "id": r.key.get(..ID_LEN).unwrap_or(&r.key),
                "username": r.username,
                "ip": r.ip,
                "userAgent": r.user_agent,
                "createdAt": r.created_at,
                "expiresAt": r.expires_at,
                "current": Some(r.key.as_str()) == current,
            })
        })
        .collect();
    Reply::json(200, &json!({ "sessions": list })).into()
}

pub(super) fn revoke(app: &mut App, ctx: &Ctx) -> Outcome {
    let id = ctx.param("id");
    if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Reply::error(
            400,
            "id: expected the 16 hex characters the session list shows",
        )
        .into();
    }
    let id = id.to_ascii_lowercase();
    match app.security.sessions.remove_by_prefix(&id) {
        Ok(true) => {
            let _ = app.security.audit.record(
                AuditEvent::Logout { user: None },
                Some(ctx.client_ip),
                None,
                UtcTime::now(),
            );
            Reply::json(200, &json!({ "success": true, "message": "Session ended" })).into()
        }
        Ok(false) => Reply::error(404, "Session not found").into(),
        Err(e) => Reply::error(500, &format!("Failed to end the session: {e}")).into(),
    }
}
