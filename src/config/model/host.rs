//! Validation and normalisation of node addresses: `https://<host>:<port>` with a real host name
//! or IP literal and a port in range. One function, used by node add/update, auto-registration and
//! setup codes, so the same host always compares equal.

use crate::config::error::ConfigError;
use crate::config::model::nodes::NodeType;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Normalises `raw` to `scheme://host:port`: adds `https://` when no scheme is given and the
/// type's default port when none is given; rejects paths, credentials, bad names and bad ports.
pub fn normalize_host(node_type: NodeType, raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let invalid = |why: &str| ConfigError::Invalid(format!("Invalid host {raw:?}: {why}"));
    if raw.is_empty() {
        return Err(ConfigError::Invalid("Host is required".to_string()));
    }
    if raw.len() > 300 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace or is too long"));
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") => ("https", r),
        Some((s, r)) if s.eq_ignore_ascii_case("http") => ("http", r),
        Some(_) => return Err(invalid("only http:// and https:// are supported")),
        None => ("https", raw),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(invalid("must not contain a path"));
    }
    if authority.contains('@') {
        return Err(invalid(
            "must not contain credentials; use the user and password fields",
        ));
    }
    let (host, port) = split_host_port(authority).map_err(|why| invalid(&why))?;
    let port = match port {
        None => node_type.default_port(),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(invalid("port must be a number between 1 and 65535")),
        },
    };
    Ok(format!("{scheme}://{host}:{port}"))
}

/// Splits `host[:port]`, `[v6][:port]` or a bare IPv6 literal; returns the host ready to print in
/// a URL (IPv6 bracketed).
fn split_host_port(authority: &str) -> Result<(String, Option<&str>), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (addr, after) = inner.split_once(']').ok_or("unterminated IPv6 literal")?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or("unexpected text after IPv6 literal")?,
            ),
        };
        return Ok((format!("[{addr}]"), port));
    }
    if authority.matches(':').count() > 1 {
        let addr: Ipv6Addr = authority
            .parse()
            .map_err(|_| "not a valid IPv6 address".to_string())?;
        return Ok((format!("[{addr}]"), None));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.parse::<Ipv4Addr>().is_err() && !is_hostname(host) {
        return Err(format!("{host:?} is not a valid IP address or host name"));
    }
    Ok((host.to_string(), port))
}

fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        // All-numeric dotted names are malformed IPv4 addresses, not host names.
        && !s.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// The host part of an http(s) URL, for URLs that are not node addresses (guest console URLs,
/// the Pulse URL in setup scripts). `None` unless the scheme is http(s) and a host is present.
pub fn http_url_host(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    (!host.is_empty() && !url.chars().any(|c| c.is_control() || c.is_whitespace())).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let pve = |s| normalize_host(NodeType::Pve, s);
        assert_eq!(pve("10.0.0.1").unwrap(), "https://10.0.0.1:8006");
        assert_eq!(pve("https://pve.lan/").unwrap(), "https://pve.lan:8006");
        assert_eq!(pve("HTTP://pve.lan:80").unwrap(), "http://pve.lan:80");
        assert_eq!(pve("[fe80::1]:8443").unwrap(), "https://[fe80::1]:8443");
        assert_eq!(pve("fe80::1").unwrap(), "https://[fe80::1]:8006");
        assert_eq!(
            normalize_host(NodeType::Pbs, "pbs").unwrap(),
            "https://pbs:8007"
        );
        assert_eq!(
            normalize_host(NodeType::Pmg, "mail.example.com").unwrap(),
            "https://mail.example.com:8006"
        );
    }

    #[test]
    fn rejects_with_reasons() {
        let err = |s| normalize_host(NodeType::Pve, s).unwrap_err().to_string();
        assert!(err("").contains("required"));
        assert!(err("10.0.0.1:0").contains("port"));
        assert!(err("10.0.0.1:70000").contains("port"));
        assert!(err("10.0.0.1:abc").contains("port"));
        assert!(err("ftp://x").contains("http"));
        assert!(err("https://x/api2").contains("path"));
        assert!(err("https://u:p@x").contains("credentials"));
        assert!(err("bad host").contains("whitespace"));
        assert!(err("999.1.1.1").contains("not a valid"));
        assert!(err("-x-.lan").contains("not a valid"));
        assert!(err("[::1").contains("IPv6"));
    }

    #[test]
    fn url_host() {
        assert_eq!(http_url_host("https://a.b:1/x?y"), Some("a.b"));
        assert_eq!(http_url_host("http://[::1]:7655"), Some("[::1]"));
        assert_eq!(http_url_host("javascript:alert(1)"), None);
        assert_eq!(http_url_host("https://"), None);
        assert_eq!(http_url_host("https://a\nb"), None);
    }
}
