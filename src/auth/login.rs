//! `POST /api/login` in three steps, because bcrypt must not run on the event loop:
//!
//! 1. [`Security::login_start`] (event loop): parse, check the (address, user) lock, read
//!    the account-wide delay, and **count the attempt as a failure up front**, so parallel
//!    guesses cannot outrun the lockout;
//! 2. [`VerifyJob::run`] (worker thread, ≈250 ms): bcrypt;
//! 3. [`Security::login_finish`] (event loop): on success clear the counters and create the
//!    session; either way build the reply and the audit line. The caller holds the answer
//!    until the delay has passed (`Outcome::not_before`), right password or not.
//!
//! A wrong username still costs a full bcrypt verify, so timing does not reveal whether the
//! username exists.

use super::audit::AuditEvent;
use super::guard::{csrf_cookie, session_cookie, Security};
use super::lockout::{FailureOutcome, InvalidCredentialsBody, LockedBody};
use super::password::PasswordHash;
use super::secret::{self, Secret};
use crate::http::reply::Reply;
use crate::util::time::UtcTime;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: Secret,
}

/// The bcrypt step. `Send`: hand it to a worker, then pass the result to `login_finish`.
#[derive(Debug)]
pub struct VerifyJob {
    username: String,
    password: Secret,
    hash: PasswordHash,
    username_matches: bool,
    ip: IpAddr,
    /// The lockout state after counting this attempt, reported if it fails.
    failure: FailureOutcome,
    /// The account-wide guard's delay for this attempt (see `lockout`).
    delay: Duration,
}

/// What the worker found.
#[derive(Debug)]
pub struct Verified {
    ok: bool,
    username: String,
    username_matches: bool,
    ip: IpAddr,
    failure: FailureOutcome,
}

impl VerifyJob {
    /// How long the answer must be held back, counted from the start of the attempt. Applies
    /// whatever the outcome, so a guesser cannot tell a wrong password by an early answer.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// **Worker thread only** (bcrypt cost 12).
    pub fn run(self) -> Verified {
        let password_ok = self.hash.verify(self.password.expose());
        Verified {
            ok: password_ok && self.username_matches,
            username: self.username,
            username_matches: self.username_matches,
            ip: self.ip,
            failure: self.failure,
        }
    }
}

impl Security {
    /// Step 1. `Err` is the final reply (bad body, no password configured, locked).
    pub fn login_start(
        &mut self,
        body: &[u8],
        ip: IpAddr,
        now: UtcTime,
    ) -> Result<VerifyJob, Reply> {
        let body: LoginBody = serde_json::from_slice(body).map_err(|_| {
            Reply::json(400, &json!({"error": "invalid_request", "message": "Invalid request body: expected {\"username\", \"password\"}"}))
        })?;
        let Some(admin) = &self.admin else {
            return Err(Reply::json(
                400,
                &json!({"error": "password_auth_disabled", "message": "Password authentication is not configured"}),
            ));
        };
        let username = body.username.trim().to_string();
        if let Err(locked) = self.lockout.check_login(&username, ip, now) {
            let body = serde_json::to_value(LockedBody::new(locked)).unwrap_or_default();
            return Err(Reply::json(403, &body));
        }
        let username_matches =
            secret::constant_time_eq(username.as_bytes(), admin.username.as_bytes());
        let hash = admin.hash.clone();
        // The delay is what earlier failures earned; this attempt counts toward the next one.
        let delay = self.lockout.delay(&username, now);
        let failure = self.lockout.login_failed(&username, ip, now);
        Ok(VerifyJob {
            username,
            password: body.password,
            hash,
            username_matches,
            ip,
            failure,
            delay,
        })
    }

    /// Step 3. `secure`: the request came over HTTPS (cookie `Secure` flag).
    pub fn login_finish(
        &mut self,
        v: Verified,
        user_agent: Option<&str>,
        secure: bool,
        now: UtcTime,
    ) -> Reply {
        if !v.ok {
            // Only the real username is recorded: an unknown one may be a mistyped password.
            let user = v.username_matches.then_some(v.username.as_str());
            let _ = self
                .audit
                .record(AuditEvent::LoginFailed { user }, Some(v.ip), None, now);
            if let FailureOutcome::NowLocked { .. } = v.failure {
                let _ = self
                    .audit
                    .record(AuditEvent::LockedOut { user }, Some(v.ip), None, now);
            }
            let body =
                serde_json::to_value(InvalidCredentialsBody::new(v.failure)).unwrap_or_default();
            return Reply::json(401, &body);
        }
        self.lockout.login_succeeded(&v.username, v.ip);
        let ip_text = v.ip.to_string();
        match self
            .sessions
            .create(&v.username, Some(&ip_text), user_agent, now)
        {
            Ok(s) => {
                let _ = self.audit.record(
                    AuditEvent::LoginSucceeded { user: &v.username },
                    Some(v.ip),
                    None,
                    now,
                );
                Reply::json(
                    200,
                    &json!({"success": true, "message": "Successfully logged in"}),
                )
                .header("Set-Cookie", &session_cookie(s.token.expose(), secure))
                .header("Set-Cookie", &csrf_cookie(s.csrf_token.expose(), secure))
            }
            Err(_) => Reply::error(500, "Failed to create session"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::guard::{Admin, SecurityConfig};
    use std::path::PathBuf;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pulse-login-{}-{}",
            std::process::id(),
            secret::random_hex(4).unwrap().expose()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    fn security(dir: &std::path::Path) -> Security {
        let hash = PasswordHash::parse_hash(&bcrypt::hash("correct horse", 4).unwrap()).unwrap();
        let admin = Some(Admin {
            username: "admin".into(),
            hash,
        });
        Security::open(
            SecurityConfig {
                data_dir: dir.to_path_buf(),
                admin,
                ..Default::default()
            },
            t(0),
        )
        .unwrap()
        .0
    }

    fn body(a: &Reply) -> serde_json::Value {
        serde_json::from_slice(a.body.as_slice()).unwrap()
    }

    fn attempt(s: &mut Security, user: &str, pass: &str, now: UtcTime) -> Reply {
        attempt_from(s, "10.0.0.9", user, pass, now)
    }

    fn attempt_from(s: &mut Security, ip: &str, user: &str, pass: &str, now: UtcTime) -> Reply {
        let body = serde_json::to_vec(&json!({"username": user, "password": pass})).unwrap();
        let ip: IpAddr = ip.parse().unwrap();
        match s.login_start(&body, ip, now) {
            Ok(job) => s.login_finish(job.run(), Some("test"), false, now),
            Err(reply) => reply,
        }
    }

    #[test]
    fn success_sets_both_cookies_and_a_valid_session() {
        let dir = temp_dir();
        let mut s = security(&dir);
        let r = attempt(&mut s, "admin", "correct horse", t(0));
        assert_eq!(r.status, 200);
        assert_eq!(
            body(&r),
            json!({"success": true, "message": "Successfully logged in"})
        );
        let cookies: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k == "Set-Cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with("pulse_session=") && cookies[0].contains("HttpOnly"));
        assert!(cookies[1].starts_with("pulse_csrf=") && !cookies[1].contains("HttpOnly"));
        let token = cookies[0]
            .trim_start_matches("pulse_session=")
            .split(';')
            .next()
            .unwrap();
        assert!(s.sessions.validate(token, t(1)).is_some());
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(audit.contains("\"event\":\"login\",\"success\":true"));
        assert!(!audit.contains("correct horse"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failures_count_down_then_lock_then_unlock_by_reset() {
        let dir = temp_dir();
        let mut s = security(&dir);
        for n in 1..5u32 {
            let r = attempt(&mut s, "admin", "wrong", t(n as i64));
            assert_eq!(r.status, 401);
            assert_eq!(body(&r)["remaining"], 5 - n);
            assert_eq!(body(&r)["attempts"], n);
        }
        let r = attempt(&mut s, "admin", "wrong", t(5));
        assert_eq!(r.status, 401);
        assert_eq!(body(&r)["locked"], true);
        // Locked: even the right password is refused, without running bcrypt.
        let r = attempt(&mut s, "admin", "correct horse", t(6));
        assert_eq!(r.status, 403);
        assert_eq!(body(&r)["error"], "account_locked");
        assert_eq!(body(&r)["remainingMinutes"], 15);
        // Resetting the address lifts its lock for every user.
        assert!(s.lockout.reset("10.0.0.9"));
        assert_eq!(attempt(&mut s, "admin", "correct horse", t(7)).status, 200);
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(audit.contains("\"event\":\"lockout\""));
        assert!(!audit.contains("wrong"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_locked_address_does_not_lock_the_admin_out_elsewhere() {
        let dir = temp_dir();
        let mut s = security(&dir);
        for n in 0..5 {
            assert_eq!(
                attempt_from(&mut s, "203.0.113.7", "admin", "guess", t(n)).status,
                401
            );
        }
        let r = attempt_from(&mut s, "203.0.113.7", "admin", "correct horse", t(6));
        assert_eq!(r.status, 403, "the guessing address is locked");
        let r = attempt_from(&mut s, "192.168.1.20", "admin", "correct horse", t(7));
        assert_eq!(r.status, 200, "the admin elsewhere still gets in");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_spray_earns_every_attempt_a_delay_but_the_password_still_works() {
        let dir = temp_dir();
        let mut s = security(&dir);
        let body = serde_json::to_vec(&json!({"username": "admin", "password": "x"})).unwrap();
        let mut delays = Vec::new();
        for n in 0..9u8 {
            let ip: IpAddr = format!("198.51.100.{n}").parse().unwrap();
            let job = s.login_start(&body, ip, t(n.into())).unwrap();
            delays.push(job.delay().as_secs());
            assert_eq!(
                s.login_finish(job.run(), None, false, t(n.into())).status,
                401
            );
        }
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8]);
        let body =
            serde_json::to_vec(&json!({"username": "admin", "password": "correct horse"})).unwrap();
        let job = s
            .login_start(&body, "192.168.1.20".parse().unwrap(), t(10))
            .unwrap();
        assert_eq!(job.delay(), crate::auth::lockout::MAX_ACCOUNT_DELAY);
        assert_eq!(s.login_finish(job.run(), None, false, t(10)).status, 200);
        assert_eq!(s.lockout.delay("admin", t(11)), Duration::ZERO);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn correct_password_on_the_fifth_attempt_still_logs_in() {
        let dir = temp_dir();
        let mut s = security(&dir);
        for n in 0..4 {
            attempt(&mut s, "admin", "wrong", t(n));
        }
        assert_eq!(attempt(&mut s, "admin", "correct horse", t(5)).status, 200);
        assert_eq!(
            body(&attempt(&mut s, "admin", "wrong", t(6)))["remaining"],
            4,
            "counters cleared"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_user_is_not_recorded_and_bad_bodies_are_400() {
        let dir = temp_dir();
        let mut s = security(&dir);
        let r = attempt(&mut s, "correct horse", "x", t(0));
        assert_eq!(r.status, 401);
        let audit = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert!(
            !audit.contains("correct horse"),
            "a password typed as username is not logged"
        );
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for bad in [&b"not json"[..], b"{}", b"{\"username\":1,\"password\":2}"] {
            let r = s.login_start(bad, ip, t(1)).unwrap_err();
            assert_eq!(r.status, 400);
            assert_eq!(body(&r)["error"], "invalid_request");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
