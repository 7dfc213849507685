//! CSRF protection for cookie sessions: one random token per session, sent back by the UI in
//! `X-CSRF-Token` on every state-changing call. The session store keeps only its SHA-256.
//!
//! When the check fails the server answers 403 with a fresh token in the `X-CSRF-Token`
//! response header (and cookie); the UI retries once with it.

use super::secret::{self, RandomUnavailable, Secret};

/// Cookie readable by JavaScript (no `HttpOnly`): the UI copies it into the header.
pub const CSRF_COOKIE: &str = "pulse_csrf";
/// Request header carrying the token; also the response header with a fresh one on failure.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// The 403 message (Pulse sends it as text; we send `{"error": …}`).
pub const CSRF_FAILED_MESSAGE: &str = "CSRF token validation failed";

/// Safe methods never change state, so they need no token.
pub fn method_needs_csrf(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

/// A new token and the hash to store. Hex, so it needs no escaping in a cookie.
pub fn new_token() -> Result<(Secret, String), RandomUnavailable> {
    let token = secret::random_hex(32)?;
    let hash = secret::sha256_hex(token.expose().as_bytes());
    Ok((token, hash))
}

/// Whether `presented` is the token whose hash is `stored_hash` (constant time).
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let h = secret::sha256_hex(presented.trim().as_bytes());
    secret::constant_time_eq(h.as_bytes(), stored_hash.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_methods_are_exempt() {
        for m in ["GET", "head", "OPTIONS"] {
            assert!(!method_needs_csrf(m), "{m}");
        }
        for m in ["POST", "PUT", "DELETE", "PATCH", "post"] {
            assert!(method_needs_csrf(m), "{m}");
        }
    }

    #[test]
    fn token_verifies_only_against_its_hash() {
        let (t, h) = new_token().unwrap();
        assert_eq!(t.expose().len(), 64);
        assert!(verify(t.expose(), &h));
        assert!(!verify("nope", &h));
        let (t2, _) = new_token().unwrap();
        assert!(!verify(t2.expose(), &h));
    }
}
