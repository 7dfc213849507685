//! `GET/POST /api/security/recovery` and `POST /api/security/apply-restart`.
//! The route is `RouteAuth::LocalhostOnly`: by the time these run, the caller is on
//! loopback or holds a recovery token.

use crate::auth::audit::AuditEvent;
use crate::auth::guard::Security;
use crate::auth::recovery::RecoveryAction;
use crate::http::reply::Reply;
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

#[derive(Deserialize)]
struct ActionBody {
    #[serde(default)]
    action: String,
    #[serde(default)]
    duration: Option<i64>,
}

impl Security {
    /// `GET /api/security/recovery`.
    pub fn recovery_status(&self) -> Reply {
        Reply::json(
            200,
            &json!({
                "recovery_mode": self.recovery.is_active(),
                "message": "Recovery endpoint accessible from localhost only",
            }),
        )
    }

    /// `POST /api/security/recovery` `{"action", "duration"?}`. `direct_loopback`: the
    /// request came straight from this machine (token generation requires it).
    pub fn recovery_action(
        &mut self,
        body: &[u8],
        direct_loopback: bool,
        ip: IpAddr,
        now: UtcTime,
    ) -> Reply {
        let Ok(b) = serde_json::from_slice::<ActionBody>(body) else {
            return Reply::error(
                400,
                "Invalid request body: expected {\"action\", \"duration\"?}",
            );
        };
        let Some(action) = RecoveryAction::parse(&b.action, b.duration) else {
            return Reply::json(
                200,
                &json!({"success": false, "message": "Invalid action. Use 'disable_auth' or 'enable_auth'"}),
            );
        };
        match action {
            RecoveryAction::GenerateToken { minutes } => {
                if !direct_loopback {
                    return Reply::error(
                        403,
                        "Recovery tokens can only be generated from localhost",
                    );
                }
                match self.recovery.generate_token(minutes, now) {
                    Ok((token, _)) => {
                        let _ = self.audit.record(
                            AuditEvent::RecoveryTokenGenerated,
                            Some(ip),
                            None,
                            now,
                        );
                        Reply::json(
                            200,
                            &json!({
                                "success": true,
                                "token": token.expose(),
                                "expires_in_minutes": minutes,
                                "message": format!("Recovery token generated. Valid for {minutes} minutes."),
                            }),
                        )
                    }
                    Err(e) => Reply::error(500, &e.to_string()),
                }
            }
            RecoveryAction::DisableAuth => match self.recovery.enable_mode() {
                Ok(()) => {
                    let _ = self
                        .audit
                        .record(AuditEvent::RecoveryModeEnabled, Some(ip), None, now);
                    Reply::json(
                        200,
                        &json!({"success": true, "message": "Recovery mode enabled. Auth disabled for localhost. Delete .auth_recovery file to re-enable."}),
                    )
                }
                Err(e) => Reply::error(500, &e.to_string()),
            },
            RecoveryAction::EnableAuth => match self.recovery.disable_mode() {
                Ok(_) => {
                    let _ =
                        self.audit
                            .record(AuditEvent::RecoveryModeDisabled, Some(ip), None, now);
                    Reply::json(
                        200,
                        &json!({"success": true, "message": "Recovery mode disabled. Authentication re-enabled."}),
                    )
                }
                Err(e) => Reply::error(500, &e.to_string()),
            },
        }
    }

    /// `POST /api/security/apply-restart`. Pulse restarts itself so new credentials apply;
    /// here they apply the moment they are saved, so there is nothing to restart.
    pub fn apply_restart(&self) -> Reply {
        Reply::json(
            200,
            &json!({
                "success": true,
                "requiresRestart": false,
                "message": "Security settings are already active; no restart is needed.",
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use serde_json::json;

    #[test]
    fn recovery_endpoint_actions() {
        let dir = temp_dir("recovery");
        let mut s = open(&dir, true);
        assert_eq!(body(&s.recovery_status())["recovery_mode"], false);
        let r = s.recovery_action(
            &bytes(json!({"action": "generate_token"})),
            false,
            ip(),
            t(0),
        );
        assert_eq!(r.status, 403, "token generation needs loopback");
        let r = s.recovery_action(
            &bytes(json!({"action": "generate_token", "duration": 5})),
            true,
            ip(),
            t(0),
        );
        assert_eq!(body(&r)["expires_in_minutes"], 5);
        assert_eq!(body(&r)["token"].as_str().unwrap().len(), 64);
        let r = s.recovery_action(&bytes(json!({"action": "disable_auth"})), true, ip(), t(1));
        assert_eq!(body(&r)["success"], true);
        assert_eq!(body(&s.recovery_status())["recovery_mode"], true);
        s.recovery_action(&bytes(json!({"action": "enable_auth"})), true, ip(), t(2));
        assert_eq!(body(&s.recovery_status())["recovery_mode"], false);
        let r = s.recovery_action(&bytes(json!({"action": "dance"})), true, ip(), t(3));
        assert_eq!(
            (r.status, body(&r)["success"].as_bool()),
            (200, Some(false))
        );
        assert_eq!(body(&s.apply_restart())["success"], true);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
