//! The engine's one configuration, checked before use (linfa-style: `EngineParams` →
//! `EngineConfig`). Windows, seasons and memories are durations in seconds: a series'
//! models count them in samples of its own cadence, observed from its first samples, so
//! one configuration serves 10-second, 1-minute, 5-minute and hourly metrics alike.

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One hour, in seconds.
const HOUR: f64 = 3600.0;
/// One day, in seconds.
const DAY: f64 = 24.0 * HOUR;
/// The longest duration a parameter may have: ten years (a typo cannot ask for more).
pub const MAX_DURATION_SECONDS: f64 = 3650.0 * DAY;

/// Default of [`EngineParams::confirm_seconds`].
const DEFAULT_CONFIRM_SECONDS: f64 = 600.0;

thread_local! {
    /// Set while a state saved before `confirm_seconds` existed is decoded
    /// ([`decoding_before_confirmation`]).
    static BEFORE_CONFIRMATION: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode` with the parameters (and the host states holding them) read in the layout
/// of before `confirm_seconds`: postcard does not describe its fields, so the older layout
/// is asked for, not detected; the field then has its default.
pub(crate) fn decoding_before_confirmation<T>(decode: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BEFORE_CONFIRMATION.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BEFORE_CONFIRMATION.with(|b| b.replace(true)));
    decode()
}

/// Whether a state of before `confirm_seconds` is being decoded.
fn before_confirmation() -> bool {
    BEFORE_CONFIRMATION.with(Cell::get)
}

/// A field added with `confirm_seconds`: absent (its default) from the layout of before.
pub(crate) fn absent_before_confirmation<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    if before_confirmation() {
        return Ok(T::default());
    }
    T::deserialize(d)
}

/// `confirm_seconds` as stored: absent (the default) from the layout of before it.
fn confirm_seconds_in_layout<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<f64, D::Error> {
    if before_confirmation() {
        return Ok(DEFAULT_CONFIRM_SECONDS);
    }
    f64::deserialize(d)
}

/// Engine parameters as a user writes them; [`EngineParams::check`] turns them into an
/// [`EngineConfig`]. Every field has a default; durations are in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineParams {
    /// Rolling window of the point model. Default 86400 (a day: yesterday's nightly job is
    /// still in it when tonight's starts).
    pub window_seconds: f64,
    /// The rolling window holds at least this many samples, however slow the cadence (a
    /// series sampled every 2 hours still gets 24 samples, two days). Default 24.
    pub min_window_samples: usize,
    /// Seasonal period compared against; 0 disables the seasonal model. Default 86400.
    pub season_seconds: f64,
    /// The seasonal model keeps one value per slot of the period: the series' cadence, but
    /// no finer than this (a 10-second series keeps one value per 5 minutes). Default 300.
    pub season_slot_seconds: f64,
    /// The value a season ago is matched within ± this many slots, so a daily job that
    /// starts a few minutes late is not an anomaly. Default 2.
    pub season_jitter: usize,
    /// Use the seasonal model when its residual spread is below this fraction of the
    /// rolling model's spread. Default 0.7.
    pub seasonal_preference: f64,
    /// Span of the level model: the mean of the last this many seconds against the
    /// history of such means (sustained shifts). Default 1800 (30 minutes). Also read as
    /// `short_level_seconds`, its name while a second, 8-hour level model existed (the
    /// evidence model replaced it; `long_level_seconds` is no longer a parameter).
    #[serde(alias = "short_level_seconds")]
    pub level_seconds: f64,
    /// Span of the volatility model: the mean absolute change between samples over the
    /// last this many seconds against its history (a series turning erratic or flapping).
    /// Default 3600 (1 hour).
    pub volatility_seconds: f64,
    /// How long surprises and level histories are remembered. Default 2419200 (28 days).
    pub memory_seconds: f64,
    /// A surprise's probability counts at most this much history: beyond it, how rare a
    /// surprise is depends on how often it was seen, not on how long the series has run.
    /// Default 604800 (7 days).
    pub calibration_horizon_seconds: f64,
    /// Time before the rolling model scores. Default 6000 (100 minutes).
    pub warmup_seconds: f64,
    /// ... and at least this many samples. Default 8.
    pub min_samples: usize,
    /// Samples before surprises are calibrated (scores are 0 before). Default 100.
    pub calibration_min_samples: usize,
    /// z-scores are divided by this before their Gaussian tail floors the calibrated
    /// probability. Default 1.5.
    pub gaussian_scale: f64,
    /// A point surprise beyond the largest remembered is extrapolated from the spread of the
    /// top this-many surprises. Default 10.
    pub record_tail_samples: f64,
    /// A surprise no larger than the incident's peak (plus the margin) is the same incident,
    /// and is damped; the peak decays by 1/e in this many seconds. Default 43200 (12 hours).
    pub suppression_seconds: f64,
    /// Margin of the suppression, in nats of surprise. Default 1.0.
    pub suppression_margin: f64,
    /// Log-surprise (nats) at which the anomaly score is 0.5. Default 20.
    pub score_scale: f64,
    /// Anomaly score from which an insight is raised (severity info). Default 0.35.
    pub info_score: f64,
    /// Anomaly score from which an insight is a warning. Default 0.40.
    pub warning_score: f64,
    /// Anomaly score from which an insight is critical. Default 0.5.
    pub critical_score: f64,
    /// CPU or memory (percent) at or above this for `saturation_seconds` is critical:
    /// saturation, however usual it has become. Default 95.
    pub saturation_percent: f64,
    /// How long a saturation must last to be critical without surprise. Default 300.
    pub saturation_seconds: f64,
    /// A surprising CPU or memory value at or above this percent is critical. Default 90.
    pub saturation_surprise_percent: f64,
    /// A surprising disk or network I/O value at or below this fraction of its expected
    /// value is an outage, critical. Default 0.1.
    pub outage_fraction: f64,
    /// An incident on a host and metric stays open until its score stays below 90% of
    /// `info_score` for this many seconds; meanwhile its samples raise a new insight only
    /// when its severity rises, and their anomaly scores are damped unless they make it
    /// critical. Default 10800 (3 hours).
    pub cooldown_seconds: f64,
    /// A sample scoring this high (unsuppressed) is not learned by the point models, nor are
    /// the samples after it while the incident lasts (outside the band of 3 spreads, or
    /// still surprising), for up to `adoption_seconds`: one incident does not widen the
    /// expected band for a day. Default 0.55.
    pub guard_score: f64,
    /// An incident that lasts this long is the new normal: it is learned, and the rolling
    /// window gets its values seen so far in place of the expectation. Default 14400
    /// (4 hours).
    pub adoption_seconds: f64,
    /// A surprise below critical opens an incident on a host that has none open only when
    /// the same metric confirms it within this many seconds: it surprises again (at the
    /// info cut-off), or its value is still outside the expected band. A lone tail of the
    /// noise is not an incident; a real one goes on. Critical surprises and impact
    /// (saturation, outage) open at once, and a host's open incident takes in every
    /// surprise at once; 0 turns the confirmation off. Default 600 (10 minutes).
    #[serde(deserialize_with = "confirm_seconds_in_layout")]
    pub confirm_seconds: f64,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams {
            window_seconds: DAY,
            min_window_samples: 24,
            season_seconds: DAY,
            season_slot_seconds: 300.0,
            season_jitter: 2,
            seasonal_preference: 0.7,
            level_seconds: 0.5 * HOUR,
            volatility_seconds: HOUR,
            memory_seconds: 28.0 * DAY,
            calibration_horizon_seconds: 7.0 * DAY,
            warmup_seconds: 6000.0,
            min_samples: 8,
            calibration_min_samples: 100,
            gaussian_scale: 1.5,
            record_tail_samples: 10.0,
            suppression_seconds: 12.0 * HOUR,
            suppression_margin: 1.0,
            score_scale: 20.0,
            info_score: 0.35,
            warning_score: 0.40,
            critical_score: 0.5,
            saturation_percent: 95.0,
            saturation_seconds: 300.0,
            saturation_surprise_percent: 90.0,
            outage_fraction: 0.1,
            cooldown_seconds: 3.0 * HOUR,
            guard_score: 0.55,
            adoption_seconds: 4.0 * HOUR,
            confirm_seconds: DEFAULT_CONFIRM_SECONDS,
        }
    }
}

/// Checked engine configuration: the only form the engine accepts. Parameters only: a
/// fitted fleet forest ([`HostForest`](super::HostForest)) is passed beside it. Serialises
/// as its [`EngineParams`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EngineParams", into = "EngineParams")]
pub struct EngineConfig {
    params: EngineParams,
}

impl EngineConfig {
    /// The checked parameters.
    pub fn params(&self) -> &EngineParams {
        &self.params
    }
}

impl TryFrom<EngineParams> for EngineConfig {
    type Error = Error;
    fn try_from(p: EngineParams) -> Result<Self> {
        p.check()
    }
}

impl From<EngineConfig> for EngineParams {
    fn from(c: EngineConfig) -> Self {
        c.params
    }
}

fn positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be a finite number > 0"))
    }
}

/// A duration in (0, ten years], or also 0 where `zero_ok` (a model turned off).
fn duration(name: &'static str, v: f64, zero_ok: bool) -> Result<()> {
    let ok = v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0)) && v <= MAX_DURATION_SECONDS;
    if ok {
        Ok(())
    } else if zero_ok {
        Err(Error::param(
            name,
            v,
            "must be 0 (off) or a duration in seconds up to ten years",
        ))
    } else {
        Err(Error::param(
            name,
            v,
            "must be a duration in seconds > 0 and up to ten years",
        ))
    }
}

/// A count in `lo..=hi` (`reason` says so).
fn count(name: &'static str, v: usize, lo: usize, hi: usize, reason: &'static str) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::param(name, v, reason))
    }
}

impl EngineParams {
    /// Checks every parameter without consuming them; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        duration("window_seconds", self.window_seconds, false)?;
        count(
            "min_window_samples",
            self.min_window_samples,
            2,
            100_000,
            "must be in 2..=100000",
        )?;
        duration("season_seconds", self.season_seconds, true)?;
        duration("season_slot_seconds", self.season_slot_seconds, false)?;
        if self.season_seconds > 0.0 && self.season_slot_seconds * 2.0 > self.season_seconds {
            return Err(Error::param(
                "season_slot_seconds",
                self.season_slot_seconds,
                "must be at most half of season_seconds",
            ));
        }
        count(
            "season_jitter",
            self.season_jitter,
            0,
            100,
            "must be in 0..=100",
        )?;
        if !(self.seasonal_preference.is_finite()
            && (0.0..=1.0).contains(&self.seasonal_preference))
        {
            return Err(Error::param(
                "seasonal_preference",
                self.seasonal_preference,
                "must be in [0, 1]",
            ));
        }
        duration("level_seconds", self.level_seconds, false)?;
        duration("volatility_seconds", self.volatility_seconds, false)?;
        duration("memory_seconds", self.memory_seconds, false)?;
        duration(
            "calibration_horizon_seconds",
            self.calibration_horizon_seconds,
            false,
        )?;
        if self.calibration_horizon_seconds > self.memory_seconds {
            return Err(Error::param(
                "calibration_horizon_seconds",
                self.calibration_horizon_seconds,
                "must be at most memory_seconds",
            ));
        }
        duration("warmup_seconds", self.warmup_seconds, true)?;
        count(
            "min_samples",
            self.min_samples,
            2,
            100_000,
            "must be in 2..=100000",
        )?;
        count(
            "calibration_min_samples",
            self.calibration_min_samples,
            1,
            1_000_000,
            "must be in 1..=1000000",
        )?;
        positive("gaussian_scale", self.gaussian_scale)?;
        if !(self.record_tail_samples.is_finite()
            && (0.0..=1e6).contains(&self.record_tail_samples))
        {
            return Err(Error::param(
                "record_tail_samples",
                self.record_tail_samples,
                "must be in [0, 1e6] (0: a Pareto tail)",
            ));
        }
        duration("suppression_seconds", self.suppression_seconds, false)?;
        if !(self.suppression_margin.is_finite() && self.suppression_margin >= 0.0) {
            return Err(Error::param(
                "suppression_margin",
                self.suppression_margin,
                "must be finite and >= 0",
            ));
        }
        positive("score_scale", self.score_scale)?;
        for (name, v) in [
            ("info_score", self.info_score),
            ("warning_score", self.warning_score),
            ("critical_score", self.critical_score),
            ("guard_score", self.guard_score),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(Error::param(name, v, "must be in (0, 1)"));
            }
        }
        if !(self.info_score <= self.warning_score && self.warning_score <= self.critical_score) {
            return Err(Error::param(
                "warning_score",
                self.warning_score,
                "severity scores must satisfy info_score <= warning_score <= critical_score",
            ));
        }
        if !(self.saturation_percent > 0.0 && self.saturation_percent <= 100.0) {
            return Err(Error::param(
                "saturation_percent",
                self.saturation_percent,
                "must be in (0, 100]",
            ));
        }
        duration("saturation_seconds", self.saturation_seconds, true)?;
        if !(self.saturation_surprise_percent > 0.0
            && self.saturation_surprise_percent <= self.saturation_percent)
        {
            return Err(Error::param(
                "saturation_surprise_percent",
                self.saturation_surprise_percent,
                "must be in (0, saturation_percent]",
            ));
        }
        if !(self.outage_fraction >= 0.0 && self.outage_fraction < 1.0) {
            return Err(Error::param(
                "outage_fraction",
                self.outage_fraction,
                "must be in [0, 1)",
            ));
        }
        duration("cooldown_seconds", self.cooldown_seconds, true)?;
        duration("adoption_seconds", self.adoption_seconds, true)?;
        duration("confirm_seconds", self.confirm_seconds, true)?;
        Ok(())
    }

    /// Checks every parameter; the error names the first bad one.
    pub fn check(self) -> Result<EngineConfig> {
        self.validate()?;
        Ok(EngineConfig { params: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parameter's name and a way to break its rule.
    type BrokenRule = (&'static str, fn(&mut EngineParams));

    /// Each rule rejects its bad value with an error naming the parameter.
    #[test]
    fn every_rule_names_its_parameter() {
        let cases: Vec<BrokenRule> = vec![
            ("window_seconds", |p| p.window_seconds = 0.0),
            ("window_seconds", |p| p.window_seconds = f64::NAN),
            ("min_window_samples", |p| p.min_window_samples = 1),
            ("season_seconds", |p| p.season_seconds = -1.0),
            ("season_slot_seconds", |p| p.season_slot_seconds = 50_000.0),
            ("season_jitter", |p| p.season_jitter = 101),
            ("seasonal_preference", |p| p.seasonal_preference = 1.5),
            ("level_seconds", |p| p.level_seconds = 0.0),
            ("level_seconds", |p| p.level_seconds = f64::INFINITY),
            ("volatility_seconds", |p| p.volatility_seconds = -5.0),
            ("memory_seconds", |p| p.memory_seconds = 1e12),
            ("calibration_horizon_seconds", |p| {
                p.calibration_horizon_seconds = 2.0 * p.memory_seconds
            }),
            ("warmup_seconds", |p| p.warmup_seconds = f64::NAN),
            ("min_samples", |p| p.min_samples = 0),
            ("calibration_min_samples", |p| p.calibration_min_samples = 0),
            ("gaussian_scale", |p| p.gaussian_scale = 0.0),
            ("record_tail_samples", |p| p.record_tail_samples = -1.0),
            ("suppression_seconds", |p| p.suppression_seconds = 0.0),
            ("suppression_margin", |p| p.suppression_margin = -1.0),
            ("score_scale", |p| p.score_scale = 0.0),
            ("info_score", |p| p.info_score = 1.0),
            ("warning_score", |p| p.warning_score = 0.2),
            ("guard_score", |p| p.guard_score = 0.0),
            ("saturation_percent", |p| p.saturation_percent = 101.0),
            ("saturation_percent", |p| p.saturation_percent = f64::NAN),
            ("saturation_seconds", |p| p.saturation_seconds = -1.0),
            ("saturation_surprise_percent", |p| {
                p.saturation_surprise_percent = p.saturation_percent + 1.0
            }),
            ("outage_fraction", |p| p.outage_fraction = 1.0),
            ("outage_fraction", |p| p.outage_fraction = f64::NAN),
            ("cooldown_seconds", |p| p.cooldown_seconds = -1.0),
            ("adoption_seconds", |p| p.adoption_seconds = f64::NAN),
            ("confirm_seconds", |p| p.confirm_seconds = -1.0),
        ];
        for (name, break_it) in cases {
            let mut p = EngineParams::default();
            break_it(&mut p);
            let err = p.check().expect_err(name);
            assert_eq!(err.field(), Some(name), "{err}");
        }
        assert!(EngineParams::default().check().is_ok());
        // turning the seasonal model off is allowed
        let p = EngineParams {
            season_seconds: 0.0,
            ..EngineParams::default()
        };
        assert!(p.check().is_ok());
    }

    #[test]
    fn the_level_span_keeps_its_old_name_and_the_long_level_is_gone() {
        let p: EngineParams = serde_json::from_str(r#"{"short_level_seconds": 900}"#).unwrap();
        assert_eq!(p.level_seconds, 900.0);
        let err =
            serde_json::from_str::<EngineParams>(r#"{"long_level_seconds": 28800}"#).unwrap_err();
        assert!(err.to_string().contains("long_level_seconds"), "{err}");
    }

    #[test]
    fn old_sample_counts_are_unknown_fields() {
        let err = serde_json::from_str::<EngineParams>(r#"{"window": 288}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `window`"), "{err}");
    }
}
