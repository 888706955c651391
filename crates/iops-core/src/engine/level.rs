//! A level model: the mean of the last stretch of time against the history of such means,
//! as a calibrated surprise, for each of `L` series sampled together.
//!
//! It finds what no single sample shows: a sustained shift (the mean of the last 30 minutes
//! or 8 hours of the values) or a series turning erratic (the mean absolute change between
//! samples over the last hour). The stretch is a queue of time sub-buckets (a 16th of the
//! span each, so memory does not grow with the cadence); each span of time that ends adds
//! its mean to an exponentially weighted baseline (mean and variance) remembered over the
//! engine's memory, and its surprise to the calibrator.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::calibrate::SurpriseCalibrator;
use super::fastmath::max;
use super::lanes::Lanes;
use super::sizes::LEVEL_SUBS;
use super::window::floor_index;

/// A level model's surprises are calibrated on at least this many spans: the history of a
/// long span's means needs a few of them before its tail means anything.
const MIN_CALIBRATION_SPANS: f64 = 4.0;
/// Relative floor on the baseline's spread.
const SPREAD_FLOOR: f64 = 1e-9;

use crate::Error;

/// One sub-bucket of the stretch: the values whose time fell in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Sub<const L: usize> {
    index: i64,
    n: f64,
    sum: Lanes<f64, L>,
}

/// What a level model concluded about one sample (before learning it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LevelScore<const L: usize> {
    /// Mean of the stretch, the sample included.
    pub(crate) mean: Lanes<f64, L>,
    /// Its z-score against the baseline of such means (0 while not warm).
    pub(crate) z: Lanes<f64, L>,
    /// Calibrated log-surprise of |z| (0 while not warm).
    pub(crate) surprise: Lanes<f64, L>,
    pub(crate) bin: Lanes<usize, L>,
}

/// Mean of the last `span` seconds against the baseline of such means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LevelState<L>")]
pub(crate) struct Level<const L: usize> {
    span: f64,
    /// Seconds per sub-bucket.
    sub: f64,
    subs: VecDeque<Sub<L>>,
    /// Count and sums of the sub-buckets held.
    held_n: f64,
    held_sum: Lanes<f64, L>,
    /// Index of the span of time of the newest sample (`i64::MIN` before any).
    block: i64,
    /// End time of that span (derived, rebuilt on decode).
    #[serde(skip)]
    block_end: f64,
    /// Baseline of the spans' means: exponentially weighted mean and variance, and the
    /// number of spans it has seen.
    base_mean: Lanes<f64, L>,
    base_var: Lanes<f64, L>,
    blocks: f64,
    /// `1 / spread` of the baseline, the spread at least a billionth of its level
    /// (derived, rebuilt on decode and whenever the baseline learns: no division per sample).
    #[serde(skip)]
    inv_spread: Lanes<f64, L>,
    /// Weight of a new span once the baseline is full (span / memory).
    alpha: f64,
    /// Spans before the model speaks.
    min_blocks: f64,
    calibration: SurpriseCalibrator<L>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelState<const L: usize> {
    span: f64,
    sub: f64,
    subs: VecDeque<Sub<L>>,
    held_n: f64,
    held_sum: Lanes<f64, L>,
    block: i64,
    base_mean: Lanes<f64, L>,
    base_var: Lanes<f64, L>,
    blocks: f64,
    alpha: f64,
    min_blocks: f64,
    calibration: SurpriseCalibrator<L>,
}

impl<const L: usize> TryFrom<LevelState<L>> for Level<L> {
    type Error = Error;

    fn try_from(s: LevelState<L>) -> Result<Self, Error> {
        let finite = |v: &Lanes<f64, L>| v.iter().all(|x| x.is_finite());
        let ok = s.span.is_finite()
            && s.span > 0.0
            && s.sub.is_finite()
            && s.sub > 0.0
            && s.subs.len() <= LEVEL_SUBS as usize + 1
            && s.subs.iter().all(|b| b.n.is_finite() && finite(&b.sum))
            && s.held_n.is_finite()
            && finite(&s.held_sum)
            && finite(&s.base_mean)
            && finite(&s.base_var)
            && s.base_var.iter().all(|v| *v >= 0.0)
            && s.blocks.is_finite()
            && s.alpha.is_finite()
            && s.min_blocks.is_finite();
        if !ok {
            return Err(Error::Decode {
                what: "engine level state",
                reason: "span, sub-buckets or baseline out of range".into(),
            });
        }
        Ok(Level {
            span: s.span,
            sub: s.sub,
            subs: s.subs,
            held_n: s.held_n,
            held_sum: s.held_sum,
            block: s.block,
            block_end: if s.block == i64::MIN {
                f64::MIN
            } else {
                (s.block + 1) as f64 * s.span
            },
            inv_spread: Self::inverse_spread(&s.base_mean, &s.base_var),
            base_mean: s.base_mean,
            base_var: s.base_var,
            blocks: s.blocks,
            alpha: s.alpha,
            min_blocks: s.min_blocks,
            calibration: s.calibration,
        })
    }
}

impl<const L: usize> Level<L> {
    /// A level model over `span` seconds of a series sampled every `cadence` seconds,
    /// remembering `memory` seconds (probabilities count `horizon` of them); its calibrator
    /// waits for `calibration_min_samples` samples' worth of spans.
    pub(crate) fn new(
        span: f64,
        cadence: f64,
        memory: f64,
        horizon: f64,
        calibration_min_samples: usize,
        gaussian_scale: f64,
    ) -> Self {
        let per_span = (span / cadence).round().max(1.0);
        let min_calibration = (calibration_min_samples as f64 / per_span)
            .floor()
            .max(MIN_CALIBRATION_SPANS);
        Level {
            span,
            sub: span / f64::from(LEVEL_SUBS),
            subs: VecDeque::new(),
            held_n: 0.0,
            held_sum: Lanes::splat(0.0),
            block: i64::MIN,
            block_end: f64::MIN,
            base_mean: Lanes::splat(0.0),
            base_var: Lanes::splat(0.0),
            blocks: 0.0,
            // as decoding rebuilds it, so a saved and reloaded state equals the live one
            inv_spread: Self::inverse_spread(&Lanes::splat(0.0), &Lanes::splat(0.0)),
            alpha: span / memory,
            // the baseline speaks once it has about 50 samples' worth of spans
            min_blocks: (50.0 / per_span).floor().max(2.0),
            calibration: SurpriseCalibrator::new(
                memory / span,
                min_calibration as u64,
                gaussian_scale,
            )
            .with_horizon(horizon / span),
        }
    }

    /// `1 / spread` of a baseline per lane (the spread no smaller than a billionth of the
    /// level, so a flat history does not divide by zero).
    fn inverse_spread(mean: &Lanes<f64, L>, var: &Lanes<f64, L>) -> Lanes<f64, L> {
        Lanes::from_fn(|l| 1.0 / max(var[l].sqrt(), SPREAD_FLOOR * (1.0 + mean[l].abs())))
    }

    /// The level of time `t` with one more value per lane, `x`, scored against the
    /// baseline. Sub-buckets older than the span leave first.
    #[inline(always)]
    pub(crate) fn score(&mut self, t: f64, x: Lanes<f64, L>) -> LevelScore<L> {
        // (the oldest sub-bucket leaves once the span has passed its start)
        let leaves_at = self
            .subs
            .front()
            .map_or(f64::MAX, |s| s.index as f64 * self.sub + self.span);
        if t >= leaves_at {
            let oldest = floor_index((t - self.span) / self.sub);
            while let Some(gone) = self.subs.front().copied().filter(|s| s.index <= oldest) {
                self.subs.pop_front();
                self.held_n -= gone.n;
                for l in 0..L {
                    self.held_sum[l] -= gone.sum[l];
                }
            }
        }
        let inv = 1.0 / (self.held_n + 1.0);
        let mean = Lanes::from_fn(|l| (self.held_sum[l] + x[l]) * inv);
        if self.blocks < self.min_blocks {
            return LevelScore {
                mean,
                z: Lanes::splat(0.0),
                surprise: Lanes::splat(0.0),
                bin: Lanes::splat(0),
            };
        }
        let z = Lanes::from_fn(|l| (mean[l] - self.base_mean[l]) * self.inv_spread[l]);
        let (surprise, bin) = self.calibration.score(z.map(f64::abs));
        LevelScore {
            mean,
            z,
            surprise,
            bin,
        }
    }

    /// Learns the values `x` of time `t`, scored as `s`: they join the stretch, and when a
    /// span of time has ended, its mean joins the baseline and its surprise the calibrator.
    #[inline(always)]
    pub(crate) fn learn(&mut self, t: f64, x: Lanes<f64, L>, s: &LevelScore<L>) {
        let newest_end = self
            .subs
            .back()
            .map_or(f64::MIN, |s| (s.index + 1) as f64 * self.sub);
        match self.subs.back_mut() {
            // the newest sub-bucket takes the values before its end (late ones too)
            Some(b) if t < newest_end => {
                b.n += 1.0;
                for l in 0..L {
                    b.sum[l] += x[l];
                }
            }
            _ => self.subs.push_back(Sub {
                index: floor_index(t / self.sub),
                n: 1.0,
                sum: x,
            }),
        }
        self.held_n += 1.0;
        for l in 0..L {
            self.held_sum[l] += x[l];
        }
        if t < self.block_end {
            return;
        }
        let block = floor_index(t / self.span);
        self.block_end = (block + 1) as f64 * self.span;
        if self.block != i64::MIN && block > self.block {
            // the running sums again from the sub-buckets held (subtracting leaves rounding)
            self.held_n = self.subs.iter().map(|s| s.n).sum();
            self.held_sum = self.subs.iter().fold(Lanes::splat(0.0), |acc, s| {
                Lanes::from_fn(|l| acc[l] + s.sum[l])
            });
            if self.blocks >= self.min_blocks {
                self.calibration.learn(s.bin, s.z.map(f64::abs));
            }
            self.blocks += 1.0;
            let a = max(1.0 / self.blocks, self.alpha);
            for l in 0..L {
                let d = s.mean[l] - self.base_mean[l];
                self.base_mean[l] += a * d;
                self.base_var[l] = (1.0 - a) * (self.base_var[l] + a * d * d);
            }
            self.inv_spread = Self::inverse_spread(&self.base_mean, &self.base_var);
        }
        if block > self.block {
            self.block = block;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A level model over 30 minutes of 1-minute values, memory a week.
    fn model() -> Level<1> {
        Level::new(1800.0, 60.0, 7.0 * 86_400.0, 86_400.0, 100, 1.5)
    }

    fn run(m: &mut Level<1>, t: f64, x: f64) -> LevelScore<1> {
        let s = m.score(t, Lanes([x]));
        m.learn(t, Lanes([x]), &s);
        s
    }

    #[test]
    fn a_sustained_shift_is_surprising_a_single_spike_much_less() {
        let noise = |i: u32| f64::from((i * 7919) % 13) - 6.0;
        let mut m = model();
        for i in 0..3000 {
            run(&mut m, f64::from(i) * 60.0, 50.0 + noise(i));
        }
        let mut shifted = m.clone();
        let spike = run(&mut m, 3000.0 * 60.0, 80.0).surprise[0];
        let mut last = 0.0;
        for i in 3000..3030 {
            last = run(&mut shifted, f64::from(i) * 60.0, 60.0 + noise(i)).surprise[0];
        }
        assert!(last > 10.0, "sustained shift: {last}");
        assert!(spike < last / 2.0, "spike {spike} vs shift {last}");
    }

    #[test]
    fn the_mean_covers_the_last_span_of_time() {
        let mut m = model();
        for i in 0..200 {
            run(&mut m, f64::from(i) * 60.0, f64::from(i));
        }
        // 1-minute values, 16 sub-buckets of 112.5 s: the span's values and x
        let s = m.score(200.0 * 60.0, Lanes([200.0]));
        assert!((s.mean[0] - 185.5).abs() < 2.0, "{}", s.mean[0]);
        // a two-hour gap: the stretch holds x alone
        let s = m.score(200.0 * 60.0 + 7200.0, Lanes([5.0]));
        assert_eq!(s.mean[0], 5.0);
    }
}
