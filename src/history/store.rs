//! The history on disk: one compact binary file, `metrics-history.bin`, replaced atomically by
//! the writer thread (temp, fsync, rename), so a crash normally leaves the previous save or the
//! new one. Each resource is its own record with its own checksum, so a file that is damaged
//! anyway (a filesystem that persisted the rename before the data, a disk error) still loads
//! every intact record: a torn tail or a bad record costs only those resources, with a
//! warning. A file whose header is unreadable is set aside (`metrics-history.bin.corrupt-<ms>`)
//! with a warning and history starts empty; the next save writes a fresh file.
//!
//! Format (little-endian): `PULSEHI3`, u32 resource count, then per resource a record: u32
//! body length, the body (u16 id length, id bytes, u8 kind, i64 last sample (unix s), per metric
//! 4 × i64 tier heads and `ALL_SLOTS` × u16 codes (averages, then maxima)), the FNV-1a 64 hash
//! of the body. `PULSEHI2` (the same bodies, unframed, one hash over the whole file) and
//! `PULSEHI1` (averages only, `SLOTS` codes) are still read.

use super::ring::{Series, ALL_SLOTS, SLOTS};
use super::{History, Kind, Resource};
use std::path::{Path, PathBuf};

pub const FILE: &str = "metrics-history.bin";
const MAGIC: &[u8; 8] = b"PULSEHI3";
const MAGIC_V2: &[u8; 8] = b"PULSEHI2";
const MAGIC_V1: &[u8; 8] = b"PULSEHI1";
/// Header: magic and resource count.
const HEADER: usize = 12;

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
/// each), and each slice goes to the writer thread as one piece of the file
/// (`core::writer::Write::Piece`), so neither the loop nor anything else ever holds a copy of
/// the whole history (~21 MB at 3,000 guests). Each resource is encoded as it was at its own
/// tick; the file stays self-consistent per resource.
#[derive(Debug)]
pub struct Partial {
    ids: Vec<Box<str>>,
    at: usize,
    count: u32,
    /// Bytes handed out so far, header included.
    len: u64,
}

/// Where the header's resource count sits (patched when the last piece is written).
pub const COUNT_AT: u64 = 8;

impl Partial {
    /// Starts a save; the first piece is [`Partial::header`].
    pub fn start(h: &History) -> Partial {
        Partial {
            ids: h.resources.keys().cloned().collect(),
            at: 0,
            count: 0,
            len: HEADER as u64,
        }
    }

    /// The file's header, its resource count still zero (see [`Partial::count_patch`]).
    pub fn header() -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&0u32.to_le_bytes());
        b
    }

    /// Encodes up to `n` more resources (those expired meanwhile are skipped) as framed
    /// records whose checksums [`seal`] fills in (on the writer thread).
    pub fn step(&mut self, h: &History, n: usize) -> Vec<u8> {
        let end = (self.at + n).min(self.ids.len());
        let per_series = 4 * 8 + ALL_SLOTS * 2;
        let mut out = Vec::with_capacity((end - self.at) * (64 + 7 * per_series));
        for id in &self.ids[self.at..end] {
            if let Some(r) = h.resources.get(id) {
                encode_record(&mut out, id, r);
                self.count += 1;
            }
        }
        self.at = end;
        self.len += out.len() as u64;
        out
    }

    /// Every resource has been encoded.
    pub fn done(&self) -> bool {
        self.at == self.ids.len()
    }

    /// The file's length once every piece so far is written.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The resource count to write at [`COUNT_AT`] when the file is complete.
    pub fn count_patch(&self) -> Vec<u8> {
        self.count.to_le_bytes().to_vec()
    }
}

/// One framed record: length, body, and room for the body's hash (filled by [`seal`], off
/// the loop).
fn encode_record(out: &mut Vec<u8>, id: &str, r: &Resource) {
    let start = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    encode_resource(out, id, r);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
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
        // Through a fixed array: a byte-wise `extend` over the codes was most of a save's
        // CPU on the loop.
        let codes = s.current_codes();
        let mut bytes = [0u8; ALL_SLOTS * 2];
        for (b, c) in bytes.chunks_exact_mut(2).zip(codes.iter()) {
            b.copy_from_slice(&c.to_le_bytes());
        }
        out.extend_from_slice(&bytes);
    }
}

/// Fills in the hash of every record in `records` (whole records as [`Partial::step`] or
/// [`encode_record`] framed them, no header).
pub fn seal(records: &mut [u8]) {
    let mut at = 0;
    while at + 4 <= records.len() {
        let len = u32::from_le_bytes([
            records[at],
            records[at + 1],
            records[at + 2],
            records[at + 3],
        ]);
        let body = at + 4..at + 4 + len as usize;
        let Some(end) = body.end.checked_add(8).filter(|e| *e <= records.len()) else {
            break;
        };
        let sum = fnv(&records[body.clone()]);
        records[body.end..end].copy_from_slice(&sum.to_le_bytes());
        at = end;
    }
}

/// Serialises the whole history at once (shutdown, tests, the bench).
pub fn encode(h: &History) -> Vec<u8> {
    let mut p = Partial::start(h);
    let mut bytes = Partial::header();
    bytes.extend_from_slice(&p.step(h, usize::MAX));
    seal(&mut bytes[HEADER..]);
    let at = COUNT_AT as usize;
    bytes[at..at + 4].copy_from_slice(&p.count_patch());
    bytes
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

/// Reads one resource body (all formats share it) into `h`.
fn decode_resource(r: &mut Reader, slots: usize, h: &mut History) -> Result<(), String> {
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
    Ok(())
}

/// What reading a file found: the history of every intact record, and what was lost.
#[derive(Debug)]
pub struct Decoded {
    pub history: History,
    /// Resources the header announced.
    pub announced: usize,
    /// Why records were lost (a torn tail, a bad hash), when any were.
    pub damage: Option<String>,
}

/// Reads a file, keeping every intact record of a damaged one. An error only when nothing
/// can be trusted (not a history file, an unreadable header, a bad pre-v3 checksum).
pub fn decode_salvage(bytes: &[u8]) -> Result<Decoded, String> {
    if bytes.len() < HEADER {
        return Err("not a Pulse history file".into());
    }
    let magic = &bytes[..8];
    if magic == MAGIC_V2 || magic == MAGIC_V1 {
        let history = decode_v1_v2(bytes)?;
        let announced = history.resources.len();
        return Ok(Decoded {
            history,
            announced,
            damage: None,
        });
    }
    if magic != MAGIC {
        return Err("not a Pulse history file".into());
    }
    let announced = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| "count")?) as usize;
    let mut h = History::new();
    let mut at = HEADER;
    let mut bad = 0usize;
    let mut torn = false;
    for _ in 0..announced {
        let Some(len) = bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            torn = true;
            break;
        };
        let body = at + 4..at + 4 + len;
        let Some(sum) = bytes.get(body.end..body.end + 8) else {
            torn = true;
            break;
        };
        let body = &bytes[body];
        at += 4 + len + 8;
        if fnv(body) != u64::from_le_bytes(sum.try_into().map_err(|_| "checksum")?) {
            bad += 1;
            continue;
        }
        let mut r = Reader { b: body, at: 0 };
        if decode_resource(&mut r, ALL_SLOTS, &mut h).is_err() || r.at != body.len() {
            bad += 1;
        }
    }
    let kept = h.resources.len();
    let damage = if torn || bad > 0 || at != bytes.len() {
        let mut why = Vec::new();
        if torn {
            why.push("the file ends inside a record (a torn write)".to_string());
        }
        if bad > 0 {
            why.push(format!("{bad} record(s) fail their checksum"));
        }
        if !torn && at != bytes.len() {
            why.push("trailing bytes".to_string());
        }
        Some(format!(
            "{}; kept {kept} of {announced} resources",
            why.join(", ")
        ))
    } else {
        None
    };
    Ok(Decoded {
        history: h,
        announced,
        damage,
    })
}

/// Reads a file that must be whole: any damage is an error.
pub fn decode(bytes: &[u8]) -> Result<History, String> {
    let d = decode_salvage(bytes)?;
    match d.damage {
        Some(why) => Err(why),
        None => Ok(d.history),
    }
}

fn decode_v1_v2(bytes: &[u8]) -> Result<History, String> {
    if bytes.len() < HEADER + 8 {
        return Err("not a Pulse history file".into());
    }
    let slots = if &bytes[..8] == MAGIC_V2 {
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
        decode_resource(&mut r, slots, &mut h)?;
    }
    if r.at != body.len() {
        return Err("trailing bytes".into());
    }
    Ok(h)
}

/// Loads the saved history (start-up, before the loop serves anything). A missing file is an
/// empty history; an unreadable one is renamed aside and reported in the returned warning.
pub fn load(data_dir: &Path, now_ms: i64) -> (History, Option<String>) {
    let (mut h, warning) = load_file(data_dir, now_ms);
    // A damaged file is replaced by the next save even when nothing new was recorded.
    h.dirty |= warning.is_some();
    h.load_warning.clone_from(&warning);
    (h, warning)
}

fn load_file(data_dir: &Path, now_ms: i64) -> (History, Option<String>) {
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
    match decode_salvage(&bytes) {
        Ok(Decoded {
            history,
            damage: None,
            ..
        }) => (history, None),
        // Intact records are kept; the next save replaces the file with a whole one. The
        // damaged file is not renamed: were Pulse to stop before that save, the kept records
        // would still be there to load.
        Ok(Decoded {
            history,
            damage: Some(why),
            ..
        }) => (
            history,
            Some(format!("history file {} is damaged: {why}", p.display())),
        ),
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
    fn pieces_sealed_one_by_one_make_the_whole_file() {
        let h = three_resources();
        let mut p = Partial::start(&h);
        let mut file = Partial::header();
        while !p.done() {
            // As the writer does: each piece sealed on its own, appended.
            let mut piece = p.step(&h, 2);
            seal(&mut piece);
            file.extend_from_slice(&piece);
        }
        assert_eq!(file.len() as u64, p.file_len());
        let at = COUNT_AT as usize;
        file[at..at + 4].copy_from_slice(&p.count_patch());
        assert_eq!(file, encode(&h));
        assert_eq!(decode(&file).expect("decodes").resources.len(), 3);
    }

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

    fn three_resources() -> History {
        let mut h = History::new();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let v = [i as f64, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
            h.record(id, Kind::Guest, 1_000_000, &v);
        }
        h
    }

    /// The ids in file order (a `HashMap` decides it).
    fn order(bytes: &[u8]) -> Vec<String> {
        let mut at = HEADER;
        let mut ids = Vec::new();
        while at + 4 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let idl = u16::from_le_bytes(bytes[at + 4..at + 6].try_into().unwrap()) as usize;
            ids.push(String::from_utf8(bytes[at + 6..at + 6 + idl].to_vec()).unwrap());
            at += 4 + len + 8;
        }
        ids
    }

    #[test]
    fn a_torn_last_record_costs_only_that_resource() {
        let bytes = encode(&three_resources());
        let ids = order(&bytes);
        for cut in [1, 9, 700, 5000] {
            let torn = &bytes[..bytes.len() - cut];
            assert!(decode(torn).is_err(), "strict decode refuses a torn file");
            let d = decode_salvage(torn).expect("salvaged");
            assert_eq!(d.announced, 3);
            let mut kept: Vec<&str> = d.history.resources.keys().map(|k| &**k).collect();
            kept.sort();
            let mut want: Vec<&str> = ids[..2].iter().map(String::as_str).collect();
            want.sort();
            assert_eq!(kept, want, "cut {cut}");
            let why = d.damage.expect("reported");
            assert!(why.contains("torn") && why.contains("kept 2 of 3"), "{why}");
            // What was kept is what was saved.
            let first = &ids[0];
            assert_eq!(
                d.history.points(first, 6, 0, 0, i64::MAX / 4),
                vec![(1_000_000_000, 6.0)]
            );
        }
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_skipped_alone() {
        let mut bytes = encode(&three_resources());
        let ids = order(&bytes);
        let first_len = u32::from_le_bytes(bytes[HEADER..HEADER + 4].try_into().unwrap()) as usize;
        // A byte inside the second record's codes.
        let second = HEADER + 4 + first_len + 8;
        bytes[second + 100] ^= 0x55;
        let d = decode_salvage(&bytes).expect("salvaged");
        assert!(!d.history.resources.contains_key(ids[1].as_str()));
        assert!(d.history.resources.contains_key(ids[0].as_str()));
        assert!(d.history.resources.contains_key(ids[2].as_str()));
        assert!(d
            .damage
            .unwrap()
            .contains("1 record(s) fail their checksum"));
        // A header that is not ours: nothing is trusted.
        bytes[0] = b'X';
        assert!(decode_salvage(&bytes).is_err());
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
            v1.extend(
                s.current_codes()[..SLOTS]
                    .iter()
                    .flat_map(|c| c.to_le_bytes()),
            );
        }
        let sum = fnv(&v1);
        v1.extend_from_slice(&sum.to_le_bytes());
        let back = decode(&v1).expect("v1 decodes");
        assert_eq!(
            back.points("st-1", 0, 2, 0, i64::MAX / 4),
            vec![(999_900_000, 12.5)]
        );
        let with_max = back.points_with_max("st-1", 0, 2, 0, i64::MAX / 4);
        assert_eq!(with_max[0].2, None, "no maxima in a v1 file");
    }
}
