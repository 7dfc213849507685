//! One request as the security layer sees it ([`RequestInfo`]) and the credentials it carries
//! ([`Credentials`]), read from its headers: the input of `guard::Security::authorize`.

use super::client_ip::{self, FORWARDING_HEADERS};
use super::cookies;
use super::csrf::CSRF_COOKIE;
use super::sessions::SESSION_COOKIE;
use std::net::IpAddr;

/// The credentials a request carries, read from its headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub api_token: Option<&'a str>,
    pub session: Option<&'a str>,
    pub csrf_header: Option<&'a str>,
    pub has_csrf_cookie: bool,
    pub recovery_token: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// `X-API-Token`, else `Authorization: Bearer …`; `pulse_session`/`pulse_csrf` cookies;
    /// `X-CSRF-Token`; `X-Recovery-Token`. `header` looks up a lower-case header name.
    pub fn from_headers(header: impl Fn(&str) -> Option<&'a str>) -> Credentials<'a> {
        let bearer = header("authorization").and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        let cookie = header("cookie").unwrap_or("");
        let non_empty = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
        Credentials {
            api_token: non_empty(header("x-api-token")).or(non_empty(bearer)),
            session: non_empty(cookies::cookie_value(cookie, SESSION_COOKIE)),
            csrf_header: non_empty(header("x-csrf-token")),
            has_csrf_cookie: non_empty(cookies::cookie_value(cookie, CSRF_COOKIE)).is_some(),
            recovery_token: non_empty(header("x-recovery-token")),
        }
    }
}

/// One request as the security layer sees it. `headers` have lower-case names.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Raw query string without `?` (names are checked, values never read).
    pub query: &'a str,
    pub peer: IpAddr,
    pub is_tls: bool,
    pub headers: &'a [(String, String)],
}

impl<'a> RequestInfo<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether cookies set on this response need `Secure`.
    pub fn is_https(&self) -> bool {
        cookies::request_is_https(
            self.is_tls,
            self.header("x-forwarded-proto"),
            self.header("forwarded"),
        )
    }

    /// Straight from this machine, and not a browser being steered by another site: a
    /// loopback peer, no proxy headers, a loopback `Host` (defeats DNS rebinding), and no
    /// cross-site `Origin`/`Sec-Fetch-Site`. Recovery mode and the recovery endpoint trust
    /// only such requests, so a web page open on the Pulse host cannot use them.
    pub fn is_direct_local(&self) -> bool {
        let has_forwarding = FORWARDING_HEADERS.iter().any(|h| self.header(h).is_some());
        let host = self.header("host");
        client_ip::is_direct_loopback(self.peer, has_forwarding)
            && host.is_none_or(client_ip::is_local_host_header)
            && !client_ip::is_cross_site(host, self.header("origin"), self.header("sec-fetch-site"))
    }
}
