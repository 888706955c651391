//! The per-series pipeline: models → surprises → calibrated probabilities → one score.
//!
//! For every sample, causally (it is judged before it is learned):
//! 1. point surprise: the z-score of the value under the better of two models — the values
//!    of the last day ([`TimeWindow`]) or, when the series repeats itself, the value a day
//!    ago ([`SlotRing`], the closest within a few slots) plus the typical residual;
//! 2. sustained surprise, the larger of two: the mean of the last 30 minutes against the
//!    history of such means ([`Level`]: a shift no single sample shows, unless the same
//!    time a day ago shifted as much on a series that repeats daily), and the evidence of
//!    the point surprises before this sample ([`Evidence`]: values that keep missing a moving
//!    expectation by a little, as on a day that peaks at half its height);
//! 3. volatility surprise: the mean absolute change between samples over the last hour
//!    against its history, when it rises (a series turning erratic);
//! 4. each surprise is a tail probability calibrated on the series' own history
//!    ([`SurpriseCalibrator`]), and the three add up as log-surprises (Fisher's method):
//!    agreement between the models counts for more than any one alone;
//! 5. a surprise no larger than the incident's peak (capped at score 2/3), which decays by
//!    1/e over the suppression time, is the same incident and is damped, so an incident
//!    scores high once; and while an incident is open ([`Episodes`]: from a score at the
//!    info cut-off until the scores stay calm for the cooldown), only a sample that makes
//!    it critical is news;
//! 6. the log-surprise `s` maps to the score `s / (s + score_scale)` in [0, 1).
//!
//! Every duration is time, counted in samples of the series' cadence, observed on its first
//! [`CADENCE_SAMPLES`] samples (the models start then, replaying them). A sample that scores
//! as an incident (`guard_score`) is not learned by the point models, nor are the samples
//! after it while the incident lasts (outside the band, or still surprising), up to
//! `adoption_seconds`: the expectation is learned in their place, so one incident does not
//! widen the expected band for a day. An incident that lasts is the new normal: the rolling
//! window then gets the values that were seen instead.
//!
//! A host's four metrics run through one [`Pipeline<4>`], each metric a lane
//! ([`super::lanes`]): the same steps on four values at once, with the bookkeeping (time
//! buckets, slots, counters) done once. Each lane is scored bit for bit as
//! [`SeriesScorer`] (a `Pipeline<1>`) scores its series alone (tested).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::calibrate::SurpriseCalibrator;
use super::config::{EngineConfig, EngineParams};
use super::episode::{Alarm, EpisodeCuts, Episodes};
use super::evidence::Evidence;
use super::fastmath::{max, min};
use super::lanes::Lanes;
use super::level::Level;
use super::observation::{Model, Observation};
use super::season::SlotRing;
use super::sizes::{cadence, Sizes, CADENCE_SAMPLES, WINDOW_BUCKETS};
use super::window::{floor_index, TimeWindow, INPUT_LIMIT};
use crate::{finite, Result};

/// Damping applied to a suppressed (same-incident) surprise.
const SUPPRESSED_FACTOR: f64 = 0.1;
/// The suppression's remembered peak is at most this many `score_scale`s (score 2/3).
const PEAK_CAP_SCORE_RATIO: f64 = 2.0;
/// Largest log-surprise of one model (a probability of 1e-300), so sums stay finite.
const MAX_SURPRISE: f64 = 690.0;
/// Relative floor on every spread, so flat series do not divide by zero.
const SPREAD_FLOOR: f64 = 1e-9;
/// The peak surprise before any sample: below every surprise (they are >= 0), and finite so
/// the state survives JSON (which has no infinities).
const NO_PEAK: f64 = -f64::MAX;
/// The expected band is `expected ± 3 spread` (the band the dashboard draws): a guarded
/// incident lasts while its values are outside it (or still surprise), and a value outside
/// it confirms a surprise waiting to open an incident.
pub(crate) const BAND_Z: f64 = 3.0;
/// "No incident guarded" (finite, for JSON).
const NOT_GUARDED: f64 = f64::MIN;

/// The parameters a pipeline uses once built (copied from the configuration, so a stored
/// state scores as it was configured).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Tuning {
    seasonal_preference: f64,
    season_jitter: usize,
    suppression_seconds: f64,
    suppression_margin: f64,
    /// The largest peak an incident leaves for suppression to remember.
    peak_cap: f64,
    score_scale: f64,
    /// Surprise (nats) from which a sample is kept out of the point models.
    guard: f64,
    adoption_seconds: f64,
    episode: EpisodeCuts,
}

impl Tuning {
    fn new(p: &EngineParams) -> Self {
        Tuning {
            seasonal_preference: p.seasonal_preference,
            season_jitter: p.season_jitter,
            suppression_seconds: p.suppression_seconds,
            suppression_margin: p.suppression_margin,
            // an incident is remembered as at most score 2/3: a 300-nat spike would
            // otherwise damp the next incident on the metric for days
            peak_cap: PEAK_CAP_SCORE_RATIO * p.score_scale,
            score_scale: p.score_scale,
            guard: p.score_scale * p.guard_score / (1.0 - p.guard_score),
            adoption_seconds: p.adoption_seconds,
            episode: EpisodeCuts {
                info: p.info_score,
                critical: p.critical_score,
                cooldown_seconds: p.cooldown_seconds,
            },
        }
    }
}

/// The value a season ago and the residuals against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seasonal<const L: usize> {
    ring: SlotRing<L>,
    residuals: TimeWindow<L>,
    /// Squared residuals per part of the period (a 48th: half-hours of a day), remembered
    /// over about a week of periods: a busy hour or a nightly job varies more than the
    /// rest of the day, and is judged against its own variability where that is larger.
    parts: Vec<Lanes<f64, L>>,
    /// Residuals each part has learned.
    parts_n: Vec<f64>,
    /// Seconds per part, and the least weight of a new residual in its part.
    part_seconds: f64,
    part_alpha: f64,
}

/// Parts of a season with a variability of their own.
const SEASON_PARTS: usize = 48;
/// Periods a part's variability remembers.
pub(crate) const PART_MEMORY_PERIODS: f64 = 3.0;

impl<const L: usize> Seasonal<L> {
    /// The part of the period time `t` falls in.
    fn part(&self, t: f64) -> usize {
        (floor_index(t / self.part_seconds).rem_euclid(SEASON_PARTS as i64)) as usize
    }
}

/// The guarded values of one bucket of the rolling window, per lane: `Σ (x - m)` and
/// `Σ (x² - m²)` over the values `x` seen and the values `m` learned instead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Guarded<const L: usize> {
    bucket: i64,
    d1: Lanes<f64, L>,
    d2: Lanes<f64, L>,
}

/// The models of `L` series, sized for their cadence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Models<const L: usize> {
    sizes: Sizes,
    rolling: TimeWindow<L>,
    seasonal: Option<Seasonal<L>>,
    point_calibration: SurpriseCalibrator<L>,
    level: Level<L>,
    evidence: Evidence<L>,
    volatility: Level<L>,
    /// The previous sample (for the change between samples).
    last: Option<Lanes<f64, L>>,
    /// The newest time seen.
    newest: f64,
    /// Peak surprise of each lane's incident, forgotten over the suppression time.
    recent_peak: Lanes<f64, L>,
    /// When each lane's guarded incident began ([`NOT_GUARDED`] when none is).
    guard_since: Lanes<f64, L>,
    /// What a guarded incident's values would have added to the rolling window beyond the
    /// expectation learned in their place, per bucket: once the incident lasts (adopted),
    /// the window gets the values that were seen, so it holds only the new normal a window
    /// after the change; if it ends first, the expectation stays.
    guarded: VecDeque<Guarded<L>>,
    /// The suppression's decay over one cadence.
    cadence_decay: f64,
    /// Each lane's open incident: one alarm per episode (a JSON state from before it has
    /// none open).
    #[serde(default = "Episodes::new")]
    episodes: Episodes<L>,
}

impl<const L: usize> Models<L> {
    fn new(p: &EngineParams, sizes: Sizes, first: f64) -> Self {
        let window =
            |keep: f64| TimeWindow::new(sizes.window, WINDOW_BUCKETS, keep, sizes.min_samples);
        let level = |span: f64| {
            Level::new(
                span,
                sizes.cadence,
                p.memory_seconds,
                p.calibration_horizon_seconds,
                p.calibration_min_samples,
                p.gaussian_scale,
            )
        };
        Models {
            sizes,
            rolling: window(sizes.window_keep),
            seasonal: (sizes.slots > 0).then(|| {
                let part_seconds = sizes.slot * f64::from(sizes.slots) / SEASON_PARTS as f64;
                Seasonal {
                    ring: SlotRing::new(sizes.slot, sizes.slots, p.season_jitter),
                    residuals: window(sizes.window_keep),
                    parts: vec![Lanes::splat(0.0); SEASON_PARTS],
                    parts_n: vec![0.0; SEASON_PARTS],
                    part_seconds,
                    part_alpha: (sizes.cadence / (PART_MEMORY_PERIODS * part_seconds)).min(1.0),
                }
            }),
            point_calibration: SurpriseCalibrator::new(
                sizes.memory,
                p.calibration_min_samples as u64,
                p.gaussian_scale,
            )
            .with_horizon(sizes.horizon)
            .with_record_tail(p.record_tail_samples),
            level: level(sizes.level),
            evidence: Evidence::new(
                sizes.memory,
                sizes.horizon,
                p.calibration_min_samples as u64,
                p.gaussian_scale,
                p.record_tail_samples,
            ),
            volatility: level(sizes.volatility),
            last: None,
            newest: first,
            recent_peak: Lanes::splat(NO_PEAK),
            guard_since: Lanes::splat(NOT_GUARDED),
            guarded: VecDeque::new(),
            cadence_decay: (-sizes.cadence / p.suppression_seconds).exp(),
            episodes: Episodes::new(),
        }
    }

    /// Scores one finite value per lane at time `t`, then learns them; returns the lanes'
    /// residuals against exactly a period ago, where that slot is held.
    #[inline(always)]
    fn observe(
        &mut self,
        tuning: &Tuning,
        t: f64,
        x: Lanes<f64, L>,
        out: &mut [Observation; L],
    ) -> Option<Lanes<f64, L>> {
        // 1. point surprise, under the rolling model or, where it fits better, the seasonal
        self.rolling.advance(t);
        if let Some(s) = self.seasonal.as_mut() {
            s.residuals.advance(t);
        }
        let rolling_mean = self.rolling.mean();
        let warm = self.rolling.is_warm();
        let floor = rolling_mean.map(|m| SPREAD_FLOOR * (1.0 + m.abs()));
        let mut expected = rolling_mean;
        // 0 until the rolling model is warm: "no expectation yet" (finite, so JSON keeps it)
        let mut spread: Lanes<f64, L> = Lanes::splat(0.0);
        let mut z: Lanes<f64, L> = Lanes::splat(0.0);
        let mut seasonal: Lanes<bool, L> = Lanes::splat(false);
        // how much wider than usual a shift against a day ago may be in this part of the day
        let mut ref_scale: Lanes<f64, L> = Lanes::splat(1.0);
        let slot = self.seasonal.as_ref().map(|s| s.ring.locate(t));
        let part_index = self.seasonal.as_ref().map_or(0, |s| s.part(t));
        let residual = match (&self.seasonal, slot) {
            (Some(s), Some(slot)) => s.ring.residual(slot, x),
            _ => None,
        };
        if warm {
            let r_spread = self.rolling.spread();
            for l in 0..L {
                spread[l] = max(r_spread[l], floor[l]);
                z[l] = (x[l] - expected[l]) / spread[l];
            }
            if let (Some(s), Some(r)) = (&self.seasonal, residual) {
                if s.residuals.is_warm() {
                    let (mean_r, s_spread) = (s.residuals.mean(), s.residuals.spread());
                    let part = s
                        .parts
                        .get(part_index)
                        .copied()
                        .unwrap_or(Lanes::splat(0.0));
                    let before = s
                        .parts
                        .get((part_index + SEASON_PARTS - 1) % SEASON_PARTS)
                        .copied()
                        .unwrap_or(Lanes::splat(0.0));
                    for l in 0..L {
                        let s_spread = max(s_spread[l], floor[l]);
                        // the level's stretch spans this part and the one before: a
                        // busier part shifts more against a day ago, judged on half the
                        // correction (docs/performance.md: the full one cost the corpora)
                        let busier = max(part[l], before[l]).sqrt() / s_spread;
                        ref_scale[l] = max(1.0, busier).sqrt();
                        let use_it = s_spread < tuning.seasonal_preference * spread[l];
                        // the part's own variability, where it is the larger
                        let s_spread = max(s_spread, part[l].sqrt());
                        let s_z = (r[l] - mean_r[l]) / s_spread;
                        // selects: which model explains a lane better is data-dependent
                        z[l] = if use_it { s_z } else { z[l] };
                        expected[l] = if use_it {
                            x[l] - r[l] + mean_r[l]
                        } else {
                            expected[l]
                        };
                        spread[l] = if use_it { s_spread } else { spread[l] };
                        seasonal[l] = use_it;
                    }
                }
            }
        }
        let abs_z = z.map(f64::abs);
        let (point, point_bin) = self.point_calibration.score(abs_z);
        // 2. sustained surprise: the recent level, and the evidence before this sample
        let day_ago = match (&self.seasonal, slot) {
            (Some(s), Some(slot)) => s.ring.residual_exact(slot, x),
            _ => None,
        };
        let level = self.level.score(t, x, day_ago, seasonal, ref_scale);
        let evidence = self.evidence.score();
        // 3. volatility: the change since the previous sample, when it rises
        let change = self
            .last
            .map(|prev| Lanes::from_fn(|l| (x[l] - prev[l]).abs()));
        let erratic = change.map(|c| {
            (
                c,
                self.volatility
                    .score(t, c, None, Lanes::splat(false), Lanes::splat(1.0)),
            )
        });
        // 4. combine; 5. one incident scores once
        let dt = max(t - self.newest, 0.0);
        // (one exponential per distinct interval: the usual one is cached)
        let decay = if dt == self.sizes.cadence {
            self.cadence_decay
        } else {
            (-dt / tuning.suppression_seconds).exp()
        };
        let mut gated: Lanes<bool, L> = Lanes::splat(false);
        let mut adopted: Lanes<bool, L> = Lanes::splat(false);
        let mut point_surprises: Lanes<f64, L> = Lanes::splat(0.0);
        for (l, obs) in out.iter_mut().enumerate() {
            let point_surprise = if warm {
                min(point[l], MAX_SURPRISE)
            } else {
                0.0
            };
            let evidence_surprise = if warm { evidence.surprise[l] } else { 0.0 };
            let level_surprise = min(max(level.surprise[l], evidence_surprise), MAX_SURPRISE);
            point_surprises[l] = point_surprise;
            let volatility_surprise = match &erratic {
                Some((_, v)) if v.z[l] > 0.0 => min(v.surprise[l], MAX_SURPRISE),
                _ => 0.0,
            };
            let surprise = point_surprise + level_surprise + volatility_surprise;
            let peak = self.recent_peak[l] * decay;
            let suppressed = surprise <= peak + tuning.suppression_margin;
            // (max(-MAX * decay, surprise) is finite: the state survives JSON)
            self.recent_peak[l] = max(min(surprise, tuning.peak_cap), peak);
            let effective = if suppressed {
                surprise * SUPPRESSED_FACTOR
            } else {
                surprise
            };
            // one alarm per episode: an open incident's samples are news only when they
            // make it critical
            let alarm = self.episodes.step(
                l,
                effective / (effective + tuning.score_scale),
                t,
                &tuning.episode,
            );
            let repeat = alarm == Alarm::Repeat && !suppressed;
            let (effective, suppressed) = if repeat {
                (surprise * SUPPRESSED_FACTOR, true)
            } else {
                (effective, suppressed)
            };
            // the guard: an incident's samples stay out of the point models for a while
            let since = self.guard_since[l];
            let guarded = since != NOT_GUARDED;
            // (an incident lasts while its values are outside the band, however used to
            // them the calibration has become)
            let on = warm
                && (surprise >= tuning.guard
                    || (guarded && (surprise >= 0.5 * tuning.guard || abs_z[l] >= BAND_Z)));
            self.guard_since[l] = if !on {
                NOT_GUARDED
            } else if guarded {
                since
            } else {
                t
            };
            gated[l] = on && t - self.guard_since[l] < tuning.adoption_seconds;
            adopted[l] = on && !gated[l];
            *obs = Observation {
                score: effective / (effective + tuning.score_scale),
                surprise,
                suppressed,
                expected: expected[l],
                spread: spread[l],
                z: z[l],
                level_z: level.z[l],
                point_surprise,
                level_surprise,
                volatility_surprise,
                model: if seasonal[l] {
                    Model::Seasonal
                } else {
                    Model::Rolling
                },
                warm,
            };
        }
        // 6. learn (a guarded incident teaches the point models their own expectation)
        let learned = Lanes::from_fn(|l| if gated[l] { rolling_mean[l] } else { x[l] });
        self.rolling.add(t, learned);
        if gated.iter().any(|g| *g) || !self.guarded.is_empty() {
            self.remember_guarded(&gated, &adopted, x, learned);
        }
        if let Some(s) = self.seasonal.as_mut() {
            if let Some(r) = residual {
                let mean_r = s.residuals.mean();
                let learned = Lanes::from_fn(|l| if gated[l] { mean_r[l] } else { r[l] });
                s.residuals.add(t, learned);
                let k = part_index;
                if let (Some(var), Some(n)) = (s.parts.get_mut(k), s.parts_n.get_mut(k)) {
                    *n += 1.0;
                    let a = max(1.0 / *n, s.part_alpha);
                    for l in 0..L {
                        let d = learned[l] - mean_r[l];
                        var[l] += a * (d * d - var[l]);
                    }
                }
            }
            if let Some(slot) = slot {
                // (what an incident should have been is remembered for tomorrow, not the
                // incident)
                s.ring.push(
                    slot,
                    Lanes::from_fn(|l| if gated[l] { expected[l] } else { x[l] }),
                );
            }
        }
        if warm {
            self.point_calibration.learn(point_bin, abs_z);
            self.evidence.learn(&evidence, point_surprises);
        }
        self.level.learn(t, x, &level);
        if let Some((c, v)) = &erratic {
            self.volatility.learn(t, *c, v);
        }
        self.last = Some(x);
        self.newest = max(self.newest, t);
        day_ago
    }

    /// Keeps what the gated lanes' values would have added to the rolling window; puts it
    /// in for the lanes whose incident was adopted, and forgets it for the others.
    #[cold]
    fn remember_guarded(
        &mut self,
        gated: &Lanes<bool, L>,
        adopted: &Lanes<bool, L>,
        x: Lanes<f64, L>,
        learned: Lanes<f64, L>,
    ) {
        for l in (0..L).filter(|&l| !gated[l]) {
            for g in self.guarded.iter_mut() {
                if adopted[l] {
                    self.rolling.replace(l, g.bucket, g.d1[l], g.d2[l]);
                }
                g.d1[l] = 0.0;
                g.d2[l] = 0.0;
            }
        }
        if !gated.iter().any(|g| *g) {
            self.guarded.clear();
            return;
        }
        let Some(bucket) = self.rolling.newest_bucket() else {
            return;
        };
        if self.guarded.back().is_none_or(|g| g.bucket != bucket) {
            self.guarded.push_back(Guarded {
                bucket,
                d1: Lanes::splat(0.0),
                d2: Lanes::splat(0.0),
            });
        }
        if let Some(g) = self.guarded.back_mut() {
            for l in (0..L).filter(|&l| gated[l]) {
                let d = x[l] - learned[l];
                g.d1[l] += d;
                g.d2[l] += d * (x[l] + learned[l]);
            }
        }
    }
}

/// The streaming state of `L` series that receive a value each at every step (a host's
/// four metrics: `Pipeline<4>`, or one series: `Pipeline<1>`). Each lane is scored exactly
/// as it would be alone; the lanes share only their bookkeeping. Serialises with serde and
/// restores to identical subsequent scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pipeline<const L: usize> {
    /// The parameters the models are built with.
    params: EngineParams,
    tuning: Tuning,
    /// The first samples, held until the cadence is known.
    pending: Vec<(f64, Lanes<f64, L>)>,
    models: Option<Box<Models<L>>>,
    /// Time of the first sample (NaN-free: 0 before any).
    first: f64,
    n_seen: u64,
}

impl<const L: usize> Pipeline<L> {
    /// Fresh state for `L` series.
    pub(crate) fn new(config: &EngineConfig) -> Result<Self> {
        let params = config.params().clone();
        Ok(Pipeline {
            tuning: Tuning::new(&params),
            params,
            pending: Vec::with_capacity(CADENCE_SAMPLES),
            models: None,
            first: 0.0,
            n_seen: 0,
        })
    }

    /// Samples seen so far.
    pub(crate) fn n_seen(&self) -> u64 {
        self.n_seen
    }

    /// Seconds of history behind the newest sample (0 before the models start).
    pub(crate) fn history_seconds(&self) -> f64 {
        self.models.as_ref().map_or(0.0, |m| m.newest - self.first)
    }

    /// The lanes' values stored for the time a season before `t` (what an incident should
    /// have been, where one was guarded), when the seasonal model holds that slot.
    pub(crate) fn a_season_ago(&self, t: f64) -> Option<Lanes<f64, L>> {
        let s = self.models.as_ref()?.seasonal.as_ref()?;
        s.ring.a_period_before(t)
    }

    /// Whether the point models score yet: their calibration has learned enough samples
    /// to turn a deviation into a probability (before, every score is 0).
    pub(crate) fn is_calibrated(&self) -> bool {
        self.models
            .as_ref()
            .is_some_and(|m| m.point_calibration.is_speaking())
    }

    /// The sizes the models run with, once the cadence is known.
    pub(crate) fn sizes(&self) -> Option<Sizes> {
        self.models.as_ref().map(|m| m.sizes)
    }

    /// Scores one finite value per lane at time `t` (finite epoch seconds; the caller has
    /// checked them), then learns them; lane `l`'s observation goes to `out[l]`. Returns
    /// the lanes' residuals against exactly a season ago, where that slot is held (the
    /// season's stored value is what an incident should have been).
    #[inline(always)]
    pub(crate) fn observe_finite(
        &mut self,
        t: f64,
        x: Lanes<f64, L>,
        out: &mut [Observation; L],
    ) -> Option<Lanes<f64, L>> {
        self.n_seen += 1;
        let x = x.map(|v| v.clamp(-INPUT_LIMIT, INPUT_LIMIT));
        if let Some(models) = self.models.as_mut() {
            return models.observe(&self.tuning, t, x, out);
        }
        self.start(t, x, out);
        None
    }

    /// Holds the first samples until the cadence is known, then builds the models and
    /// replays them; `out` is the last one's observation (the others' were not warm).
    #[cold]
    fn start(&mut self, t: f64, x: Lanes<f64, L>, out: &mut [Observation; L]) {
        if self.pending.is_empty() {
            self.first = t;
        }
        self.pending.push((t, x));
        *out = [Observation::default(); L];
        if self.pending.len() < CADENCE_SAMPLES {
            return;
        }
        let times: Vec<f64> = self.pending.iter().map(|(t, _)| *t).collect();
        let sizes = Sizes::new(&self.params, cadence(&times));
        let mut models = Box::new(Models::new(&self.params, sizes, self.first));
        for (t, x) in self.pending.drain(..) {
            models.observe(&self.tuning, t, x, out);
        }
        self.models = Some(models);
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

    /// Seconds between samples, observed on the first ones (`None` until the models start).
    pub fn cadence(&self) -> Option<f64> {
        self.0.sizes().map(|s| s.cadence)
    }

    /// Scores `x` at time `t` (epoch seconds), then learns it. A non-finite value or time
    /// is an error naming it and changes nothing.
    pub fn observe(&mut self, t: f64, x: f64) -> Result<Observation> {
        finite("timestamp", t)?;
        finite("value", x)?;
        let mut out = [Observation::default()];
        self.0.observe_finite(t, Lanes([x]), &mut out);
        let [obs] = out;
        Ok(obs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four series of different kinds: seasonal with noise, flat stretches, huge values
    /// (beyond the input limit), steps and spikes.
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

    /// 5-minute samples with a few late, duplicated and missing ones.
    fn time(i: u32) -> f64 {
        let t = 1.7e9 + 300.0 * f64::from(i);
        match i % 211 {
            17 => t - 450.0,
            99 => t - 300.0,
            150 => t + 3600.0,
            _ => t,
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
            host.observe_finite(time(i), x, &mut out);
            for (l, scorer) in alone.iter_mut().enumerate() {
                let want = scorer.observe(time(i), x[l]).unwrap();
                // bit for bit: every field, NaN-free, so == is exact but for -0.0 == 0.0
                assert_eq!(out[l], want, "lane {l} sample {i}");
                assert_eq!(out[l].score.to_bits(), want.score.to_bits());
                assert!(want.score.is_finite() && want.surprise.is_finite());
                warm_scores += usize::from(want.warm && want.score > 0.0);
            }
        }
        assert!(warm_scores > 10_000, "the streams were barely scored");
        // and the state survives a round trip to the same subsequent scores
        let mut back: Pipeline<4> =
            postcard::from_bytes(&postcard::to_allocvec(&host).unwrap()).unwrap();
        let mut json: Pipeline<4> =
            serde_json::from_str(&serde_json::to_string(&host).unwrap()).unwrap();
        let (mut again, mut third) = ([Observation::default(); 4], [Observation::default(); 4]);
        for i in 6000..6500 {
            let x = Lanes::from_fn(|l| value(l, i));
            host.observe_finite(time(i), x, &mut out);
            back.observe_finite(time(i), x, &mut again);
            json.observe_finite(time(i), x, &mut third);
            assert_eq!(out, again, "sample {i}");
            assert_eq!(out, third, "sample {i} (json)");
        }
    }

    #[test]
    fn the_first_samples_wait_for_the_cadence() {
        let mut s = SeriesScorer::new(&EngineConfig::default()).unwrap();
        for i in 0..CADENCE_SAMPLES as u32 {
            let o = s.observe(1.7e9 + 60.0 * f64::from(i), 5.0).unwrap();
            assert!(!o.warm && o.score == 0.0);
        }
        // 1-minute samples: a day is 1,440 of them
        assert_eq!(s.0.sizes().map(|z| z.window_keep), Some(1440.0));
        assert!(s.observe(f64::NAN, 1.0).is_err() && s.observe(1.8e9, f64::INFINITY).is_err());
    }
}
