//! `PULSE_HTTP_REDIRECT_PORT`: with HTTPS on, an optional plain-HTTP listener whose every
//! answer sends the client to the same host and path on the HTTPS port. Its connections run
//! on the same loop with the same limits and timeouts as any other; only the answer differs
//! (built here, never by the app, so nothing but a redirect is ever served in clear).

use crate::http::reply::Reply;
use crate::http::request::{ApiRequest, Method};

/// The answer to any request on the redirect listener: 301 for GET/HEAD, 308 otherwise (the
/// method and body are kept), or 400 when the `Host` header cannot be used.
pub fn answer(req: &ApiRequest, https_port: u16) -> Reply {
    let Some(host) = req.header("host").and_then(host_without_port) else {
        return Reply::new(400)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(crate::http::reply::Body::Static(
                b"This server speaks HTTPS: use https:// with its host name.\n",
            ));
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let query = if req.query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.query)
    };
    let location = format!("https://{host}{port}{}{query}", req.path);
    let status = if matches!(req.method, Method::Get | Method::Head) {
        301
    } else {
        308
    };
    Reply::new(status).header("Location", &location)
}

/// The host part of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), when it is
/// only made of characters a host name or address can have (no header injection, no path).
fn host_without_port(h: &str) -> Option<&str> {
    let h = h.trim();
    let host = if h.starts_with('[') {
        &h[..=h.find(']')?]
    } else {
        h.split(':').next()?
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, host: Option<&str>, path: &str, query: &str) -> ApiRequest {
        ApiRequest {
            method,
            path: path.into(),
            query: query.into(),
            headers: host
                .map(|h| vec![("host".to_string(), h.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
            peer: std::net::IpAddr::from([127, 0, 0, 1]),
            request_id: "r".into(),
            is_https: false,
        }
    }

    fn location(r: &Reply) -> &str {
        r.get_header("location").unwrap_or("")
    }

    #[test]
    fn same_host_and_path_on_the_https_port() {
        let r = answer(
            &req(Method::Get, Some("pulse.lan:8080"), "/a/b", "x=1"),
            7655,
        );
        assert_eq!(r.status, 301);
        assert_eq!(location(&r), "https://pulse.lan:7655/a/b?x=1");
        let r = answer(&req(Method::Post, Some("[::1]:80"), "/api/login", ""), 443);
        assert_eq!(r.status, 308, "method and body kept");
        assert_eq!(location(&r), "https://[::1]/api/login");
        let r = answer(&req(Method::Get, Some("10.0.0.2"), "/", ""), 8443);
        assert_eq!(location(&r), "https://10.0.0.2:8443/");
    }

    #[test]
    fn unusable_host_is_a_400_not_a_redirect_elsewhere() {
        for h in [
            None,
            Some(""),
            Some("evil.example/x"),
            Some("a b"),
            Some("[::1"),
        ] {
            let r = answer(&req(Method::Get, h, "/", ""), 7655);
            assert_eq!(r.status, 400, "{h:?}");
            assert!(r.get_header("location").is_none());
        }
    }
}
