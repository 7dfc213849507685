//! Login lockout: 5 failed attempts lock a username, and separately a client IP, for 15
//! minutes. Unlike Pulse, counters decay: they reset on success, on admin reset, when a lock
//! expires, and when no failure happened for a whole window. (Pulse never decays them, so a
//! single typo after an expired lock re-locks at once.)
//!
//! In memory only, like Pulse: a restart clears locks.

use super::client_ip;
use crate::util::time::UtcTime;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

pub const MAX_FAILED_ATTEMPTS: u32 = 5;
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Failures further apart than this are not counted together.
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Bounds memory under a username/IP spray; idle entries are evicted first.
pub const MAX_TRACKED: usize = 10_000;

/// What is being locked. IP keys are [`client_ip::subject`]s (IPv6 per /64).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockKey {
    User(String),
    Ip(IpAddr),
}

impl LockKey {
    /// The key for a client address (IPv6 grouped per /64).
    pub fn ip(ip: IpAddr) -> LockKey {
        LockKey::Ip(client_ip::subject(ip))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: UtcTime,
    locked_until: Option<UtcTime>,
}

impl Entry {
    /// The failures that still count at `now` (decay and lock expiry applied).
    fn live_failures(&self, now: UtcTime) -> u32 {
        match self.locked_until {
            Some(until) if until <= now => 0,
            Some(_) => self.failures,
            None if now.secs - self.last_failure.secs >= FAILURE_WINDOW_SECS => 0,
            None => self.failures,
        }
    }

    fn locked_at(&self, now: UtcTime) -> Option<UtcTime> {
        self.locked_until.filter(|u| *u > now)
    }
}

/// A current lock, for the 403 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: UtcTime,
    /// Whole minutes left, rounded up, at least 1.
    pub remaining_minutes: i64,
}

impl Locked {
    fn new(until: UtcTime, now: UtcTime) -> Locked {
        let secs = (until.secs - now.secs).max(0);
        Locked {
            until,
            remaining_minutes: ((secs + 59) / 60).max(1),
        }
    }
}

/// The result of a failed login, for the 401 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Not locked yet: `attempts` so far, `remaining` before the lock.
    Remaining { attempts: u32, remaining: u32 },
    /// This failure locked the account (or IP).
    NowLocked { until: UtcTime },
}

/// Failure counters per username and per IP, owned by the event loop.
#[derive(Debug, Default)]
pub struct Lockout {
    entries: HashMap<LockKey, Entry>,
}

impl Lockout {
    pub fn new() -> Lockout {
        Lockout::default()
    }

    /// The lock on `key`, if one is active.
    pub fn locked(&self, key: &LockKey, now: UtcTime) -> Option<Locked> {
        let until = self.entries.get(key)?.locked_at(now)?;
        Some(Locked::new(until, now))
    }

    /// Checked before verifying a password: the later of the user's and the IP's locks.
    pub fn check_login(&self, username: &str, ip: IpAddr, now: UtcTime) -> Result<(), Locked> {
        let user = self.locked(&LockKey::User(username.to_string()), now);
        let addr = self.locked(&LockKey::ip(ip), now);
        match user.into_iter().chain(addr).max_by_key(|l| l.until) {
            Some(l) => Err(l),
            None => Ok(()),
        }
    }

    /// Counts one failure against `key`; returns the live count and the lock if this failure
    /// reached the limit.
    pub fn record_failure(&mut self, key: LockKey, now: UtcTime) -> (u32, Option<UtcTime>) {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let e = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if let Some(until) = e.locked_at(now) {
            // Already locked: attempts during a lock do not extend it.
            return (e.failures, Some(until));
        }
        e.failures = e.live_failures(now) + 1;
        e.last_failure = now;
        e.locked_until = None;
        if e.failures >= MAX_FAILED_ATTEMPTS {
            let until = UtcTime::from_unix(now.secs + LOCKOUT_SECS);
            e.locked_until = Some(until);
            return (e.failures, Some(until));
        }
        (e.failures, None)
    }

    /// A failed login: counts against both the username and the IP. The feedback uses the
    /// larger count, as Pulse does.
    pub fn login_failed(&mut self, username: &str, ip: IpAddr, now: UtcTime) -> FailureOutcome {
        let (user_n, user_lock) = self.record_failure(LockKey::User(username.to_string()), now);
        let (ip_n, ip_lock) = self.record_failure(LockKey::ip(ip), now);
        match user_lock.into_iter().chain(ip_lock).max() {
            Some(until) => FailureOutcome::NowLocked { until },
            None => {
                let attempts = user_n.max(ip_n);
                FailureOutcome::Remaining {
                    attempts,
                    remaining: MAX_FAILED_ATTEMPTS.saturating_sub(attempts),
                }
            }
        }
    }

    /// A successful login clears both counters.
    pub fn login_succeeded(&mut self, username: &str, ip: IpAddr) {
        self.entries.remove(&LockKey::User(username.to_string()));
        self.entries.remove(&LockKey::ip(ip));
    }

    /// `POST /api/security/reset-lockout`: `identifier` is a username or an IP address.
    /// Returns whether anything was cleared.
    pub fn reset(&mut self, identifier: &str) -> bool {
        let identifier = identifier.trim();
        let by_user = self
            .entries
            .remove(&LockKey::User(identifier.to_string()))
            .is_some();
        let by_ip = identifier
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.entries.remove(&LockKey::ip(ip)).is_some());
        by_user || by_ip
    }

    /// Drops entries that no longer count (expired locks, decayed failures).
    pub fn prune(&mut self, now: UtcTime) {
        self.entries.retain(|_, e| e.live_failures(now) > 0);
    }

    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn make_room(&mut self, now: UtcTime) {
        self.prune(now);
        if self.entries.len() < MAX_TRACKED {
            return;
        }
        // Evict the stalest unlocked entry; a spray must not be able to lift active locks.
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| e.locked_at(now).is_none())
            .min_by_key(|(_, e)| e.last_failure)
            .or_else(|| self.entries.iter().min_by_key(|(_, e)| e.last_failure))
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            self.entries.remove(&k);
        }
    }
}

/// 403 body of `/api/login` while locked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockedBody {
    pub error: &'static str,
    pub message: String,
    pub locked_until: UtcTime,
    pub remaining_minutes: i64,
}

impl LockedBody {
    pub fn new(l: Locked) -> LockedBody {
        LockedBody {
            error: "account_locked",
            message: format!(
                "Too many failed attempts. Account is locked for {} more minutes.",
                l.remaining_minutes
            ),
            locked_until: l.until,
            remaining_minutes: l.remaining_minutes,
        }
    }
}

/// 401 body of a failed `/api/login`, with the remaining attempts or the new lock.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidCredentialsBody {
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockout_duration: Option<&'static str>,
}

impl InvalidCredentialsBody {
    pub fn new(outcome: FailureOutcome) -> InvalidCredentialsBody {
        match outcome {
            FailureOutcome::Remaining {
                attempts,
                remaining,
            } => InvalidCredentialsBody {
                error: "invalid_credentials",
                message: format!(
                    "Invalid username or password. You have {remaining} attempts remaining."
                ),
                attempts: Some(attempts),
                remaining: Some(remaining),
                max_attempts: Some(MAX_FAILED_ATTEMPTS),
                locked: None,
                lockout_duration: None,
            },
            FailureOutcome::NowLocked { .. } => InvalidCredentialsBody {
                error: "invalid_credentials",
                message: "Invalid username or password. Account is now locked for 15 minutes."
                    .into(),
                attempts: None,
                remaining: None,
                max_attempts: None,
                locked: Some(true),
                lockout_duration: Some("15 minutes"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> UtcTime {
        UtcTime::from_unix(1_700_000_000 + secs)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let mut l = Lockout::new();
        let a = ip("10.0.0.1");
        for n in 1..5 {
            let out = l.login_failed("admin", a, t(n));
            assert_eq!(
                out,
                FailureOutcome::Remaining {
                    attempts: n as u32,
                    remaining: 5 - n as u32
                }
            );
            assert!(l.check_login("admin", a, t(n)).is_ok());
        }
        let out = l.login_failed("admin", a, t(5));
        assert_eq!(
            out,
            FailureOutcome::NowLocked {
                until: t(5 + LOCKOUT_SECS)
            }
        );
        let locked = l.check_login("admin", a, t(6)).unwrap_err();
        assert_eq!(locked.remaining_minutes, 15);
        // Another IP trying the same username is locked out too (per-username lock) …
        assert!(l.check_login("admin", ip("10.0.0.2"), t(6)).is_err());
        // … and this IP is locked for other usernames (per-IP lock).
        assert!(l.check_login("root", a, t(6)).is_err());
        assert_eq!(
            l.check_login("admin", a, t(5 + LOCKOUT_SECS - 30))
                .unwrap_err()
                .remaining_minutes,
            1
        );
        // Unlock by time; the count starts over (no instant re-lock).
        assert!(l.check_login("admin", a, t(5 + LOCKOUT_SECS)).is_ok());
        let out = l.login_failed("admin", a, t(5 + LOCKOUT_SECS + 1));
        assert_eq!(
            out,
            FailureOutcome::Remaining {
                attempts: 1,
                remaining: 4
            }
        );
    }

    #[test]
    fn attempts_during_a_lock_do_not_extend_it() {
        let mut l = Lockout::new();
        for n in 0..5 {
            l.login_failed("admin", ip("10.0.0.1"), t(n));
        }
        let until = l
            .check_login("admin", ip("10.0.0.1"), t(5))
            .unwrap_err()
            .until;
        l.login_failed("admin", ip("10.0.0.1"), t(100));
        assert_eq!(
            l.check_login("admin", ip("10.0.0.1"), t(101))
                .unwrap_err()
                .until,
            until
        );
    }

    #[test]
    fn failures_decay_after_a_quiet_window() {
        let mut l = Lockout::new();
        for n in 0..4 {
            l.login_failed("admin", ip("10.0.0.1"), t(n));
        }
        let out = l.login_failed("admin", ip("10.0.0.1"), t(3 + FAILURE_WINDOW_SECS));
        assert_eq!(
            out,
            FailureOutcome::Remaining {
                attempts: 1,
                remaining: 4
            }
        );
        l.prune(t(10 * FAILURE_WINDOW_SECS));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn success_and_admin_reset_clear_counters() {
        let mut l = Lockout::new();
        let a = ip("192.168.1.9");
        for n in 0..4 {
            l.login_failed("admin", a, t(n));
        }
        l.login_succeeded("admin", a);
        assert_eq!(
            l.login_failed("admin", a, t(10)),
            FailureOutcome::Remaining {
                attempts: 1,
                remaining: 4
            }
        );

        for n in 0..5 {
            l.login_failed("admin", a, t(20 + n));
        }
        assert!(l.check_login("admin", a, t(30)).is_err());
        assert!(l.reset("admin"));
        // The IP is still locked until it is reset by address.
        assert!(l.check_login("admin", a, t(30)).is_err());
        assert!(l.reset("192.168.1.9"));
        assert!(l.check_login("admin", a, t(30)).is_ok());
        assert!(!l.reset("nobody"));
    }

    #[test]
    fn memory_is_bounded_and_locks_survive_a_spray() {
        let mut l = Lockout::new();
        for n in 0..5 {
            l.login_failed("victim", ip("10.9.9.9"), t(n));
        }
        for n in 0..(MAX_TRACKED as u32) {
            l.record_failure(LockKey::User(format!("spray{n}")), t(10));
        }
        assert!(l.tracked() <= MAX_TRACKED);
        assert!(l.locked(&LockKey::User("victim".into()), t(11)).is_some());
    }

    #[test]
    fn ipv6_neighbours_share_a_lock() {
        let mut l = Lockout::new();
        for n in 0..5 {
            let a: IpAddr = format!("2001:db8:0:1::{n}").parse().unwrap();
            l.login_failed(&format!("user{n}"), a, t(n));
        }
        assert!(l
            .check_login("someone", ip("2001:db8:0:1:ffff::1"), t(6))
            .is_err());
        assert!(l
            .check_login("someone", ip("2001:db8:0:2::1"), t(6))
            .is_ok());
        assert!(l.reset("2001:db8:0:1::77"));
    }

    #[test]
    fn bodies_match_pulse() {
        let v = serde_json::to_value(InvalidCredentialsBody::new(FailureOutcome::Remaining {
            attempts: 2,
            remaining: 3,
        }))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":"invalid_credentials",
                "message":"Invalid username or password. You have 3 attempts remaining.",
                "attempts":2,"remaining":3,"maxAttempts":5})
        );
        let v = serde_json::to_value(InvalidCredentialsBody::new(FailureOutcome::NowLocked {
            until: t(900),
        }))
        .unwrap();
        assert_eq!(v["locked"], true);
        assert_eq!(v["lockoutDuration"], "15 minutes");
        let v = serde_json::to_value(LockedBody::new(Locked::new(t(900), t(0)))).unwrap();
        assert_eq!(v["error"], "account_locked");
        assert_eq!(v["remainingMinutes"], 15);
        assert_eq!(v["lockedUntil"], t(900).to_rfc3339());
        assert_eq!(
            v["message"],
            "Too many failed attempts. Account is locked for 15 more minutes."
        );
    }
}
