//! Who is the client? The TCP peer, unless the peer is a reverse proxy listed in
//! `PULSE_TRUSTED_PROXY_CIDRS`: only then are `X-Forwarded-For` / `X-Real-IP` believed.
//! Rate limits, lockout and audit all key on this address, so a header from anyone else
//! must never change it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `fd00::/8`, or a bare address = one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR or IP address {:?}", self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let err = || CidrError(s.to_string());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Cidr {
            network: mask(addr, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

/// `::ffff:10.0.0.1` (how a dual-stack socket reports IPv4 peers) → `10.0.0.1`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The identity rate limits and lockouts count against: the address itself for IPv4, the
/// /64 network for IPv6 (one subscriber usually owns a whole /64 and can rotate through it).
pub fn subject(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(_) => mask(canonical(ip), 64),
        v4 => v4,
    }
}

/// A comma-separated list of networks (`PULSE_TRUSTED_PROXY_CIDRS`,
/// `PULSE_TRUSTED_NETWORKS`). Empty means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<Cidr>);

impl CidrList {
    /// Parses the whole list; one bad entry is an error naming it, not a silent skip (a typo
    /// in a trust list should be loud).
    pub fn parse(list: &str) -> Result<CidrList, CidrError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(CidrList)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client address for a request from `peer`.
///
/// When `peer` is a trusted proxy, `X-Forwarded-For` is read **right to left**, skipping
/// trusted proxies: the first untrusted hop is the client. (Pulse takes the leftmost entry,
/// which the client itself can write.) Without a usable `X-Forwarded-For`, `X-Real-IP` is
/// used; without either, the peer.
pub fn client_ip(
    peer: IpAddr,
    x_forwarded_for: Option<&str>,
    x_real_ip: Option<&str>,
    trusted_proxies: &CidrList,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted_proxies.contains(peer) {
        return peer;
    }
    if let Some(xff) = x_forwarded_for {
        let hops: Vec<IpAddr> = xff.split(',').filter_map(parse_hop).collect();
        if let Some(client) = hops.iter().rev().find(|ip| !trusted_proxies.contains(**ip)) {
            return *client;
        }
        // Every hop is a trusted proxy: the leftmost is the closest thing to a client.
        if let Some(first) = hops.first() {
            return *first;
        }
    }
    x_real_ip.and_then(parse_hop).unwrap_or(peer)
}

/// One address from a forwarding header: tolerates spaces, `[v6]:port` and `v4:port`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(a, _)| a.parse().ok())
            .map(canonical);
    }
    s.rsplit_once(':')
        .and_then(|(a, _)| a.parse::<Ipv4Addr>().ok())
        .map(IpAddr::V4)
}

/// Loopback, link-local, RFC 1918 and IPv6 unique-local addresses: "private network" for
/// the security status and the unprotected-export rule.
pub fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || (first & 0xfe00) == 0xfc00 // fc00::/7
                || (first & 0xffc0) == 0xfe80 // fe80::/10
                || (first & 0xff0f) == 0xff02 // link-local multicast
        }
    }
}

/// The request came straight from this machine: loopback peer and no forwarding headers
/// (a local reverse proxy does not count). Recovery endpoints require this.
pub fn is_direct_loopback(peer: IpAddr, has_forwarding_headers: bool) -> bool {
    canonical(peer).is_loopback() && !has_forwarding_headers
}

/// Whether a `Host` header names this machine by a loopback name (`localhost`,
/// `127.x.x.x`, `[::1]`, with or without a port). A browser tricked by DNS rebinding sends
/// the attacker's hostname instead.
pub fn is_local_host_header(host: &str) -> bool {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| canonical(ip).is_loopback())
}

/// Whether a browser marked the request as coming from another site: `Sec-Fetch-Site`
/// says so, or `Origin` names a different host than `Host`.
pub fn is_cross_site(
    host: Option<&str>,
    origin: Option<&str>,
    sec_fetch_site: Option<&str>,
) -> bool {
    if sec_fetch_site.is_some_and(|s| {
        let s = s.trim();
        s.eq_ignore_ascii_case("cross-site") || s.eq_ignore_ascii_case("same-site")
    }) {
        return true;
    }
    match origin {
        None => false,
        Some(o) => {
            let authority = o
                .trim()
                .split_once("://")
                .map(|(_, a)| a.trim_end_matches('/'));
            !matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h.trim()))
        }
    }
}

/// Request headers that show a proxy in between (lower-case names).
pub const FORWARDING_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "x-forwarded-host",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(
            c.contains(ip("::ffff:10.1.1.1")),
            "IPv4-mapped peers match IPv4 networks"
        );
        let host = Cidr::parse("192.168.1.10").unwrap();
        assert!(host.contains(ip("192.168.1.10")) && !host.contains(ip("192.168.1.11")));
        let v6 = Cidr::parse("fd00:1234::/32").unwrap();
        assert!(v6.contains(ip("fd00:1234:ffff::1")));
        assert!(!v6.contains(ip("fd00:1235::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "nonsense",
            "10.0.0.0/x",
            "10.0.0/8",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            CidrList::parse("10.0.0.0/8, bogus").unwrap_err(),
            CidrError("bogus".into())
        );
        assert!(CidrList::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn local_host_headers_and_cross_site_requests() {
        for h in [
            "localhost",
            "localhost:7655",
            "127.0.0.1:7655",
            "127.1.2.3",
            "[::1]:7655",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_local_host_header(h), "{h}");
        }
        for h in [
            "evil.example:7655",
            "192.168.1.5:7655",
            "localhost.evil.example",
            "[2001:db8::1]:7655",
            "",
        ] {
            assert!(!is_local_host_header(h), "{h}");
        }
        let host = Some("127.0.0.1:7655");
        assert!(!is_cross_site(host, None, None), "curl sends neither");
        assert!(!is_cross_site(
            host,
            Some("http://127.0.0.1:7655"),
            Some("same-origin")
        ));
        assert!(!is_cross_site(host, None, Some("none")));
        assert!(is_cross_site(host, Some("https://evil.example"), None));
        assert!(is_cross_site(host, Some("null"), None));
        assert!(is_cross_site(host, None, Some("cross-site")));
        assert!(is_cross_site(host, None, Some("same-site")));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            subject(ip("2001:db8:1:2:aaaa::1")),
            subject(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            subject(ip("2001:db8:1:2::1")),
            subject(ip("2001:db8:1:3::1"))
        );
        assert_eq!(subject(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(subject(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn headers_ignored_from_untrusted_peers() {
        let trusted = CidrList::parse("172.18.0.0/16").unwrap();
        let peer = ip("203.0.113.9");
        assert_eq!(
            client_ip(peer, Some("1.2.3.4"), Some("5.6.7.8"), &trusted),
            peer
        );
        assert_eq!(
            client_ip(peer, Some("1.2.3.4"), None, &CidrList::default()),
            peer
        );
    }

    #[test]
    fn trusted_proxy_forwarded_for_is_read_right_to_left() {
        let trusted = CidrList::parse("172.18.0.0/16,10.0.0.1").unwrap();
        let proxy = ip("172.18.0.2");
        // The client forged the leftmost entry; the proxy appended the real address.
        assert_eq!(
            client_ip(proxy, Some("6.6.6.6, 198.51.100.4"), None, &trusted),
            ip("198.51.100.4")
        );
        // Chained trusted proxies are skipped.
        assert_eq!(
            client_ip(proxy, Some("198.51.100.4, 10.0.0.1"), None, &trusted),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_ip(proxy, None, Some("198.51.100.5"), &trusted),
            ip("198.51.100.5")
        );
        assert_eq!(
            client_ip(proxy, Some("garbage"), Some("198.51.100.5"), &trusted),
            ip("198.51.100.5")
        );
        assert_eq!(
            client_ip(proxy, Some("[2001:db8::7]:443"), None, &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(proxy, Some("198.51.100.6:5555"), None, &trusted),
            ip("198.51.100.6")
        );
        assert_eq!(client_ip(proxy, None, None, &trusted), proxy);
        assert_eq!(
            client_ip(
                ip("::ffff:172.18.0.2"),
                Some("198.51.100.4"),
                None,
                &trusted
            ),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn private_and_loopback_classification() {
        for p in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.1.1",
            "::1",
            "fd12::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private(ip(p)), "{p}");
        }
        for p in [
            "8.8.8.8",
            "172.32.0.1",
            "100.64.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip(p)), "{p}");
        }
        assert!(is_direct_loopback(ip("127.0.0.1"), false));
        assert!(is_direct_loopback(ip("::1"), false));
        assert!(is_direct_loopback(ip("::ffff:127.0.0.1"), false));
        assert!(
            !is_direct_loopback(ip("127.0.0.1"), true),
            "a local proxy is not the local user"
        );
        assert!(!is_direct_loopback(ip("10.0.0.1"), false));
    }
}
