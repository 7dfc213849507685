//! Wall-clock helpers and the two time encodings the Pulse API uses: Unix milliseconds and
//! RFC 3339 strings (Go's `time.Time` JSON, whose zero value is `0001-01-01T00:00:00Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, with sub-second precision.
pub fn unix_now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whole seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    unix_now_f64() as i64
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A UTC instant serialised as an RFC 3339 string, like Go's `time.Time`.
/// `UtcTime::ZERO` serialises as `0001-01-01T00:00:00Z`, as Go's zero time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    /// Seconds since the Unix epoch; `ZERO_SECS` marks the zero time.
    pub secs: i64,
    pub nanos: u32,
}

/// Unix seconds of 0001-01-01T00:00:00Z.
const ZERO_SECS: i64 = -62_135_596_800;

impl UtcTime {
    pub const ZERO: UtcTime = UtcTime {
        secs: ZERO_SECS,
        nanos: 0,
    };

    pub fn now() -> UtcTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UtcTime {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }

    pub fn from_unix(secs: i64) -> UtcTime {
        UtcTime { secs, nanos: 0 }
    }

    pub fn from_unix_ms(ms: i64) -> UtcTime {
        UtcTime {
            secs: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) as u32) * 1_000_000,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.secs == ZERO_SECS && self.nanos == 0
    }

    /// Unix milliseconds, second precision like Pulse's `t.Unix()*1000`.
    pub fn unix_ms(&self) -> i64 {
        self.secs * 1000
    }

    pub fn to_rfc3339(&self) -> String {
        format_rfc3339(self.secs, self.nanos)
    }

    pub fn parse(s: &str) -> Option<UtcTime> {
        parse_rfc3339(s).map(|(secs, nanos)| UtcTime { secs, nanos })
    }
}

/// The zero value is Go's zero time, so `#[serde(default)]` fields read as "never".
impl Default for UtcTime {
    fn default() -> Self {
        UtcTime::ZERO
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On the stack: the state and every alert carry several of these, and a `String`
        // through `format!` per timestamp was a visible share of serialising them.
        let mut buf = [0u8; RFC3339_MAX];
        s.serialize_str(write_rfc3339(self.secs, self.nanos, &mut buf))
    }
}

/// The longest [`write_rfc3339`] output: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const RFC3339_MAX: usize = 30;

/// [`format_rfc3339`] into `buf`, without allocating. Years outside 0..=9999 (never seen in
/// practice) take the allocating path's digits clipped to four, so the output stays the
/// same shape; `format_rfc3339` is the reference for them.
fn write_rfc3339(secs: i64, nanos: u32, buf: &mut [u8; RFC3339_MAX]) -> &str {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y, 4);
    put(5, mo, 2);
    put(8, d, 2);
    put(11, (rem / 3600) as u32, 2);
    put(14, ((rem % 3600) / 60) as u32, 2);
    put(17, (rem % 60) as u32, 2);
    let mut len = 19;
    if nanos > 0 {
        put(20, nanos.min(999_999_999), 9);
        len = 29;
        while buf[len - 1] == b'0' {
            len -= 1;
        }
        buf[19] = b'.';
    }
    buf[4] = b'-';
    buf[7] = b'-';
    buf[10] = b'T';
    buf[13] = b':';
    buf[16] = b':';
    buf[len] = b'Z';
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&buf[..len + 1]).unwrap_or("0001-01-01T00:00:00Z")
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UtcTime::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}")))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 in UTC with Go's RFC3339Nano trimming (no trailing zeros in the fraction).
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; returns UTC seconds and nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<i64>().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 3600 + om * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_formatter_matches_the_reference() {
        let mut buf = [0u8; RFC3339_MAX];
        for secs in [
            0,
            1,
            59,
            86_399,
            951_782_400, // 2000-02-29
            1_764_000_000,
            4_102_444_799, // 2099-12-31T23:59:59
            ZERO_SECS,
            -1,
        ] {
            for nanos in [0, 1, 500_000_000, 123_456_000, 999_999_999, 10] {
                assert_eq!(
                    write_rfc3339(secs, nanos, &mut buf),
                    format_rfc3339(secs, nanos),
                    "{secs} {nanos}"
                );
            }
        }
        let t = UtcTime::from_unix_ms(1_764_000_000_123);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            format!("\"{}\"", t.to_rfc3339())
        );
    }

    #[test]
    fn formats_epoch_and_zero_time() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(UtcTime::ZERO.to_rfc3339(), "0001-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_754_995_749, 123_000_000),
            "2025-08-12T10:49:09.123Z"
        );
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(
            parse_rfc3339("2025-10-10T09:30:00Z"),
            Some((1_760_088_600, 0))
        );
        assert_eq!(
            parse_rfc3339("2025-10-10T11:30:00+02:00"),
            Some((1_760_088_600, 0))
        );
        assert_eq!(
            parse_rfc3339("2025-10-10T09:30:00.5Z"),
            Some((1_760_088_600, 500_000_000))
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some((ZERO_SECS, 0)));
        assert_eq!(parse_rfc3339("2025-13-10T09:30:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn round_trips_through_serde() {
        let t = UtcTime {
            secs: 1_760_088_600,
            nanos: 42,
        };
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2025-10-10T09:30:00.000000042Z\"");
        assert_eq!(serde_json::from_str::<UtcTime>(&j).unwrap(), t);
    }
}
