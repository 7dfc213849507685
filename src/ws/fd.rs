//! Taking over an upgraded connection's socket.
//!
//! tiny_http hands back an upgraded connection as an opaque blocking `Read + Write` box, which
//! cannot be polled, cannot time out, and cannot be read and written from two threads. The
//! socket underneath is ours, though: we find its descriptor by its addresses, `dup` it, make
//! the duplicate non-blocking and register it with the event loop. The box is kept (unused)
//! until the client goes, because dropping it shuts the socket down.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::io::{FromRawFd, RawFd};

/// Finds the descriptor of the TCP connection from `peer` to our port `local_port`.
pub fn find_socket_fd(peer: SocketAddr, local_port: u16) -> Option<RawFd> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<RawFd>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|p| p.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        if sock_addr(fd, true) == Some(peer)
            && sock_addr(fd, false).map(|a| a.port()) == Some(local_port)
        {
            return Some(fd);
        }
    }
    None
}

/// `getpeername` (peer = true) or `getsockname` for an IPv4/IPv6 socket.
fn sock_addr(fd: RawFd, peer: bool) -> Option<SocketAddr> {
    // SAFETY: the storage is large enough for any address family and `len` tells the kernel so.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let ptr = &mut storage as *mut libc::sockaddr_storage as *mut libc::sockaddr;
        let rc = if peer {
            libc::getpeername(fd, ptr, &mut len)
        } else {
            libc::getsockname(fd, ptr, &mut len)
        };
        if rc != 0 {
            return None;
        }
        match storage.ss_family as libc::c_int {
            libc::AF_INET => {
                let a = *(ptr as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)))
            }
            libc::AF_INET6 => {
                let a = *(ptr as *const libc::sockaddr_in6);
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                let ip = ip
                    .to_ipv4_mapped()
                    .map(std::net::IpAddr::V4)
                    .unwrap_or(ip.into());
                Some(SocketAddr::new(ip, u16::from_be(a.sin6_port)))
            }
            _ => None,
        }
    }
}

/// Kernel send buffer per WebSocket client. Linux would otherwise auto-tune it up to 4 MiB,
/// so a stalled client could pin megabytes of kernel memory; with a fixed size, a client that
/// stops reading blocks early and our own queue limits take over.
pub const SEND_BUFFER: libc::c_int = 256 * 1024;

/// A non-blocking duplicate of the connection's socket, with a bounded send buffer.
pub fn dup_nonblocking(fd: RawFd) -> std::io::Result<TcpStream> {
    // SAFETY: dup of a valid descriptor; the new descriptor is owned by the returned stream.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let stream = unsafe { TcpStream::from_raw_fd(new) };
    stream.set_nonblocking(true)?;
    // SAFETY: setsockopt with a correctly sized int on a descriptor the stream owns.
    unsafe {
        libc::setsockopt(
            new,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &SEND_BUFFER as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::io::AsRawFd;

    #[test]
    fn finds_the_accepted_socket_by_its_addresses() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server_side, peer) = l.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let fd = find_socket_fd(peer, port).expect("found");
        assert_eq!(fd, server_side.as_raw_fd());
        let dup = dup_nonblocking(fd).unwrap();
        assert_eq!(dup.peer_addr().unwrap(), peer);
    }
}
