//! A deliberately small HTTP/1.1 implementation for the simulator: request heads up to
//! 64 KiB, `Content-Length` bodies up to 1 MiB, keep-alive, no chunked uploads (Proxmox
//! clients never send them). Works over plain TCP and rustls streams alike.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// A started request must complete within this time.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Path without the query string, percent-decoding left to the router.
    pub path: String,
    pub query: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_param(&self.query, name)
    }
}

/// A value from `a=1&b=2` (query strings and form bodies), form-decoded.
pub fn form_param(s: &str, name: &str) -> Option<String> {
    s.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

/// `%XX` escapes decoded (a malformed one stays as it is); `+` stays a plus, as in paths and
/// cookie values. Invalid UTF-8 is replaced, never refused: the simulator answers whatever
/// route that leaves.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Query strings and form bodies: `+` is a space, `%2B` a plus.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Proxmox puts its error message into the reason phrase.
    pub reason: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// True once `body` holds gzip data (`Content-Encoding: gzip`).
    pub gzipped: bool,
}

impl Response {
    /// `{"data": <value>}` with status 200.
    pub fn data(value: serde_json::Value) -> Response {
        let body = serde_json::json!({ "data": value })
            .to_string()
            .into_bytes();
        Response {
            status: 200,
            reason: "OK".into(),
            content_type: JSON,
            body,
            gzipped: false,
        }
    }

    /// An error as pveproxy sends it: the message in the status line and again in the body
    /// (`{"data":null,"message":"...\n"}`).
    pub fn error(status: u16, reason: &str) -> Response {
        let body = serde_json::json!({ "data": null, "message": format!("{reason}\n") });
        Response {
            status,
            reason: reason.to_string(),
            content_type: JSON,
            body: body.to_string().into_bytes(),
            gzipped: false,
        }
    }

    /// Plain JSON without the envelope (simulator admin endpoints).
    pub fn raw_json(status: u16, value: serde_json::Value) -> Response {
        Response {
            status,
            reason: "OK".into(),
            content_type: JSON,
            body: value.to_string().into_bytes(),
            gzipped: false,
        }
    }

    /// `server` is the product's API daemon name, which discovery uses to tell them apart.
    pub fn head_bytes(&self, keep_alive: bool, server: &str) -> Vec<u8> {
        let reason: String = self.reason.chars().filter(|c| !c.is_control()).collect();
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: {}\r\nServer: {}\r\n\r\n",
            self.status,
            reason,
            self.content_type,
            self.body.len(),
            if self.gzipped { "Content-Encoding: gzip\r\n" } else { "" },
            if keep_alive { "Keep-Alive" } else { "close" },
            server
        )
        .into_bytes()
    }

    /// Compresses bodies above 1 KiB when the client accepts gzip, as pveproxy does.
    pub fn gzip_if_accepted(mut self, req: &Request) -> Response {
        let accepts = req
            .header("accept-encoding")
            .is_some_and(|v| v.contains("gzip"));
        if !accepts || self.gzipped || self.body.len() < 1024 {
            return self;
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if enc.write_all(&self.body).is_ok() {
            if let Ok(out) = enc.finish() {
                self.body = out;
                self.gzipped = true;
            }
        }
        self
    }
}

pub const JSON: &str = "application/json;charset=UTF-8";

/// Reads the next request. `Ok(None)` means the peer closed, the connection idled past
/// `idle`, the simulator is stopping, or (between requests only) `yield_idle` asks idle
/// keep-alive connections to make room for new ones. `buf` carries pipelined bytes between
/// calls. The stream must have a short read timeout so the flags are noticed.
pub fn read_request<S: Read>(
    s: &mut S,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
    yield_idle: &AtomicBool,
    idle: Duration,
) -> io::Result<Option<Request>> {
    let waiting_since = Instant::now();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        // A TLS ClientHello or other binary on the plain port: fail now, not at the deadline.
        if buf.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an HTTP request",
            ));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        match s.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {
                let limit = if buf.is_empty() {
                    idle
                } else {
                    REQUEST_DEADLINE
                };
                let yield_now = buf.is_empty() && yield_idle.load(Ordering::Relaxed);
                if stop.load(Ordering::Relaxed) || yield_now || waiting_since.elapsed() > limit {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or_default().to_string();
    if method.is_empty() || !target.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    }
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "request body too large",
        ));
    }
    let conn = header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep_alive = if version == "HTTP/1.0" {
        conn == "keep-alive"
    } else {
        conn != "close"
    };
    buf.drain(..head_end + 4);
    while buf.len() < len {
        match s.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::Relaxed) || waiting_since.elapsed() > REQUEST_DEADLINE {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Ok(Some(Request {
        method,
        path,
        query,
        headers,
        body,
        keep_alive,
    }))
}

pub fn write_response<S: Write>(
    s: &mut S,
    resp: &Response,
    keep_alive: bool,
    server: &str,
) -> io::Result<()> {
    let mut out = resp.head_bytes(keep_alive, server);
    out.extend_from_slice(&resp.body);
    s.write_all(&out)?;
    s.flush()
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_requests_with_bodies() {
        let raw = b"POST /api2/json/access/ticket?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
        let mut src = &raw[..];
        let mut buf = Vec::new();
        let stop = AtomicBool::new(false);
        let r = read_request(&mut src, &mut buf, &stop, &stop, Duration::from_secs(1))
            .ok()
            .flatten();
        let r = r.unwrap_or_default();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("POST", "/api2/json/access/ticket", "x=1")
        );
        assert_eq!(r.body, b"abc");
        assert!(r.keep_alive);
        let r2 = read_request(&mut src, &mut buf, &stop, &stop, Duration::from_secs(1))
            .ok()
            .flatten();
        let r2 = r2.unwrap_or_default();
        assert_eq!(r2.path, "/b");
        assert!(!r2.keep_alive);
        assert!(
            read_request(&mut src, &mut buf, &stop, &stop, Duration::from_secs(1))
                .ok()
                .flatten()
                .is_none()
        );
    }

    #[test]
    fn rejects_garbage() {
        let mut src = &b"\x16\x03\x01 junk\r\n\r\n"[..];
        let mut buf = Vec::new();
        let stop = AtomicBool::new(false);
        assert!(read_request(&mut src, &mut buf, &stop, &stop, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn form_params_decode() {
        assert_eq!(
            form_param("username=root%40pam&password=a+b", "password").as_deref(),
            Some("a b")
        );
        assert_eq!(form_param("a=1", "b"), None);
    }

    #[test]
    fn plus_is_a_space_only_in_forms() {
        assert_eq!(percent_decode("vm+100%2Fa"), "vm+100/a");
        assert_eq!(form_decode("a+b%2Bc"), "a b+c");
        // A malformed escape is kept as it is.
        assert_eq!(percent_decode("100%zz"), "100%zz");
    }
}
