//! Time zones for quiet hours: the system's zoneinfo files (TZif, as `/usr/share/zoneinfo` holds
//! them) with their POSIX rule for times past the last transition, or a POSIX `TZ` rule typed
//! directly (`EST5EDT,M3.2.0,M11.1.0`). Only what quiet hours need: the UTC offset at an instant.
//!
//! Loading reads a small file, so it happens when the alert configuration is saved or loaded,
//! never per evaluation.

use crate::util::time::{civil_from_days, days_from_civil};
use std::path::Path;

/// A time zone: explicit transitions, then a rule for everything after them.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: String,
    /// (first instant, UTC offset in seconds from then on), sorted.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition.
    initial: i32,
    /// Rule for instants after the last transition (or for everything, without a file).
    rule: Option<PosixRule>,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            transitions: Vec::new(),
            initial: 0,
            rule: None,
        }
    }

    /// The zone called `name`: an IANA name looked up under `dir` (normally
    /// `/usr/share/zoneinfo`), or a POSIX TZ rule. Names with `..` or other odd characters are
    /// refused before touching the file system.
    pub fn load(name: &str, dir: &Path) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("UTC") || name == "Etc/UTC" {
            return Ok(Zone::utc());
        }
        let safe = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
            && !name.starts_with('/')
            && !name.split('/').any(|s| s.is_empty() || s == "..")
            && name.len() <= 64;
        if safe {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                let mut zone = parse_tzif(&bytes).map_err(|e| format!("time zone {name}: {e}"))?;
                zone.name = name.to_string();
                return Ok(zone);
            }
        }
        match PosixRule::parse(name) {
            Some(rule) => Ok(Zone {
                name: name.to_string(),
                transitions: Vec::new(),
                initial: rule.std_offset,
                rule: Some(rule),
            }),
            None => Err(format!("unknown time zone {name:?}")),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seconds to add to UTC to get local time at `unix` seconds.
    pub fn offset_at(&self, unix: i64) -> i32 {
        let idx = self.transitions.partition_point(|(t, _)| *t <= unix);
        match (idx, &self.rule) {
            (i, Some(rule)) if i == self.transitions.len() => rule.offset_at(unix),
            (0, _) => self.initial,
            (i, _) => self.transitions[i - 1].1,
        }
    }

    /// Local (weekday with Monday = 0, minute of the day) at `unix` seconds.
    pub fn local_weekday_minute(&self, unix: i64) -> (u32, u32) {
        let local = unix + i64::from(self.offset_at(unix));
        let days = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (Monday = 0 → Thursday = 3).
        let weekday = (days + 3).rem_euclid(7) as u32;
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        (weekday, minute)
    }
}

/// A POSIX TZ rule: `std offset [dst [offset] [,start[/time],end[/time]]]`.
#[derive(Debug, Clone, PartialEq)]
struct PosixRule {
    /// UTC offsets in seconds (east positive, unlike the POSIX sign).
    std_offset: i32,
    dst: Option<(i32, DateRule, i32, DateRule, i32)>,
}

/// When a DST period starts or ends within a year.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateRule {
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay(u32, u32, u32),
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u32),
    /// `n`: day 0..=365, counting February 29.
    Julian0(u32),
}

impl PosixRule {
    fn parse(s: &str) -> Option<PosixRule> {
        let mut p = Cursor {
            s: s.as_bytes(),
            i: 0,
        };
        p.name()?;
        let std_offset = -p.offset()?;
        if p.done() {
            return Some(PosixRule {
                std_offset,
                dst: None,
            });
        }
        p.name()?;
        let dst_offset = if p.peek() == Some(b',') || p.done() {
            std_offset + 3600
        } else {
            -p.offset()?
        };
        // Without dates POSIX leaves the rule to the implementation; US rules are the usual one.
        let (start, start_t, end, end_t) = if p.done() {
            (
                DateRule::MonthWeekDay(3, 2, 0),
                7200,
                DateRule::MonthWeekDay(11, 1, 0),
                7200,
            )
        } else {
            p.expect(b',')?;
            let start = p.date()?;
            let start_t = p.time_opt()?;
            p.expect(b',')?;
            let end = p.date()?;
            let end_t = p.time_opt()?;
            (start, start_t, end, end_t)
        };
        if !p.done() {
            return None;
        }
        Some(PosixRule {
            std_offset,
            dst: Some((dst_offset, start, start_t, end, end_t)),
        })
    }

    fn offset_at(&self, unix: i64) -> i32 {
        let Some((dst_offset, start, start_t, end, end_t)) = self.dst else {
            return self.std_offset;
        };
        let (year, _, _) = civil_from_days((unix + i64::from(self.std_offset)).div_euclid(86_400));
        // Transition instants in UTC: the start is given in standard time, the end in DST.
        let begins = start.day_start(year) + i64::from(start_t) - i64::from(self.std_offset);
        let ends = end.day_start(year) + i64::from(end_t) - i64::from(dst_offset);
        let in_dst = if begins < ends {
            unix >= begins && unix < ends
        } else {
            // Southern hemisphere: DST spans the new year.
            unix >= begins || unix < ends
        };
        if in_dst {
            dst_offset
        } else {
            self.std_offset
        }
    }
}

impl DateRule {
    /// Unix seconds of local midnight of this day in `year` (as if UTC).
    fn day_start(self, year: i64) -> i64 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let jan1 = days_from_civil(year, 1, 1);
        let day = match self {
            DateRule::Julian1(n) => {
                let n = i64::from(n) - 1;
                jan1 + n + i64::from(leap && n >= 59)
            }
            DateRule::Julian0(n) => jan1 + i64::from(n),
            DateRule::MonthWeekDay(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let first_wd = (first + 4).rem_euclid(7); // 0 = Sunday
                let mut day =
                    first + (i64::from(d) - first_wd).rem_euclid(7) + 7 * (i64::from(w) - 1);
                let next_month = if m == 12 {
                    days_from_civil(year + 1, 1, 1)
                } else {
                    days_from_civil(year, m + 1, 1)
                };
                while day >= next_month {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }
    /// A zone abbreviation: three or more letters, or `<...>` quoted.
    fn name(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'<') {
            while self.peek()? != b'>' {
                self.i += 1;
            }
            self.i += 1;
            return Some(());
        }
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        (self.i - start >= 3).then_some(())
    }
    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
    /// `[+|-]hh[:mm[:ss]]` in seconds, POSIX sign (west positive).
    fn offset(&mut self) -> Option<i32> {
        let sign = match self.peek()? {
            b'-' => {
                self.i += 1;
                -1
            }
            b'+' => {
                self.i += 1;
                1
            }
            _ => 1,
        };
        let mut secs = self.number()? as i32 * 3600;
        if self.peek() == Some(b':') {
            self.i += 1;
            secs += self.number()? as i32 * 60;
            if self.peek() == Some(b':') {
                self.i += 1;
                secs += self.number()? as i32;
            }
        }
        (secs <= 167 * 3600).then_some(sign * secs)
    }
    fn time_opt(&mut self) -> Option<i32> {
        if self.peek() == Some(b'/') {
            self.i += 1;
            self.offset()
        } else {
            Some(7200)
        }
    }
    fn date(&mut self) -> Option<DateRule> {
        match self.peek()? {
            b'M' => {
                self.i += 1;
                let m = self.number()?;
                self.expect(b'.')?;
                let w = self.number()?;
                self.expect(b'.')?;
                let d = self.number()?;
                ((1..=12).contains(&m) && (1..=5).contains(&w) && d <= 6)
                    .then_some(DateRule::MonthWeekDay(m, w, d))
            }
            b'J' => {
                self.i += 1;
                let n = self.number()?;
                (1..=365).contains(&n).then_some(DateRule::Julian1(n))
            }
            _ => {
                let n = self.number()?;
                (n <= 365).then_some(DateRule::Julian0(n))
            }
        }
    }
}

/// Parses a TZif file (RFC 8536, versions 1 to 4): the 64-bit block when present, and the
/// footer's POSIX rule.
fn parse_tzif(b: &[u8]) -> Result<Zone, String> {
    let header = |at: usize| -> Result<[usize; 6], String> {
        if b.get(at..at + 4) != Some(b"TZif") || b.len() < at + 44 {
            return Err("not a TZif file".into());
        }
        let mut counts = [0usize; 6];
        for (k, c) in counts.iter_mut().enumerate() {
            let o = at + 20 + 4 * k;
            *c = u32::from_be_bytes(b[o..o + 4].try_into().unwrap()) as usize;
        }
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
        Ok(counts)
    };
    let block_len = |c: &[usize; 6], time_size: usize| {
        c[3] * time_size + c[3] + c[4] * 6 + c[5] + c[2] * (time_size + 4) + c[1] + c[0]
    };
    let c1 = header(0)?;
    let version = b[4];
    let (at, c, time_size) = if version >= b'2' {
        let second = 44 + block_len(&c1, 4);
        (second + 44, header(second)?, 8)
    } else {
        (44, c1, 4)
    };
    let end = at + block_len(&c, time_size);
    if b.len() < end || c[4] == 0 {
        return Err("truncated TZif file".into());
    }
    let times = &b[at..at + c[3] * time_size];
    let idxs = &b[at + c[3] * time_size..at + c[3] * (time_size + 1)];
    let types_at = at + c[3] * (time_size + 1);
    let offset_of = |t: usize| -> Result<i32, String> {
        let o = types_at + 6 * t;
        if t >= c[4] {
            return Err("bad type index".into());
        }
        Ok(i32::from_be_bytes(b[o..o + 4].try_into().unwrap()))
    };
    let mut transitions = Vec::with_capacity(c[3]);
    for k in 0..c[3] {
        let t = if time_size == 8 {
            i64::from_be_bytes(times[8 * k..8 * k + 8].try_into().unwrap())
        } else {
            i64::from(i32::from_be_bytes(
                times[4 * k..4 * k + 4].try_into().unwrap(),
            ))
        };
        transitions.push((t, offset_of(idxs[k] as usize)?));
    }
    let rule = if time_size == 8 {
        // Footer: "\n<POSIX TZ>\n".
        std::str::from_utf8(&b[end..])
            .ok()
            .map(|f| f.trim_matches('\n'))
            .filter(|f| !f.is_empty())
            .and_then(PosixRule::parse)
    } else {
        None
    };
    Ok(Zone {
        name: String::new(),
        transitions,
        initial: offset_of(0)?,
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NY_RULE: &str = "EST5EDT,M3.2.0,M11.1.0";

    fn unix(y: i64, m: u32, d: u32, h: i64, min: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60
    }

    #[test]
    fn posix_rule_switches_at_the_documented_instants() {
        let z = Zone::load(NY_RULE, Path::new("/nonexistent")).unwrap();
        // 2026: DST from Sunday 8 March 07:00 UTC to Sunday 1 November 06:00 UTC.
        assert_eq!(z.offset_at(unix(2026, 3, 8, 6, 59)), -5 * 3600);
        assert_eq!(z.offset_at(unix(2026, 3, 8, 7, 0)), -4 * 3600);
        assert_eq!(z.offset_at(unix(2026, 11, 1, 5, 59)), -4 * 3600);
        assert_eq!(z.offset_at(unix(2026, 11, 1, 6, 0)), -5 * 3600);
        assert_eq!(z.offset_at(unix(2026, 1, 15, 12, 0)), -5 * 3600);
    }

    #[test]
    fn southern_hemisphere_dst_spans_the_new_year() {
        let z = Zone::load("AEST-10AEDT,M10.1.0,M4.1.0/3", Path::new("/nonexistent")).unwrap();
        assert_eq!(z.offset_at(unix(2026, 1, 10, 0, 0)), 11 * 3600);
        assert_eq!(z.offset_at(unix(2026, 7, 10, 0, 0)), 10 * 3600);
        assert_eq!(z.offset_at(unix(2026, 12, 10, 0, 0)), 11 * 3600);
    }

    #[test]
    fn fixed_offsets_and_utc() {
        let z = Zone::load("<+0530>-5:30", Path::new("/nonexistent")).unwrap();
        assert_eq!(z.offset_at(0), 5 * 3600 + 1800);
        assert_eq!(Zone::load("UTC", Path::new("/x")).unwrap().offset_at(0), 0);
        assert_eq!(Zone::load("", Path::new("/x")).unwrap().offset_at(0), 0);
    }

    #[test]
    fn refuses_unknown_names_and_path_tricks() {
        let dir = Path::new("/usr/share/zoneinfo");
        assert!(Zone::load("Mars/Olympus_Mons", dir).is_err());
        assert!(Zone::load("../../etc/passwd", dir).is_err());
        assert!(Zone::load("/etc/localtime", dir).is_err());
    }

    #[test]
    fn weekday_and_minute_are_local() {
        let z = Zone::load(NY_RULE, Path::new("/nonexistent")).unwrap();
        // Tuesday 2026-01-06 03:30 UTC is Monday 22:30 in New York.
        assert_eq!(
            z.local_weekday_minute(unix(2026, 1, 6, 3, 30)),
            (0, 22 * 60 + 30)
        );
    }

    #[test]
    fn system_zoneinfo_agrees_with_the_rule() {
        let dir = Path::new("/usr/share/zoneinfo");
        let file = Zone::load("America/New_York", dir).expect("tzdata (installed by .ci/run)");
        let rule = Zone::load(NY_RULE, Path::new("/nonexistent")).unwrap();
        for t in [
            unix(1999, 7, 1, 12, 0),
            unix(2026, 3, 8, 7, 0),
            unix(2026, 11, 1, 5, 59),
            unix(2045, 6, 1, 0, 0),
            unix(2045, 12, 1, 0, 0),
        ] {
            assert_eq!(file.offset_at(t), rule.offset_at(t), "at {t}");
        }
        // Before 1967 New York had other rules: the file knows, the rule does not.
        let berlin = Zone::load("Europe/Berlin", dir).unwrap();
        assert_eq!(berlin.offset_at(unix(2026, 7, 1, 0, 0)), 2 * 3600);
        assert_eq!(berlin.offset_at(unix(2026, 1, 1, 0, 0)), 3600);
    }
}
