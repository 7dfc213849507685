//! Responses on the wire: the head serialised once, the body written straight from where it
//! lives. A shared body (the `/api/state` snapshot or its gzip) is written from the shared
//! `Arc` with a per-connection offset, never copied per client — as the WebSocket writer does.

use crate::http::headers;
use crate::http::reply::{Body, Reply, SharedBody};
use std::io::{self, Write};
use std::sync::Arc;

/// The body part of an outgoing response.
pub enum OutBody {
    Empty,
    Owned(Vec<u8>),
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
    /// The shared body itself (a view into a buffer other readers hold too).
    SharedBytes(bytes::Bytes),
}

impl OutBody {
    fn bytes(&self) -> &[u8] {
        match self {
            OutBody::Empty => &[],
            OutBody::Owned(v) => v,
            OutBody::Static(s) => s,
            OutBody::Shared(a) => a,
            OutBody::SharedBytes(b) => b,
        }
    }
}

/// Bytes on their way to one connection, with progress.
pub struct Outgoing {
    head: Vec<u8>,
    body: OutBody,
    sent: usize,
}

/// What a write attempt achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Everything is written.
    Done,
    /// The socket is full; `wrote` says whether anything went out this time.
    Blocked { wrote: bool },
}

impl Outgoing {
    /// Raw bytes (the interim `100 Continue`, a best-effort 503 on refusal).
    pub fn raw(bytes: Vec<u8>) -> Outgoing {
        Outgoing {
            head: bytes,
            body: OutBody::Empty,
            sent: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.body.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_started(&self) -> bool {
        self.sent > 0
    }

    /// The unwritten rest (used to hand a 101 over to the WebSocket writer).
    pub fn remaining(&self) -> Vec<u8> {
        let mut all = self.head.clone();
        all.extend_from_slice(self.body.bytes());
        all.split_off(self.sent.min(all.len()))
    }

    /// Writes until done or the socket would block. Errors mean the peer is gone.
    pub fn write_to<W: Write>(&mut self, w: &mut W) -> io::Result<Progress> {
        let hlen = self.head.len();
        let total = self.len();
        let mut wrote = false;
        while self.sent < total {
            let result = if self.sent < hlen {
                // Head and body in one call: one syscall, and over TLS one record, so a
                // client reading once gets the whole of a small answer rather than the head
                // alone with the body following in a second packet.
                let bufs = [
                    io::IoSlice::new(&self.head[self.sent..]),
                    io::IoSlice::new(self.body.bytes()),
                ];
                w.write_vectored(&bufs)
            } else {
                w.write(&self.body.bytes()[self.sent - hlen..])
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Progress::Blocked { wrote })
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Progress::Done)
    }
}

/// What the connection knows about the request a reply answers.
#[derive(Debug, Clone)]
pub struct ReplyMeta {
    pub request_id: String,
    pub gzip_ok: bool,
    /// HEAD: the same headers as GET, no body.
    pub head_only: bool,
    /// false: `Connection: close` is sent and the connection closes after the answer.
    pub keep_alive: bool,
    /// An HTTP/1.0 client: keep-alive must be announced (`Connection: keep-alive`).
    pub http10: bool,
    /// Served over TLS: `Strict-Transport-Security` is added.
    pub tls: bool,
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        423 => "Locked",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Framing headers are ours to set; a handler's copy would contradict them.
fn is_framing_header(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &str) {
    // A CR or LF in a value would split the response: such a header is dropped.
    if name.bytes().any(|b| b == b'\r' || b == b'\n' || b == b':')
        || value.bytes().any(|b| b == b'\r' || b == b'\n')
    {
        return;
    }
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// Serialises a reply: status line, the handler's headers, `X-Request-ID`, `Server`, the
/// security headers, gzip when the client takes it, and the framing (`Content-Length`, and
/// `Connection: close` when the connection ends with this answer).
pub fn serialize(reply: Reply, meta: &ReplyMeta) -> Outgoing {
    let status = reply.status;
    let mut head = Vec::with_capacity(1024);
    head.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (k, v) in &reply.headers {
        if !is_framing_header(k) {
            push_header(&mut head, k, v);
        }
    }
    push_header(&mut head, "X-Request-ID", &meta.request_id);
    push_header(&mut head, "Server", "Pulse");
    for (k, v) in headers::SECURITY_HEADERS {
        if reply.get_header(k).is_none() {
            push_header(&mut head, k, v);
        }
    }
    if meta.tls {
        push_header(
            &mut head,
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        );
    }
    if status == 101 {
        // The upgrade's own Upgrade/Connection headers come from the handler.
        push_header(&mut head, "Upgrade", "websocket");
        push_header(&mut head, "Connection", "Upgrade");
        head.extend_from_slice(b"\r\n");
        return Outgoing::raw(head);
    }
    let content_type = reply.get_header("content-type").unwrap_or("");
    let compressible = crate::http::gzip::is_compressible(content_type);
    let compress = meta.gzip_ok
        && reply.body.as_slice().len() >= crate::http::gzip::MIN_SIZE
        && compressible
        && reply.get_header("content-encoding").is_none();
    if compressible {
        push_header(&mut head, "Vary", "Accept-Encoding");
    }
    // A shared body whose gzip is not ready yet goes out as it is: compressing here would
    // stall the loop (the app has a worker compute it for the next client).
    let shared_gz = match (&reply.body, compress) {
        (Body::Shared(s), true) => s.gzipped_if_ready(),
        _ => None,
    };
    let compress = compress && (shared_gz.is_some() || !matches!(reply.body, Body::Shared(_)));
    let body = match (reply.body, compress) {
        (Body::Shared(_), true) => OutBody::Shared(shared_gz.unwrap_or_else(|| Arc::from(&[][..]))),
        (body, true) => OutBody::Owned(crate::http::gzip::compress(body.as_slice())),
        (Body::Shared(s), false) => OutBody::SharedBytes(s.raw.clone()),
        (Body::Bytes(b), false) => OutBody::Owned(b),
        (Body::Static(s), false) => OutBody::Static(s),
        (Body::Empty, false) => OutBody::Empty,
    };
    if compress {
        push_header(&mut head, "Content-Encoding", "gzip");
    }
    let no_body_status = status == 204 || status == 304 || (100..200).contains(&status);
    if !no_body_status {
        push_header(&mut head, "Content-Length", &body.bytes().len().to_string());
    }
    if !meta.keep_alive {
        push_header(&mut head, "Connection", "close");
    } else if meta.http10 {
        push_header(&mut head, "Connection", "keep-alive");
    }
    head.extend_from_slice(b"\r\n");
    Outgoing {
        head,
        body: if meta.head_only || no_body_status {
            OutBody::Empty
        } else {
            body
        },
        sent: 0,
    }
}

/// Bodies at least this big are compressed on a worker, not on the loop.
pub const OFFLOAD_GZIP: usize = 16 * 1024;

/// How a reply's gzip should be produced before it can be written.
pub enum GzipPlan {
    /// Nothing to do on a worker: send as is (small, incompressible, or not wanted).
    Inline,
    /// A shared body whose gzip is not computed yet: a worker computes it once for every
    /// reader, then this reply is sent compressed (identity only when the pool is full).
    WarmShared(SharedBody),
    /// A big owned body: compress it on a worker, then send.
    Offload,
}

/// Decides where the compression of `reply` happens (see `GzipPlan`).
pub fn gzip_plan(reply: &Reply, gzip_ok: bool) -> GzipPlan {
    let content_type = reply.get_header("content-type").unwrap_or("");
    let wanted = gzip_ok
        && reply.status != 101
        && reply.body.as_slice().len() >= crate::http::gzip::MIN_SIZE
        && crate::http::gzip::is_compressible(content_type)
        && reply.get_header("content-encoding").is_none();
    if !wanted {
        return GzipPlan::Inline;
    }
    match &reply.body {
        Body::Shared(s) if s.gzipped_if_ready().is_none() => GzipPlan::WarmShared(s.clone()),
        Body::Shared(_) => GzipPlan::Inline,
        b if b.as_slice().len() >= OFFLOAD_GZIP => GzipPlan::Offload,
        _ => GzipPlan::Inline,
    }
}

/// Runs on a worker: the compressed reply, marked so `serialize` sends it as it is.
pub fn compress_reply(mut reply: Reply) -> Reply {
    let gz = crate::http::gzip::compress(reply.body.as_slice());
    reply.body = Body::Bytes(gz);
    reply
        .headers
        .push(("Content-Encoding".to_string(), "gzip".to_string()));
    reply
}

/// The JSON error answer for a request refused before it reached a handler (parse errors,
/// timeouts): `{"error": ...}` with the request id and security headers, then close.
pub fn error_response(status: u16, message: &str, request_id: &str) -> Outgoing {
    serialize(
        Reply::error(status, message),
        &ReplyMeta {
            request_id: request_id.to_string(),
            gzip_ok: false,
            head_only: false,
            keep_alive: false,
            http10: false,
            tls: false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `cap` bytes per call and then blocks after `budget`.
    struct Trickle {
        out: Vec<u8>,
        cap: usize,
        budget: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.cap).min(self.budget);
            self.out.extend_from_slice(&buf[..n]);
            self.budget -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn meta(keep_alive: bool, head_only: bool, gzip_ok: bool) -> ReplyMeta {
        ReplyMeta {
            request_id: "rid-1".into(),
            gzip_ok,
            head_only,
            keep_alive,
            http10: false,
            tls: false,
        }
    }

    fn text(o: &mut Outgoing) -> String {
        let mut t = Trickle {
            out: Vec::new(),
            cap: usize::MAX,
            budget: usize::MAX,
        };
        assert_eq!(o.write_to(&mut t).unwrap(), Progress::Done);
        String::from_utf8_lossy(&t.out).into_owned()
    }

    #[test]
    fn head_carries_framing_ids_and_security_headers() {
        let reply = Reply::json(200, &serde_json::json!({"ok": true}))
            .header("Content-Length", "999")
            .header("X-Evil", "a\r\nSet-Cookie: x=1");
        let s = text(&mut serialize(reply, &meta(false, false, false)));
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
        assert!(s.contains("Content-Length: 11\r\n"), "{s}");
        assert!(!s.contains("999"));
        assert!(!s.contains("Set-Cookie"));
        assert!(s.contains("X-Request-ID: rid-1\r\n"));
        assert!(s.contains("X-Frame-Options: DENY\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.ends_with("\r\n\r\n{\"ok\":true}"));
    }

    #[test]
    fn head_request_gets_length_without_body() {
        let body = SharedBody::new(vec![b'x'; 5000]);
        let s = text(&mut serialize(
            Reply::json_shared(200, body),
            &meta(true, true, false),
        ));
        assert!(s.contains("Content-Length: 5000\r\n"));
        assert!(s.ends_with("\r\n\r\n"));
        assert!(!s.contains("Connection: close"));
    }

    #[test]
    fn shared_gzip_is_not_copied_and_survives_partial_writes() {
        let body = SharedBody::new(br#"{"a":1}"#.repeat(2000));
        // Not computed yet: serialised as it is, identity.
        let s = text(&mut serialize(
            Reply::json_shared(200, body.clone()),
            &meta(true, false, true),
        ));
        assert!(!s.contains("Content-Encoding"));
        assert!(s.contains("Content-Length: 14000\r\n"));
        // Every gzip reader waits for a worker until it is computed (once: a `OnceLock`)...
        let reply = Reply::json_shared(200, body.clone());
        assert!(matches!(gzip_plan(&reply, true), GzipPlan::WarmShared(_)));
        assert!(matches!(gzip_plan(&reply, true), GzipPlan::WarmShared(_)));
        assert!(matches!(gzip_plan(&reply, false), GzipPlan::Inline));
        let gz = body.gzipped();
        // ...and then takes it as it is.
        assert!(matches!(gzip_plan(&reply, true), GzipPlan::Inline));
        let mut out = serialize(Reply::json_shared(200, body), &meta(true, false, true));
        match &out.body {
            OutBody::Shared(a) => assert!(Arc::ptr_eq(a, &gz), "the shared gzip itself"),
            _ => panic!("expected a shared body"),
        }
        let mut t = Trickle {
            out: Vec::new(),
            cap: 7,
            budget: 100,
        };
        assert_eq!(
            out.write_to(&mut t).unwrap(),
            Progress::Blocked { wrote: true }
        );
        t.budget = usize::MAX;
        assert_eq!(out.write_to(&mut t).unwrap(), Progress::Done);
        let split = t.out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&t.out[split..], &gz[..]);
        assert!(String::from_utf8_lossy(&t.out[..split]).contains("Content-Encoding: gzip"));
    }

    #[test]
    fn no_content_has_no_length_and_errors_close() {
        let s = text(&mut serialize(
            Reply::no_content(),
            &meta(true, false, false),
        ));
        assert!(!s.contains("Content-Length"));
        let s = text(&mut error_response(431, "Too many header fields", "r"));
        assert!(s.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(s.contains("Connection: close"));
        assert!(s.ends_with("{\"error\":\"Too many header fields\"}"));
    }
}
