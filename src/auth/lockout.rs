//! Login lockout, shaped so that a stranger cannot lock the admin out:
//!
//! * **Per (client address, username) lock**: five failed attempts for a user from one address
//!   lock that pair for 15 minutes, with Pulse's feedback (remaining attempts, `lockedUntil`).
//!   The same user from another address still logs in. (Pulse locks the username itself, so
//!   anyone who can reach the port can keep the real admin out, again and again.)
//! * **Account-wide guard**: failures for a username from *all* addresses only slow guessing
//!   down: after [`FREE_ACCOUNT_FAILURES`] the answer to every attempt for that user is held
//!   back by a delay that doubles per failure up to [`MAX_ACCOUNT_DELAY`]. It never refuses;
//!   the right password still gets in, just later. The delay is applied to the *answer* by the
//!   event loop's timers (see `core::outcome::Outcome::not_before`), so no thread sleeps.
//!
//! Counters decay: they reset on success, on admin reset, when a lock expires, and when no
//! failure happened for a whole window. (Pulse never decays them, so a single typo after an
//! expired lock re-locks at once.)
//!
//! In memory only, like Pulse: a restart clears locks and delays.

use super::client_ip;
use crate::util::time::UtcTime;
use serde::Serialize;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

pub const MAX_FAILED_ATTEMPTS: u32 = 5;
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Failures further apart than this are not counted together.
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Bounds memory under a username/IP spray (per map); idle entries are evicted first.
pub const MAX_TRACKED: usize = 10_000;
/// Account-wide failures that cost nothing: one person's typos from one address.
pub const FREE_ACCOUNT_FAILURES: u32 = MAX_FAILED_ATTEMPTS;
/// The first account-wide delay; it doubles with every further failure.
pub const FIRST_ACCOUNT_DELAY: Duration = Duration::from_secs(1);
/// The cap: a guesser gets at most one answer per this per connection, the admin waits at most
/// this long.
pub const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(8);

/// One client address (a [`client_ip::subject`]: IPv6 per /64) trying one username.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PairKey {
    ip: IpAddr,
    user: String,
}

impl PairKey {
    fn new(user: &str, ip: IpAddr) -> PairKey {
        PairKey {
            ip: client_ip::subject(ip),
            user: user.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: UtcTime,
    locked_until: Option<UtcTime>,
}

impl Entry {
    fn fresh(now: UtcTime) -> Entry {
        Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        }
    }

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

/// The account-wide delay after `failures` recent failures for one username (from anywhere):
/// none for the first [`FREE_ACCOUNT_FAILURES`], then 1 s, 2 s, 4 s, 8 s, 8 s...
pub fn account_delay(failures: u32) -> Duration {
    if failures < FREE_ACCOUNT_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_ACCOUNT_FAILURES).min(16);
    (FIRST_ACCOUNT_DELAY * (1u32 << doublings)).min(MAX_ACCOUNT_DELAY)
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
    /// This failure locked the (address, user) pair.
    NowLocked { until: UtcTime },
}

/// Failure counters per (address, user) pair and per username, owned by the event loop.
#[derive(Debug, Default)]
pub struct Lockout {
    pairs: HashMap<PairKey, Entry>,
    /// Account-wide failures per username; only `failures` and `last_failure` are used.
    accounts: HashMap<String, Entry>,
}

impl Lockout {
    pub fn new() -> Lockout {
        Lockout::default()
    }

    /// Checked before verifying a password: is this address locked out for this user?
    /// Other addresses are not affected.
    pub fn check_login(&self, username: &str, ip: IpAddr, now: UtcTime) -> Result<(), Locked> {
        match self
            .pairs
            .get(&PairKey::new(username, ip))
            .and_then(|e| e.locked_at(now))
        {
            Some(until) => Err(Locked::new(until, now)),
            None => Ok(()),
        }
    }

    /// How long the answer to the next attempt for `username` is held back (from any address,
    /// right password or not, so the delay tells a guesser nothing).
    pub fn delay(&self, username: &str, now: UtcTime) -> Duration {
        let failures = self
            .accounts
            .get(username)
            .map_or(0, |e| e.live_failures(now));
        account_delay(failures)
    }

    /// A failed login: counts against the (address, user) pair, which it may lock, and
    /// against the username's account-wide guard.
    pub fn login_failed(&mut self, username: &str, ip: IpAddr, now: UtcTime) -> FailureOutcome {
        make_room(&mut self.accounts, username, now);
        let account = self
            .accounts
            .entry(username.to_string())
            .or_insert(Entry::fresh(now));
        account.failures = account.live_failures(now).saturating_add(1);
        account.last_failure = now;

        let key = PairKey::new(username, ip);
        make_room(&mut self.pairs, &key, now);
        let e = self.pairs.entry(key).or_insert(Entry::fresh(now));
        if let Some(until) = e.locked_at(now) {
            // Already locked: attempts during a lock do not extend it.
            return FailureOutcome::NowLocked { until };
        }
        e.failures = e.live_failures(now) + 1;
        e.last_failure = now;
        e.locked_until = None;
        if e.failures >= MAX_FAILED_ATTEMPTS {
            let until = UtcTime::from_unix(now.secs + LOCKOUT_SECS);
            e.locked_until = Some(until);
            return FailureOutcome::NowLocked { until };
        }
        FailureOutcome::Remaining {
            attempts: e.failures,
            remaining: MAX_FAILED_ATTEMPTS - e.failures,
        }
    }

    /// A successful login clears the pair and the account-wide guard: whoever knows the
    /// password has nothing left to be slowed down from.
    pub fn login_succeeded(&mut self, username: &str, ip: IpAddr) {
        self.pairs.remove(&PairKey::new(username, ip));
        self.accounts.remove(username);
    }

    /// `POST /api/security/reset-lockout`: `identifier` is a username (its locks from every
    /// address and its account-wide delay) or an IP address (its locks for every user).
    /// Returns whether anything was cleared.
    pub fn reset(&mut self, identifier: &str) -> bool {
        let identifier = identifier.trim();
        let before = self.pairs.len() + self.accounts.len();
        self.accounts.remove(identifier);
        let ip = identifier.parse::<IpAddr>().ok().map(client_ip::subject);
        self.pairs
            .retain(|k, _| k.user != identifier && Some(k.ip) != ip);
        self.pairs.len() + self.accounts.len() < before
    }

    /// Drops entries that no longer count (expired locks, decayed failures).
    pub fn prune(&mut self, now: UtcTime) {
        self.pairs.retain(|_, e| e.live_failures(now) > 0);
        self.accounts.retain(|_, e| e.live_failures(now) > 0);
    }

    pub fn tracked(&self) -> usize {
        self.pairs.len() + self.accounts.len()
    }
}

/// Keeps `map` under [`MAX_TRACKED`] before `key` is added: drops what no longer counts, then
/// the stalest unlocked entry (a spray must not be able to lift active locks).
fn make_room<K, Q>(map: &mut HashMap<K, Entry>, key: &Q, now: UtcTime)
where
    K: Borrow<Q> + std::hash::Hash + Eq + Clone,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if map.contains_key(key) || map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, e| e.live_failures(now) > 0);
    if map.len() < MAX_TRACKED {
        return;
    }
    let victim = map
        .iter()
        .filter(|(_, e)| e.locked_at(now).is_none())
        .min_by_key(|(_, e)| e.last_failure)
        .or_else(|| map.iter().min_by_key(|(_, e)| e.last_failure))
        .map(|(k, _)| k.clone());
    if let Some(k) = victim {
        map.remove(k.borrow());
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
    fn five_failures_lock_that_address_for_that_user_for_fifteen_minutes() {
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
        // The same user from another address is not locked out …
        assert!(l.check_login("admin", ip("10.0.0.2"), t(6)).is_ok());
        // … nor is another user from this address.
        assert!(l.check_login("root", a, t(6)).is_ok());
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
    fn account_delay_grows_per_failure_and_is_capped() {
        let steps: Vec<u64> = (0..12).map(|n| account_delay(n).as_secs()).collect();
        assert_eq!(steps, [0, 0, 0, 0, 0, 1, 2, 4, 8, 8, 8, 8]);
        assert_eq!(account_delay(u32::MAX), MAX_ACCOUNT_DELAY);
    }

    #[test]
    fn failures_from_many_addresses_slow_the_account_but_never_lock_it() {
        let mut l = Lockout::new();
        // A spray: 4 guesses each from 10 addresses, none of them reaching a pair lock.
        let mut n = 0;
        let mut last = Duration::ZERO;
        for a in 0..10 {
            let addr = ip(&format!("10.1.0.{a}"));
            for _ in 0..4 {
                let d = l.delay("admin", t(n));
                assert!(d >= last, "the delay never shrinks during a spray");
                last = d;
                l.login_failed("admin", addr, t(n));
                n += 1;
            }
        }
        assert_eq!(l.delay("admin", t(n)), MAX_ACCOUNT_DELAY);
        // The admin at a fresh address is slowed, not refused …
        let home = ip("192.168.1.5");
        assert!(l.check_login("admin", home, t(n)).is_ok());
        // … and the delay is per username.
        assert_eq!(l.delay("root", t(n)), Duration::ZERO);
        // Success clears it.
        l.login_succeeded("admin", home);
        assert_eq!(l.delay("admin", t(n)), Duration::ZERO);
        // So does a quiet window.
        for a in 0..8 {
            l.login_failed("admin", ip(&format!("10.2.0.{a}")), t(n));
        }
        assert!(l.delay("admin", t(n)) > Duration::ZERO);
        assert_eq!(l.delay("admin", t(n + FAILURE_WINDOW_SECS)), Duration::ZERO);
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

        // Reset by username: every address's lock for it, and its account-wide delay.
        for n in 0..5 {
            l.login_failed("admin", a, t(20 + n));
            l.login_failed("admin", ip("10.0.0.7"), t(20 + n));
            l.login_failed("root", a, t(20 + n));
        }
        assert!(l.check_login("admin", a, t(30)).is_err());
        assert!(l.delay("admin", t(30)) > Duration::ZERO);
        assert!(l.reset("admin"));
        assert!(l.check_login("admin", a, t(30)).is_ok());
        assert!(l.check_login("admin", ip("10.0.0.7"), t(30)).is_ok());
        assert_eq!(l.delay("admin", t(30)), Duration::ZERO);
        // Other users' locks stay until reset by their name or by address.
        assert!(l.check_login("root", a, t(30)).is_err());
        assert!(l.reset(" 192.168.1.9 "));
        assert!(l.check_login("root", a, t(30)).is_ok());
        assert!(!l.reset("nobody"));
    }

    #[test]
    fn memory_is_bounded_and_locks_survive_a_spray() {
        let mut l = Lockout::new();
        for n in 0..5 {
            l.login_failed("victim", ip("10.9.9.9"), t(n));
        }
        for n in 0..(MAX_TRACKED as u32) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            l.login_failed(&format!("spray{n}"), addr, t(10));
        }
        assert!(l.tracked() <= 2 * MAX_TRACKED);
        assert!(l.check_login("victim", ip("10.9.9.9"), t(11)).is_err());
    }

    #[test]
    fn ipv6_neighbours_share_a_lock() {
        let mut l = Lockout::new();
        for n in 0..5 {
            let a: IpAddr = format!("2001:db8:0:1::{n}").parse().unwrap();
            l.login_failed("admin", a, t(n));
        }
        assert!(l
            .check_login("admin", ip("2001:db8:0:1:ffff::1"), t(6))
            .is_err());
        assert!(l.check_login("admin", ip("2001:db8:0:2::1"), t(6)).is_ok());
        assert!(l.reset("2001:db8:0:1::77"));
        assert!(l
            .check_login("admin", ip("2001:db8:0:1:ffff::1"), t(6))
            .is_ok());
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
