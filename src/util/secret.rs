//! [`Secret`]: the one type for a value that must never be printed (admin password, API and
//! session tokens, node passwords and token secrets), and [`constant_time_eq`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// first differ, so a remote caller cannot learn a secret one byte at a time.
///
/// Lengths are not secret here: callers compare fixed-length hashes or whole secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit loop.
    std::hint::black_box(diff) == 0
}

/// A secret value. Its `Debug` prints `[redacted]` and it has no `Display`, so it cannot end
/// up in a log line by accident; reading it takes an explicit [`Secret::expose`]. Equality is
/// constant-time, and the bytes are wiped on drop.
///
/// It serialises transparently because the node config stores it (encrypted on disk and in
/// exports); API responses are built from views that leave secrets out. Request bodies
/// deserialise straight into it, which keeps passwords out of any `Debug` of the body struct.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call sites are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort without `unsafe`: black_box makes the zeroing observable, so it is not
        // optimised away as a dead store.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_matches_plain_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"bbc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        // Every single-bit difference anywhere is detected.
        let a = [0x5au8; 32];
        for i in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[i] ^= 1 << bit;
                assert!(!constant_time_eq(&a, &b), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn never_prints_its_value_but_round_trips_through_storage() {
        let s = Secret::new("hunter2-password");
        assert_eq!(format!("{s:?}"), "[redacted]");
        #[derive(Debug, Deserialize)]
        struct Body {
            password: Secret,
        }
        let body: Body = serde_json::from_str(r#"{"password":"hunter2-password"}"#).unwrap();
        assert!(!format!("{body:?}").contains("hunter2"));
        assert_eq!(body.password, s);
        assert_ne!(body.password, Secret::new("hunter2-passwore"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2-password\"");
    }
}
