//! The admin account's lifecycle endpoints: logout, lockout reset, password change and quick
//! setup (first run, or rotation with `force`). Those that hash passwords are split like
//! login: `*_start` on the event loop, the job's `run` on a worker, `*_finish` on the loop.
//!
//! Credentials take effect at once and are saved to `<data dir>/.env` (user + bcrypt hash),
//! so they also survive a restart. Token hashes are never written there: `api_tokens.json` is
//! their only home, so a deleted token cannot come back from `.env`.

use crate::auth::audit::AuditEvent;
use crate::auth::cookies;
use crate::auth::csrf::CSRF_COOKIE;
use crate::auth::envfile::{self, ENV_FILE};
use crate::auth::guard::{Admin, Security};
use crate::auth::lockout::{FailureOutcome, LockedBody};
use crate::auth::password::{validate_new_password, PasswordError, PasswordHash};
use crate::auth::policy::Principal;
use crate::auth::secret::Secret;
use crate::auth::sessions::SESSION_COOKIE;
use crate::auth::tokens::validate_raw_token;
use crate::http::reply::Reply;
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

const MAX_USERNAME_CHARS: usize = 64;

fn invalid_body() -> Reply {
    Reply::json(
        400,
        &json!({"error": "Invalid request body", "code": "invalid_request"}),
    )
}

fn password_error(e: &PasswordError) -> Reply {
    Reply::json(
        400,
        &json!({"error": e.to_string(), "code": "invalid_password"}),
    )
}

/// Usernames end up in `.env` and in logs: printable, no quotes, bounded.
fn validate_username(u: &str) -> Result<(), Reply> {
    let ok = !u.is_empty()
        && u.chars().count() <= MAX_USERNAME_CHARS
        && !u
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\'' || c == '"');
    if ok {
        Ok(())
    } else {
        Err(Reply::error(
            400,
            "Username must be 1-64 characters without spaces or quotes",
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordBody {
    #[serde(default)]
    current_password: Option<Secret>,
    new_password: Secret,
}

/// Worker step of a password change: verify the current password, hash the new one.
#[derive(Debug)]
pub struct ChangePasswordJob {
    username: String,
    current: Secret,
    new: Secret,
    hash: PasswordHash,
    ip: IpAddr,
    keep_session: Option<String>,
    failure: FailureOutcome,
}

#[derive(Debug)]
pub struct ChangePasswordDone {
    username: String,
    current_ok: bool,
    old_hash: PasswordHash,
    new_hash: Result<PasswordHash, PasswordError>,
    ip: IpAddr,
    keep_session: Option<String>,
    failure: FailureOutcome,
}

impl ChangePasswordJob {
    /// **Worker thread only**: two bcrypt operations (≈500 ms).
    pub fn run(self) -> ChangePasswordDone {
        let current_ok = self.hash.verify(self.current.expose());
        let new_hash = if current_ok {
            PasswordHash::hash_new(&self.new)
        } else {
            Err(PasswordError::Hashing("not attempted".into()))
        };
        ChangePasswordDone {
            username: self.username,
            current_ok,
            old_hash: self.hash,
            new_hash,
            ip: self.ip,
            keep_session: self.keep_session,
            failure: self.failure,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuickSetupBody {
    username: String,
    password: Secret,
    #[serde(default)]
    api_token: Option<Secret>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    setup_token: Option<Secret>,
}

/// Worker step of quick setup: hash the new password.
#[derive(Debug)]
pub struct QuickSetupJob {
    username: String,
    password: Secret,
    api_token: Option<Secret>,
    force: bool,
    first_run: bool,
    ip: IpAddr,
}

#[derive(Debug)]
pub struct QuickSetupDone {
    username: String,
    hash: Result<PasswordHash, PasswordError>,
    api_token: Option<Secret>,
    force: bool,
    first_run: bool,
    ip: IpAddr,
}

impl QuickSetupJob {
    /// **Worker thread only** (bcrypt).
    pub fn run(self) -> QuickSetupDone {
        QuickSetupDone {
            hash: PasswordHash::hash_new(&self.password),
            username: self.username,
            api_token: self.api_token,
            force: self.force,
            first_run: self.first_run,
            ip: self.ip,
        }
    }
}

impl Security {
    /// `POST /api/logout`: ends the cookie's session and expires both cookies.
    pub fn logout(
        &mut self,
        session_cookie: Option<&str>,
        ip: IpAddr,
        secure: bool,
        now: UtcTime,
    ) -> Reply {
        let mut user = None;
        if let Some(token) = session_cookie {
            user = self
                .sessions
                .validate(token, now)
                .and_then(|r| r.username.clone());
            // A failed save only means the session lingers on disk until it expires.
            let _ = self.sessions.remove(token);
        }
        let _ = self.audit.record(
            AuditEvent::Logout {
                user: user.as_deref(),
            },
            Some(ip),
            None,
            now,
        );
        Reply::json(
            200,
            &json!({"success": true, "message": "Successfully logged out"}),
        )
        .header(
            "Set-Cookie",
            &cookies::clear_cookie(SESSION_COOKIE, true, secure),
        )
        .header(
            "Set-Cookie",
            &cookies::clear_cookie(CSRF_COOKIE, false, secure),
        )
    }

    /// `POST /api/security/reset-lockout` `{"identifier": user-or-ip}`.
    pub fn reset_lockout(&mut self, body: &[u8], ip: IpAddr, now: UtcTime) -> Reply {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            identifier: String,
        }
        let Ok(b) = serde_json::from_slice::<Body>(body) else {
            return invalid_body();
        };
        let id = b.identifier.trim();
        if id.is_empty() {
            return Reply::json(
                400,
                &json!({"error": "Identifier is required", "code": "missing_identifier"}),
            );
        }
        self.lockout.reset(id);
        let _ = self.audit.record(
            AuditEvent::LockoutReset { identifier: id },
            Some(ip),
            None,
            now,
        );
        Reply::json(
            200,
            &json!({"success": true, "message": format!("Lockout reset for {id}")}),
        )
    }

    /// `POST /api/security/change-password` `{"currentPassword", "newPassword"}`, step 1.
    /// Wrong current passwords count toward the lockout, like failed logins.
    pub fn change_password_start(
        &mut self,
        body: &[u8],
        principal: &Principal,
        ip: IpAddr,
        now: UtcTime,
    ) -> Result<ChangePasswordJob, Reply> {
        let b: ChangePasswordBody = serde_json::from_slice(body).map_err(|_| invalid_body())?;
        let Some(admin) = &self.admin else {
            return Err(Reply::error(
                400,
                "Password authentication is not configured",
            ));
        };
        validate_new_password(b.new_password.expose()).map_err(|e| password_error(&e))?;
        let current = b.current_password.filter(|c| !c.is_empty());
        let Some(current) = current else {
            return Err(Reply::error(401, "Current password required"));
        };
        let username = admin.username.clone();
        if let Err(locked) = self.lockout.check_login(&username, ip, now) {
            return Err(Reply::json(
                403,
                &serde_json::to_value(LockedBody::new(locked)).unwrap_or_default(),
            ));
        }
        let hash = admin.hash.clone();
        let failure = self.lockout.login_failed(&username, ip, now);
        let keep_session = match principal {
            Principal::Session { key, .. } => Some(key.clone()),
            _ => None,
        };
        Ok(ChangePasswordJob {
            username,
            current,
            new: b.new_password,
            hash,
            ip,
            keep_session,
            failure,
        })
    }

    /// Step 3: apply the new hash, save `.env`, end the user's other sessions.
    pub fn change_password_finish(&mut self, done: ChangePasswordDone, now: UtcTime) -> Reply {
        if !done.current_ok {
            let user = Some(done.username.as_str());
            let _ = self
                .audit
                .record(AuditEvent::LoginFailed { user }, Some(done.ip), None, now);
            if let FailureOutcome::NowLocked { .. } = done.failure {
                let _ = self
                    .audit
                    .record(AuditEvent::LockedOut { user }, Some(done.ip), None, now);
            }
            return Reply::error(401, "Current password is incorrect");
        }
        self.lockout.login_succeeded(&done.username, done.ip);
        let new_hash = match done.new_hash {
            Ok(h) => h,
            Err(e) => return password_error(&e),
        };
        // Someone changed the account while bcrypt ran: do not overwrite their change.
        if self.admin.as_ref().is_none_or(|a| a.hash != done.old_hash) {
            return Reply::error(
                409,
                "The password was changed by another request; try again",
            );
        }
        let env_path = self.data_dir.join(ENV_FILE);
        let updates = [
            ("PULSE_AUTH_USER", Some(done.username.as_str())),
            ("PULSE_AUTH_PASS", Some(new_hash.as_str())),
        ];
        if let Err(e) = envfile::update(&env_path, &updates) {
            return Reply::error(
                500,
                &format!(
                    "Failed to save the new password to {}: {e}",
                    env_path.display()
                ),
            );
        }
        self.admin = Some(Admin {
            username: done.username.clone(),
            hash: new_hash,
        });
        // Other logins of this user end; the caller's own session stays.
        let _ = self
            .sessions
            .remove_user_except(&done.username, done.keep_session.as_deref());
        let _ = self.audit.record(
            AuditEvent::PasswordChanged {
                user: &done.username,
            },
            Some(done.ip),
            None,
            now,
        );
        let mut body = json!({"success": true, "message": "Password changed successfully"});
        self.add_pinned_warning(&mut body);
        Reply::json(200, &body)
    }

    /// `POST /api/security/quick-setup`, step 1, after `authorize` let the caller through
    /// `RouteAuth::Setup`. On first run (nothing configured) the bootstrap token is also
    /// required (`X-Setup-Token` header or `setupToken` in the body).
    pub fn quick_setup_start(
        &mut self,
        body: &[u8],
        setup_header: Option<&str>,
        ip: IpAddr,
    ) -> Result<QuickSetupJob, Reply> {
        let b: QuickSetupBody = serde_json::from_slice(body).map_err(|_| invalid_body())?;
        // Nothing configured yet: the bootstrap token is required whoever asks (even a
        // loopback caller in recovery mode), so only someone who can read the data dir can
        // claim the instance.
        let first_run = !self.mode().any();
        if first_run {
            let Some(bootstrap) = &self.bootstrap else {
                return Err(Reply::error(
                    503,
                    "Bootstrap token unavailable; restart Pulse or inspect data directory",
                ));
            };
            let presented = setup_header.or(b.setup_token.as_ref().map(Secret::expose));
            match presented.map(str::trim).filter(|p| !p.is_empty()) {
                None => return Err(Reply::error(401, "Bootstrap setup token required")),
                Some(p) if !bootstrap.verify(p) => {
                    return Err(Reply::error(401, "Invalid bootstrap setup token"));
                }
                Some(_) => {}
            }
        }
        if self.admin.is_some() && !b.force {
            return Err(Reply::json(
                200,
                &json!({"success": true, "skipped": true,
                "message": "Password authentication is already configured. Please remove existing security first if you want to reconfigure."}),
            ));
        }
        let username = b.username.trim().to_string();
        validate_username(&username)?;
        validate_new_password(b.password.expose()).map_err(|e| password_error(&e))?;
        let api_token = b.api_token.filter(|t| !t.is_empty());
        if let Some(t) = &api_token {
            validate_raw_token(t).map_err(|e| Reply::error(400, &e.to_string()))?;
        }
        Ok(QuickSetupJob {
            username,
            password: b.password,
            api_token,
            force: b.force,
            first_run,
            ip,
        })
    }

    /// Step 3: save and apply the credentials, retire the bootstrap token.
    pub fn quick_setup_finish(&mut self, done: QuickSetupDone, now: UtcTime) -> Reply {
        let hash = match done.hash {
            Ok(h) => h,
            Err(e) => return password_error(&e),
        };
        if done.first_run && self.admin.is_some() {
            return Reply::error(409, "Security was configured by another request");
        }
        let env_path = self.data_dir.join(ENV_FILE);
        let updates = [
            ("PULSE_AUTH_USER", Some(done.username.as_str())),
            ("PULSE_AUTH_PASS", Some(hash.as_str())),
            // Tokens live in api_tokens.json only (see the module comment).
            ("API_TOKEN", None),
            ("API_TOKENS", None),
        ];
        if let Err(e) = envfile::update(&env_path, &updates) {
            return Reply::error(
                500,
                &format!("Failed to save credentials to {}: {e}", env_path.display()),
            );
        }
        self.admin = Some(Admin {
            username: done.username.clone(),
            hash,
        });
        if let Some(b) = self.bootstrap.take() {
            // The token is spent either way; a leftover file is removed at the next start.
            let _ = b.consume();
        }
        if done.force {
            // Credentials rotated: every existing session ends.
            let _ = self.sessions.clear();
        }
        let _ = self.audit.record(
            AuditEvent::SetupCompleted {
                user: &done.username,
            },
            Some(done.ip),
            None,
            now,
        );
        if let Some(raw) = &done.api_token {
            if let Err(e) = self.tokens.replace_all("Primary token", Some(raw), now) {
                return Reply::error(
                    500,
                    &format!("Credentials saved, but the API token could not be stored: {e}"),
                );
            }
        }
        let env = env_path.display().to_string();
        let mut body = json!({
                "success": true,
                "method": "env_file",
                "envFile": env,
                "requiresManualRestart": false,
                "message": "Security enabled immediately! Your settings are saved and active.",
                "note": format!("Credentials saved to {env}."),
        });
        self.add_pinned_warning(&mut body);
        Reply::json(200, &body)
    }

    /// When the service environment sets the credentials, `.env` cannot override them at the
    /// next start: say so instead of letting the old password silently come back.
    fn add_pinned_warning(&self, body: &mut serde_json::Value) {
        if self.credentials_pinned_by_env {
            body["warning"] = json!("PULSE_AUTH_USER/PULSE_AUTH_PASS are set in the service environment, which takes precedence over .env: update them there (pulse hash-password prints a hash), or the previous credentials return at the next restart.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use crate::auth::policy::Principal;
    use serde_json::json;

    #[test]
    fn quick_setup_first_run_needs_the_bootstrap_token_then_removes_it() {
        let dir = temp_dir("setup");
        let mut s = open(&dir, false);
        let boot = std::fs::read_to_string(dir.join(".bootstrap_token"))
            .unwrap()
            .trim()
            .to_string();
        let req = json!({"username": "admin", "password": "new-password-1", "apiToken": "0123456789abcdef0123456789abcdef0123456789abcdef"});

        let r = s
            .quick_setup_start(&bytes(req.clone()), None, ip())
            .unwrap_err();
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (401, Some("Bootstrap setup token required"))
        );
        let r = s
            .quick_setup_start(&bytes(req.clone()), Some("nope"), ip())
            .unwrap_err();
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (401, Some("Invalid bootstrap setup token"))
        );
        let short = json!({"username": "admin", "password": "short", "setupToken": boot});
        let r = s.quick_setup_start(&bytes(short), None, ip()).unwrap_err();
        assert_eq!(r.status, 400);

        let job = s
            .quick_setup_start(&bytes(req.clone()), Some(&boot), ip())
            .unwrap();
        let r = s.quick_setup_finish(job.run(), t(1));
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(body(&r)["success"], true);
        assert!(!dir.join(".bootstrap_token").exists());
        assert!(s.admin.as_ref().unwrap().hash.verify("new-password-1"));
        assert!(s
            .tokens
            .authenticate("0123456789abcdef0123456789abcdef0123456789abcdef", t(2))
            .is_some());
        let env = std::fs::read_to_string(dir.join(".env")).unwrap();
        assert!(
            env.contains("PULSE_AUTH_USER='admin'") && env.contains("PULSE_AUTH_PASS='$2b$12$")
        );
        assert!(!env.contains("new-password-1") && !env.contains("0123456789abcdef"));

        // Configured now: without force it is skipped; with force it rotates the credentials
        // and ends every session. (Who may call it is the policy's job: `RouteAuth::Setup`.)
        let r = s.quick_setup_start(&bytes(req), None, ip()).unwrap_err();
        assert_eq!((r.status, body(&r)["skipped"].as_bool()), (200, Some(true)));
        let old = s.sessions.create("admin", None, None, t(2)).unwrap();
        let rotate = json!({"username": "root", "password": "rotated-password", "force": true});
        let job = s.quick_setup_start(&bytes(rotate), None, ip()).unwrap();
        assert_eq!(s.quick_setup_finish(job.run(), t(3)).status, 200);
        assert!(s.sessions.validate(old.token.expose(), t(4)).is_none());
        assert_eq!(s.admin.as_ref().unwrap().username, "root");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn change_password_verifies_current_counts_failures_and_keeps_caller_session() {
        let dir = temp_dir("passwd");
        let mut s = open(&dir, true);
        let mine = s.sessions.create("admin", None, None, t(0)).unwrap();
        let other = s.sessions.create("admin", None, None, t(0)).unwrap();
        let key = s
            .sessions
            .validate(mine.token.expose(), t(0))
            .unwrap()
            .key
            .clone();
        let me = Principal::Session {
            key,
            username: Some("admin".into()),
        };

        let wrong = json!({"currentPassword": "not-it", "newPassword": "brand-new-pass"});
        let job = s
            .change_password_start(&bytes(wrong), &me, ip(), t(1))
            .unwrap();
        let r = s.change_password_finish(job.run(), t(1));
        assert_eq!(
            (r.status, body(&r)["error"].as_str()),
            (401, Some("Current password is incorrect"))
        );
        let short = json!({"currentPassword": "old-password", "newPassword": "short"});
        assert_eq!(
            s.change_password_start(&bytes(short), &me, ip(), t(2))
                .unwrap_err()
                .status,
            400
        );

        let ok = json!({"currentPassword": "old-password", "newPassword": "brand-new-pass"});
        let job = s
            .change_password_start(&bytes(ok), &me, ip(), t(3))
            .unwrap();
        let r = s.change_password_finish(job.run(), t(3));
        assert_eq!(r.status, 200, "{r:?}");
        assert!(s.admin.as_ref().unwrap().hash.verify("brand-new-pass"));
        assert!(s.sessions.validate(mine.token.expose(), t(4)).is_some());
        assert!(s.sessions.validate(other.token.expose(), t(4)).is_none());
        let env = std::fs::read_to_string(dir.join(".env")).unwrap();
        assert!(env.contains("PULSE_AUTH_PASS='$2b$12$") && !env.contains("brand-new-pass"));
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(
            audit.contains("password_change")
                && !audit.contains("brand-new-pass")
                && !audit.contains("old-password")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn logout_and_reset_lockout() {
        let dir = temp_dir("logout");
        let mut s = open(&dir, true);
        let sess = s.sessions.create("admin", None, None, t(0)).unwrap();
        let r = s.logout(Some(sess.token.expose()), ip(), true, t(1));
        assert_eq!(body(&r)["message"], "Successfully logged out");
        let cookies: Vec<&str> = r.headers.iter().map(|(_, v)| v.as_str()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("pulse_session=;")
            && c.contains("Max-Age=0")
            && c.contains("Secure")));
        assert!(cookies.iter().any(|c| c.starts_with("pulse_csrf=;")));
        assert!(s.sessions.validate(sess.token.expose(), t(2)).is_none());

        for n in 0..5 {
            s.lockout.login_failed("admin", ip(), t(n));
        }
        let r = s.reset_lockout(&bytes(json!({"identifier": "admin"})), ip(), t(6));
        assert_eq!(body(&r)["message"], "Lockout reset for admin");
        assert!(s
            .lockout
            .check_login("admin", "10.9.9.9".parse().unwrap(), t(7))
            .is_ok());
        let r = s.reset_lockout(&bytes(json!({})), ip(), t(8));
        assert_eq!(
            (r.status, body(&r)["code"].as_str()),
            (400, Some("missing_identifier"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
