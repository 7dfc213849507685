//! What a client needs to reach one Proxmox instance, and the URL rules Pulse applies to
//! whatever the user typed (`pve1`, `10.0.0.5:8006`, `https://[fd00::5]`, ...).

use super::error::ProxmoxError;
use std::fmt;
use std::time::Duration;

pub use pulse_wire::Product;

/// Connection settings for one instance, shared by the three clients.
///
/// Strings are empty when unset, as in Pulse's configuration files. Either `token_name` +
/// `token_value` or `user` + `password` must be set.
#[derive(Clone)]
pub struct ClientConfig {
    pub product: Product,
    /// Host as configured: name, IP, `host:port` or full URL.
    pub host: String,
    /// `user@realm` (realm added when missing).
    pub user: String,
    pub password: String,
    /// `user@realm!tokenid`, or just `tokenid` (then `user` supplies `user@realm`).
    pub token_name: String,
    pub token_value: String,
    pub verify_ssl: bool,
    /// SHA-256 of the server's leaf certificate; when set it is the only accepted certificate.
    pub fingerprint: Option<String>,
    /// Whole-request budget (connect + TLS + headers + body). Pulse's `CONNECTION_TIMEOUT`.
    pub timeout: Duration,
    /// Other members of a PVE cluster (hosts or URLs) to fail over to.
    pub cluster_endpoints: Vec<String>,
    /// Responses above this size are refused with [`ProxmoxError::TooLarge`].
    pub max_response_bytes: u64,
}

impl ClientConfig {
    /// A config with Pulse's defaults: verify TLS, 45 s timeout, 64 MiB response cap.
    pub fn new(product: Product, host: impl Into<String>) -> ClientConfig {
        ClientConfig {
            product,
            host: host.into(),
            user: String::new(),
            password: String::new(),
            token_name: String::new(),
            token_value: String::new(),
            verify_ssl: true,
            fingerprint: None,
            timeout: Duration::from_secs(45),
            cluster_endpoints: Vec::new(),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }

    /// True when API-token auth is configured (it wins over a password).
    pub fn uses_token(&self) -> bool {
        !self.token_name.is_empty() && !self.token_value.is_empty()
    }
}

/// Secrets stay out of logs and panic messages.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("ClientConfig")
            .field("product", &self.product)
            .field("host", &self.host)
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("token_name", &self.token_name)
            .field("token_value", &redact(&self.token_value))
            .field("verify_ssl", &self.verify_ssl)
            .field("fingerprint", &self.fingerprint)
            .field("timeout", &self.timeout)
            .field("cluster_endpoints", &self.cluster_endpoints)
            .finish()
    }
}

/// `<scheme>://<host>:<port>` for whatever the user typed: `https://` and the product's
/// default port are added when missing, a trailing `/api2/json` or `/` is dropped, and bare
/// IPv6 literals are bracketed.
pub fn normalize_origin(host: &str, product: Product) -> Result<String, ProxmoxError> {
    let raw = host.trim();
    if raw.is_empty() {
        return Err(ProxmoxError::Config("host is empty".into()));
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("https".to_string(), raw),
    };
    if scheme != "https" && scheme != "http" {
        return Err(ProxmoxError::Config(format!(
            "unsupported scheme {scheme:?}"
        )));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let (host_part, port) = split_authority(authority)?;
    if host_part.is_empty() {
        return Err(ProxmoxError::Config(format!("no host in {raw:?}")));
    }
    let port = port.unwrap_or(product.default_port());
    let host_fmt = if host_part.contains(':') {
        format!("[{host_part}]")
    } else {
        host_part.to_string()
    };
    Ok(format!("{scheme}://{host_fmt}:{port}"))
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare `v6` literal.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), ProxmoxError> {
    let bad_port = |p: &str| ProxmoxError::Config(format!("invalid port {p:?}"));
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| ProxmoxError::Config(format!("unclosed '[' in {authority:?}")))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((h, Some(p.parse().map_err(|_| bad_port(p))?))),
            None if after.is_empty() => Ok((h, None)),
            None => Err(ProxmoxError::Config(format!(
                "junk after ']' in {authority:?}"
            ))),
        };
    }
    match authority.matches(':').count() {
        0 => Ok((authority, None)),
        1 => {
            let (h, p) = authority.split_once(':').unwrap_or((authority, ""));
            Ok((h, Some(p.parse().map_err(|_| bad_port(p))?)))
        }
        // More than one colon and no brackets: a bare IPv6 literal, no port possible.
        _ => Ok((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(h: &str, p: Product) -> String {
        normalize_origin(h, p).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn adds_scheme_and_default_port() {
        assert_eq!(origin("pve1", Product::Pve), "https://pve1:8006");
        assert_eq!(origin("pbs.lan", Product::Pbs), "https://pbs.lan:8007");
        assert_eq!(origin("pmg", Product::Pmg), "https://pmg:8006");
        assert_eq!(
            origin("10.0.0.5:9000", Product::Pve),
            "https://10.0.0.5:9000"
        );
        assert_eq!(origin("http://h:80/", Product::Pve), "http://h:80");
        assert_eq!(
            origin("HTTPS://h/api2/json", Product::Pbs),
            "https://h:8007"
        );
    }

    #[test]
    fn ipv6_literals() {
        assert_eq!(origin("fd00::5", Product::Pve), "https://[fd00::5]:8006");
        assert_eq!(origin("[fd00::5]", Product::Pve), "https://[fd00::5]:8006");
        assert_eq!(
            origin("https://[::1]:8443", Product::Pve),
            "https://[::1]:8443"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(normalize_origin("", Product::Pve).is_err());
        assert!(normalize_origin("ftp://h", Product::Pve).is_err());
        assert!(normalize_origin("h:notaport", Product::Pve).is_err());
        assert!(normalize_origin("[::1", Product::Pve).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let mut c = ClientConfig::new(Product::Pve, "h");
        c.password = "hunter2".into();
        c.token_value = "s3cret".into();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("s3cret"));
    }
}
