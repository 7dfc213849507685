//! `Set-Cookie` strings for `pulse_session` / `pulse_csrf` and reading a `Cookie` header.
//!
//! SameSite is always `Lax`: Pulse switches to `None` behind HTTPS proxies, which would let
//! other sites send the session cookie along; the UI is same-origin, so it never needs that.

/// Whether cookies must carry `Secure`: the connection is TLS, or a proxy in front says the
/// client used HTTPS. Trusting these headers from anyone is harmless here: a spurious `Secure`
/// can only make a cookie stricter.
pub fn request_is_https(
    is_tls: bool,
    x_forwarded_proto: Option<&str>,
    forwarded: Option<&str>,
) -> bool {
    let proto_https = x_forwarded_proto
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded_https = forwarded.is_some_and(|v| {
        v.split([';', ','])
            .any(|kv| kv.trim().eq_ignore_ascii_case("proto=https"))
    });
    is_tls || proto_https || forwarded_https
}

/// A `Set-Cookie` value: `Path=/`, `Max-Age`, `SameSite=Lax`, plus `HttpOnly` and `Secure`
/// as asked. `value` must be a token (hex); callers never pass user input here.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    http_only: bool,
    secure: bool,
) -> String {
    let mut s = format!("{name}={value}; Path=/; Max-Age={max_age_secs}");
    if http_only {
        s.push_str("; HttpOnly");
    }
    s.push_str("; SameSite=Lax");
    if secure {
        s.push_str("; Secure");
    }
    s
}

/// A `Set-Cookie` value that deletes the cookie (`Max-Age=0` plus an epoch `Expires` for
/// old browsers).
pub fn clear_cookie(name: &str, http_only: bool, secure: bool) -> String {
    let mut s = set_cookie(name, "", 0, http_only, secure);
    s.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    s
}

/// The value of cookie `name` in a `Cookie` request header (`a=1; b=2`). The first match
/// wins, as browsers send the most specific path first.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_attributes() {
        let c = set_cookie("pulse_session", "abc", 86400, true, false);
        assert_eq!(
            c,
            "pulse_session=abc; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"
        );
        let c = set_cookie("pulse_csrf", "def", 86400, false, true);
        assert_eq!(
            c,
            "pulse_csrf=def; Path=/; Max-Age=86400; SameSite=Lax; Secure"
        );
        let c = clear_cookie("pulse_session", true, true);
        assert!(c.starts_with("pulse_session=; Path=/; Max-Age=0; HttpOnly"));
        assert!(c.contains("Expires=Thu, 01 Jan 1970"));
    }

    #[test]
    fn https_detection() {
        assert!(request_is_https(true, None, None));
        assert!(request_is_https(false, Some("HTTPS"), None));
        assert!(request_is_https(false, Some("https, http"), None));
        assert!(!request_is_https(false, Some("http"), None));
        assert!(request_is_https(
            false,
            None,
            Some("for=1.2.3.4;proto=https;host=x")
        ));
        assert!(!request_is_https(
            false,
            None,
            Some("for=1.2.3.4;proto=http")
        ));
        assert!(!request_is_https(false, None, None));
    }

    #[test]
    fn cookie_parsing() {
        let h = "theme=dark; pulse_session=s1; pulse_csrf=\"c1\"; pulse_session=s2";
        assert_eq!(cookie_value(h, "pulse_session"), Some("s1"));
        assert_eq!(cookie_value(h, "pulse_csrf"), Some("c1"));
        assert_eq!(cookie_value(h, "missing"), None);
        assert_eq!(cookie_value("garbage", "pulse_session"), None);
        assert_eq!(cookie_value("", "pulse_session"), None);
    }
}
