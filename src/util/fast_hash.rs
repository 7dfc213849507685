//! A fast hasher for the loop's per-cycle maps keyed by resource and alert ids.
//!
//! std's SipHash resists hash flooding, which these maps do not need: their keys are ids
//! Pulse builds from what a configured Proxmox or an authenticated agent reports, and a
//! cycle hashes each of ~3,000 ids several times (history, alert evaluation), where SipHash
//! was a measurable share of the event loop's CPU. This is the multiply-rotate scheme
//! rustc's own maps use, over 8-byte words.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;
pub type FastSet<K> = HashSet<K, FastBuild>;

/// The hash of one string, for sets that only need to know "probably seen" without owning
/// it (a collision may only make the caller do work it could have skipped).
pub fn hash_str(s: &str) -> u64 {
    let mut h = FastHasher::default();
    h.write(s.as_bytes());
    h.write_usize(s.len());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_similar_ids_hash_apart() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(format!("pve-node{}-{i}", i % 50), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m["pve-node7-1007"], 1007);
        let hashes: FastSet<u64> = (0..10_000)
            .map(|i| hash_str(&format!("pve-node{}-{i}", i % 50)))
            .collect();
        assert_eq!(hashes.len(), 10_000, "no collisions among close ids");
        assert_ne!(hash_str("ab"), hash_str("ab\0"));
    }
}
