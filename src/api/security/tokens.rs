//! The API-token endpoints: list, create (value shown once), delete, and the legacy
//! regenerate (replace every token with one).

use crate::auth::audit::AuditEvent;
use crate::auth::envfile::{self, ENV_FILE};
use crate::auth::guard::Security;
use crate::auth::policy::Principal;
use crate::auth::tokens::TokenError;
use crate::http::reply::Reply;
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

fn token_error(e: &TokenError) -> Reply {
    match e {
        TokenError::Random | TokenError::Persist(_) => Reply::error(500, &e.to_string()),
        _ => Reply::error(400, &e.to_string()),
    }
}

impl Security {
    /// `GET /api/security/tokens` → `{"tokens": [TokenView]}`, newest first, no secrets.
    pub fn list_tokens(&self) -> Reply {
        Reply::json(200, &json!({ "tokens": self.tokens.list() }))
    }

    /// `POST /api/security/tokens` `{"name"?, "scopes"?}` → `{"token": raw, "record": view}`.
    /// A token caller cannot mint more than it holds: without `*` itself, it may only grant
    /// scopes it has, and omitted scopes mean its own (Pulse lets any `settings:write` token
    /// mint a full-access one).
    pub fn create_token(
        &mut self,
        body: &[u8],
        principal: &Principal,
        ip: IpAddr,
        now: UtcTime,
    ) -> Reply {
        let b: CreateBody = match serde_json::from_slice(body) {
            Ok(b) => b,
            Err(_) => {
                return Reply::error(
                    400,
                    "Invalid request body: expected {\"name\"?, \"scopes\"?}",
                )
            }
        };
        let mut scopes = b.scopes;
        if let Principal::Token { scopes: own, .. } = principal {
            if !own.iter().any(|s| s == "*") {
                // Omitted scopes mean "everything the caller has", not "*".
                let wanted = scopes.get_or_insert_with(|| own.clone());
                let escalates = wanted
                    .iter()
                    .any(|w| w.trim() == "*" || !own.iter().any(|o| o == w.trim()));
                if escalates {
                    return Reply::error(
                        403,
                        "A token can only create tokens with scopes it holds itself",
                    );
                }
            }
        }
        match self.tokens.create(&b.name, scopes.as_deref(), now) {
            Ok((raw, record)) => {
                let event = AuditEvent::TokenCreated {
                    id: &record.id,
                    name: &record.name,
                };
                let _ = self.audit.record(event, Some(ip), None, now);
                Reply::json(200, &json!({ "token": raw.expose(), "record": record }))
            }
            Err(e) => token_error(&e),
        }
    }

    /// `DELETE /api/security/tokens/{id}` → 204; 404 unknown; 409 for a token that comes
    /// from `API_TOKENS`/`API_TOKEN` (it would come back at the next start).
    pub fn delete_token(&mut self, id: &str, ip: IpAddr, now: UtcTime) -> Reply {
        match self.tokens.get(id) {
            None => return Reply::error(404, "Token not found"),
            Some(r) if r.is_from_env() => {
                return Reply::error(409, "This token comes from the API_TOKENS/API_TOKEN environment variable; remove it there and restart Pulse");
            }
            Some(_) => {}
        }
        match self.tokens.delete(id) {
            Ok(true) => {
                let _ = self
                    .audit
                    .record(AuditEvent::TokenDeleted { id }, Some(ip), None, now);
                Reply::no_content()
            }
            Ok(false) => Reply::error(404, "Token not found"),
            Err(e) => Reply::error(500, &format!("Failed to delete token: {e}")),
        }
    }

    /// `POST /api/security/validate-token` `{"token"}` → `{"valid", "message"}`; does not
    /// count as a use of the token.
    pub fn validate_token(&self, body: &[u8]) -> Reply {
        #[derive(Deserialize)]
        struct Body {
            token: crate::auth::secret::Secret,
        }
        let Ok(b) = serde_json::from_slice::<Body>(body) else {
            return Reply::error(400, "Invalid request body: expected {\"token\"}");
        };
        let valid = self.tokens.find(b.token.expose().trim()).is_some();
        let message = if valid {
            "Token is valid"
        } else {
            "Token is invalid"
        };
        Reply::json(200, &json!({ "valid": valid, "message": message }))
    }

    /// `POST /api/security/regenerate-token`: every token (stored and env) is replaced by
    /// one full-access token, and `API_TOKEN`/`API_TOKENS` lines leave `<data dir>/.env`.
    pub fn regenerate_token(&mut self, ip: IpAddr, now: UtcTime) -> Reply {
        let (raw, _) = match self.tokens.replace_all("Regenerated token", None, now) {
            Ok(v) => v,
            Err(e) => return token_error(&e),
        };
        let env_path = self.data_dir.join(ENV_FILE);
        if env_path.exists() {
            if let Err(e) = envfile::update(&env_path, &[("API_TOKEN", None), ("API_TOKENS", None)])
            {
                return Reply::error(
                    500,
                    &format!(
                        "Token replaced, but {} could not be updated: {e}",
                        env_path.display()
                    ),
                );
            }
        }
        let _ = self
            .audit
            .record(AuditEvent::TokensRegenerated, Some(ip), None, now);
        Reply::json(
            200,
            &json!({
                "success": true,
                "token": raw.expose(),
                "requiresRestart": false,
                "message": "New API token generated and active immediately! Save this token - it won't be shown again.",
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use crate::auth::policy::Principal;
    use serde_json::json;

    #[test]
    fn token_endpoints() {
        let dir = temp_dir("tokens");
        let mut s = open(&dir, true);
        s.tokens.merge_env(Some("env-token-value"), None);
        let admin = Principal::Session {
            key: "k".into(),
            username: Some("admin".into()),
        };
        let r = s.create_token(
            &bytes(json!({"name": "ci", "scopes": ["settings:read"]})),
            &admin,
            ip(),
            t(1),
        );
        assert_eq!(r.status, 200);
        let raw = body(&r)["token"].as_str().unwrap().to_string();
        let id = body(&r)["record"]["id"].as_str().unwrap().to_string();
        assert!(body(&r)["record"].get("hash").is_none());

        let list = s.list_tokens();
        assert!(!serde_json::to_string(&body(&list)).unwrap().contains(&raw));
        assert_eq!(body(&list)["tokens"].as_array().unwrap().len(), 2);

        let bad = s.create_token(&bytes(json!({"scopes": ["nope"]})), &admin, ip(), t(2));
        assert_eq!(
            (bad.status, body(&bad)["error"].as_str()),
            (400, Some("unknown scope \"nope\""))
        );
        assert_eq!(s.create_token(b"[", &admin, ip(), t(2)).status, 400);

        // A limited token cannot mint a broader one.
        let limited = Principal::Token {
            id: id.clone(),
            scopes: vec!["settings:read".into(), "settings:write".into()],
        };
        let inherited = s.create_token(&bytes(json!({"name": "x"})), &limited, ip(), t(3));
        assert_eq!(
            body(&inherited)["record"]["scopes"],
            json!(["settings:read", "settings:write"]),
            "omitted scopes = the caller's own"
        );
        let star = s.create_token(&bytes(json!({"scopes": ["*"]})), &limited, ip(), t(3));
        assert_eq!(star.status, 403);
        assert_eq!(
            s.create_token(
                &bytes(json!({"scopes": ["docker:manage"]})),
                &limited,
                ip(),
                t(3)
            )
            .status,
            403
        );
        assert_eq!(
            s.create_token(
                &bytes(json!({"scopes": ["settings:read"]})),
                &limited,
                ip(),
                t(3)
            )
            .status,
            200
        );

        let env_id = s
            .tokens
            .list()
            .into_iter()
            .find(|v| v.name == "Environment token")
            .unwrap()
            .id;
        assert_eq!(s.delete_token(&env_id, ip(), t(4)).status, 409);
        assert_eq!(s.delete_token(&id, ip(), t(4)).status, 204);
        assert_eq!(s.delete_token(&id, ip(), t(4)).status, 404);
        assert!(s.tokens.authenticate(&raw, t(5)).is_none());

        std::fs::write(dir.join(".env"), "API_TOKEN='abc'\nLOG_LEVEL=info\n").unwrap();
        let r = s.regenerate_token(ip(), t(6));
        let new = body(&r)["token"].as_str().unwrap().to_string();
        assert_eq!(s.tokens.len(), 1);
        assert!(s.tokens.authenticate(&new, t(7)).is_some());
        assert!(s.tokens.authenticate("env-token-value", t(7)).is_none());
        assert_eq!(
            std::fs::read_to_string(dir.join(".env")).unwrap(),
            "LOG_LEVEL=info\n"
        );
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(audit.contains("token_create") && audit.contains("token_delete"));
        assert!(!audit.contains(&raw) && !audit.contains(&new));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
