//! Accepting connections: the listening socket, the caps on open connections (in total and
//! per peer address), the oldest-idle eviction that makes room, and the refusal.

use crate::auth::client_ip::{self, CidrList};
use crate::http::limits::Limits;
use crate::http::write;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Connections the kernel queues for us between two accepts. mio listens with 128: a burst
/// of connects overflowed that queue, and each dropped SYN cost its client a 1 s retry.
pub const BACKLOG: i32 = 1024;

/// Binds the listening socket (non-blocking, backlog [`BACKLOG`], `SO_REUSEADDR`).
pub fn bind(ip: IpAddr, port: u16) -> std::io::Result<mio::net::TcpListener> {
    let listener = mio::net::TcpListener::bind(SocketAddr::new(ip, port))?;
    // `listen` again on a listening socket only changes its backlog (Linux, BSDs).
    rustix::net::listen(&listener, BACKLOG)?;
    Ok(listener)
}

/// Open connections per peer address, against the limits.
pub struct Caps {
    limits: Limits,
    /// Addresses of trusted proxies: every client behind them shares the proxy's address,
    /// so the per-address cap does not apply to them (the total one does).
    exempt: CidrList,
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// Whether a new connection may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// Over the total cap: make room by closing idle keep-alive connections, or refuse.
    OverTotal,
    /// Over the per-address cap: refuse.
    OverPerAddress,
}

impl Caps {
    pub fn new(limits: Limits, exempt: CidrList) -> Caps {
        Caps {
            limits,
            exempt,
            per_ip: HashMap::new(),
            total: 0,
        }
    }

    pub fn admit(&self, ip: IpAddr) -> Admit {
        let ip = client_ip::canonical(ip);
        if !self.exempt.contains(ip)
            && self.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_connections_per_ip
        {
            return Admit::OverPerAddress;
        }
        if self.total >= self.limits.max_connections {
            return Admit::OverTotal;
        }
        Admit::Yes
    }

    pub fn add(&mut self, ip: IpAddr) {
        *self.per_ip.entry(client_ip::canonical(ip)).or_insert(0) += 1;
        self.total += 1;
    }

    pub fn remove(&mut self, ip: IpAddr) {
        let ip = client_ip::canonical(ip);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        self.total = self.total.saturating_sub(1);
    }

    pub fn total(&self) -> usize {
        self.total
    }
}

/// Closes a connection we will not serve, after one non-blocking attempt at a short 503.
pub fn refuse(mut stream: mio::net::TcpStream, why: &str) {
    let mut answer = write::error_response(503, why, &crate::http::headers::new_id());
    let _ = answer.write_to(&mut stream);
}

/// The connection that has been idle the longest, among `candidates` (token, idle since).
pub fn oldest_idle<T: Copy>(
    candidates: impl Iterator<Item = (T, std::time::Instant)>,
) -> Option<T> {
    candidates.min_by_key(|(_, since)| *since).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_per_address_total_and_exemption() {
        let limits = Limits {
            max_connections: 3,
            max_connections_per_ip: 2,
            ..Limits::default()
        };
        let mut caps = Caps::new(limits, CidrList::parse("10.0.0.1").unwrap());
        caps.add(ip("192.0.2.1"));
        caps.add(ip("::ffff:192.0.2.1"));
        assert_eq!(caps.admit(ip("192.0.2.1")), Admit::OverPerAddress);
        assert_eq!(caps.admit(ip("192.0.2.2")), Admit::Yes);
        caps.add(ip("10.0.0.1"));
        assert_eq!(caps.admit(ip("192.0.2.2")), Admit::OverTotal);
        caps.remove(ip("192.0.2.1"));
        assert_eq!(caps.admit(ip("192.0.2.1")), Admit::Yes);
        caps.add(ip("10.0.0.1"));
        // The proxy is over the per-address cap but exempt; the total still applies.
        assert_eq!(caps.admit(ip("10.0.0.1")), Admit::OverTotal);
        assert_eq!(caps.total(), 3);
    }

    #[test]
    fn evicts_the_longest_idle() {
        let t = Instant::now();
        let c = [
            (1, t + Duration::from_secs(5)),
            (2, t),
            (3, t + Duration::from_secs(1)),
        ];
        assert_eq!(oldest_idle(c.into_iter()), Some(2));
        assert_eq!(oldest_idle(std::iter::empty::<(u8, Instant)>()), None);
    }
}
