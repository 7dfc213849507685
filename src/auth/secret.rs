//! Secret primitives every other auth module builds on: constant-time comparison, random
//! tokens from the OS generator, the two hash encodings Pulse stores (SHA3-256 for API tokens,
//! SHA-256 for sessions), and [`SecretString`], a string that refuses to be printed.

use data_encoding::HEXLOWER;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer};
use sha3::{Digest, Sha3_256};
use std::fmt;

/// The OS random generator failed (no entropy source). Callers turn this into a 500: a
/// predictable token is never an acceptable fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomUnavailable;

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system random generator is unavailable")
    }
}

impl std::error::Error for RandomUnavailable {}

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// first differ, so a remote caller cannot learn a secret one byte at a time.
///
/// Lengths are not secret here: every caller compares fixed-length hashes.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit loop.
    std::hint::black_box(diff) == 0
}

/// `n` bytes from the OS generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, RandomUnavailable> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| RandomUnavailable)?;
    Ok(buf)
}

/// `n` random bytes as lowercase hex (`2n` characters), the shape of every Pulse token.
pub fn random_hex(n: usize) -> Result<SecretString, RandomUnavailable> {
    Ok(SecretString::new(HEXLOWER.encode(&random_bytes(n)?)))
}

/// A random RFC 4122 version-4 UUID, the id format of Pulse's token records.
pub fn random_uuid_v4() -> Result<String, RandomUnavailable> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| RandomUnavailable)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = HEXLOWER.encode(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// SHA3-256 as lowercase hex: how Pulse stores API tokens and the bootstrap token.
pub fn sha3_256_hex(data: &[u8]) -> String {
    HEXLOWER.encode(&Sha3_256::digest(data))
}

/// SHA-256 as lowercase hex: how Pulse keys sessions and CSRF tokens.
pub fn sha256_hex(data: &[u8]) -> String {
    HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// A secret value (password, raw token). It has no `Display`, no `Serialize`, and its `Debug`
/// prints `[redacted]`, so it cannot end up in a log line or a JSON response by accident;
/// reading it takes an explicit [`SecretString::expose`]. The bytes are wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> SecretString {
        SecretString(value)
    }

    /// The secret itself. Call sites are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        // Best effort without `unsafe`: black_box makes the zeroing observable, so it is not
        // optimised away as a dead store.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// Request bodies carry passwords and tokens; deserialising straight into `SecretString`
/// keeps them out of any `Debug` of the body struct.
impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
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
    fn random_hex_has_requested_length_and_differs() {
        let a = random_hex(32).unwrap();
        let b = random_hex(32).unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn uuid_v4_shape() {
        let u = random_uuid_v4().unwrap();
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn hashes_match_known_vectors() {
        // FIPS 202 / FIPS 180-2 test vectors for "abc".
        assert_eq!(
            sha3_256_hex(b"abc"),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secret_string_never_prints_its_value() {
        let s = SecretString::new("hunter2-password".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
        #[derive(Debug, Deserialize)]
        struct Body {
            password: SecretString,
        }
        let body: Body = serde_json::from_str(r#"{"password":"hunter2-password"}"#).unwrap();
        assert!(!format!("{body:?}").contains("hunter2"));
        assert_eq!(body.password.expose(), "hunter2-password");
    }
}
