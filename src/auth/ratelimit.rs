//! Per-client-IP rate limits by endpoint category, as the API documentation lists them, with
//! `X-RateLimit-*` headers on every limited response (the documented behaviour; Pulse's code
//! only sends them on 429) and `Retry-After` plus a JSON body on 429.
//!
//! Each (IP, category) has a fixed window that starts with its first request; `Reset` is
//! that window's end, so the headers are exact. A client can at most double its rate across
//! a window boundary; the lockout, not this limiter, is what stops password guessing.

use super::client_ip;
use crate::util::time::UtcTime;
use std::collections::HashMap;
use std::net::IpAddr;

/// Bounds memory: beyond this many (IP, category) windows, finished ones are dropped, then
/// the oldest.
pub const MAX_TRACKED: usize = 20_000;

/// An endpoint family with its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Login, logout, password change and other credential endpoints: 10 per minute.
    Auth,
    /// `/api/security/recovery`: 3 per 10 minutes.
    Recovery,
    /// Config export/import: 5 per 5 minutes.
    Export,
    /// Node/system config writes: 30 per minute.
    Config,
    /// Update operations: 20 per minute.
    Update,
    /// WebSocket connects: 5 per minute.
    WebSocket,
    /// Everything else under `/api`: 500 per minute.
    General,
    /// Health, version, security status, config reads: 1000 per minute.
    Public,
}

impl Category {
    pub fn limit(self) -> u32 {
        match self {
            Category::Auth => 10,
            Category::Recovery => 3,
            Category::Export => 5,
            Category::Config => 30,
            Category::Update => 20,
            Category::WebSocket => 5,
            Category::General => 500,
            Category::Public => 1000,
        }
    }

    pub fn window_secs(self) -> i64 {
        match self {
            Category::Recovery => 600,
            Category::Export => 300,
            _ => 60,
        }
    }
}

/// The category of a request, or `None` when it is exempt: `/api/state` and
/// `/api/guests/metadata` (polled constantly by the UI), and anything outside `/api` and
/// `/ws` (static files, downloads, install scripts). First match wins, in Pulse's order.
pub fn categorize(method: &str, path: &str) -> Option<Category> {
    let p = path.to_ascii_lowercase();
    let is = |prefix: &str| under(&p, prefix);
    let get = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    if is("/api/state") || is("/api/guests/metadata") {
        return None;
    }
    if !(is("/api") || is("/ws") || is("/socket.io")) {
        return None;
    }
    // Credential endpoints. Pulse guards the last three with a separate 10/min limiter.
    const AUTH: [&str; 7] = [
        "/api/login",
        "/api/logout",
        "/api/security/change-password",
        "/api/auth",
        "/api/security/quick-setup",
        "/api/security/regenerate-token",
        "/api/security/validate-token",
    ];
    if AUTH.iter().any(|a| is(a)) {
        return Some(Category::Auth);
    }
    if is("/api/security/recovery") {
        return Some(Category::Recovery);
    }
    if is("/api/config/export") || is("/api/config/import") {
        return Some(Category::Export);
    }
    const CONFIG: [&str; 4] = [
        "/api/config/nodes",
        "/api/config/system",
        "/api/config/webhooks",
        "/api/config/alerts",
    ];
    if !get && CONFIG.iter().any(|c| is(c)) {
        return Some(Category::Config);
    }
    if get && (is("/api/config") || is("/api/discover") || is("/api/security/status")) {
        return Some(Category::Public);
    }
    if is("/api/updates") {
        return Some(Category::Update);
    }
    if is("/ws") || is("/socket.io") {
        return Some(Category::WebSocket);
    }
    if is("/api/health") || is("/api/version") {
        return Some(Category::Public);
    }
    Some(Category::General)
}

/// `path` is `prefix` or below it (`/api/login` matches `/api/login/x`, not `/api/loginx`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The outcome of one check: what to put in the headers, and whether to answer 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub category: Category,
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window ends.
    pub reset_unix: i64,
    /// Seconds until `reset_unix` (at least 1): the `Retry-After` value on 429.
    pub retry_after_secs: i64,
}

impl RateStatus {
    /// `X-RateLimit-Limit/Remaining/Reset` for every response, plus `Retry-After` on 429.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", self.reset_unix.to_string()),
        ];
        if !self.allowed {
            h.push(("Retry-After", self.retry_after_secs.to_string()));
        }
        h
    }

    /// The documented 429 body.
    pub fn error_body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": format!(
                "Rate limit exceeded. Please retry after {} seconds.",
                self.retry_after_secs
            )
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: u32,
}

/// Request counters per (client IP, category), owned by the event loop.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<(IpAddr, Category), Window>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Counts a request from `ip` in `category` (denied requests are not counted). IPv6
    /// clients share one budget per /64.
    pub fn check(&mut self, ip: IpAddr, category: Category, now: UtcTime) -> RateStatus {
        let (limit, window) = (category.limit(), category.window_secs());
        let key = (client_ip::subject(ip), category);
        if !self.windows.contains_key(&key) && self.windows.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let w = self.windows.entry(key).or_insert(Window {
            start: now.secs,
            count: 0,
        });
        if now.secs >= w.start + window {
            *w = Window {
                start: now.secs,
                count: 0,
            };
        }
        let allowed = w.count < limit;
        if allowed {
            w.count += 1;
        }
        let reset_unix = w.start + window;
        RateStatus {
            category,
            allowed,
            limit,
            remaining: limit - w.count,
            reset_unix,
            retry_after_secs: (reset_unix - now.secs).max(1),
        }
    }

    /// Gives back one request counted in `category` (a WebSocket handshake that turned out
    /// to be authenticated: only refused and anonymous handshakes count against the limit).
    pub fn refund(&mut self, ip: IpAddr, category: Category) {
        if let Some(w) = self.windows.get_mut(&(client_ip::subject(ip), category)) {
            w.count = w.count.saturating_sub(1);
        }
    }

    /// [`categorize`] then [`RateLimiter::check`]; `None` for exempt requests.
    pub fn check_request(
        &mut self,
        ip: IpAddr,
        method: &str,
        path: &str,
        now: UtcTime,
    ) -> Option<RateStatus> {
        categorize(method, path).map(|c| self.check(ip, c, now))
    }

    /// Drops finished windows; call it from a periodic tick.
    pub fn prune(&mut self, now: UtcTime) {
        self.windows
            .retain(|(_, c), w| now.secs < w.start + c.window_secs());
    }

    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    fn make_room(&mut self, now: UtcTime) {
        self.prune(now);
        if self.windows.len() < MAX_TRACKED {
            return;
        }
        if let Some(k) = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.start)
            .map(|(k, _)| *k)
        {
            self.windows.remove(&k);
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
    fn categories_follow_pulse_order() {
        use Category::*;
        let cases: &[(&str, &str, Option<Category>)] = &[
            ("POST", "/api/login", Some(Auth)),
            ("POST", "/api/logout", Some(Auth)),
            ("POST", "/api/security/change-password", Some(Auth)),
            ("POST", "/api/security/quick-setup", Some(Auth)),
            ("POST", "/api/security/regenerate-token", Some(Auth)),
            ("GET", "/api/security/recovery", Some(Recovery)),
            ("POST", "/api/security/recovery", Some(Recovery)),
            ("POST", "/api/config/export", Some(Export)),
            ("POST", "/api/config/import", Some(Export)),
            ("POST", "/api/config/nodes", Some(Config)),
            ("PUT", "/api/config/nodes/pve-0", Some(Config)),
            ("DELETE", "/api/config/nodes/pve-0", Some(Config)),
            ("GET", "/api/config/nodes", Some(Public)),
            ("GET", "/api/config/system", Some(Public)),
            ("GET", "/api/discover", Some(Public)),
            ("POST", "/api/discover", Some(General)),
            ("GET", "/api/security/status", Some(Public)),
            ("GET", "/api/updates/check", Some(Update)),
            ("POST", "/api/updates/apply", Some(Update)),
            ("GET", "/ws", Some(WebSocket)),
            ("GET", "/api/health", Some(Public)),
            ("HEAD", "/api/version", Some(Public)),
            ("GET", "/api/charts", Some(General)),
            ("GET", "/api/security/tokens", Some(General)),
            ("GET", "/API/LOGIN", Some(Auth)),
            ("GET", "/api/loginx", Some(General)),
            ("GET", "/api/state", None),
            ("GET", "/api/guests/metadata", None),
            ("PUT", "/api/guests/metadata/pve-node-100", None),
            ("GET", "/", None),
            ("GET", "/assets/index.js", None),
            ("GET", "/download/pulse-docker-agent", None),
            ("GET", "/install-docker-agent.sh", None),
        ];
        for (m, p, want) in cases {
            assert_eq!(categorize(m, p), *want, "{m} {p}");
        }
    }

    #[test]
    fn every_category_limits_at_its_budget_and_resets_after_its_window() {
        use Category::*;
        for cat in [
            Auth, Recovery, Export, Config, Update, WebSocket, General, Public,
        ] {
            let mut rl = RateLimiter::new();
            let a = ip("203.0.113.7");
            let (limit, window) = (cat.limit(), cat.window_secs());
            for n in 0..limit {
                let s = rl.check(a, cat, t(1));
                assert!(s.allowed, "{cat:?} request {n}");
                assert_eq!(s.remaining, limit - n - 1);
                assert_eq!(s.limit, limit);
                assert_eq!(s.reset_unix, t(1).secs + window);
                assert_eq!(s.headers().len(), 3, "no Retry-After while allowed");
            }
            let denied = rl.check(a, cat, t(2));
            assert!(!denied.allowed, "{cat:?}");
            assert_eq!(denied.remaining, 0);
            assert_eq!(denied.retry_after_secs, window - 1);
            let h = denied.headers();
            assert!(h.contains(&("Retry-After", (window - 1).to_string())));
            assert!(h.contains(&("X-RateLimit-Reset", (t(1).secs + window).to_string())));
            assert_eq!(
                denied.error_body(),
                serde_json::json!({"error": format!("Rate limit exceeded. Please retry after {} seconds.", window - 1)})
            );
            // Other clients and other categories are unaffected.
            assert!(rl.check(ip("203.0.113.8"), cat, t(2)).allowed);
            // The window ends: the budget is back.
            let s = rl.check(a, cat, t(1 + window));
            assert!(s.allowed, "{cat:?} after window");
            assert_eq!(s.remaining, limit - 1);
        }
    }

    #[test]
    fn check_request_skips_exempt_paths() {
        let mut rl = RateLimiter::new();
        assert!(rl
            .check_request(ip("10.0.0.1"), "GET", "/api/state", t(0))
            .is_none());
        let s = rl
            .check_request(ip("10.0.0.1"), "POST", "/api/login", t(0))
            .unwrap();
        assert_eq!((s.category, s.limit, s.remaining), (Category::Auth, 10, 9));
    }

    #[test]
    fn memory_is_bounded() {
        let mut rl = RateLimiter::new();
        for n in 0..(MAX_TRACKED as u32 + 50) {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            rl.check(a, Category::General, t(0));
        }
        assert!(rl.tracked() <= MAX_TRACKED);
        rl.prune(t(61));
        assert_eq!(rl.tracked(), 0);
    }
}
