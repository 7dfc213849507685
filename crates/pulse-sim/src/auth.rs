//! Authentication as Proxmox enforces it: API tokens per product syntax, ticket cookies with
//! an expiry, CSRF tokens on writes. 401 for missing/bad credentials, 403 for a token that
//! lacks privileges.

use pulse_wire::Product;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Token id with full audit privileges.
pub const TOKEN_ID: &str = "root@pam!pulse";
/// Token id that authenticates but may only read `/version` (everything else: 403).
pub const LIMITED_TOKEN_ID: &str = "root@pam!limited";

/// Result of checking a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    Full,
    /// Authenticated, but without privileges beyond `/version`.
    Limited,
    Denied,
}

struct Ticket {
    product: Product,
    csrf: String,
    expires: Instant,
}

pub struct AuthState {
    pub user: String,
    pub password: String,
    pub token_secret: String,
    pub limited_secret: String,
    pub ticket_lifetime: Duration,
    /// When false, `POST /access/ticket` with JSON answers 415 (older builds): clients must
    /// fall back to form encoding.
    pub json_login: bool,
    tickets: HashMap<String, Ticket>,
    logins: HashMap<Product, u64>,
    counter: u64,
}

impl AuthState {
    pub fn new(user: String, password: String, seed: u64) -> AuthState {
        let secret = |salt: u64| {
            let a = super::estate::mix(seed ^ salt);
            let b = super::estate::mix(a);
            format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xffff,
                b >> 48,
                b & 0xffff_ffff_ffff
            )
        };
        AuthState {
            user,
            password,
            token_secret: secret(0x70CE),
            limited_secret: secret(0x11AA),
            ticket_lifetime: Duration::from_secs(7200),
            json_login: true,
            tickets: HashMap::new(),
            logins: HashMap::new(),
            counter: 0,
        }
    }

    pub fn logins(&self, product: Product) -> u64 {
        self.logins.get(&product).copied().unwrap_or(0)
    }

    /// Checks `Authorization` (token) or `Cookie` (ticket) for `product`. `csrf` is the
    /// request's `CSRFPreventionToken`, required with a ticket on writes.
    pub fn check(
        &self,
        product: Product,
        authorization: Option<&str>,
        cookie: Option<&str>,
        csrf: Option<&str>,
        write: bool,
        now: Instant,
    ) -> Access {
        if let Some(h) = authorization {
            return self.check_token(product, h);
        }
        let Some(ticket) = cookie.and_then(|c| cookie_value(c, product.cookie_name())) else {
            return Access::Denied;
        };
        match self.tickets.get(&ticket) {
            Some(t) if t.product == product && t.expires > now => {
                if write && csrf != Some(t.csrf.as_str()) {
                    Access::Denied
                } else {
                    Access::Full
                }
            }
            _ => Access::Denied,
        }
    }

    fn check_token(&self, product: Product, header: &str) -> Access {
        let (prefix, sep) = match product {
            Product::Pve => ("PVEAPIToken=", '='),
            Product::Pbs => ("PBSAPIToken=", ':'),
            Product::Pmg => ("PMGAPIToken=", ':'),
        };
        let Some(rest) = header.trim().strip_prefix(prefix) else {
            return Access::Denied;
        };
        // The token id contains '@' and '!' but never the separator after the '!'.
        let Some(bang) = rest.find('!') else {
            return Access::Denied;
        };
        let Some(sep_at) = rest[bang..].find(sep).map(|i| i + bang) else {
            return Access::Denied;
        };
        let (id, secret) = (&rest[..sep_at], &rest[sep_at + 1..]);
        if id == TOKEN_ID && ct_eq(secret, &self.token_secret) {
            Access::Full
        } else if id == LIMITED_TOKEN_ID && ct_eq(secret, &self.limited_secret) {
            Access::Limited
        } else {
            Access::Denied
        }
    }

    /// Handles a login; returns (ticket, csrf) or `None` for wrong credentials.
    pub fn login(
        &mut self,
        product: Product,
        username: &str,
        password: &str,
        now: Instant,
    ) -> Option<(String, String)> {
        let (want_user, want_realm) = self.user.split_once('@').unwrap_or((&self.user, "pam"));
        let (user, realm) = username.split_once('@').unwrap_or((username, "pam"));
        let realm_ok = realm == want_realm || realm == product.default_realm();
        if user != want_user || !realm_ok || !ct_eq(password, &self.password) {
            return None;
        }
        self.counter += 1;
        self.tickets.retain(|_, t| t.expires > now);
        let stamp = format!("{:08X}", pulse_wire::time::unix_now() as u32);
        let sig = super::estate::mix(self.counter ^ 0x5EED ^ self.tickets.len() as u64);
        let tag = match product {
            Product::Pve => "PVE",
            Product::Pbs => "PBS",
            Product::Pmg => "PMG",
        };
        let ticket = format!("{tag}:{username}:{stamp}::{sig:016x}{:08x}", self.counter);
        let csrf = format!("{stamp}:{:016x}", super::estate::mix(sig));
        self.tickets.insert(
            ticket.clone(),
            Ticket {
                product,
                csrf: csrf.clone(),
                expires: now + self.ticket_lifetime,
            },
        );
        *self.logins.entry(product).or_insert(0) += 1;
        Some((ticket, csrf))
    }
}

/// Finds `name=value` in a Cookie header; values may be percent-encoded (browsers do).
fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then(|| super::http::percent_decode(v))
    })
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_use_product_syntax() {
        let a = AuthState::new("root@pam".into(), "pw".into(), 7);
        let now = Instant::now();
        let pve = format!("PVEAPIToken={TOKEN_ID}={}", a.token_secret);
        let pbs = format!("PBSAPIToken={TOKEN_ID}:{}", a.token_secret);
        assert_eq!(
            a.check(Product::Pve, Some(&pve), None, None, false, now),
            Access::Full
        );
        assert_eq!(
            a.check(Product::Pbs, Some(&pbs), None, None, false, now),
            Access::Full
        );
        assert_eq!(
            a.check(Product::Pbs, Some(&pve), None, None, false, now),
            Access::Denied
        );
        let lim = format!("PMGAPIToken={LIMITED_TOKEN_ID}:{}", a.limited_secret);
        assert_eq!(
            a.check(Product::Pmg, Some(&lim), None, None, false, now),
            Access::Limited
        );
        assert_eq!(
            a.check(Product::Pve, None, None, None, false, now),
            Access::Denied
        );
    }

    #[test]
    fn tickets_expire_and_need_csrf_on_writes() {
        let mut a = AuthState::new("root@pam".into(), "pw".into(), 7);
        a.ticket_lifetime = Duration::from_secs(10);
        let now = Instant::now();
        assert!(a.login(Product::Pve, "root@pam", "bad", now).is_none());
        let (t, csrf) = a
            .login(Product::Pve, "root@pam", "pw", now)
            .unwrap_or_default();
        let cookie = format!("PVEAuthCookie={}", t.replace(':', "%3A"));
        let ok = a.check(Product::Pve, None, Some(&cookie), None, false, now);
        assert_eq!(ok, Access::Full);
        assert_eq!(
            a.check(Product::Pve, None, Some(&cookie), None, true, now),
            Access::Denied
        );
        let w = a.check(Product::Pve, None, Some(&cookie), Some(&csrf), true, now);
        assert_eq!(w, Access::Full);
        let later = now + Duration::from_secs(11);
        assert_eq!(
            a.check(Product::Pve, None, Some(&cookie), None, false, later),
            Access::Denied
        );
        assert_eq!(a.logins(Product::Pve), 1);
    }
}
