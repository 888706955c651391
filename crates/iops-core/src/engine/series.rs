//! The per-series pipeline: models → surprises → calibrated probabilities → one score.
//!
//! For every sample, causally (it is judged before it is learned):
//! 1. point surprise: the z-score of the value under the better of two models — a rolling
//!    window ([`ZScore`]) or, when the series repeats itself, a seasonal model (the value
//!    `season` samples ago, best match within ± jitter, plus a rolling z-score of that residual);
//! 2. level surprise: the z-score of the mean of the last `short_mean` samples against the
//!    distribution of such block means over the last `baseline` samples (sustained shifts
//!    that no single point reveals);
//! 3. each surprise becomes a tail probability calibrated on the series' own history
//!    ([`SurpriseCalibrator`]), and the two are combined with Fisher's method
//!    (log-surprises `-ln p1 - ln p2` add up): agreement between the models counts for more
//!    than either alone. Both are queried on every sample; the level calibrator learns once
//!    per block of `short_mean` samples (memory and warm-up counted in blocks);
//! 4. a surprise no larger than the incident's peak, which decays by a factor
//!    `1 - 1/suppression` per sample, is the same incident and is damped, so an incident
//!    scores high once, not for an hour (one multiply and one compare: a sliding maximum of
//!    the last `suppression` surprises did about as well on NAB, 69.53 vs 69.23, and cost a
//!    ring buffer and its rescans);
//! 5. the log-surprise `s` maps to the score `s / (s + score_scale)` in [0, 1), which keeps
//!    high scores distinct instead of saturating at 1.
//!
//! A host's four metrics run through one [`Pipeline<4>`], each metric a lane
//! ([`super::lanes`]): the same steps on four values at once, SIMD where the compiler can,
//! with the bookkeeping (ring positions, counters, forgetting weights) done once. Each lane
//! is scored bit for bit as [`SeriesScorer`] (a `Pipeline<1>`) scores its series alone
//! (tested); 201 -> 125 ns per host sample (`make bench-peers`) against four separate
//! pipelines, bit-identical scores.
//!
//! Where a host sample's time went before the calibrators' log-probability cache (123 ns
//! on the bench stream, measured by leaving each part out): the two calibrators 61 ns
//! (queries 49: eight lane-queries of table reads, a division and the log bound; learning
//! 12), the seasonal model 12, the rolling window 9, writing the four [`Observation`]s 7,
//! the insight rules 4, validation and the caller's loop 10, the rest (z-scores, level,
//! suppression) about 20. The cache and coarser bins took the calibrators to about 45 ns
//! (107 ns a host sample), of which the Gaussian floor's table about 11; one saturation
//! check per step for all lanes and the quiet insight path, to 98 ns. Measured and not
//! kept: AVX2 (x86-64-v3: -18% instructions, no faster), calibrator queries in f32
//! (slower), the floor's table in f32 (no faster), out-of-line rolling updates or queries
//! (slower), an exponentially weighted residual model for the seasonal match (NAB 66.95,
//! no faster), the level surprise from a scaled Gaussian tail (-11% time, NAB 65.7 to 67.7
//! depending on the scale's memory).
//!
//! Simplifications measured and rejected (NAB standard / low-FP, one configuration, causal;
//! the sliding-maximum engine before the choices above scored 69.53 / 63.40): one
//! calibrator for both surprises, on `max(|z|, |level_z|)` 52.5 / 48.6 or on
//! `sqrt(z² + level_z²)` 55.3 / 51.5; the level surprise from its Gaussian tail alone, no
//! calibrator, 66.0 / 56.5; no level model 54.1 / 49.0; no seasonal model 56.1 / 49.9; the
//! seasonal match without jitter 65.5 / 58.4, with ± 1 65.8 / 57.7; the level surprise
//! queried once per block 62.5 / 56.1; with the choices above (68.85 / 62.10), the point
//! calibrator learning every other sample 67.4 / 60.0 (-4% instructions, not worth it).

use serde::{Deserialize, Serialize};

use super::calibrate::SurpriseCalibrator;
use super::config::EngineConfig;
use super::fastmath::{max, min};
use super::lanes::Lanes;
use super::rolling::{sat_lanes, Rolling};
use crate::{finite, Result};

/// Damping applied to a suppressed (same-incident) surprise.
const SUPPRESSED_FACTOR: f64 = 0.1;
/// Largest log-surprise of one model (a probability of 1e-300), so sums stay finite.
const MAX_SURPRISE: f64 = 690.0;
/// Relative floor on every spread, so flat series do not divide by zero.
const SPREAD_FLOOR: f64 = 1e-9;

/// Which model explained the value best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Rolling-window mean and spread.
    Rolling,
    /// The same time one season ago, plus the typical residual.
    Seasonal,
}

/// What the engine concluded about one sample of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Anomaly score in [0, 1).
    pub score: f64,
    /// Combined log-surprise in nats before suppression.
    pub surprise: f64,
    /// True when the surprise was damped as part of an incident already scored.
    pub suppressed: bool,
    /// Value the point model expected.
    pub expected: f64,
    /// Spread the point model expected around it (0 while the model is not warm yet).
    pub spread: f64,
    /// Signed z-score of the value under the chosen point model.
    pub z: f64,
    /// Signed z-score of the short mean against the baseline (level model).
    pub level_z: f64,
    /// Log-surprise (nats) of the point model: `-ln` of its calibrated tail probability.
    pub point_surprise: f64,
    /// Log-surprise (nats) of the level model.
    pub level_surprise: f64,
    /// The point model used.
    pub model: Model,
    /// False until the models have seen enough samples to score.
    pub warm: bool,
}

/// Ring buffer of the last `len` rows, to look one season back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lagged<const L: usize> {
    values: Vec<Lanes<f64, L>>,
    next: usize,
    filled: bool,
}

impl<const L: usize> Lagged<L> {
    fn new(len: usize) -> Self {
        Lagged {
            values: vec![Lanes::splat(0.0); len],
            next: 0,
            filled: false,
        }
    }

    /// The `i`-th oldest row held (0 = oldest), once the buffer is full.
    fn oldest(&self, i: usize) -> Option<Lanes<f64, L>> {
        if !self.filled {
            return None;
        }
        // i < len, so one conditional wrap replaces a (slow) modulo
        let mut at = self.next + i;
        if at >= self.values.len() {
            at -= self.values.len();
        }
        self.values.get(at).copied()
    }

    fn push(&mut self, x: Lanes<f64, L>) {
        if let Some(slot) = self.values.get_mut(self.next) {
            *slot = x;
        }
        self.next += 1;
        if self.next >= self.values.len() {
            self.next = 0;
            self.filled = true;
        }
    }
}

/// The peak surprise before any sample: below every surprise (they are >= 0), and finite so
/// the state survives JSON (which has no infinities).
const NO_PEAK: f64 = -f64::MAX;

/// Seasonal model: residual against the best-matching value one season ago.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seasonal<const L: usize> {
    /// Holds the last `season + jitter` rows: the oldest `2 * jitter + 1` are the
    /// candidates `season ± jitter` samples back.
    past: Lagged<L>,
    jitter: usize,
    residuals: Rolling<L>,
}

impl<const L: usize> Seasonal<L> {
    /// Residual of each lane's `x` and the value it was compared with: the candidate with
    /// the smallest |residual|, the oldest on ties.
    #[inline(always)]
    fn residual(&self, x: Lanes<f64, L>) -> Option<(Lanes<f64, L>, Lanes<f64, L>)> {
        if !self.past.filled {
            return None;
        }
        // oldest first: from `next` to the end, then from the start
        let (newer, older) = self
            .past
            .values
            .split_at(self.past.next.min(self.past.values.len()));
        let n = 2 * self.jitter + 1;
        let pick = |mut best: Lanes<f64, L>, v: &Lanes<f64, L>| {
            for l in 0..L {
                // finite x and v: r is never NaN (at worst infinite, saturated below)
                let r = x[l] - v[l];
                // a select, not a branch: which candidate wins is data-dependent
                best[l] = if r.abs() < best[l].abs() { r } else { best[l] };
            }
            best
        };
        let first = |v: &Lanes<f64, L>| Lanes::from_fn(|l| x[l] - v[l]);
        let best = match older.get(..n).and_then(<[_]>::split_first) {
            // the usual case: the candidates are contiguous
            Some((v, rest)) => rest.iter().fold(first(v), pick),
            None => {
                let mut candidates = older.iter().chain(newer).take(n);
                let v = candidates.next()?;
                candidates.fold(first(v), pick)
            }
        };
        // Saturated: values near f64::MAX must not make an infinite residual. The value
        // compared with (for the report) is x - r, up to rounding.
        let r = sat_lanes(best);
        Some((r, Lanes::from_fn(|l| x[l] - r[l])))
    }
}

/// Short mean of the last samples, and block means of the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Level<const L: usize> {
    recent: Lagged<L>,
    seen: usize,
    blocks: Rolling<L>,
    min_blocks: usize,
}

impl<const L: usize> Level<L> {
    #[inline(always)]
    fn short_mean(&self, x: Lanes<f64, L>) -> Lanes<f64, L> {
        // Mean of the held samples (the oldest drops out) plus x.
        let len = self.recent.values.len();
        let held = self.seen.min(len);
        // (from -0.0, as `Iterator::sum`, in order: the sums are the one-series engine's)
        let sum = |rows: &[Lanes<f64, L>]| {
            rows.iter()
                .fold(Lanes::<f64, L>::splat(-0.0), |mut acc, row| {
                    for l in 0..L {
                        acc[l] += row[l];
                    }
                    acc
                })
        };
        if held < len {
            let total = sum(self.recent.values.get(..held).unwrap_or(&[]));
            return sat_lanes(Lanes::from_fn(|l| (total[l] + x[l]) / (held + 1) as f64));
        }
        // all held values but the oldest (about to drop out), plus x
        let total = sum(&self.recent.values);
        let oldest = self.recent.oldest(0).unwrap_or(Lanes::splat(0.0));
        // saturated: sums of values near f64::MAX overflow
        sat_lanes(Lanes::from_fn(|l| {
            (total[l] - oldest[l] + x[l]) / len as f64
        }))
    }
}

impl Default for Observation {
    /// The observation of a sample nothing is known about yet.
    fn default() -> Self {
        Observation {
            score: 0.0,
            surprise: 0.0,
            suppressed: false,
            expected: 0.0,
            spread: 0.0,
            z: 0.0,
            level_z: 0.0,
            point_surprise: 0.0,
            level_surprise: 0.0,
            model: Model::Rolling,
            warm: false,
        }
    }
}

/// The streaming state of `L` series that receive a value each at every step (a host's
/// four metrics: `Pipeline<4>`, or one series: `Pipeline<1>`). Each lane is scored exactly
/// as it would be alone; the lanes share only their bookkeeping. Serialises with serde and
/// restores to identical subsequent scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pipeline<const L: usize> {
    rolling: Rolling<L>,
    seasonal: Option<Seasonal<L>>,
    level: Level<L>,
    point_calibration: SurpriseCalibrator<L>,
    level_calibration: SurpriseCalibrator<L>,
    /// Peak surprise of each lane's incident, forgotten by `peak_decay` per sample.
    recent_peak: Lanes<f64, L>,
    /// `1 - 1 / suppression`: a peak loses 1/e of itself in about `suppression` samples.
    peak_decay: f64,
    n_seen: u64,
    suppression_margin: f64,
    seasonal_preference: f64,
    score_scale: f64,
}

/// A rolling window, with the limits the [`ZScore`](crate::detector::ZScore) detector
/// puts on its parameters (so a typo cannot ask for gigabytes).
fn rolling<const L: usize>(window: usize, min_samples: usize) -> Result<Rolling<L>> {
    if !(2..=crate::detector::ZScore::MAX_WINDOW).contains(&window) {
        return Err(crate::Error::param(
            "window",
            window,
            "must be in 2..=1048576",
        ));
    }
    if !(2..=window).contains(&min_samples) {
        return Err(crate::Error::param(
            "min_samples",
            min_samples,
            "must be in 2..=window",
        ));
    }
    Ok(Rolling::new(window, min_samples))
}

impl<const L: usize> Pipeline<L> {
    /// Fresh state for `L` series.
    pub(crate) fn new(config: &EngineConfig) -> Result<Self> {
        let p = config.params();
        let seasonal = if p.season == 0 {
            None
        } else {
            Some(Seasonal {
                past: Lagged::new(p.season + p.season_jitter),
                jitter: p.season_jitter,
                residuals: rolling(p.window, p.min_samples)?,
            })
        };
        let n_blocks = (p.baseline / p.short_mean).max(2);
        // Level model speaks once it has seen about 50 samples' worth of blocks.
        let min_blocks = (50 / p.short_mean).clamp(2, n_blocks);
        Ok(Pipeline {
            rolling: rolling(p.window, p.min_samples)?,
            seasonal,
            level: Level {
                recent: Lagged::new(p.short_mean),
                seen: 0,
                blocks: rolling(n_blocks, min_blocks)?,
                min_blocks,
            },
            point_calibration: SurpriseCalibrator::new(
                p.baseline as f64,
                p.calibration_min_samples as u64,
                p.gaussian_scale,
            ),
            // learns once per block of `short_mean` samples: memory and warm-up in blocks
            level_calibration: SurpriseCalibrator::new(
                n_blocks as f64,
                (p.calibration_min_samples / p.short_mean).max(1) as u64,
                p.gaussian_scale,
            ),
            recent_peak: Lanes::splat(NO_PEAK),
            // (suppression 0 acts as 1: the peak is the last surprise)
            peak_decay: 1.0 - 1.0 / p.suppression.max(1) as f64,
            n_seen: 0,
            suppression_margin: p.suppression_margin,
            seasonal_preference: p.seasonal_preference,
            score_scale: p.score_scale,
        })
    }

    /// Samples seen so far.
    pub(crate) fn n_seen(&self) -> u64 {
        self.n_seen
    }

    /// Scores one finite value per lane (the caller has checked them), then learns them;
    /// lane `l`'s observation goes to `out[l]`.
    #[inline(always)]
    pub(crate) fn observe_finite(&mut self, x: Lanes<f64, L>, out: &mut [Observation; L]) {
        // 1. point surprise, under the rolling model or, where it fits better, the seasonal
        let rolling_mean = self.rolling.mean();
        let mut expected = rolling_mean;
        // 0 until the rolling model is warm: "no expectation yet" (finite, so JSON keeps it)
        let mut spread: Lanes<f64, L> = Lanes::splat(0.0);
        let mut z: Lanes<f64, L> = Lanes::splat(0.0);
        let mut seasonal: Lanes<bool, L> = Lanes::splat(false);
        let floor = rolling_mean.map(|m| SPREAD_FLOOR * (1.0 + m.abs()));
        let residual = self.seasonal.as_ref().and_then(|s| s.residual(x));
        if self.rolling.is_warm() {
            let r_spread = self.rolling.spread();
            for l in 0..L {
                spread[l] = max(r_spread[l], floor[l]);
                z[l] = (x[l] - expected[l]) / spread[l];
            }
            z = sat_lanes(z);
            if let (Some(s), Some((r, matched))) = (&self.seasonal, residual) {
                if s.residuals.is_warm() {
                    let (mean_r, s_spread) = (s.residuals.mean(), s.residuals.spread());
                    let s_spread: Lanes<f64, L> = Lanes::from_fn(|l| max(s_spread[l], floor[l]));
                    let s_z: Lanes<f64, L> =
                        sat_lanes(Lanes::from_fn(|l| (r[l] - mean_r[l]) / s_spread[l]));
                    for l in 0..L {
                        let (s_spread, s_z) = (s_spread[l], s_z[l]);
                        let use_it = s_spread < self.seasonal_preference * spread[l];
                        let s_expected = matched[l] + mean_r[l];
                        // selects: which model explains a lane better is data-dependent
                        z[l] = if use_it { s_z } else { z[l] };
                        expected[l] = if use_it { s_expected } else { expected[l] };
                        spread[l] = if use_it { s_spread } else { spread[l] };
                        seasonal[l] = use_it;
                    }
                }
            }
        }
        // 2. level surprise
        let short = self.level.short_mean(x);
        let mut level_z: Lanes<f64, L> = Lanes::splat(0.0);
        if self.level.blocks.is_warm() {
            let (mean, b_spread) = (self.level.blocks.mean(), self.level.blocks.spread());
            for l in 0..L {
                let spread = max(b_spread[l], floor[l]);
                level_z[l] = (short[l] - mean[l]) / spread;
            }
            level_z = sat_lanes(level_z);
        }
        // 3. calibrate and combine
        let abs_z = z.map(f64::abs);
        let abs_level_z = level_z.map(f64::abs);
        let (point_surprise, point_bin) = self.point_calibration.score(abs_z);
        let (level_surprise, level_bin) = self.level_calibration.score(abs_level_z);
        for (l, obs) in out.iter_mut().enumerate() {
            let (point_surprise, level_surprise) = (
                min(point_surprise[l], MAX_SURPRISE),
                min(level_surprise[l], MAX_SURPRISE),
            );
            let surprise = point_surprise + level_surprise;
            // 4. one incident scores once
            let peak = self.recent_peak[l];
            let suppressed = surprise <= peak + self.suppression_margin;
            // (max(-MAX * decay, surprise) is finite: the state survives JSON)
            self.recent_peak[l] = max(surprise, peak * self.peak_decay);
            let effective = if suppressed {
                surprise * SUPPRESSED_FACTOR
            } else {
                surprise
            };
            *obs = Observation {
                score: effective / (effective + self.score_scale),
                surprise,
                suppressed,
                expected: expected[l],
                spread: spread[l],
                z: z[l],
                level_z: level_z[l],
                point_surprise,
                level_surprise,
                model: if seasonal[l] {
                    Model::Seasonal
                } else {
                    Model::Rolling
                },
                warm: false,
            };
        }
        // 5. learn
        self.rolling.update(x);
        if let Some(s) = self.seasonal.as_mut() {
            if let Some((r, _)) = residual {
                s.residuals.update(r);
            }
            s.past.push(x);
        }
        self.point_calibration.learn(point_bin, abs_z);
        self.level.recent.push(x);
        self.level.seen += 1;
        // the ring of the short mean wrapped: a whole block of new samples since the last
        if self.level.recent.next == 0 {
            self.level.blocks.update(short);
            // The level surprise's distribution is the same on every sample, so learning it
            // once per block calibrates it as well, at a sixth of the cost (NAB standard
            // 69.23 -> 68.85); and the block's samples are not counted six times over.
            self.level_calibration.learn(level_bin, abs_level_z);
        }
        self.n_seen += 1;
        let warm = self.rolling.is_warm() && self.n_seen > self.level.min_blocks as u64;
        for obs in out.iter_mut() {
            obs.warm = warm;
        }
    }
}

/// The streaming state of one series (one metric of one host). Serialises with serde and
/// restores to identical subsequent scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeriesScorer(Pipeline<1>);

impl SeriesScorer {
    /// A fresh scorer for one series.
    pub fn new(config: &EngineConfig) -> Result<Self> {
        Pipeline::new(config).map(SeriesScorer)
    }

    /// Samples seen so far.
    pub fn n_seen(&self) -> u64 {
        self.0.n_seen()
    }

    /// Scores `x`, then learns it. Non-finite input is an error and changes nothing.
    pub fn observe(&mut self, x: f64) -> Result<Observation> {
        finite("value", x)?;
        let mut out = [Observation::default()];
        self.0.observe_finite(Lanes([x]), &mut out);
        let [obs] = out;
        Ok(obs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four series of different kinds: seasonal with noise, flat stretches, huge values
    /// (the saturating paths), steps and spikes.
    fn value(lane: usize, i: u32) -> f64 {
        let mut h = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ lane as u64;
        h ^= h >> 29;
        let noise = (h.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 11) as f64 / (1u64 << 53) as f64;
        let day = f64::from(i % 288) / 288.0 * std::f64::consts::TAU;
        match lane {
            0 => 40.0 + 20.0 * day.sin() + 5.0 * noise + if i % 997 == 500 { 40.0 } else { 0.0 },
            1 if (i / 400) % 3 == 1 => 50.0,
            1 => 50.0 + noise,
            2 if i % 1500 == 700 => 1e300,
            2 => 100.0 * noise * noise,
            _ => f64::from(i / 600) * 10.0 + noise,
        }
    }

    #[test]
    fn each_lane_scores_as_its_series_alone() {
        let config = EngineConfig::default();
        let mut host = Pipeline::<4>::new(&config).unwrap();
        let mut alone: Vec<SeriesScorer> = (0..4)
            .map(|_| SeriesScorer::new(&config).unwrap())
            .collect();
        let mut out = [Observation::default(); 4];
        let mut warm_scores = 0;
        for i in 0..6000 {
            let x = Lanes::from_fn(|l| value(l, i));
            host.observe_finite(x, &mut out);
            for (l, scorer) in alone.iter_mut().enumerate() {
                let want = scorer.observe(x[l]).unwrap();
                // bit for bit: every field, NaN-free, so == is exact but for -0.0 == 0.0
                assert_eq!(out[l], want, "lane {l} sample {i}");
                assert_eq!(out[l].score.to_bits(), want.score.to_bits());
                warm_scores += usize::from(want.warm && want.score > 0.0);
            }
        }
        assert!(warm_scores > 10_000, "the streams were barely scored");
        // and the state survives a round trip to the same subsequent scores
        let mut back: Pipeline<4> =
            postcard::from_bytes(&postcard::to_allocvec(&host).unwrap()).unwrap();
        let mut again = [Observation::default(); 4];
        for i in 6000..6500 {
            let x = Lanes::from_fn(|l| value(l, i));
            host.observe_finite(x, &mut out);
            back.observe_finite(x, &mut again);
            assert_eq!(out, again, "sample {i}");
        }
    }
}
