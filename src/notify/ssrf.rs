//! Where a webhook (or an Apprise server) may point. Pulse checks the URL's text only; we also
//! check every address the host resolves to right before each request, so a name that points
//! at `127.0.0.1` or the cloud metadata service is refused as well. Refused: loopback,
//! link-local (which holds `169.254.169.254`), unspecified and metadata names, unless the
//! address is inside a CIDR the admin allowed (`webhookAllowedCIDRs` /
//! `PULSE_WEBHOOK_ALLOWED_CIDRS`, e.g. `127.0.0.0/8` for an ntfy on the same host). Private
//! LAN ranges are allowed, as in Pulse: a self-hosted Gotify on the LAN is the common case.

use crate::auth::client_ip::{canonical, CidrList};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

const METADATA_NAMES: [&str; 3] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.internal",
];

/// The parts of an `http(s)` URL we check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

/// Parses `http(s)://[user@]host[:port][/…]`; anything else is refused with a reason.
pub fn parse(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("webhook URL must start with http:// or https://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return Err("webhook URL must use http or https".into()),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("bad IPv6 host")?;
        let port = after.strip_prefix(':').unwrap_or("");
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '{') {
        return Err("webhook URL must name a host".into());
    }
    let port = if port.is_empty() {
        if https {
            443
        } else {
            80
        }
    } else {
        port.parse().map_err(|_| "bad port in webhook URL")?
    };
    Ok(Target {
        https,
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// Whether `ip` is private to this host or the cloud's metadata service.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The checks that need no DNS (at save time): scheme, host, literal addresses, names.
pub fn check_url(url: &str, allowed: &CidrList) -> Result<Target, String> {
    let t = parse(url)?;
    let name = t.host.trim_end_matches('.');
    let local_name = name == "localhost" || name.ends_with(".localhost");
    let loopback_allowed = allowed.contains(IpAddr::from([127, 0, 0, 1]));
    if METADATA_NAMES.contains(&name) || (local_name && !loopback_allowed) {
        return Err(format!(
            "webhook URL host {name} is not allowed (SSRF protection)"
        ));
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        check_ip(ip, allowed)?;
    }
    Ok(t)
}

fn check_ip(ip: IpAddr, allowed: &CidrList) -> Result<(), String> {
    if forbidden_ip(ip) && !allowed.contains(canonical(ip)) {
        return Err(format!(
            "webhook target {ip} is a loopback, link-local or metadata address (SSRF protection; \
             allow it with webhookAllowedCIDRs)"
        ));
    }
    Ok(())
}

/// Before a request (blocking DNS, notifier side only): every address the host resolves to
/// must pass. Returns the addresses.
pub fn check_resolved(url: &str, allowed: &CidrList) -> Result<Vec<SocketAddr>, String> {
    let t = check_url(url, allowed)?;
    let addrs: Vec<SocketAddr> = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("cannot resolve {}", t.host));
    }
    for a in &addrs {
        check_ip(a.ip(), allowed)?;
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_targets_unless_allowed() {
        let none = CidrList::default();
        for bad in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:80/",
            "http://metadata.google.internal/",
            "http://[fe80::1]/",
            "ftp://example.com/",
            "http:///nohost",
            "http://0.0.0.0/",
        ] {
            assert!(check_url(bad, &none).is_err(), "{bad}");
        }
        assert!(check_url("https://discord.com/api/webhooks/1/2", &none).is_ok());
        assert!(check_url("http://192.168.1.5:8080/message", &none).is_ok());
        let lo = CidrList::parse("127.0.0.0/8").unwrap();
        assert!(check_url("http://127.0.0.1:8080/x", &lo).is_ok());
        assert!(check_url("http://169.254.169.254/", &lo).is_err());
        assert!(check_resolved("http://localhost:1/", &none).is_err());
        assert_eq!(parse("https://h:8443/p?q").unwrap().port, 8443);
    }
}
