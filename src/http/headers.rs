//! Headers every response carries: request id and the security set.

use ring::rand::{SecureRandom, SystemRandom};

/// Security headers on every response (Pulse's set; embedding is off by default).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "geolocation=(), microphone=(), camera=()"),
];

/// Echoes a client's `X-Request-ID` if it is sane (short, printable, no separators that could
/// forge log fields); otherwise makes a new one.
pub fn request_id(incoming: Option<&str>) -> String {
    if let Some(id) = incoming {
        let id = id.trim();
        let sane = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if sane {
            return id.to_string();
        }
    }
    new_id()
}

/// 16 random bytes as lowercase hex.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if SystemRandom::new().fill(&mut b).is_err() {
        // The kernel's RNG failing is near impossible; fall back to something unique enough.
        let t = crate::util::time::UtcTime::now();
        return format!("{:x}{:08x}", t.secs, t.nanos);
    }
    data_encoding::HEXLOWER.encode(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_sane_ids_and_replaces_hostile_ones() {
        assert_eq!(request_id(Some("abc-123")), "abc-123");
        let fresh = request_id(Some("bad id\" level=error"));
        assert_eq!(fresh.len(), 32);
        assert_ne!(request_id(None), request_id(None));
        assert_eq!(request_id(Some(&"x".repeat(200))).len(), 32);
    }
}
