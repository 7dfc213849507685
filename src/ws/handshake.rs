//! Deciding whether a `/ws` upgrade may proceed: the RFC 6455 request headers, and the Origin
//! check that stops other web sites from opening a feed with the user's cookies.

use crate::http::request::ApiRequest;
use std::net::IpAddr;

/// Checks the upgrade headers; returns the `Sec-WebSocket-Accept` value.
pub fn accept_key(req: &ApiRequest) -> Result<String, &'static str> {
    let has_token = |name: &str, token: &str| {
        req.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err("Expected a WebSocket upgrade request");
    }
    if req.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Err("Unsupported WebSocket version (13 required)");
    }
    let key = req.header("sec-websocket-key").map(str::trim).unwrap_or("");
    // The key is 16 random bytes in base64: 24 characters.
    if key.len() != 24
        || data_encoding::BASE64
            .decode(key.as_bytes())
            .map(|k| k.len())
            != Ok(16)
    {
        return Err("Invalid Sec-WebSocket-Key");
    }
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// Pulse's origin rule: no Origin (non-browser clients) → allowed; the page's own origin
/// (honouring X-Forwarded-Proto/Host) → allowed; listed in `ALLOWED_ORIGINS` (`*` = any) →
/// allowed; with no list configured, origins on localhost, private/loopback IPs and
/// `*.local`/`*.lan` names are allowed too. Anything else is refused.
pub fn origin_allowed(req: &ApiRequest, allowed_origins: &[String]) -> bool {
    let Some(origin) = req.header("origin").map(str::trim) else {
        return true;
    };
    let scheme = req
        .header("x-forwarded-proto")
        .or_else(|| req.header("x-forwarded-scheme"))
        .and_then(|v| v.split(',').next())
        .map(|s| match s.trim() {
            "ws" => "http",
            "wss" => "https",
            other => other,
        })
        .unwrap_or(if req.is_https { "https" } else { "http" })
        .to_ascii_lowercase();
    let host = req
        .header("x-forwarded-host")
        .or_else(|| req.header("host"))
        .unwrap_or("")
        .trim();
    if !host.is_empty() && origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")) {
        return true;
    }
    if allowed_origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if !allowed_origins.is_empty() {
        return false;
    }
    let Some(origin_host) = origin_host(origin) else {
        return false;
    };
    if origin_host == "localhost" {
        return true;
    }
    if let Ok(ip) = origin_host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return crate::auth::client_ip::is_private(ip);
    }
    let labels: Vec<&str> = origin_host.split('.').collect();
    labels.len() <= 3 && matches!(labels.last(), Some(&"local") | Some(&"lan"))
}

fn origin_host(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))?
    } else {
        authority.split(':').next()?.to_string()
    };
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::Method;

    fn upgrade_req(origin: Option<&str>) -> ApiRequest {
        let mut r = ApiRequest::new(Method::Get, "/ws");
        r.headers = vec![
            ("host".into(), "pulse.example.com:7655".into()),
            ("upgrade".into(), "websocket".into()),
            ("connection".into(), "keep-alive, Upgrade".into()),
            ("sec-websocket-version".into(), "13".into()),
            (
                "sec-websocket-key".into(),
                "dGhlIHNhbXBsZSBub25jZQ==".into(),
            ),
        ];
        if let Some(o) = origin {
            r.headers.push(("origin".into(), o.into()));
        }
        r
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key(&upgrade_req(None)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let mut bad = upgrade_req(None);
        bad.headers[3].1 = "8".into();
        assert!(accept_key(&bad).is_err());
        let mut bad = upgrade_req(None);
        bad.headers[1].1 = "h2c".into();
        assert!(accept_key(&bad).is_err());
    }

    #[test]
    fn origin_rules() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(&upgrade_req(None), &none));
        assert!(origin_allowed(
            &upgrade_req(Some("http://pulse.example.com:7655")),
            &none
        ));
        assert!(origin_allowed(
            &upgrade_req(Some("http://192.168.1.20:7655")),
            &none
        ));
        assert!(origin_allowed(
            &upgrade_req(Some("http://localhost:5173")),
            &none
        ));
        assert!(origin_allowed(&upgrade_req(Some("http://pve.lan")), &none));
        assert!(!origin_allowed(
            &upgrade_req(Some("https://evil.example.org")),
            &none
        ));
        assert!(!origin_allowed(&upgrade_req(Some("http://8.8.8.8")), &none));
        let list = vec!["https://dash.example.org".to_string()];
        assert!(origin_allowed(
            &upgrade_req(Some("https://dash.example.org")),
            &list
        ));
        // With an allow-list, private origins are no longer implicitly trusted.
        assert!(!origin_allowed(
            &upgrade_req(Some("http://192.168.1.20")),
            &list
        ));
        let mut fwd = upgrade_req(Some("https://pulse.example.com"));
        fwd.headers
            .push(("x-forwarded-proto".into(), "https".into()));
        fwd.headers
            .push(("x-forwarded-host".into(), "pulse.example.com".into()));
        assert!(origin_allowed(&fwd, &list));
    }
}
