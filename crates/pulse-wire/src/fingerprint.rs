//! Certificate fingerprints as Proxmox shows them and users paste them.

/// SHA-256 of a DER certificate as upper-case hex pairs joined by `:`
/// (`AB:CD:...`), the form `pvenode cert info` prints.
pub fn fingerprint_of(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(digest.as_ref().len() * 3);
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn colon_separated_upper_hex() {
        let fp = super::fingerprint_of(b"abc");
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert!(fp.starts_with("BA:78:16:BF:8F:01:CF:EA"));
    }
}
