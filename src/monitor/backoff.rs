//! Exponential retry delays with jitter, so a failing instance is retried quickly at first and
//! then left alone, and many instances failing together (a switch reboot) do not retry in lockstep.
//!
//! The random source is passed in: production seeds it from the clock, tests from a constant,
//! which makes every delay reproducible.

/// A small, fast, seedable generator (SplitMix64). Only used for jitter, never for secrets.
#[derive(Debug, Clone)]
pub struct JitterRng {
    state: u64,
}

impl JitterRng {
    pub fn from_seed(seed: u64) -> JitterRng {
        JitterRng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `delay(attempt) = initial × multiplier^attempt × (1 ± jitter)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    pub initial_ms: i64,
    pub multiplier: f64,
    /// Fraction of the delay added or removed at random (0.2 = ±20 %).
    pub jitter: f64,
    pub max_ms: i64,
}

impl BackoffPolicy {
    /// Pulse's defaults: 5 s, doubling, ±20 %, at most 5 min.
    pub const DEFAULT: BackoffPolicy = BackoffPolicy {
        initial_ms: 5_000,
        multiplier: 2.0,
        jitter: 0.2,
        max_ms: 300_000,
    };

    /// Fast mode (adaptive polling with a maximum interval ≤ 15 s): 750 ms, at most 6 s.
    pub const FAST: BackoffPolicy = BackoffPolicy {
        initial_ms: 750,
        multiplier: 2.0,
        jitter: 0.2,
        max_ms: 6_000,
    };

    /// The wait before retry number `attempt` (0 = first retry after the first failure).
    pub fn delay_ms(&self, attempt: u32, rng: &mut JitterRng) -> i64 {
        let base =
            self.initial_ms.max(0) as f64 * self.multiplier.max(1.0).powi(attempt.min(64) as i32);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + (rng.next_f64() * 2.0 - 1.0) * jitter;
        let delay = base * factor;
        let max = self.max_ms.max(0) as f64;
        // `min` also tames an infinite base after many attempts.
        delay.min(max).max(0.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let policy = BackoffPolicy::DEFAULT;
        let mut rng = JitterRng::from_seed(7);
        for attempt in 0..6 {
            let nominal = 5_000.0 * 2f64.powi(attempt as i32);
            let d = policy.delay_ms(attempt, &mut rng) as f64;
            assert!(
                d >= nominal * 0.8 - 1.0 && d <= nominal * 1.2 + 1.0,
                "attempt {attempt}: {d}"
            );
        }
        for attempt in [7, 20, 200, u32::MAX] {
            assert!(policy.delay_ms(attempt, &mut rng) <= 300_000);
        }
    }

    #[test]
    fn same_seed_same_delays() {
        let policy = BackoffPolicy::DEFAULT;
        let (mut a, mut b) = (JitterRng::from_seed(42), JitterRng::from_seed(42));
        let da: Vec<i64> = (0..5).map(|i| policy.delay_ms(i, &mut a)).collect();
        let db: Vec<i64> = (0..5).map(|i| policy.delay_ms(i, &mut b)).collect();
        assert_eq!(da, db);
        let mut c = JitterRng::from_seed(43);
        let dc: Vec<i64> = (0..5).map(|i| policy.delay_ms(i, &mut c)).collect();
        assert_ne!(da, dc, "jitter must depend on the seed");
    }

    #[test]
    fn no_jitter_is_exact() {
        let policy = BackoffPolicy {
            jitter: 0.0,
            ..BackoffPolicy::FAST
        };
        let mut rng = JitterRng::from_seed(1);
        let delays: Vec<i64> = (0..5).map(|i| policy.delay_ms(i, &mut rng)).collect();
        assert_eq!(delays, vec![750, 1_500, 3_000, 6_000, 6_000]);
    }
}
