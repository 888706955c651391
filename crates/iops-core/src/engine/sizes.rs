//! What the models count in samples, from the durations of the configuration and the
//! series' cadence, observed on its first samples.
//!
//! Why: a day is 288 samples of a 5-minute series but 1,440 of a 1-minute one. Sizes fixed
//! in samples made the engine's "day" 4.8 hours on 1-minute data and 12 days on hourly data.

use serde::{Deserialize, Serialize};

use super::config::EngineParams;

/// Samples whose intervals give the cadence; the models start once they are in.
pub(crate) const CADENCE_SAMPLES: usize = 16;
/// Buckets of the rolling windows (each a 48th of the window: 30 minutes of a day).
pub(crate) const WINDOW_BUCKETS: u32 = 48;
/// Sub-buckets of a level model's span.
pub(crate) const LEVEL_SUBS: u32 = 16;
/// The cadence assumed when the first samples give no interval (all at one instant).
const DEFAULT_CADENCE: f64 = 300.0;
/// Bounds of the cadence: one second to one day.
const CADENCE_RANGE: (f64, f64) = (1.0, 86_400.0);

/// The median positive interval between the `timestamps` in time order (seconds), within
/// one second and one day: the order they arrived in does not matter, and duplicates give
/// no interval.
pub(crate) fn cadence(timestamps: &[f64]) -> f64 {
    let mut sorted = timestamps.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut dt: Vec<f64> = sorted
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b - a > 0.0 => Some(b - a),
            _ => None,
        })
        .collect();
    dt.sort_by(f64::total_cmp);
    dt.get(dt.len() / 2)
        .copied()
        .unwrap_or(DEFAULT_CADENCE)
        .clamp(CADENCE_RANGE.0, CADENCE_RANGE.1)
}

/// Every size of a series' models, in seconds and in samples of its cadence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sizes {
    /// Seconds between samples.
    pub(crate) cadence: f64,
    /// Span of the rolling windows (at least `min_window_samples` intervals).
    pub(crate) window: f64,
    /// Samples a rolling window keeps at least, however old: its nominal count, so a gap
    /// does not leave it with a handful.
    pub(crate) window_keep: f64,
    /// Samples before the rolling model scores.
    pub(crate) min_samples: f64,
    /// Seasonal slot width (0: no seasonal model) and slots per period.
    pub(crate) slot: f64,
    pub(crate) slots: u32,
    /// Spans of the level model and of the volatility model.
    pub(crate) level: f64,
    pub(crate) volatility: f64,
    /// Memory and horizon of the point calibrator, in samples.
    pub(crate) memory: f64,
    pub(crate) horizon: f64,
}

impl Sizes {
    pub(crate) fn new(p: &EngineParams, cadence: f64) -> Self {
        let window = p.window_seconds.max(p.min_window_samples as f64 * cadence);
        let window_keep = (window / cadence).round();
        let min_samples = (p.warmup_seconds / cadence)
            .round()
            .max(p.min_samples as f64)
            .min(window_keep);
        let slot = p.season_slot_seconds.max(cadence);
        let slots = (p.season_seconds / slot).round();
        // a season needs at least two slots to be one
        let (slot, slots) = if slots >= 2.0 {
            (slot, slots.min(f64::from(u32::MAX)) as u32)
        } else {
            (0.0, 0)
        };
        Sizes {
            cadence,
            window,
            window_keep,
            min_samples,
            slot,
            slots,
            level: p.level_seconds.max(cadence),
            volatility: p.volatility_seconds.max(cadence),
            memory: p.memory_seconds / cadence,
            horizon: p.calibration_horizon_seconds / cadence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_is_the_median_interval() {
        let t: Vec<f64> = (0..16).map(|i| f64::from(i) * 60.0).collect();
        assert_eq!(cadence(&t), 60.0);
        // a gap and a duplicate do not move the median
        let mut g = t.clone();
        g[8] = g[7];
        for x in g.iter_mut().skip(10) {
            *x += 7200.0;
        }
        assert_eq!(cadence(&g), 60.0);
        // samples arriving out of order: the same cadence
        let mut shuffled = t.clone();
        shuffled.swap(1, 2);
        shuffled.swap(5, 9);
        shuffled.reverse();
        assert_eq!(cadence(&shuffled), 60.0);
        assert_eq!(cadence(&[5.0; 16]), DEFAULT_CADENCE);
        assert_eq!(cadence(&[0.0, 1e-3]), 1.0);
    }

    #[test]
    fn durations_are_time_at_any_cadence() {
        let p = EngineParams::default();
        let five = Sizes::new(&p, 300.0);
        let one = Sizes::new(&p, 60.0);
        // the default window, a day: 288 samples at 5 minutes, 1,440 at 1 minute
        assert_eq!((five.window, five.window_keep), (86_400.0, 288.0));
        assert_eq!((one.window, one.window_keep), (86_400.0, 1440.0));
        // the seasonal slots are no finer than 5 minutes
        assert_eq!((one.slot, one.slots), (300.0, 288));
        // hourly: the window holds 24 samples; slots are hours
        let hourly = Sizes::new(&p, 3600.0);
        assert_eq!((hourly.window_keep, hourly.slots), (24.0, 24));
        assert_eq!(hourly.level, 3600.0);
        // daily samples have no daily season
        assert_eq!(Sizes::new(&p, 86_400.0).slots, 0);
    }
}
