//! gzip for responses: only for types that compress and bodies big enough to be worth it.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

/// Bodies smaller than this go out as they are (the gzip header alone is ~20 bytes).
pub const MIN_SIZE: usize = 860;

/// From this size on, bodies are compressed at level 1. They are the big dynamic answers
/// (the 5 MB state at 3,000 guests, chart and backup lists), rebuilt every revision: level 1
/// costs about a quarter of level 6's CPU for output about 20 % larger, and CPU is what
/// the 64 MB, shared-core container has least of. Small bodies keep level 6.
pub const FAST_FROM: usize = 256 * 1024;

pub fn compress(data: &[u8]) -> Vec<u8> {
    let level = if data.len() >= FAST_FROM { 1 } else { 6 };
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        Compression::new(level),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

pub fn is_compressible(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    ct.starts_with("text/")
        || matches!(
            ct,
            "application/json"
                | "application/javascript"
                | "image/svg+xml"
                | "application/manifest+json"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips() {
        let data = b"{\"a\":1}".repeat(500);
        let gz = compress(&data);
        assert!(gz.len() < data.len() / 4);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        assert!(is_compressible("application/json; charset=utf-8"));
        assert!(!is_compressible("image/png"));
    }

    #[test]
    fn big_bodies_take_the_fast_level_and_still_round_trip() {
        let unit = b"{\"cpu\":0.25,\"mem\":1}";
        let data: Vec<u8> = (0..FAST_FROM + 10).map(|i| unit[i % unit.len()]).collect();
        let gz = compress(&data);
        // Level 1 writes no compression-level hint (XFL=4 means "fastest"); level 6 writes 0.
        assert_eq!(gz[8], 4, "fast level used");
        assert_eq!(compress(b"{}")[8], 0, "small bodies keep the default level");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        assert!(gz.len() < data.len() / 10);
    }
}
