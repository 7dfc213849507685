//! The request as handlers see it: owned, fully read, independent of the socket, so it can be
//! sent to the event loop and handlers can be tested without a socket.

use crate::http::reply::Reply;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }

    /// Methods that change state (and so need CSRF protection under session auth).
    pub fn is_write(self) -> bool {
        !matches!(self, Method::Get | Method::Head | Method::Options)
    }
}

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The path without the query string, exactly as sent (not percent-decoded).
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: IpAddr,
    pub request_id: String,
    pub is_https: bool,
}

impl ApiRequest {
    /// A request for tests and internal callers.
    pub fn new(method: Method, target: &str) -> ApiRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.to_string(), String::new()),
        };
        ApiRequest {
            method,
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            peer: IpAddr::from([127, 0, 0, 1]),
            request_id: String::new(),
            is_https: false,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a cookie from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
    }

    /// A percent-decoded query parameter (first occurrence).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (query_decode(k)? == name).then(|| query_decode(v))?
            })
            .next()
    }

    /// The first query parameter whose name is not in `known` (the name as sent, decoded when
    /// it decodes): a filter a handler would silently ignore, so the client would read an
    /// unfiltered answer as a filtered one. `_` (the usual cache-buster) is always allowed.
    pub fn unknown_query_param(&self, known: &[&str]) -> Option<String> {
        self.query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let k = kv.split_once('=').map_or(kv, |(k, _)| k);
                query_decode(k).unwrap_or_else(|| k.to_string())
            })
            .find(|k| k != "_" && !known.contains(&k.as_str()))
    }

    /// Decodes the body as JSON, or an error reply (400) that says what is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Reply> {
        if self.body.is_empty() {
            return Err(Reply::error(400, "Request body is empty; expected JSON"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Reply::error(400, &format!("Invalid JSON body: {e}")))
    }

    pub fn accepts_gzip(&self) -> bool {
        self.header("accept-encoding").is_some_and(|v| {
            v.split(',').any(|part| {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or("").trim();
                let q_zero = it.any(|p| {
                    let p = p.trim();
                    p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
                });
                (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
            })
        })
    }
}

/// Percent-decodes a path or path segment: `%XX` escapes only, `+` stays a plus (it means a
/// space only in query strings and form bodies). A malformed escape or invalid UTF-8 → None,
/// so the gate answers 400 instead of guessing.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // Both must be hex digits (the crate would pass "%zz" through unchanged).
    let well_formed = b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode(b)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Decodes a query-string component (form encoding: `+` is a space, `%2B` a plus).
pub fn query_decode(s: &str) -> Option<String> {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_queries_and_gzip_preference() {
        let mut r = ApiRequest::new(
            Method::Get,
            "/api/x?range=1h&host=https%3A%2F%2Fa%3A8006&flag",
        );
        r.headers
            .push(("cookie".into(), "a=1; pulse_session=abc".into()));
        r.headers
            .push(("accept-encoding".into(), "br, gzip;q=0.5".into()));
        assert_eq!(r.cookie("pulse_session"), Some("abc"));
        assert_eq!(r.cookie("nope"), None);
        assert_eq!(r.query_param("range").as_deref(), Some("1h"));
        assert_eq!(r.query_param("host").as_deref(), Some("https://a:8006"));
        assert_eq!(r.query_param("flag").as_deref(), Some(""));
        assert!(r.accepts_gzip());
        r.headers[1].1 = "gzip;q=0".into();
        assert!(!r.accepts_gzip());
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%+5"), None);
        assert_eq!(percent_decode("a+b%2Bc%20d").as_deref(), Some("a+b+c d"));
        assert_eq!(query_decode("a+b%2Bc").as_deref(), Some("a b+c"));
        let r = ApiRequest::new(Method::Get, "/api/x?q=a+b%2B");
        assert_eq!(r.query_param("q").as_deref(), Some("a b+"));
    }
}
