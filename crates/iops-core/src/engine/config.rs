//! The engine's one configuration, checked before use (linfa-style: `EngineParams` →
//! `EngineConfig`). Lengths are in samples; the defaults suit 5-minute samples (one day is
//! 288 samples, one week 2016), the cadence of CloudWatch's standard metrics and of NAB.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::multivariate::HostForest;
use crate::artifact::ModelArtifact;
use crate::{Error, Result};

/// Engine parameters as a user writes them; [`EngineParams::check`] turns them into an
/// [`EngineConfig`]. Every field has a sensible default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineParams {
    /// Rolling window of the point model (samples). Default 288 (one day).
    pub window: usize,
    /// Seasonal lag compared against (samples); 0 disables the seasonal model. Default 288.
    pub season: usize,
    /// The seasonal model matches the best of the samples `season ± season_jitter` ago,
    /// so a daily job that starts a few minutes late is not an anomaly. Default 2.
    pub season_jitter: usize,
    /// Use the seasonal model when its residual spread is below this fraction of the
    /// point model's spread. Default 0.7.
    pub seasonal_preference: f64,
    /// Samples averaged by the level model (sustained shifts). Default 6.
    pub short_mean: usize,
    /// History behind the level model and the surprise calibration (samples). Default 2016
    /// (one week).
    pub baseline: usize,
    /// Samples before the rolling models score. Default 20.
    pub min_samples: usize,
    /// Samples before surprises are calibrated (scores are 0 before). Default 100.
    pub calibration_min_samples: usize,
    /// z-scores are divided by this before their Gaussian tail floors the calibrated
    /// probability. Default 1.5.
    pub gaussian_scale: f64,
    /// A surprise no larger than the incident's peak (plus the margin) is the same incident,
    /// and is damped; the peak decays by a factor `1 - 1/suppression` per sample, so it is
    /// forgotten over about `suppression` samples. Default 36 (three hours).
    pub suppression: usize,
    /// Margin of the suppression, in nats of surprise. Default 1.0.
    pub suppression_margin: f64,
    /// Log-surprise (nats) at which the anomaly score is 0.5. Default 20.
    pub score_scale: f64,
    /// Anomaly score from which an insight is raised (severity info). Default 0.33, a little
    /// above the score that maximises the NAB standard profile (0.32), to spare the on-call.
    pub info_score: f64,
    /// Anomaly score from which an insight is a warning. Default 0.38.
    pub warning_score: f64,
    /// Anomaly score from which an insight is critical. Default 0.5.
    pub critical_score: f64,
    /// An incident on a host and metric stays open (no new insight but for an escalation of
    /// its severity) until this many samples in a row score below 90% of `info_score`.
    /// Default 36 (three hours).
    pub cooldown: usize,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams {
            window: 288,
            season: 288,
            season_jitter: 2,
            seasonal_preference: 0.7,
            short_mean: 6,
            baseline: 2016,
            min_samples: 20,
            calibration_min_samples: 100,
            gaussian_scale: 1.5,
            suppression: 36,
            suppression_margin: 1.0,
            score_scale: 20.0,
            info_score: 0.33,
            warning_score: 0.38,
            critical_score: 0.5,
            cooldown: 36,
        }
    }
}

/// Checked engine configuration: the only form the engine accepts. Optionally carries a
/// fleet isolation forest ([`EngineConfig::with_forest`]); without one the engine runs its
/// streaming per-metric models only. Serialises as its [`EngineParams`] (the model is a file
/// of its own, `model.json`, and is not part of the configuration's JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EngineParams", into = "EngineParams")]
pub struct EngineConfig {
    params: EngineParams,
    forest: Option<Arc<HostForest>>,
}

impl EngineConfig {
    /// The checked parameters.
    pub fn params(&self) -> &EngineParams {
        &self.params
    }

    /// This configuration with a fleet forest scoring every host's 4-metric vector. The
    /// model must have been trained on the engine's standardised features
    /// ([`HOST_FEATURES`](super::HOST_FEATURES), as `iops train` does); otherwise the error
    /// names `feature_names`.
    pub fn with_forest(self, model: ModelArtifact) -> Result<Self> {
        Ok(EngineConfig {
            forest: Some(Arc::new(HostForest::new(model)?)),
            ..self
        })
    }

    /// This configuration without a forest.
    pub fn without_forest(&self) -> Self {
        EngineConfig {
            params: self.params.clone(),
            forest: None,
        }
    }

    /// The fleet forest, if one is configured.
    pub fn forest(&self) -> Option<&HostForest> {
        self.forest.as_deref()
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

impl EngineParams {
    /// Checks every parameter without consuming them.
    pub fn validate(&self) -> Result<()> {
        if self.window < 2 {
            return Err(Error::param("window", self.window, "must be at least 2"));
        }
        if self.min_samples < 2 || self.min_samples > self.window {
            return Err(Error::param(
                "min_samples",
                self.min_samples,
                "must be in 2..=window",
            ));
        }
        if self.season != 0 && self.season_jitter >= self.season {
            return Err(Error::param(
                "season_jitter",
                self.season_jitter,
                "must be below season",
            ));
        }
        if self.short_mean == 0 {
            return Err(Error::param(
                "short_mean",
                self.short_mean,
                "must be at least 1",
            ));
        }
        if self.baseline < 2 * self.short_mean.max(2) {
            return Err(Error::param(
                "baseline",
                self.baseline,
                "must be at least 2 × short_mean",
            ));
        }
        if !(self.seasonal_preference.is_finite()
            && (0.0..=1.0).contains(&self.seasonal_preference))
        {
            return Err(Error::param(
                "seasonal_preference",
                self.seasonal_preference,
                "must be in [0, 1]",
            ));
        }
        positive("gaussian_scale", self.gaussian_scale)?;
        positive("score_scale", self.score_scale)?;
        if !(self.suppression_margin.is_finite() && self.suppression_margin >= 0.0) {
            return Err(Error::param(
                "suppression_margin",
                self.suppression_margin,
                "must be finite and >= 0",
            ));
        }
        for (name, v) in [
            ("info_score", self.info_score),
            ("warning_score", self.warning_score),
            ("critical_score", self.critical_score),
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
        Ok(())
    }
}

impl EngineParams {
    /// Checks every parameter; the error names the first bad one.
    pub fn check(self) -> Result<EngineConfig> {
        self.validate()?;
        Ok(EngineConfig {
            params: self,
            forest: None,
        })
    }
}
