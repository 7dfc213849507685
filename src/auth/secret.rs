//! Secret primitives every other auth module builds on: random tokens from the OS generator
//! and the two hash encodings Pulse stores (SHA3-256 for API tokens, SHA-256 for sessions).
//! The secret type itself and constant-time comparison are `crate::util::secret`'s, shared
//! with the node config.

use data_encoding::HEXLOWER;
use ring::rand::{SecureRandom, SystemRandom};
use sha3::{Digest, Sha3_256};
use std::fmt;

pub use crate::util::secret::{constant_time_eq, Secret};

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

/// `n` bytes from the OS generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, RandomUnavailable> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| RandomUnavailable)?;
    Ok(buf)
}

/// `n` random bytes as lowercase hex (`2n` characters), the shape of every Pulse token.
pub fn random_hex(n: usize) -> Result<Secret, RandomUnavailable> {
    Ok(Secret::new(HEXLOWER.encode(&random_bytes(n)?)))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
