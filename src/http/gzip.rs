//! gzip for responses: only for types that compress and bodies big enough to be worth it.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

/// Bodies smaller than this go out as they are (the gzip header alone is ~20 bytes).
pub const MIN_SIZE: usize = 860;

pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(6));
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
}
