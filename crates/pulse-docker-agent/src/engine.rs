//! A minimal HTTP/1.1 client for the Docker Engine API over its unix socket (Podman's
//! compatible socket too): one `GET` per connection (`Connection: close`), the body read to
//! the end, chunked transfer decoding. No HTTP crate: the socket is local and the API small.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
const TIMEOUT: Duration = Duration::from_secs(20);
/// Engine answers bigger than this are refused (a container list of thousands is ~10 MiB).
const MAX_BODY: usize = 64 << 20;

pub struct Engine {
    pub socket: String,
}

impl Engine {
    /// `unix:///run/podman/podman.sock`, `/var/run/docker.sock` or nothing (the default).
    pub fn new(socket: Option<&str>) -> Result<Engine, String> {
        let s = socket.unwrap_or(DEFAULT_SOCKET);
        let path = s.strip_prefix("unix://").unwrap_or(s);
        if path.contains("://") {
            return Err(format!("only unix sockets are supported, not {s:?}"));
        }
        Ok(Engine {
            socket: path.to_string(),
        })
    }

    /// `GET path` → parsed JSON; a non-2xx status is an error naming it.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let (status, body) = self.raw_get(path)?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "Engine API {path}: status {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("Engine API {path}: {e}"))
    }

    fn raw_get(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let mut s = UnixStream::connect(&self.socket)
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket))?;
        s.set_read_timeout(Some(TIMEOUT)).ok();
        s.set_write_timeout(Some(TIMEOUT)).ok();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: pulse-docker-agent\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.take(MAX_BODY as u64 + 65_536)
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading {path}: {e}"))?;
        parse_response(&buf).ok_or_else(|| format!("Engine API {path}: malformed HTTP response"))
    }
}

/// Status and body of a complete HTTP/1.x response.
pub fn parse_response(buf: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        let (k, v) = l.split_once(':')?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse().ok();
        }
    }
    let body = &buf[end + 4..];
    if chunked {
        return Some((status, dechunk(body)?));
    }
    let body = match length {
        Some(n) => body.get(..n)?.to_vec(),
        None => body.to_vec(),
    };
    Some((status, body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if out.len() + size > MAX_BODY {
            return None;
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_bodies() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!(r, (200, b"{}".to_vec()));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.1, b"[1,2]".to_vec());
        assert!(parse_response(b"garbage").is_none());
    }
}
