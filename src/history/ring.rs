//! One metric of one resource at several resolutions: fixed-size rings of 16-bit codes, one
//! ring per tier, each averaging the raw samples that fall into its step. Memory per series is
//! fixed (RSS never grows with history length); a gap in the samples is a gap, not a zero.

/// (step in seconds, slots): 10 s for 5 min, 1 min for 1 h, 15 min for 24 h, 2 h for 7 d.
pub const TIERS: [(u32, usize); 4] = [(10, 30), (60, 60), (900, 96), (7200, 84)];
/// Average slots of one series across all tiers.
pub const SLOTS: usize = 30 + 60 + 96 + 84;
/// Maximum slots: every tier but the finest (a 10 s slot holds one sample, its own max), so
/// a spike that a 1 min, 15 min or 2 h average would flatten still shows.
pub const MAX_SLOTS: usize = 60 + 96 + 84;
/// Codes per series: the averages, then the maxima.
pub const ALL_SLOTS: usize = SLOTS + MAX_SLOTS;
/// A slot without data.
pub const MISSING: u16 = u16::MAX;

/// How a metric's values are squeezed into 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Percentages (0..=655.34) to 0.01.
    Percent,
    /// Non-negative quantities (bytes, bytes/s) up to ~1e12 on a log scale, 0.05 % relative.
    Log,
}

const LOG_SCALE: f64 = 2000.0;

impl Codec {
    pub fn encode(self, v: f64) -> u16 {
        if !v.is_finite() {
            return MISSING;
        }
        let v = v.max(0.0);
        let code = match self {
            Codec::Percent => (v * 100.0).round(),
            Codec::Log => ((1.0 + v).ln() * LOG_SCALE).round(),
        };
        code.min(f64::from(MISSING - 1)) as u16
    }

    pub fn decode(self, code: u16) -> f64 {
        match self {
            Codec::Percent => f64::from(code) / 100.0,
            // Rounded to whole units: byte counts and rates have no fractions worth showing.
            Codec::Log => ((f64::from(code) / LOG_SCALE).exp() - 1.0).round(),
        }
    }
}

/// A series: every tier's ring in one allocation, plus each tier's newest slot number and the
/// running mean and maximum of that slot (so a late sample in the same step refines it).
///
/// The newest slot of each tier lives only in `sums`/`counts`/`maxes` until the next slot
/// starts: a sample costs one `encode` and touches this struct, not the four rings (at
/// 3,000 guests the rings are ~20 MiB, and writing four slots of each per sample was most
/// of the history's cost in cache misses, issue #13). Reads and saves see the head slots
/// through [`Series::current_codes`] and `visit`.
#[derive(Debug, Clone)]
pub struct Series {
    pub codec: Codec,
    /// Slot number (`unix_s / step`) of each tier's newest slot; -1 when empty.
    pub heads: [i64; 4],
    sums: [f64; 4],
    counts: [u16; 4],
    /// The newest slot's largest code per tier (`MISSING` while it has no sample).
    maxes: [u16; 4],
    codes: Codes,
}

/// Slots of the finest tier (its averages come first in the codes; it has no maxima).
const FINE: usize = TIERS[0].1;

/// A series' codes, indexed as one array: the finest tier's slots inline, the rest in one
/// allocation. The finest slot closes on every sample; inline, that write lands in the
/// series' own cache lines rather than a random one elsewhere (at 3,000 guests, 22,000 cache
/// misses per cycle on the loop).
#[derive(Debug, Clone)]
struct Codes {
    fine: [u16; FINE],
    rest: Box<[u16]>,
}

impl Codes {
    fn missing() -> Codes {
        Codes {
            fine: [MISSING; FINE],
            rest: vec![MISSING; ALL_SLOTS - FINE].into_boxed_slice(),
        }
    }

    /// From `ALL_SLOTS` codes.
    fn from_all(all: &[u16]) -> Codes {
        let mut c = Codes::missing();
        c.fine.copy_from_slice(&all[..FINE]);
        c.rest.copy_from_slice(&all[FINE..ALL_SLOTS]);
        c
    }

    fn copy_to(&self, out: &mut [u16; ALL_SLOTS]) {
        out[..FINE].copy_from_slice(&self.fine);
        out[FINE..].copy_from_slice(&self.rest);
    }
}

impl std::ops::Index<usize> for Codes {
    type Output = u16;
    fn index(&self, i: usize) -> &u16 {
        if i < FINE {
            &self.fine[i]
        } else {
            &self.rest[i - FINE]
        }
    }
}

impl std::ops::IndexMut<usize> for Codes {
    fn index_mut(&mut self, i: usize) -> &mut u16 {
        if i < FINE {
            &mut self.fine[i]
        } else {
            &mut self.rest[i - FINE]
        }
    }
}

fn offset(tier: usize) -> usize {
    TIERS[..tier].iter().map(|t| t.1).sum()
}

/// Where tier `tier`'s maxima start (tier ≥ 1).
fn max_offset(tier: usize) -> usize {
    SLOTS + offset(tier) - TIERS[0].1
}

impl Series {
    pub fn new(codec: Codec) -> Series {
        Series {
            codec,
            heads: [-1; 4],
            sums: [0.0; 4],
            counts: [0; 4],
            maxes: [MISSING; 4],
            codes: Codes::missing(),
        }
    }

    /// Rebuilt from disk: the running means restart from the stored slot value. `codes` holds
    /// the averages and, from a current file, the maxima (an older file's are missing).
    pub fn restore(codec: Codec, heads: [i64; 4], codes: Box<[u16]>) -> Series {
        let codes = if codes.len() == ALL_SLOTS {
            Codes::from_all(&codes)
        } else {
            let mut all = vec![MISSING; ALL_SLOTS];
            let n = codes.len().min(ALL_SLOTS);
            all[..n].copy_from_slice(&codes[..n]);
            Codes::from_all(&all)
        };
        let mut s = Series {
            codec,
            heads,
            sums: [0.0; 4],
            counts: [0; 4],
            maxes: [MISSING; 4],
            codes,
        };
        for t in 0..4 {
            if heads[t] >= 0 {
                let i = heads[t] as usize % TIERS[t].1;
                let c = s.codes[offset(t) + i];
                if c != MISSING {
                    s.sums[t] = codec.decode(c);
                    s.counts[t] = 1;
                    let m = if t > 0 { s.codes[max_offset(t) + i] } else { c };
                    // An older file has no maxima: the slot has none until its next sample.
                    s.maxes[t] = m;
                }
            }
        }
        s
    }

    /// Adds one sample taken at `unix_s`. Older-than-newest-slot samples are dropped.
    pub fn record(&mut self, unix_s: i64, v: f64) {
        if !v.is_finite() || unix_s < 0 {
            return;
        }
        // The sample's own code, once: every tier's candidate maximum (the log codec's `ln`
        // is most of a record's CPU).
        let own = self.codec.encode(v);
        for (t, &(step, cap)) in TIERS.iter().enumerate() {
            let slot = unix_s / i64::from(step);
            let head = self.heads[t];
            if slot < head {
                continue;
            }
            if slot > head {
                self.close_head(t);
                // Slots skipped since the last sample are gaps (the new head is written
                // when it closes).
                let base = offset(t);
                let gap = if head < 0 { cap as i64 } else { slot - head };
                for s in (slot - gap.min(cap as i64) + 1)..slot {
                    self.codes[base + (s as usize % cap)] = MISSING;
                    if t > 0 {
                        self.codes[max_offset(t) + (s as usize % cap)] = MISSING;
                    }
                }
                self.heads[t] = slot;
                self.sums[t] = 0.0;
                self.counts[t] = 0;
                self.maxes[t] = MISSING;
            }
            self.sums[t] += v;
            self.counts[t] = self.counts[t].saturating_add(1);
            // Codes order like values, so the larger code is the larger value.
            if self.maxes[t] == MISSING || own > self.maxes[t] {
                self.maxes[t] = own;
            }
        }
    }

    /// The newest slot of tier `t` as (average code, maximum code).
    fn head_codes(&self, t: usize) -> (u16, u16) {
        match self.counts[t] {
            0 => (MISSING, MISSING),
            // The finest tier's slot holds one sample, its maximum is its own code (also when
            // restored): no second `encode` (the log codec's `ln`) per sample.
            1 if t == 0 => (self.maxes[0], self.maxes[0]),
            1 => (self.codec.encode(self.sums[t]), self.maxes[t]),
            n => (
                self.codec.encode(self.sums[t] / f64::from(n)),
                self.maxes[t],
            ),
        }
    }

    /// Writes tier `t`'s newest slot into its ring (it is about to stop being the newest).
    fn close_head(&mut self, t: usize) {
        let head = self.heads[t];
        if head < 0 {
            return;
        }
        let i = head as usize % TIERS[t].1;
        let (avg, max) = self.head_codes(t);
        self.codes[offset(t) + i] = avg;
        if t > 0 {
            self.codes[max_offset(t) + i] = max;
        }
    }

    /// Tier `t`'s codes of slot number `s` (average, maximum; the maximum is `MISSING` at the
    /// finest tier).
    fn slot_codes(&self, t: usize, s: i64) -> (u16, u16) {
        if s == self.heads[t] {
            let (avg, max) = self.head_codes(t);
            return (avg, if t > 0 { max } else { MISSING });
        }
        let i = s as usize % TIERS[t].1;
        let max = if t > 0 {
            self.codes[max_offset(t) + i]
        } else {
            MISSING
        };
        (self.codes[offset(t) + i], max)
    }

    /// Every code as it would be if the newest slots were closed now (what a save writes):
    /// the averages of every tier, then the maxima.
    pub fn current_codes(&self) -> [u16; ALL_SLOTS] {
        let mut out = [MISSING; ALL_SLOTS];
        self.codes.copy_to(&mut out);
        for t in 0..4 {
            let head = self.heads[t];
            if head < 0 {
                continue;
            }
            let i = head as usize % TIERS[t].1;
            let (avg, max) = self.head_codes(t);
            out[offset(t) + i] = avg;
            if t > 0 {
                out[max_offset(t) + i] = max;
            }
        }
        out
    }

    /// Points `(unix_ms of the slot start, value)` of `tier` within `[from_s, to_s]`, oldest first.
    pub fn points(&self, tier: usize, from_s: i64, to_s: i64, out: &mut Vec<(i64, f64)>) {
        self.visit(tier, from_s, to_s, |t, avg, _| out.push((t, avg)));
    }

    /// As [`Series::points`], with each slot's largest sample (`None` at the finest tier and
    /// where an older file had none): `(unix ms, average, max)`.
    pub fn points_with_max(
        &self,
        tier: usize,
        from_s: i64,
        to_s: i64,
        out: &mut Vec<(i64, f64, Option<f64>)>,
    ) {
        self.visit(tier, from_s, to_s, |t, avg, max| out.push((t, avg, max)));
    }

    fn visit(&self, tier: usize, from_s: i64, to_s: i64, mut f: impl FnMut(i64, f64, Option<f64>)) {
        let (step, cap) = TIERS[tier];
        let step = i64::from(step);
        let head = self.heads[tier];
        if head < 0 {
            return;
        }
        let first = (head - cap as i64 + 1).max(from_s.div_euclid(step)).max(0);
        let last = head.min(to_s.div_euclid(step));
        for s in first..=last {
            let (c, m) = self.slot_codes(tier, s);
            if c != MISSING {
                let max = (m != MISSING).then(|| self.codec.decode(m));
                f(s * step * 1000, self.codec.decode(c), max);
            }
        }
    }

    /// Clears every slot that starts before `cutoff_s` (retention). Only slots still in the
    /// rings are visited, so with the default retention (the longest tier's span) it is free.
    pub fn forget_before(&mut self, cutoff_s: i64) {
        for (t, &(step, cap)) in TIERS.iter().enumerate() {
            let head = self.heads[t];
            if head < 0 {
                continue;
            }
            let step = i64::from(step);
            let first = (head - cap as i64 + 1).max(0);
            let last_old = head.min(cutoff_s.div_euclid(step) - 1);
            let base = offset(t);
            for s in first..=last_old {
                self.codes[base + (s as usize % cap)] = MISSING;
                if t > 0 {
                    self.codes[max_offset(t) + (s as usize % cap)] = MISSING;
                }
            }
            if last_old >= head {
                self.sums[t] = 0.0;
                self.counts[t] = 0;
                self.maxes[t] = MISSING;
            }
        }
    }

    /// The newest sample time this series holds (unix s), if any.
    pub fn newest_s(&self) -> Option<i64> {
        (self.heads[0] >= 0).then(|| self.heads[0] * i64::from(TIERS[0].0))
    }
}

/// The finest tier whose span covers `range_s`.
pub fn tier_for(range_s: i64) -> usize {
    TIERS
        .iter()
        .position(|&(step, cap)| i64::from(step) * cap as i64 >= range_s)
        .unwrap_or(TIERS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_round_trip_closely() {
        assert_eq!(Codec::Percent.decode(Codec::Percent.encode(42.37)), 42.37);
        let v = 123_456_789.0;
        let back = Codec::Log.decode(Codec::Log.encode(v));
        assert!((back - v).abs() / v < 0.001, "{back}");
        assert_eq!(Codec::Log.decode(Codec::Log.encode(0.0)), 0.0);
        assert_eq!(Codec::Log.encode(f64::NAN), MISSING);
    }

    #[test]
    fn tiers_average_and_gaps_stay_gaps() {
        let mut s = Series::new(Codec::Percent);
        let t0 = 1_000_020; // on a 60 s boundary
        for i in 0..6 {
            s.record(t0 + i * 10, (i * 10) as f64); // one minute: 0..50, mean 25
        }
        let mut out = Vec::new();
        s.points(1, 0, i64::MAX / 2, &mut out);
        assert_eq!(out, vec![(t0 * 1000, 25.0)]);
        out.clear();
        s.points(0, 0, i64::MAX / 2, &mut out);
        assert_eq!(out.len(), 6);
        // 3 minutes of silence, then a sample: the skipped minutes hold nothing.
        s.record(t0 + 240, 80.0);
        out.clear();
        s.points(1, 0, i64::MAX / 2, &mut out);
        assert_eq!(out, vec![(t0 * 1000, 25.0), ((t0 + 240) * 1000, 80.0)]);
        // A gap longer than the ring clears it all.
        s.record(t0 + 240 + 400, 1.0);
        out.clear();
        s.points(0, 0, i64::MAX / 2, &mut out);
        assert_eq!(out, vec![((t0 + 640) * 1000, 1.0)]);
    }

    #[test]
    fn coarse_tiers_keep_the_spike_an_average_hides() {
        let mut s = Series::new(Codec::Percent);
        let t0 = 7_200 * 500;
        for i in 0..360 {
            // An hour at 10 % with one 10 s sample at 100 %.
            s.record(t0 + i * 10, if i == 100 { 100.0 } else { 10.0 });
        }
        let mut out = Vec::new();
        s.points_with_max(3, 0, i64::MAX / 2, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].1 < 11.0 && out[0].2 == Some(100.0), "{out:?}");
        out.clear();
        s.points_with_max(1, 0, i64::MAX / 2, &mut out);
        let spiky: Vec<_> = out.iter().filter(|p| p.2 == Some(100.0)).collect();
        assert_eq!(spiky.len(), 1, "{out:?}");
        assert_eq!(spiky[0].1, 25.0, "the minute's mean");
        out.clear();
        s.points_with_max(0, 0, i64::MAX / 2, &mut out);
        assert!(out.iter().all(|p| p.2.is_none()));
    }

    #[test]
    fn the_newest_slot_is_read_saved_and_restored_as_if_closed() {
        let mut s = Series::new(Codec::Log);
        let q = |v: f64| Codec::Log.decode(Codec::Log.encode(v));
        let t0 = 7_200 * 700; // on every tier's boundary
        for i in 0..3 {
            s.record(t0 + i * 10, 1_000.0 * (i + 1) as f64); // 1000, 2000, 3000
        }
        let mut live = Vec::new();
        s.points_with_max(1, 0, i64::MAX / 2, &mut live);
        assert_eq!(live, vec![(t0 * 1000, q(2_000.0), Some(q(3_000.0)))]);
        // A save mid-slot holds the running mean and max; restored, the slot goes on.
        let saved = s.current_codes();
        let mut back = Series::restore(Codec::Log, s.heads, saved.to_vec().into_boxed_slice());
        let mut again = Vec::new();
        back.points_with_max(1, 0, i64::MAX / 2, &mut again);
        assert_eq!(again, live);
        back.record(t0 + 30, 4_000.0);
        again.clear();
        back.points_with_max(1, 0, i64::MAX / 2, &mut again);
        // The restored mean counts as one sample: (2000 + 4000) / 2.
        assert_eq!(again, vec![(t0 * 1000, q(3_000.0), Some(q(4_000.0)))]);
        // Once the next slot starts, the closed one reads the same from the ring.
        s.record(t0 + 60, 10.0);
        let mut closed = Vec::new();
        s.points_with_max(1, 0, i64::MAX / 2, &mut closed);
        assert_eq!(closed[0], live[0]);
        assert_eq!(closed[1], ((t0 + 60) * 1000, q(10.0), Some(q(10.0))));
    }

    #[test]
    fn retention_forgets_old_slots_only() {
        let mut s = Series::new(Codec::Percent);
        let t0 = 7_200 * 1000;
        for h in 0..48 {
            s.record(t0 + h * 3600, h as f64);
        }
        let cutoff = t0 + 24 * 3600;
        s.forget_before(cutoff);
        let mut out = Vec::new();
        s.points(3, 0, i64::MAX / 2, &mut out);
        assert_eq!(out.len(), 12, "{out:?}");
        assert!(out.iter().all(|p| p.0 >= cutoff * 1000));
        out.clear();
        s.points(2, 0, i64::MAX / 2, &mut out);
        assert!(out.iter().all(|p| p.0 >= cutoff * 1000) && !out.is_empty());
    }

    #[test]
    fn ranges_pick_the_finest_covering_tier() {
        assert_eq!(tier_for(300), 0);
        assert_eq!(tier_for(3600), 1);
        assert_eq!(tier_for(4 * 3600), 2);
        assert_eq!(tier_for(24 * 3600), 2);
        assert_eq!(tier_for(7 * 86400), 3);
    }
}
