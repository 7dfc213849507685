//! Authentication exactly as the three Proxmox products expect it: API-token headers, or a
//! password login that yields a ticket cookie plus a CSRF token for writes.
//!
//! The pure parts (header formats, user names, renewal decision) take their inputs and the
//! current instant as arguments; only [`login`] does I/O (and blocks).

use super::config::{ClientConfig, Product};
use super::error::{excerpt, ProxmoxError};
use super::transport::{Http, Payload};
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, Instant};

/// `data` of `POST /access/ticket`.
#[derive(Deserialize)]
pub struct TicketResponse {
    pub ticket: String,
    #[serde(default, rename = "CSRFPreventionToken")]
    pub csrf_prevention_token: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub clustername: Option<String>,
}

impl fmt::Debug for TicketResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketResponse")
            .field("username", &self.username)
            .field("clustername", &self.clustername)
            .finish_non_exhaustive()
    }
}

/// The `Authorization` header value for an API token:
/// `PVEAPIToken=user@realm!id=secret`, `PBSAPIToken=user@realm!id:secret`,
/// `PMGAPIToken=user@realm!id:secret`. A token name without `!` is combined with `user`
/// (realm defaulted per product).
pub fn token_header(cfg: &ClientConfig) -> Result<String, ProxmoxError> {
    let name = cfg.token_name.trim();
    if name.is_empty() || cfg.token_value.is_empty() {
        return Err(ProxmoxError::Config(
            "API token name and value are required".into(),
        ));
    }
    let full_id = if name.contains('!') {
        name.to_string()
    } else {
        if cfg.user.trim().is_empty() {
            return Err(ProxmoxError::Config(
                "token name must be user@realm!tokenid when no user is set".into(),
            ));
        }
        format!(
            "{}!{name}",
            with_realm(&cfg.user, cfg.product.default_realm())
        )
    };
    let secret = cfg.token_value.trim();
    Ok(match cfg.product {
        Product::Pve => format!("PVEAPIToken={full_id}={secret}"),
        Product::Pbs => format!("PBSAPIToken={full_id}:{secret}"),
        Product::Pmg => format!("PMGAPIToken={full_id}:{secret}"),
    })
}

/// The login user name: PVE and PBS add `@pam` when no realm is given, PMG adds `@pmg`.
pub fn login_username(cfg: &ClientConfig) -> String {
    let realm = match cfg.product {
        Product::Pve | Product::Pbs => "pam",
        Product::Pmg => "pmg",
    };
    with_realm(&cfg.user, realm)
}

fn with_realm(user: &str, realm: &str) -> String {
    let user = user.trim();
    if user.contains('@') {
        user.to_string()
    } else {
        format!("{user}@{realm}")
    }
}

/// A login ticket and when it was obtained.
pub struct Session {
    ticket: String,
    csrf: Option<String>,
    obtained: Instant,
    lifetime: Duration,
}

impl Session {
    pub fn new(
        ticket: String,
        csrf: Option<String>,
        obtained: Instant,
        lifetime: Duration,
    ) -> Self {
        Session {
            ticket,
            csrf,
            obtained,
            lifetime,
        }
    }

    /// Renew ahead of expiry: once less than a tenth of the lifetime (at most 5 min) remains.
    pub fn needs_renewal(&self, now: Instant) -> bool {
        let margin = (self.lifetime / 10).min(Duration::from_secs(300));
        now.saturating_duration_since(self.obtained) + margin >= self.lifetime
    }

    /// `PVEAuthCookie=<ticket>` (or the PBS/PMG cookie).
    pub fn cookie(&self, product: Product) -> String {
        format!("{}={}", product.cookie_name(), self.ticket)
    }

    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("obtained", &self.obtained)
            .finish_non_exhaustive()
    }
}

/// `POST /access/ticket` with JSON; on 400/415 (older builds) again as a form. Blocking.
pub fn login(http: &Http, cfg: &ClientConfig, now: Instant) -> Result<Session, ProxmoxError> {
    if cfg.user.trim().is_empty() || cfg.password.is_empty() {
        return Err(ProxmoxError::Config(
            "user and password (or an API token) are required".into(),
        ));
    }
    let username = login_username(cfg);
    let path = "/api2/json/access/ticket";
    let json = serde_json::json!({ "username": username, "password": cfg.password });
    let mut resp = http.send(
        "POST",
        path,
        &[],
        Some(Payload {
            content_type: "application/json",
            bytes: json.to_string().into_bytes(),
        }),
        None,
    )?;
    if resp.status == 400 || resp.status == 415 {
        let form = format!(
            "username={}&password={}",
            form_escape(&username),
            form_escape(&cfg.password)
        );
        resp = http.send(
            "POST",
            path,
            &[],
            Some(Payload {
                content_type: "application/x-www-form-urlencoded",
                bytes: form.into_bytes(),
            }),
            None,
        )?;
    }
    match resp.status {
        200..=299 => {}
        401 | 403 => {
            return Err(ProxmoxError::Auth {
                status: resp.status,
                message: "login failed: wrong user name or password".into(),
            });
        }
        status => {
            return Err(ProxmoxError::Http {
                status,
                excerpt: excerpt(&resp.body, 200),
            });
        }
    }
    let envelope: super::flex::Envelope<TicketResponse> = serde_json::from_slice(&resp.body)
        .map_err(|e| ProxmoxError::Decode {
            path: "/access/ticket".into(),
            msg: e.to_string(),
        })?;
    let ticket = envelope.data.ok_or_else(|| ProxmoxError::Auth {
        status: resp.status,
        message: "login returned no ticket".into(),
    })?;
    Ok(Session::new(
        ticket.ticket,
        ticket.csrf_prevention_token,
        now,
        cfg.product.ticket_lifetime(),
    ))
}

/// `application/x-www-form-urlencoded` escaping.
pub(crate) fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(product: Product, user: &str, name: &str) -> ClientConfig {
        let mut c = ClientConfig::new(product, "h");
        c.user = user.into();
        c.token_name = name.into();
        c.token_value = "sec-ret".into();
        c
    }

    #[test]
    fn token_header_formats_are_exact() {
        let h = |p, u, n| token_header(&cfg(p, u, n)).unwrap_or_default();
        assert_eq!(
            h(Product::Pve, "", "root@pam!pulse"),
            "PVEAPIToken=root@pam!pulse=sec-ret"
        );
        assert_eq!(
            h(Product::Pbs, "", "root@pam!pulse"),
            "PBSAPIToken=root@pam!pulse:sec-ret"
        );
        assert_eq!(
            h(Product::Pmg, "", "root@pam!pulse"),
            "PMGAPIToken=root@pam!pulse:sec-ret"
        );
        assert_eq!(
            h(Product::Pbs, "backup", "mon"),
            "PBSAPIToken=backup@pbs!mon:sec-ret"
        );
        assert_eq!(
            h(Product::Pmg, "admin", "mon"),
            "PMGAPIToken=admin@pmg!mon:sec-ret"
        );
        assert!(token_header(&cfg(Product::Pve, "", "pulse")).is_err());
    }

    #[test]
    fn login_user_gets_default_realm() {
        let mut c = ClientConfig::new(Product::Pve, "h");
        c.user = "root".into();
        assert_eq!(login_username(&c), "root@pam");
        c.product = Product::Pmg;
        assert_eq!(login_username(&c), "root@pmg");
        c.user = "ops@pve".into();
        assert_eq!(login_username(&c), "ops@pve");
    }

    #[test]
    fn renewal_happens_before_expiry() {
        let t0 = Instant::now();
        let s = Session::new("t".into(), None, t0, Duration::from_secs(7200));
        assert!(!s.needs_renewal(t0 + Duration::from_secs(6000)));
        assert!(s.needs_renewal(t0 + Duration::from_secs(6900)));
        assert!(s.needs_renewal(t0 + Duration::from_secs(9000)));
    }

    #[test]
    fn form_escaping() {
        assert_eq!(form_escape("a b&c=d@e!"), "a+b%26c%3Dd%40e%21");
    }
}
