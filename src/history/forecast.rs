//! "Full in N days": a robust trend of a usage-percent series from its history.
//!
//! The slope is Theil–Sen (the median of the slopes between every pair of points), so a
//! one-off spike (a backup landing and being pruned, a big temp file) does not tilt it the
//! way least squares would. The points come from the coarse tiers (2 h buckets over 7 days,
//! else 15 min buckets over 24 h), thinned to at most [`MAX_POINTS`] so the pairwise step stays
//! small (≤ 276 pairs per series). Computed off the loop (`core::history::refresh_forecasts`).
//!
//! Confidence (0–1) is the product of
//! - fit: how much of the change the line explains, `1 − 2·P75(|residuals|) / max(|Δtrend|, 0.5 pp)`
//!   clamped to 0–1 (noise as large as half the trend → 0), and
//! - coverage: `span / 3 days`, capped at 1 (a day of history is a weak basis).

use serde::Serialize;

/// Points per series the pairwise slope looks at.
pub const MAX_POINTS: usize = 24;
/// Fewer points, or a shorter span, gives no forecast.
pub const MIN_POINTS: usize = 4;
pub const MIN_SPAN_S: i64 = 3600;
/// Beyond this, "full in" is reported as never (`null`).
pub const HORIZON_DAYS: f64 = 3650.0;
/// Growth slower than this (percentage points a day) is flat.
pub const FLAT_PP_PER_DAY: f64 = 0.01;

/// One resource's trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    /// Usage now as the trend puts it (percent).
    pub usage_percent: f64,
    /// Percentage points a day (negative: shrinking).
    pub growth_percent_per_day: f64,
    /// Days until 100 % at this growth; `null` when flat, shrinking, or beyond ten years.
    pub days_until_full: Option<f64>,
    /// 0–1, see the module documentation.
    pub confidence: f64,
    /// Hours of history the trend is based on.
    pub basis_hours: f64,
}

fn median(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if v.len() % 2 == 1 {
        m
    } else {
        let lower = v[..mid].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (lower + m) / 2.0
    }
}

/// Keeps at most `max` points, evenly spaced by index, always the first and the last.
pub fn thin(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    (0..max)
        .map(|i| points[i * (points.len() - 1) / (max - 1)])
        .collect()
}

/// The trend of `points` (`(unix ms, percent)`, oldest first), or `None` when there is too
/// little history.
pub fn forecast(points: &[(i64, f64)]) -> Option<Forecast> {
    let pts = thin(points, MAX_POINTS);
    if pts.len() < MIN_POINTS {
        return None;
    }
    let (t0, t_last) = (pts[0].0, pts[pts.len() - 1].0);
    let span_s = (t_last - t0) / 1000;
    if span_s < MIN_SPAN_S {
        return None;
    }
    // Days since the first point keep the numbers small.
    let xs: Vec<f64> = pts
        .iter()
        .map(|p| (p.0 - t0) as f64 / 86_400_000.0)
        .collect();
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dx = xs[j] - xs[i];
            if dx > 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let slope = median(&mut slopes);
    let mut intercepts: Vec<f64> = pts.iter().zip(&xs).map(|(p, x)| p.1 - slope * x).collect();
    let intercept = median(&mut intercepts);
    let mut residuals: Vec<f64> = pts
        .iter()
        .zip(&xs)
        .map(|(p, x)| (p.1 - (intercept + slope * x)).abs())
        .collect();
    // The 75th percentile of the residuals: a few spikes stay above it, but noise that
    // affects half the points (which a median would call zero) does not.
    let q = residuals.len() * 3 / 4;
    let (_, spread, _) = residuals.select_nth_unstable_by(q, f64::total_cmp);
    let spread = *spread;
    let span_days = xs[xs.len() - 1];
    let change = (slope * span_days).abs().max(0.5);
    let fit = (1.0 - 2.0 * spread / change).clamp(0.0, 1.0);
    let coverage = (span_days / 3.0).min(1.0);
    let now = (intercept + slope * span_days).clamp(0.0, 100.0);
    let days_until_full = (slope >= FLAT_PP_PER_DAY)
        .then(|| (100.0 - now) / slope)
        .filter(|d| *d <= HORIZON_DAYS);
    let round = |v: f64, k: f64| (v * k).round() / k;
    Some(Forecast {
        usage_percent: round(now, 100.0),
        growth_percent_per_day: round(slope, 1000.0),
        days_until_full: days_until_full.map(|d| round(d, 10.0)),
        confidence: round(fit * coverage, 100.0),
        basis_hours: round(span_days * 24.0, 10.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn a_steady_climb_is_forecast_and_a_spike_does_not_tilt_it() {
        // 7 days of 2 h buckets, +1 pp a day from 50 %.
        let mut pts: Vec<(i64, f64)> = (0..84)
            .map(|i| (i * 2 * H, 50.0 + i as f64 * 2.0 / 24.0))
            .collect();
        let f = forecast(&pts).expect("enough history");
        assert!((f.growth_percent_per_day - 1.0).abs() < 0.01, "{f:?}");
        let now = 50.0 + 83.0 * 2.0 / 24.0;
        assert!(
            (f.days_until_full.unwrap() - (100.0 - now)).abs() < 0.2,
            "{f:?}"
        );
        assert!(f.confidence > 0.95, "{f:?}");
        // A few huge spikes barely move it.
        for i in [10, 40, 41, 70] {
            pts[i].1 = 99.0;
        }
        let g = forecast(&pts).unwrap();
        assert!((g.growth_percent_per_day - 1.0).abs() < 0.1, "{g:?}");
    }

    #[test]
    fn flat_shrinking_and_short_histories_have_no_full_date() {
        let flat: Vec<(i64, f64)> = (0..50).map(|i| (i * H, 40.0)).collect();
        let f = forecast(&flat).unwrap();
        assert_eq!(f.days_until_full, None);
        assert_eq!(f.growth_percent_per_day, 0.0);
        let down: Vec<(i64, f64)> = (0..50).map(|i| (i * H, 80.0 - i as f64 * 0.1)).collect();
        assert_eq!(forecast(&down).unwrap().days_until_full, None);
        let short: Vec<(i64, f64)> = (0..3).map(|i| (i * H, 10.0 + i as f64)).collect();
        assert_eq!(forecast(&short), None);
        let quick: Vec<(i64, f64)> = (0..10).map(|i| (i * 60_000, 10.0 + i as f64)).collect();
        assert_eq!(forecast(&quick), None, "under an hour of span");
    }

    #[test]
    fn noise_lowers_the_confidence() {
        let noisy: Vec<(i64, f64)> = (0..84)
            .map(|i| {
                let wobble = if i % 2 == 0 { 8.0 } else { -8.0 };
                (i * 2 * H, 50.0 + i as f64 * 0.01 + wobble)
            })
            .collect();
        let f = forecast(&noisy).unwrap();
        assert!(f.confidence < 0.2, "{f:?}");
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let pts: Vec<(i64, f64)> = (0..100).map(|i| (i, i as f64)).collect();
        let t = thin(&pts, 24);
        assert_eq!(t.len(), 24);
        assert_eq!(t[0], (0, 0.0));
        assert_eq!(t[23], (99, 99.0));
    }
}
