//! An authenticated JSON call against one Proxmox origin: adds auth, renews the ticket (ahead
//! of expiry and once on a 401), maps statuses to typed errors, refuses HTML pages and
//! unwraps the `{"data": ...}` envelope. Blocking; owned by one worker at a time.

use super::auth::{self, Session};
use super::config::{normalize_origin, ClientConfig, Product};
use super::error::{excerpt, ProxmoxError};
use super::flex::Envelope;
use super::tls::TlsPolicy;
use super::transport::{describe_non_json, Http, Payload, RawResponse};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

enum Credentials {
    Token(String),
    Password(Option<Session>),
}

/// A client for one origin. PVE clusters hold one per member (see `cluster.rs`).
pub struct ApiClient {
    http: Http,
    cfg: ClientConfig,
    creds: Credentials,
}

impl ApiClient {
    /// Builds the client for `cfg.host`. No network I/O happens here.
    pub fn new(cfg: &ClientConfig) -> Result<ApiClient, ProxmoxError> {
        Self::for_host(cfg, &cfg.host)
    }

    /// Builds a client for another member `host` with `cfg`'s credentials and TLS settings.
    pub fn for_host(cfg: &ClientConfig, host: &str) -> Result<ApiClient, ProxmoxError> {
        let origin = normalize_origin(host, cfg.product)?;
        let policy = TlsPolicy::from_settings(cfg.verify_ssl, cfg.fingerprint.as_deref())?;
        let http = Http::new(origin, &policy, cfg.timeout, cfg.max_response_bytes)?;
        let creds = if cfg.uses_token() {
            Credentials::Token(auth::token_header(cfg)?)
        } else {
            Credentials::Password(None)
        };
        Ok(ApiClient {
            http,
            cfg: cfg.clone(),
            creds,
        })
    }

    pub fn origin(&self) -> &str {
        self.http.origin()
    }

    pub fn product(&self) -> Product {
        self.cfg.product
    }

    /// GET `path` (below `/api2/json`) and decode `data`; `null` data is an error.
    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, ProxmoxError> {
        self.get_opt(path, None)?
            .ok_or_else(|| ProxmoxError::Decode {
                path: strip_query(path).to_string(),
                msg: "data is null".into(),
            })
    }

    /// GET a list; `{"data": null}` is an empty list.
    pub fn get_list<T: DeserializeOwned>(&mut self, path: &str) -> Result<Vec<T>, ProxmoxError> {
        Ok(self.get_opt(path, None)?.unwrap_or_default())
    }

    /// GET with an explicit time budget (Pulse caps RRD and storage calls shorter).
    pub fn get_opt<T: DeserializeOwned>(
        &mut self,
        path: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<T>, ProxmoxError> {
        let resp = self.call("GET", path, None, timeout)?;
        decode(path, &resp)
    }

    /// POST a form (a write: carries the CSRF token with ticket auth) and decode `data`.
    pub fn post_form<T: DeserializeOwned>(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Option<T>, ProxmoxError> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", auth::form_escape(k), auth::form_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = self.call("POST", path, Some(body.into_bytes()), None)?;
        decode(path, &resp)
    }

    /// Sends with auth; on a 401 with ticket auth, logs in again and retries once.
    fn call(
        &mut self,
        method: &str,
        path: &str,
        form: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<RawResponse, ProxmoxError> {
        let mut relogged = false;
        loop {
            let fresh_login = self.ensure_session(Instant::now())?;
            let (header_name, header_value, csrf) = match &self.creds {
                Credentials::Token(h) => ("Authorization", h.clone(), None),
                Credentials::Password(Some(s)) => (
                    "Cookie",
                    s.cookie(self.cfg.product),
                    s.csrf().map(str::to_string),
                ),
                Credentials::Password(None) => {
                    return Err(ProxmoxError::Config("no session after login".into()));
                }
            };
            let mut headers: Vec<(&str, &str)> = vec![(header_name, header_value.as_str())];
            if method != "GET" {
                if let Some(c) = csrf.as_deref() {
                    headers.push(("CSRFPreventionToken", c));
                }
            }
            let payload = form.clone().map(|bytes| Payload {
                content_type: "application/x-www-form-urlencoded",
                bytes,
            });
            let full = format!("/api2/json{path}");
            let resp = self.http.send(method, &full, &headers, payload, timeout)?;
            let retry = resp.status == 401
                && !relogged
                && !fresh_login
                && matches!(self.creds, Credentials::Password(_));
            if retry {
                // The ticket expired early (server restart, shortened lifetime): one retry.
                self.creds = Credentials::Password(None);
                relogged = true;
                continue;
            }
            return check_status(self.cfg.product, path, resp);
        }
    }

    /// Logs in when there is no ticket or it is about to expire. Returns true if it did.
    fn ensure_session(&mut self, now: Instant) -> Result<bool, ProxmoxError> {
        let Credentials::Password(session) = &self.creds else {
            return Ok(false);
        };
        if session.as_ref().is_some_and(|s| !s.needs_renewal(now)) {
            return Ok(false);
        }
        let fresh = auth::login(&self.http, &self.cfg, now)?;
        self.creds = Credentials::Password(Some(fresh));
        Ok(true)
    }
}

/// Status → error, following Pulse: 401/403 are auth errors; 595 is "node unreachable" on
/// node paths and an auth failure elsewhere (the proxy could not authenticate).
fn check_status(
    product: Product,
    path: &str,
    resp: RawResponse,
) -> Result<RawResponse, ProxmoxError> {
    let status = resp.status;
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    if looks_like_html(&resp) {
        return Err(ProxmoxError::NotProxmox(describe_non_json(&resp)));
    }
    let text = error_text(status, &resp.body);
    match status {
        401 => Err(ProxmoxError::Auth {
            status,
            message: format!("authentication failed for {} ({text})", product.as_str()),
        }),
        403 => Err(ProxmoxError::Auth {
            status,
            message: format!("permission denied on {path}: check the token's privileges ({text})"),
        }),
        595 if product == Product::Pve && path.starts_with("/nodes/") => Err(ProxmoxError::Http {
            status,
            excerpt: format!("cannot access node resource ({text})"),
        }),
        595 => Err(ProxmoxError::Auth {
            status,
            message: text,
        }),
        _ => Err(ProxmoxError::Http {
            status,
            excerpt: text,
        }),
    }
}

/// A readable error text: Proxmox's `errors`/`message` if the body has them, the status's
/// meaning for the usual `{"data":null}` body, else the start of the body.
fn error_text(status: u16, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(errors) = v.get("errors").filter(|e| !e.is_null()) {
            return excerpt(errors.to_string().as_bytes(), 200);
        }
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return excerpt(m.as_bytes(), 200);
        }
        if v.get("data").is_some_and(|d| d.is_null()) {
            return status_meaning(status).to_string();
        }
    }
    excerpt(body, 200)
}

fn status_meaning(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not found",
        408 => "request timeout",
        429 => "too many requests",
        500 => "internal server error",
        501 => "not implemented",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        595 => "no route to node",
        _ => "error",
    }
}

fn looks_like_html(resp: &RawResponse) -> bool {
    let ct_html = resp
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("html"));
    let first = resp.body.iter().find(|b| !b.is_ascii_whitespace());
    ct_html || first == Some(&b'<')
}

fn decode<T: DeserializeOwned>(path: &str, resp: &RawResponse) -> Result<Option<T>, ProxmoxError> {
    if looks_like_html(resp) {
        return Err(ProxmoxError::NotProxmox(describe_non_json(resp)));
    }
    let env: Envelope<T> =
        serde_json::from_slice(&resp.body).map_err(|e| ProxmoxError::Decode {
            path: strip_query(path).to_string(),
            msg: e.to_string(),
        })?;
    Ok(env.data)
}

fn strip_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Percent-encodes one path segment or query value (node, storage, namespace names).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: Option<&str>, body: &str) -> RawResponse {
        RawResponse {
            status,
            content_type: ct.map(str::to_string),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let e = check_status(Product::Pve, "/nodes", resp(401, None, "")).err();
        assert!(matches!(e, Some(ProxmoxError::Auth { status: 401, .. })));
        let e = check_status(Product::Pve, "/nodes/n1/status", resp(595, None, "")).err();
        assert!(matches!(e, Some(ProxmoxError::Http { status: 595, .. })));
        let e = check_status(Product::Pve, "/version", resp(595, None, "")).err();
        assert!(matches!(e, Some(ProxmoxError::Auth { status: 595, .. })));
        let e = check_status(Product::Pbs, "/x", resp(500, None, "boom")).err();
        assert!(
            matches!(e, Some(ProxmoxError::Http { status: 500, ref excerpt }) if excerpt == "boom")
        );
    }

    #[test]
    fn html_pages_are_not_proxmox() {
        let r = resp(200, Some("text/html"), "<!DOCTYPE html><html>");
        assert!(matches!(
            decode::<u32>("/x", &r),
            Err(ProxmoxError::NotProxmox(_))
        ));
        let r = resp(404, None, "  <html>");
        assert!(matches!(
            check_status(Product::Pbs, "/x", r),
            Err(ProxmoxError::NotProxmox(_))
        ));
    }

    #[test]
    fn garbage_json_is_a_decode_error_with_path() {
        let r = resp(200, Some("application/json"), "{\"data\": [1, 2");
        match decode::<Vec<u32>>("/nodes?x=1", &r) {
            Err(ProxmoxError::Decode { path, .. }) => assert_eq!(path, "/nodes"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn encoding_segments() {
        assert_eq!(enc("pve-1.lan"), "pve-1.lan");
        assert_eq!(enc("a/b c"), "a%2Fb%20c");
    }
}
