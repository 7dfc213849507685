//! Request parsing as pure functions: the head (httparse plus the contract's strict rules on
//! sizes, versions, UTF-8, `Content-Length`, `Transfer-Encoding` and `Expect`) and the chunked
//! body decoder. No I/O here: the connection feeds bytes in and acts on the verdict.
//!
//! Every error is a status and a message; the connection answers it as JSON and closes. There
//! are no lenient guesses: a request two parsers could read differently (duplicate or
//! conflicting lengths, `xchunked`, obs-fold...) is refused, which is what stops smuggling
//! through a proxy in front of us.

use crate::http::limits::{
    MAX_BODY, MAX_CHUNK_LINE, MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE, MAX_TRAILERS,
};

/// Why a request is refused: the status and the message of the JSON error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub status: u16,
    pub message: &'static str,
}

const fn err(status: u16, message: &'static str) -> ParseError {
    ParseError { status, message }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
}

/// A complete, validated request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target exactly as sent (valid UTF-8).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Names lower-cased, values trimmed of surrounding whitespace.
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
    /// `Expect: 100-continue` was sent: answer `100 Continue` before reading the body.
    pub expect_continue: bool,
    /// The connection stays open after the answer (HTTP/1.1 unless `close`, HTTP/1.0 only
    /// with `keep-alive`).
    pub keep_alive: bool,
    /// Bytes of the buffer the head took (the body, or the next request, follows).
    pub len: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first line of `buf` (after the empty lines a client may send between requests), as
/// (offset of the line, the line without its CR LF, whether its LF has arrived).
fn first_line(buf: &[u8]) -> (usize, &[u8], bool) {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    match rest.iter().position(|b| *b == b'\n') {
        Some(end) => {
            let line = &rest[..end];
            (start, line.strip_suffix(b"\r").unwrap_or(line), true)
        }
        None => (start, rest, false),
    }
}

/// `HTTP/<digit>.<digit>` (or its start) at the end of a request line: a version we could
/// name, as opposed to bytes that are not HTTP at all.
fn looks_like_other_http_version(line: &[u8]) -> bool {
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !method.is_empty()
        && method.iter().all(|b| b.is_ascii_alphabetic())
        && version.len() >= 6
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6..]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b'.')
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete, read more.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, ParseError> {
    let (line_start, line, line_complete) = first_line(buf);
    if line.len() > MAX_REQUEST_LINE {
        return Err(err(414, "Request line too long"));
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD {
                return Err(err(431, "Request header fields too large"));
            }
            return Ok(None);
        }
        Ok(httparse::Status::Complete(n)) => n,
        Err(httparse::Error::Version) => {
            let line_so_far = if line_complete {
                line
            } else {
                &buf[line_start..]
            };
            return Err(if looks_like_other_http_version(line_so_far) {
                err(
                    505,
                    "HTTP version not supported (HTTP/1.0 and HTTP/1.1 only)",
                )
            } else {
                err(400, "Malformed request line")
            });
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(err(431, "Too many header fields"));
        }
        Err(httparse::Error::HeaderName) | Err(httparse::Error::HeaderValue) => {
            return Err(err(400, "Malformed header field"));
        }
        Err(_) => return Err(err(400, "Malformed request")),
    };
    if len > MAX_HEAD {
        return Err(err(431, "Request header fields too large"));
    }
    let minor = match req.version {
        Some(v @ (0 | 1)) => v,
        _ => return Err(err(505, "HTTP version not supported")),
    };
    let method = req.method.unwrap_or("").to_string();
    // httparse hands back an empty path for non-ASCII targets: judge the raw bytes.
    let raw_target = line.split(|b| *b == b' ').nth(1).unwrap_or(b"");
    let target = match std::str::from_utf8(raw_target) {
        Ok(t) if !t.is_empty() => t.to_string(),
        _ => return Err(err(400, "Request target is not valid UTF-8")),
    };
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let Ok(value) = std::str::from_utf8(h.value) else {
            return Err(err(400, "Header value is not valid UTF-8"));
        };
        headers.push((
            h.name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    let body = body_kind(&headers)?;
    if let BodyKind::Length(n) = body {
        if n > MAX_BODY as u64 {
            return Err(err(413, "Request body too large (limit 1048576 bytes)"));
        }
    }
    let mut expect_continue = false;
    for (_, v) in headers.iter().filter(|(k, _)| k == "expect") {
        if v.eq_ignore_ascii_case("100-continue") {
            expect_continue = true;
        } else {
            return Err(err(417, "Unsupported Expect value (only 100-continue)"));
        }
    }
    let has_token = |token: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if minor == 1 {
        !has_token("close")
    } else {
        has_token("keep-alive") && !has_token("close")
    };
    Ok(Some(Head {
        method,
        target,
        minor,
        headers,
        body,
        expect_continue,
        keep_alive,
        len,
    }))
}

/// The strict framing rules: one plain-digits `Content-Length`, or one `Transfer-Encoding:
/// chunked`, never both.
fn body_kind(headers: &[(String, String)]) -> Result<BodyKind, ParseError> {
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let encodings: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "transfer-encoding")
        .map(|(_, v)| v.as_str())
        .collect();
    if lengths.len() > 1 {
        return Err(err(400, "More than one Content-Length header"));
    }
    if encodings.len() > 1 {
        return Err(err(400, "More than one Transfer-Encoding header"));
    }
    match (lengths.first(), encodings.first()) {
        (Some(_), Some(_)) => Err(err(
            400,
            "Transfer-Encoding and Content-Length together are not allowed",
        )),
        (None, Some(te)) if te.trim().eq_ignore_ascii_case("chunked") => Ok(BodyKind::Chunked),
        (None, Some(_)) => Err(err(
            400,
            "Unsupported Transfer-Encoding (only chunked is accepted)",
        )),
        (Some(cl), None) => parse_content_length(cl)
            .map(|n| {
                if n == 0 {
                    BodyKind::None
                } else {
                    BodyKind::Length(n)
                }
            })
            .ok_or(err(400, "Invalid Content-Length")),
        (None, None) => Ok(BodyKind::None),
    }
}

/// Plain ASCII digits that fit a u64 (surrounding whitespace was trimmed with the value).
pub fn parse_content_length(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| is_tchar(*b))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `chunk-size [ chunk-ext ]` (without CR LF): the size, or `None` when malformed.
pub fn parse_chunk_line(line: &[u8]) -> Option<u64> {
    let (size, exts) = match line.iter().position(|b| *b == b';') {
        Some(i) => (trim_ows_end(&line[..i]), Some(&line[i + 1..])),
        None => (line, None),
    };
    if size.is_empty() || !size.iter().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in size {
        let digit = (*b as char).to_digit(16)? as u64;
        n = n.checked_mul(16)?.checked_add(digit)?;
    }
    if let Some(exts) = exts {
        for ext in exts.split(|b| *b == b';') {
            let ext = trim_ows(ext);
            let (name, value) = match ext.iter().position(|b| *b == b'=') {
                Some(i) => (trim_ows(&ext[..i]), Some(trim_ows(&ext[i + 1..]))),
                None => (ext, None),
            };
            if !is_token(name) {
                return None;
            }
            if let Some(v) = value {
                if !(is_token(v) || is_quoted_string(v)) {
                    return None;
                }
            }
        }
    }
    Some(n)
}

fn trim_ows_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn is_quoted_string(v: &[u8]) -> bool {
    if v.len() < 2 || v[0] != b'"' || v[v.len() - 1] != b'"' {
        return false;
    }
    let inner = &v[1..v.len() - 1];
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' if i + 1 < inner.len() => i += 2,
            b'\\' | b'"' => return false,
            b'\t' | 0x20..=0x7e | 0x80..=0xff => i += 1,
            _ => return false,
        }
    }
    true
}

/// A trailer field line: `name: value`, no obs-fold, no control characters.
fn valid_trailer(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    is_token(&line[..colon])
        && line[colon + 1..]
            .iter()
            .all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailer,
    Done,
}

/// Decodes a chunked body incrementally, counting it against the body limit as it goes.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    line: Vec<u8>,
    total: u64,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            line: Vec::new(),
            total: 0,
            trailer_bytes: 0,
        }
    }
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes from `input`, appending body bytes to `out`. Returns how many input bytes were
    /// used: fewer than given only when the body ended (the rest is the next request).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ParseError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Size | ChunkState::Trailer => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        self.line.push(b);
                        let cap = if self.state == ChunkState::Size {
                            MAX_CHUNK_LINE
                        } else {
                            MAX_TRAILERS
                        };
                        if self.line.len() > cap {
                            return Err(err(400, "Malformed chunked body (line too long)"));
                        }
                        continue;
                    }
                    let Some(line) = self.line.strip_suffix(b"\r") else {
                        return Err(err(400, "Malformed chunked body (bare LF)"));
                    };
                    if self.state == ChunkState::Size {
                        let size = parse_chunk_line(line)
                            .ok_or(err(400, "Malformed chunk size or extension"))?;
                        if size == 0 {
                            self.state = ChunkState::Trailer;
                        } else {
                            if self.total.saturating_add(size) > MAX_BODY as u64 {
                                return Err(err(
                                    413,
                                    "Request body too large (limit 1048576 bytes)",
                                ));
                            }
                            self.total += size;
                            self.state = ChunkState::Data(size);
                        }
                    } else if line.is_empty() {
                        self.state = ChunkState::Done;
                    } else {
                        self.trailer_bytes += line.len() + 2;
                        if self.trailer_bytes > MAX_TRAILERS || !valid_trailer(line) {
                            return Err(err(400, "Malformed chunked trailer"));
                        }
                    }
                    self.line.clear();
                }
                ChunkState::Data(left) => {
                    let n = (left as usize).min(input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    self.state = if n as u64 == left {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data(left - n as u64)
                    };
                }
                ChunkState::DataCr | ChunkState::DataLf => {
                    let want = if self.state == ChunkState::DataCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if input[i] != want {
                        return Err(err(400, "Malformed chunked body (missing CRLF after data)"));
                    }
                    i += 1;
                    self.state = if want == b'\r' {
                        ChunkState::DataLf
                    } else {
                        ChunkState::Size
                    };
                }
            }
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Option<Head>, ParseError> {
        parse_head(s.as_bytes())
    }

    fn status(s: &str) -> u16 {
        match head(s) {
            Err(e) => e.status,
            Ok(Some(_)) => 200,
            Ok(None) => 0,
        }
    }

    #[test]
    fn complete_and_partial_heads() {
        let h = head("GET /api/health?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  v \r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/api/health?x=1");
        assert_eq!(h.minor, 1);
        assert_eq!(h.header("x-y"), Some("v"));
        assert_eq!(h.body, BodyKind::None);
        assert!(h.keep_alive);
        assert_eq!(
            h.len,
            "GET /api/health?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  v \r\n\r\n".len()
        );
        assert_eq!(head("GET / HTTP/1.1\r\nHost: a\r\n").unwrap(), None);
        assert_eq!(head("GE").unwrap(), None);
        // Empty lines between pipelined requests are skipped.
        assert!(head("\r\nGET / HTTP/1.1\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |s: &str| head(s).unwrap().unwrap().keep_alive;
        assert!(ka("GET / HTTP/1.1\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(ka(
            "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n"
        ));
    }

    #[test]
    fn sizes_414_and_431() {
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(status(&long_target), 414);
        // A request line that never ends is refused as soon as it passes the limit.
        assert_eq!(
            status(&format!("GET /{}", "a".repeat(MAX_REQUEST_LINE))),
            414
        );
        // Just under the line limit is fine.
        assert_eq!(
            status(&format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(8000))),
            200
        );
        let big_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(MAX_HEAD));
        assert_eq!(status(&big_header), 431);
        // An unterminated header line is refused once the head passes 16 KiB.
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(MAX_HEAD))),
            431
        );
        let many = |n: usize| {
            let mut s = String::from("GET / HTTP/1.1\r\n");
            for i in 0..n {
                s.push_str(&format!("X-{i}: 1\r\n"));
            }
            s + "\r\n"
        };
        assert_eq!(status(&many(100)), 200);
        assert_eq!(status(&many(101)), 431);
        assert_eq!(status(&many(10_000)), 431);
    }

    #[test]
    fn versions_505_and_garbage_400() {
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/3\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.0\r\n\r\n"), 200);
        assert_eq!(status("GET / FOO/1.1\r\n\r\n"), 400);
        // A TLS ClientHello on the plain port, and binary garbage.
        assert_eq!(
            parse_head(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            parse_head(&[0x00, 0xff, 0xfe, b'\n']).unwrap_err().status,
            400
        );
        assert_eq!(status("GET  / HTTP/1.1\r\n\r\n"), 400);
    }

    #[test]
    fn utf8_obs_fold_and_bad_bytes_400() {
        assert_eq!(
            parse_head(b"GET /\xff\xfe HTTP/1.1\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nX: \xc3\x28\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        // Valid UTF-8 in a value is fine.
        assert_eq!(status("GET / HTTP/1.1\r\nX: caf\u{e9}\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nBad Name: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\n: empty\r\n\r\n"), 400);
    }

    #[test]
    fn content_length_rules() {
        let cl = |v: &str| status(&format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n"));
        assert_eq!(cl("5"), 200);
        assert_eq!(cl(" 5 "), 200);
        assert_eq!(cl("0"), 200);
        for bad in [
            "+5",
            "-1",
            "5 5",
            "5,5",
            "0x5",
            "5.0",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            assert_eq!(cl(bad), 400, "{bad:?}");
        }
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            400
        );
        assert_eq!(cl("1048576"), 200);
        assert_eq!(cl("1048577"), 413);
        assert_eq!(cl("18446744073709551615"), 413);
        assert_eq!(cl("1000000000000"), 413);
        let h = head("POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Length(7));
    }

    #[test]
    fn transfer_encoding_rules() {
        let te = |v: &str| {
            status(&format!(
                "POST / HTTP/1.1\r\nTransfer-Encoding: {v}\r\n\r\n"
            ))
        };
        assert_eq!(te("chunked"), 200);
        assert_eq!(te("Chunked"), 200);
        assert_eq!(te("  CHUNKED  "), 200);
        for bad in [
            "xchunked",
            "chunked, identity",
            "identity",
            "gzip, chunked",
            "chunked;x",
            "",
        ] {
            assert_eq!(te(bad), 400, "{bad:?}");
        }
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        let h = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
    }

    #[test]
    fn expect_rules() {
        let h = head("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.expect_continue);
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: something\r\n\r\n"),
            417
        );
        // Too large wins over Expect: no 100 is sent for a body we will not read.
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n"),
            413
        );
    }

    fn decode(chunks: &[&[u8]]) -> Result<(Vec<u8>, usize), ParseError> {
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut used = 0;
        for c in chunks {
            used = d.feed(c, &mut out)?;
        }
        assert!(d.is_done(), "not done");
        Ok((out, used))
    }

    #[test]
    fn chunked_decoding() {
        let input = b"5\r\nhello\r\n6;name=val;q=\"x y\"\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used) = decode(&[input]).unwrap();
        assert_eq!(body, b"hello world");
        // Stops exactly at the end of the body: the rest is the next request.
        assert_eq!(used, input.len() - 4);
        // Byte by byte gives the same answer.
        let whole = b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let pieces: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(decode(&pieces).unwrap().0, b"abc0123456789");
        assert_eq!(decode(&[b"000\r\n\r\n"]).unwrap().0, b"");
    }

    #[test]
    fn chunked_errors() {
        let bad = |s: &[u8]| {
            let mut d = ChunkedDecoder::default();
            d.feed(s, &mut Vec::new()).map(|_| ()).unwrap_err().status
        };
        assert_eq!(bad(b"x\r\n"), 400);
        assert_eq!(bad(b"-1\r\n"), 400);
        assert_eq!(bad(b"+5\r\n"), 400);
        assert_eq!(bad(b"\r\n"), 400);
        assert_eq!(bad(b"5 \r\n"), 400);
        assert_eq!(bad(b"5\n"), 400);
        assert_eq!(bad(b"11111111111111111\r\n"), 400);
        assert_eq!(bad(b"5;\r\n"), 400);
        assert_eq!(bad(b"5;a b\r\n"), 400);
        assert_eq!(bad(b"5;a=\"x\r\n"), 400);
        assert_eq!(bad(b"3\r\nabcX\r\n"), 400);
        assert_eq!(bad(b"0\r\nno colon\r\n\r\n"), 400);
        assert_eq!(bad(b"0\r\n folded: x\r\n\r\n"), 400);
        assert_eq!(bad(&[b'1'; 2000]), 400);
        // Counted while decoding: 413 as soon as the total passes 1 MiB.
        assert_eq!(bad(b"100001\r\n"), 413);
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let chunk = format!("{:x}\r\n{}\r\n", 600_000, "a".repeat(600_000));
        d.feed(chunk.as_bytes(), &mut out).unwrap();
        assert_eq!(d.feed(chunk.as_bytes(), &mut out).unwrap_err().status, 413);
        assert_eq!(bad(b"ffffffffffffffff\r\n"), 413);
    }
}
