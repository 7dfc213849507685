//! The history on disk: one compact binary file, `metrics-history.bin`, replaced atomically by
//! the writer thread (temp, fsync, rename), so a crash leaves the previous save or the new one,
//! never a torn mix. A file that fails its checksum or framing is set aside
//! (`metrics-history.bin.corrupt-<ms>`) with a warning and history starts empty.
//!
//! Format (little-endian): `PULSEHI2`, u32 resource count, per resource: u16 id length, id
//! bytes, u8 kind, i64 last sample (unix s), per metric 4 × i64 tier heads and `ALL_SLOTS` ×
//! u16 codes (averages, then maxima); then the FNV-1a 64 hash of everything before it.
//! `PULSEHI1` files (averages only, `SLOTS` codes) are still read.

use super::ring::{Series, ALL_SLOTS, SLOTS};
use super::{History, Kind, Resource};
use std::path::{Path, PathBuf};

pub const FILE: &str = "metrics-history.bin";
const MAGIC: &[u8; 8] = b"PULSEHI2";
const MAGIC_V1: &[u8; 8] = b"PULSEHI1";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A save in progress: the rings are encoded a slice of resources per loop tick (a few ms
/// each), so the loop never copies or encodes the whole history at once. Each resource is
/// encoded as it was at its own tick; the file stays self-consistent per resource.
#[derive(Debug)]
pub struct Partial {
    ids: Vec<Box<str>>,
    at: usize,
    count: u32,
    buf: Vec<u8>,
}

impl Partial {
    pub fn start(h: &History) -> Partial {
        let per_series = 4 * 8 + ALL_SLOTS * 2;
        let mut buf = Vec::with_capacity(16 + h.resources.len() * (64 + 7 * per_series));
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&0u32.to_le_bytes()); // patched by `finish`
        Partial {
            ids: h.resources.keys().cloned().collect(),
            at: 0,
            count: 0,
            buf,
        }
    }

    /// Encodes up to `n` more resources (those expired meanwhile are skipped); true when done.
    pub fn step(&mut self, h: &History, n: usize) -> bool {
        let end = (self.at + n).min(self.ids.len());
        for id in &self.ids[self.at..end] {
            if let Some(r) = h.resources.get(id) {
                encode_resource(&mut self.buf, id, r);
                self.count += 1;
            }
        }
        self.at = end;
        self.at == self.ids.len()
    }

    /// The bytes without their checksum (see [`seal`], which runs off the loop).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[8..12].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

fn encode_resource(out: &mut Vec<u8>, id: &str, r: &Resource) {
    let id = &id.as_bytes()[..id.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.push(r.kind.code());
    out.extend_from_slice(&r.last_s.to_le_bytes());
    for s in &r.series {
        for head in s.heads {
            out.extend_from_slice(&head.to_le_bytes());
        }
        out.extend(s.codes.iter().flat_map(|c| c.to_le_bytes()));
    }
}

/// Appends the checksum: the file is complete.
pub fn seal(mut bytes: Vec<u8>) -> Vec<u8> {
    let sum = fnv(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes
}

/// Serialises the whole history at once (shutdown, tests, the bench).
pub fn encode(h: &History) -> Vec<u8> {
    let mut p = Partial::start(h);
    p.step(h, usize::MAX);
    seal(p.finish())
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or("truncated")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| "u16")?,
        ))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "i64")?,
        ))
    }
}

pub fn decode(bytes: &[u8]) -> Result<History, String> {
    if bytes.len() < MAGIC.len() + 4 + 8 || (&bytes[..8] != MAGIC && &bytes[..8] != MAGIC_V1) {
        return Err("not a Pulse history file".into());
    }
    let slots = if &bytes[..8] == MAGIC {
        ALL_SLOTS
    } else {
        SLOTS
    };
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if fnv(body) != u64::from_le_bytes(sum.try_into().map_err(|_| "checksum")?) {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader { b: body, at: 8 };
    let count = u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| "count")?) as usize;
    let mut h = History::new();
    for _ in 0..count {
        let len = r.u16()? as usize;
        let id = std::str::from_utf8(r.take(len)?).map_err(|_| "id is not UTF-8")?;
        let kind = Kind::from_code(r.take(1)?[0]).ok_or("unknown resource kind")?;
        let mut res = Resource::new(kind);
        res.last_s = r.i64()?;
        for m in 0..kind.metrics().len() {
            let mut heads = [0i64; 4];
            for head in heads.iter_mut() {
                *head = r.i64()?;
            }
            let raw = r.take(slots * 2)?;
            let codes: Box<[u16]> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            res.series[m] = Series::restore(kind.codec(m), heads, codes);
        }
        h.resources.insert(id.into(), res);
    }
    if r.at != body.len() {
        return Err("trailing bytes".into());
    }
    Ok(h)
}

/// Loads the saved history (start-up, before the loop serves anything). A missing file is an
/// empty history; an unreadable one is renamed aside and reported in the returned warning.
pub fn load(data_dir: &Path, now_ms: i64) -> (History, Option<String>) {
    let p = path(data_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (History::new(), None),
        Err(e) => {
            return (
                History::new(),
                Some(format!("cannot read {}: {e}", p.display())),
            )
        }
    };
    match decode(&bytes) {
        Ok(h) => (h, None),
        Err(why) => {
            let aside = data_dir.join(format!("{FILE}.corrupt-{now_ms}"));
            let moved = std::fs::rename(&p, &aside).map_err(|e| e.to_string());
            let note = match moved {
                Ok(()) => format!(
                    "history file is damaged ({why}); set aside as {}",
                    aside.display()
                ),
                Err(e) => format!("history file is damaged ({why}); could not set it aside: {e}"),
            };
            (History::new(), Some(note))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_detected() {
        let mut h = History::new();
        h.record(
            "pve-n1-100",
            Kind::Guest,
            1_000_000,
            &[50.0, 20.0, 10.0, 1e6, 2e6, 3e3, 4e3],
        );
        h.record("st-1", Kind::Storage, 1_000_000, &[12.5, 1e9, 8e9, 7e9]);
        let bytes = encode(&h);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.resources.len(), 2);
        assert_eq!(
            back.points("pve-n1-100", 0, 0, 0, i64::MAX / 4),
            vec![(1_000_000_000, 50.0)]
        );
        let mut torn = bytes.clone();
        torn.truncate(bytes.len() - 3);
        assert!(decode(&torn).is_err());
        let mut flipped = bytes;
        flipped[20] ^= 0xff;
        assert!(decode(&flipped).is_err());
    }

    #[test]
    fn a_version_1_file_without_maxima_still_loads() {
        let mut h = History::new();
        h.record("st-1", Kind::Storage, 1_000_000, &[12.5, 1e9, 8e9, 7e9]);
        let r = &h.resources["st-1"];
        let mut v1 = MAGIC_V1.to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&4u16.to_le_bytes());
        v1.extend_from_slice(b"st-1");
        v1.push(Kind::Storage.code());
        v1.extend_from_slice(&r.last_s.to_le_bytes());
        for s in &r.series {
            for head in s.heads {
                v1.extend_from_slice(&head.to_le_bytes());
            }
            v1.extend(s.codes[..SLOTS].iter().flat_map(|c| c.to_le_bytes()));
        }
        let back = decode(&seal(v1)).expect("v1 decodes");
        assert_eq!(
            back.points("st-1", 0, 2, 0, i64::MAX / 4),
            vec![(999_900_000, 12.5)]
        );
        let with_max = back.points_with_max("st-1", 0, 2, 0, i64::MAX / 4);
        assert_eq!(with_max[0].2, None, "no maxima in a v1 file");
    }
}
