//! What a host looks like over its history, as numbers KMeans can compare: per metric its
//! level, its spread and its daily shape.

use crate::stats::median;
use crate::MetricSample;

/// Bins of the daily shape: four parts of the day (UTC), six hours each.
pub(crate) const SHAPE_BINS: usize = 4;
/// Features per metric: level, spread and the shape bins.
pub(crate) const PER_METRIC: usize = 2 + SHAPE_BINS;
/// Features of a host profile: [`PER_METRIC`] for each of the four metrics.
pub(crate) const FEATURES: usize = 4 * PER_METRIC;

/// Each feature's weight in the distance, after standardisation: the four shape bins
/// together weigh as much as the level or the spread (a quarter of the squared distance
/// each), so a host's daily rhythm does not outvote where it sits.
pub(crate) fn weight(feature: usize) -> f64 {
    if feature % PER_METRIC < 2 {
        1.0
    } else {
        0.5
    }
}

/// 1.4826 × the median absolute deviation from `centre`: a spread that one incident in
/// the history does not inflate (the standard deviation for Gaussian data).
pub(crate) fn robust_spread(v: &[f64], centre: f64) -> f64 {
    let mut dev: Vec<f64> = v.iter().map(|x| (x - centre).abs()).collect();
    1.4826 * median(&mut dev)
}

/// The part of the day (UTC) of an instant, in `parts` equal parts.
pub(crate) fn part_of_day(epoch_seconds: f64, parts: usize) -> usize {
    let day = epoch_seconds.rem_euclid(86_400.0) / 86_400.0;
    ((day * parts as f64) as usize).min(parts - 1)
}

/// A host's profile: for each metric in [`crate::Metric::ALL`] order, its level (median),
/// spread (robust) and the median of each part of the day less the level.
pub(crate) fn host_profile(samples: &[&MetricSample]) -> [f64; FEATURES] {
    let mut out = [0.0; FEATURES];
    for m in 0..4 {
        let mut values: Vec<f64> = samples.iter().map(|s| s.values()[m]).collect();
        let level = median(&mut values);
        let base = m * PER_METRIC;
        out[base] = level;
        out[base + 1] = robust_spread(&values, level);
        let mut bins: [Vec<f64>; SHAPE_BINS] = Default::default();
        for s in samples {
            let bin = part_of_day(s.timestamp.epoch_seconds(), SHAPE_BINS);
            bins[bin].push(s.values()[m]);
        }
        for (b, mut v) in bins.into_iter().enumerate() {
            let centre = median(&mut v);
            out[base + 2 + b] = if centre.is_nan() { 0.0 } else { centre - level };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_robust_and_exact() {
        // one wild value moves neither
        let v = [10.0, 11.0, 9.0, 10.0, 1e9];
        assert_eq!(median(&mut v.to_vec()), 10.0);
        assert!((robust_spread(&v, 10.0) - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn parts_of_the_day_are_utc_and_cover_the_day() {
        assert_eq!(part_of_day(0.0, 4), 0);
        assert_eq!(part_of_day(6.0 * 3600.0 - 1.0, 4), 0);
        assert_eq!(part_of_day(6.0 * 3600.0, 4), 1);
        assert_eq!(part_of_day(86_400.0 * 3.0 + 23.99 * 3600.0, 4), 3);
        assert_eq!(part_of_day(-1.0, 24), 23);
    }
}
