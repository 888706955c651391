//! A level model: the mean of the last stretch of time against the history of such means,
//! as a calibrated surprise, for each of `L` series sampled together.
//!
//! It finds what no single sample shows: a sustained shift (the mean of the last 30 minutes
//! or 8 hours of the values) or a series turning erratic (the mean absolute change between
//! samples over the last hour). The stretch is a queue of time sub-buckets (a 16th of the
//! span each, so memory does not grow with the cadence); each span of time that ends adds
//! its mean to an exponentially weighted baseline (mean and variance) remembered over the
//! engine's memory, and its surprise to the calibrator.
//!
//! A series that repeats itself daily also has the mean of its residuals against the same
//! time a day ago over the stretch, with a baseline of its own: for a lane the seasonal model
//! explains, the calibrator judges the smaller of the two shifts, so a routine that comes
//! back every day at the same time (a nightly backup) is no shift, while a new level moves
//! both. The caller may widen that second judgement where the time of day is busier than
//! usual (`ref_scale`): a backup varies more from night to night than the day does.

use std::cell::Cell;
use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize};

use super::calibrate::SurpriseCalibrator;
use super::fastmath::{max, min};
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
    /// The values that had one a period ago: their count, and the sum of their residuals
    /// against it (none in a state from before they were kept).
    #[serde(default)]
    n_ref: f64,
    #[serde(default = "zeros")]
    sum_ref: Lanes<f64, L>,
}

fn zeros<const L: usize>() -> Lanes<f64, L> {
    Lanes::splat(0.0)
}

/// What a level model concluded about one sample (before learning it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LevelScore<const L: usize> {
    /// Mean of the stretch, the sample included.
    pub(crate) mean: Lanes<f64, L>,
    /// The sample's residuals against a period ago, when known (learned with it).
    day_ago: Option<Lanes<f64, L>>,
    /// The stretch's mean residual against a period ago, when most of it has one.
    mean_ref: Option<Lanes<f64, L>>,
    /// Its z-score against the baseline of such means (0 while not warm).
    pub(crate) z: Lanes<f64, L>,
    /// What the calibrator judged: |z|, or for a lane the season explains the smaller of
    /// |z| and the z-score of the stretch's mean residual against a period ago.
    abs_z: Lanes<f64, L>,
    /// Calibrated log-surprise of `abs_z` (0 while not warm).
    pub(crate) surprise: Lanes<f64, L>,
    pub(crate) bin: Lanes<usize, L>,
}

/// Mean of the last `span` seconds against the baseline of such means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AnyLevelState<L>")]
pub(crate) struct Level<const L: usize> {
    span: f64,
    /// Seconds per sub-bucket.
    sub: f64,
    subs: VecDeque<Sub<L>>,
    /// Count and sums of the sub-buckets held.
    held_n: f64,
    held_sum: Lanes<f64, L>,
    held_n_ref: f64,
    held_sum_ref: Lanes<f64, L>,
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
    /// The same baseline for the spans' mean residuals against a period ago, and the
    /// number of spans it has seen (those mostly compared with a period ago).
    ref_mean: Lanes<f64, L>,
    ref_var: Lanes<f64, L>,
    ref_blocks: f64,
    #[serde(skip)]
    inv_ref_spread: Lanes<f64, L>,
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
    #[serde(default)]
    held_n_ref: f64,
    #[serde(default = "zeros")]
    held_sum_ref: Lanes<f64, L>,
    block: i64,
    base_mean: Lanes<f64, L>,
    base_var: Lanes<f64, L>,
    blocks: f64,
    #[serde(default = "zeros")]
    ref_mean: Lanes<f64, L>,
    #[serde(default = "zeros")]
    ref_var: Lanes<f64, L>,
    #[serde(default)]
    ref_blocks: f64,
    alpha: f64,
    min_blocks: f64,
    calibration: SurpriseCalibrator<L>,
}

thread_local! {
    /// Set while a state in the layout of before the level compared with a period ago is
    /// decoded (see [`decoding_before_seasonal_level`]).
    static BEFORE_SEASONAL_LEVEL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode` with every level model read in the layout of before the level compared
/// with a period ago (commit 8295ed3 and earlier): postcard does not describe its fields,
/// so the older layout is asked for, not detected. The comparison starts afresh.
pub(crate) fn decoding_before_seasonal_level<T>(decode: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BEFORE_SEASONAL_LEVEL.with(|b| b.set(false));
        }
    }
    BEFORE_SEASONAL_LEVEL.with(|b| b.set(true));
    let _reset = Reset;
    decode()
}

/// A level state in the current layout, or in the older one while that is asked for.
struct AnyLevelState<const L: usize>(LevelState<L>);

impl<'de, const L: usize> Deserialize<'de> for AnyLevelState<L> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !BEFORE_SEASONAL_LEVEL.with(Cell::get) {
            return LevelState::deserialize(d).map(AnyLevelState);
        }
        let old = OldLevelState::<L>::deserialize(d)?;
        Ok(AnyLevelState(LevelState {
            span: old.span,
            sub: old.sub,
            subs: old
                .subs
                .into_iter()
                .map(|b| Sub {
                    index: b.index,
                    n: b.n,
                    sum: b.sum,
                    n_ref: 0.0,
                    sum_ref: zeros(),
                })
                .collect(),
            held_n: old.held_n,
            held_sum: old.held_sum,
            held_n_ref: 0.0,
            held_sum_ref: zeros(),
            block: old.block,
            base_mean: old.base_mean,
            base_var: old.base_var,
            blocks: old.blocks,
            ref_mean: zeros(),
            ref_var: zeros(),
            ref_blocks: 0.0,
            alpha: old.alpha,
            min_blocks: old.min_blocks,
            calibration: old.calibration,
        }))
    }
}

/// The layout of a level state before the level compared with a period ago.
#[derive(Deserialize)]
struct OldLevelState<const L: usize> {
    span: f64,
    sub: f64,
    subs: VecDeque<OldSub<L>>,
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

#[derive(Deserialize)]
struct OldSub<const L: usize> {
    index: i64,
    n: f64,
    sum: Lanes<f64, L>,
}

impl<const L: usize> TryFrom<AnyLevelState<L>> for Level<L> {
    type Error = Error;

    fn try_from(s: AnyLevelState<L>) -> Result<Self, Error> {
        Level::try_from(s.0)
    }
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
            && s.subs.iter().all(|b| {
                b.n.is_finite() && finite(&b.sum) && b.n_ref.is_finite() && finite(&b.sum_ref)
            })
            && s.held_n.is_finite()
            && finite(&s.held_sum)
            && s.held_n_ref.is_finite()
            && finite(&s.held_sum_ref)
            && finite(&s.base_mean)
            && finite(&s.base_var)
            && s.base_var.iter().all(|v| *v >= 0.0)
            && s.blocks.is_finite()
            && finite(&s.ref_mean)
            && finite(&s.ref_var)
            && s.ref_var.iter().all(|v| *v >= 0.0)
            && s.ref_blocks.is_finite()
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
            held_n_ref: s.held_n_ref,
            held_sum_ref: s.held_sum_ref,
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
            inv_ref_spread: Self::inverse_spread(&s.ref_mean, &s.ref_var),
            ref_mean: s.ref_mean,
            ref_var: s.ref_var,
            ref_blocks: s.ref_blocks,
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
            held_n_ref: 0.0,
            held_sum_ref: Lanes::splat(0.0),
            block: i64::MIN,
            block_end: f64::MIN,
            base_mean: Lanes::splat(0.0),
            base_var: Lanes::splat(0.0),
            blocks: 0.0,
            ref_mean: Lanes::splat(0.0),
            ref_var: Lanes::splat(0.0),
            ref_blocks: 0.0,
            inv_ref_spread: Self::inverse_spread(&Lanes::splat(0.0), &Lanes::splat(0.0)),
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
    /// baseline. `day_ago` is each lane's residual against its value a period ago, when
    /// that is known; for the lanes in `seasonal`, a stretch whose residuals are as usual
    /// is no shift (a routine that comes back every day); that stretch's shift is divided
    /// by `ref_scale` (at least 1: how much more this time of day varies). Sub-buckets
    /// older than the span leave first.
    #[inline(always)]
    pub(crate) fn score(
        &mut self,
        t: f64,
        x: Lanes<f64, L>,
        day_ago: Option<Lanes<f64, L>>,
        seasonal: Lanes<bool, L>,
        ref_scale: Lanes<f64, L>,
    ) -> LevelScore<L> {
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
                self.held_n_ref -= gone.n_ref;
                for l in 0..L {
                    self.held_sum[l] -= gone.sum[l];
                    self.held_sum_ref[l] -= gone.sum_ref[l];
                }
            }
        }
        let inv = 1.0 / (self.held_n + 1.0);
        let mean = Lanes::from_fn(|l| (self.held_sum[l] + x[l]) * inv);
        if self.blocks < self.min_blocks {
            return LevelScore {
                mean,
                day_ago,
                mean_ref: None,
                z: Lanes::splat(0.0),
                abs_z: Lanes::splat(0.0),
                surprise: Lanes::splat(0.0),
                bin: Lanes::splat(0),
            };
        }
        let z = Lanes::from_fn(|l| (mean[l] - self.base_mean[l]) * self.inv_spread[l]);
        let mut abs_z = z.map(f64::abs);
        // the stretch's mean residual, when most of it had a value a period ago
        let n_ref = self.held_n_ref + f64::from(u8::from(day_ago.is_some()));
        let mean_ref = (2.0 * n_ref >= self.held_n + 1.0).then(|| {
            let r = day_ago.unwrap_or(Lanes::splat(0.0));
            Lanes::from_fn(|l| (self.held_sum_ref[l] + r[l]) / n_ref)
        });
        if let Some(m) = mean_ref.filter(|_| seasonal.any() && self.ref_blocks >= self.min_blocks) {
            abs_z = Lanes::from_fn(|l| {
                let against_season =
                    ((m[l] - self.ref_mean[l]) * self.inv_ref_spread[l]).abs() / ref_scale[l];
                if seasonal[l] {
                    min(abs_z[l], against_season)
                } else {
                    abs_z[l]
                }
            });
        }
        let (surprise, bin) = self.calibration.score(abs_z);
        LevelScore {
            mean,
            day_ago,
            mean_ref,
            z,
            abs_z,
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
        let (n_ref, r) = match s.day_ago {
            Some(r) => (1.0, r),
            None => (0.0, Lanes::splat(0.0)),
        };
        match self.subs.back_mut() {
            // the newest sub-bucket takes the values before its end (late ones too)
            Some(b) if t < newest_end => {
                b.n += 1.0;
                b.n_ref += n_ref;
                for l in 0..L {
                    b.sum[l] += x[l];
                    b.sum_ref[l] += r[l];
                }
            }
            _ => self.subs.push_back(Sub {
                index: floor_index(t / self.sub),
                n: 1.0,
                sum: x,
                n_ref,
                sum_ref: r,
            }),
        }
        self.held_n += 1.0;
        self.held_n_ref += n_ref;
        for l in 0..L {
            self.held_sum[l] += x[l];
            self.held_sum_ref[l] += r[l];
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
            self.held_n_ref = self.subs.iter().map(|s| s.n_ref).sum();
            self.held_sum_ref = self.subs.iter().fold(Lanes::splat(0.0), |acc, s| {
                Lanes::from_fn(|l| acc[l] + s.sum_ref[l])
            });
            if self.blocks >= self.min_blocks {
                self.calibration.learn(s.bin, s.abs_z);
            }
            self.blocks += 1.0;
            let a = max(1.0 / self.blocks, self.alpha);
            for l in 0..L {
                let d = s.mean[l] - self.base_mean[l];
                self.base_mean[l] += a * d;
                self.base_var[l] = (1.0 - a) * (self.base_var[l] + a * d * d);
            }
            self.inv_spread = Self::inverse_spread(&self.base_mean, &self.base_var);
            if let Some(m) = s.mean_ref {
                self.ref_blocks += 1.0;
                let a = max(1.0 / self.ref_blocks, self.alpha);
                for l in 0..L {
                    let d = m[l] - self.ref_mean[l];
                    self.ref_mean[l] += a * d;
                    self.ref_var[l] = (1.0 - a) * (self.ref_var[l] + a * d * d);
                }
                self.inv_ref_spread = Self::inverse_spread(&self.ref_mean, &self.ref_var);
            }
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
        let s = m.score(t, Lanes([x]), None, Lanes([false]), Lanes([1.0]));
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
    fn a_routine_that_comes_back_daily_is_no_shift_a_new_level_is() {
        // 5-minute values around 100 with a nightly job at 300 for half an hour; from the
        // tenth day at noon, a new level of 200
        let noise = |i: usize| ((i * 7919) % 13) as f64 - 6.0;
        let value = |i: usize| match i % 288 {
            _ if i >= 9 * 288 + 144 => 200.0 + noise(i),
            24..30 => 300.0 + noise(i),
            _ => 100.0 + noise(i),
        };
        let new = || Level::<1>::new(1800.0, 300.0, 7.0 * 86_400.0, 86_400.0, 100, 1.5);
        // the same model told the lane repeats daily, and not
        let (mut daily, mut plain) = (new(), new());
        let peak = |m: &mut Level<1>, days: std::ops::Range<usize>, seasonal: bool| {
            let mut peak: f64 = 0.0;
            for i in days.start * 288..days.end * 288 {
                let x = Lanes([value(i)]);
                let day_ago = (i >= 288).then(|| Lanes([value(i) - value(i - 288)]));
                let s = m.score(
                    i as f64 * 300.0,
                    x,
                    day_ago,
                    Lanes([seasonal]),
                    Lanes([1.0]),
                );
                m.learn(i as f64 * 300.0, x, &s);
                peak = peak.max(s.surprise[0]);
            }
            peak
        };
        peak(&mut daily, 0..8, true);
        peak(&mut plain, 0..8, false);
        // the eighth day's job: surprising alone, not against the day before
        let (job_daily, job_plain) = (peak(&mut daily, 8..9, true), peak(&mut plain, 8..9, false));
        assert!(
            job_plain > 3.0,
            "the job shifts the plain level: {job_plain}"
        );
        assert!(job_daily < job_plain / 2.0, "{job_daily} vs {job_plain}");
        // the new level: as much a shift either way
        let (shift_daily, shift_plain) = (
            peak(&mut daily, 9..10, true),
            peak(&mut plain, 9..10, false),
        );
        assert!(shift_plain > 3.0, "{shift_plain}");
        assert!(
            shift_daily > 0.8 * shift_plain,
            "{shift_daily} vs {shift_plain}"
        );
    }

    #[test]
    fn the_mean_covers_the_last_span_of_time() {
        let mut m = model();
        for i in 0..200 {
            run(&mut m, f64::from(i) * 60.0, f64::from(i));
        }
        // 1-minute values, 16 sub-buckets of 112.5 s: the span's values and x
        let s = m.score(
            200.0 * 60.0,
            Lanes([200.0]),
            None,
            Lanes([false]),
            Lanes([1.0]),
        );
        assert!((s.mean[0] - 185.5).abs() < 2.0, "{}", s.mean[0]);
        // a two-hour gap: the stretch holds x alone
        let s = m.score(
            200.0 * 60.0 + 7200.0,
            Lanes([5.0]),
            None,
            Lanes([false]),
            Lanes([1.0]),
        );
        assert_eq!(s.mean[0], 5.0);
    }
}
