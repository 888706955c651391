//! The multivariate half of a host's assessment: an isolation forest scores the vector of the
//! host's four metrics, each standardised against the host's own expectation (the point
//! model's signed z-score), so one fleet model serves hosts with different baselines — a
//! database at 80% CPU and a web server at 20% both sit near 0 when they behave as usual.
//!
//! The forest sees what the per-metric models cannot: a combination of moderate deviations
//! that never occurs together (CPU a little high while network traffic is a little low). An
//! insight it raises says which metrics drove the score: each metric's share is how much the
//! score drops when that metric alone is put back at its expected value.

use std::cmp::Ordering;

use super::observation::Observation;
use crate::artifact::ModelArtifact;
use crate::forest::IsolationForest;
use crate::peers::PeerGroups;
use crate::{Driver, Error, Metric, Result, Severity};

/// Feature names of a host forest, in [`Metric::ALL`] order: what `iops train` writes into the
/// artifact, and what [`HostForest::new`] insists on, so a model fitted on raw metric values
/// cannot be mistaken for one fitted on standardised ones.
pub const HOST_FEATURES: [&str; 4] = ["cpuUsage_z", "memoryUsage_z", "diskIO_z", "networkIO_z"];

/// Standardised deviations beyond this carry no more information for the forest; clipping
/// keeps a flat series (spread near zero, z near 1e9) from stretching the training ranges.
pub(crate) const Z_CLIP: f64 = 100.0;

/// The forest's input for one sample: each metric's signed z-score against the host's own
/// expectation, clipped to ±[`Z_CLIP`]. `None` until every metric's models are warm; the
/// engine also waits until [`HostState::forest_ready`].
pub fn host_features(metrics: &[Observation; 4]) -> Option<[f64; 4]> {
    if !metrics.iter().all(|o| o.warm) {
        return None;
    }
    Some(metrics.map(|o| {
        if o.z.is_nan() {
            0.0
        } else {
            o.z.clamp(-Z_CLIP, Z_CLIP)
        }
    }))
}

/// A fleet forest ready for the engine: the model and the forest scores at which an insight
/// becomes info, warning and critical.
#[derive(Debug, Clone, PartialEq)]
pub struct HostForest {
    model: ModelArtifact,
    threshold: f64,
    cuts: [f64; 3],
}

impl HostForest {
    /// Wraps a model trained on [`HOST_FEATURES`] (see [`training_features`]).
    ///
    /// Two cut-offs come from the model. Its threshold (contamination) marks a vector as
    /// unusual: the metrics' own insights on such a sample name the forest's drivers. A
    /// `multi_metric_anomaly` insight of its own needs more: a score above every training
    /// score (a combination the fleet never showed), info from there, warning and critical
    /// a third and two thirds of the way from there to 1. Measured on the demo's fleets, a
    /// lower cut-off mostly added false alarms: the metrics' own models already catch what
    /// the forest sees at its threshold.
    pub fn new(model: ModelArtifact) -> Result<Self> {
        if model.feature_names() != HOST_FEATURES {
            return Err(Error::InvalidField {
                field: "feature_names".into(),
                reason: format!(
                    "a host forest must be trained on {HOST_FEATURES:?} (`iops train` writes them), got {:?}",
                    model.feature_names()
                ),
            });
        }
        if !model.is_summarized() {
            // the cut-offs start at the highest training score, from the summary
            return Err(Error::InvalidField {
                field: "model".into(),
                reason: "its training summary is not computed: summarize it with its \
                         training rows (ModelArtifact::summarize)"
                    .into(),
            });
        }
        let threshold = model.forest().threshold();
        let max_seen = model
            .training()
            .score_quantiles
            .iter()
            .find(|s| s.q == 1.0)
            .map_or(threshold, |s| s.score)
            .max(threshold);
        let step = (1.0 - max_seen) / 3.0;
        Ok(HostForest {
            model,
            threshold,
            cuts: [max_seen, max_seen + step, max_seen + 2.0 * step],
        })
    }

    /// The model.
    pub fn model(&self) -> &ModelArtifact {
        &self.model
    }

    /// The fleet's peer groups, when the model carries them: new hosts are compared with
    /// their group until their own models are calibrated.
    pub fn peers(&self) -> Option<&PeerGroups> {
        self.model.peer_groups()
    }

    /// The model's threshold: from it, a sample's per-metric insights name the drivers.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The scores above which a `multi_metric_anomaly` insight is info, warning, critical.
    pub fn severity_cuts(&self) -> [f64; 3] {
        self.cuts
    }

    fn forest(&self) -> &IsolationForest {
        self.model.forest()
    }

    /// The forest's score of a feature vector (0 if it cannot be scored: it always can, the
    /// features are finite and four).
    pub(crate) fn score(&self, features: &[f64; 4]) -> f64 {
        self.forest().score_one(features).unwrap_or(0.0)
    }

    /// Severity of a `multi_metric_anomaly` insight for a forest score, `None` at or below
    /// the highest training score.
    pub(crate) fn severity(&self, score: f64) -> Option<Severity> {
        let [info, warning, critical] = self.cuts;
        if score > critical {
            Some(Severity::Critical)
        } else if score > warning {
            Some(Severity::Warning)
        } else if score > info {
            Some(Severity::Info)
        } else {
            None
        }
    }

    /// Which metrics drove `score`, largest share first. A metric's weight is how much the
    /// score drops when that metric alone is put back at its expected value (z = 0); when no
    /// single metric lowers it (the anomaly is only in the combination), the weights are the
    /// metrics' |z|. Shares add up to 1.
    pub(crate) fn drivers(&self, features: &[f64; 4], score: f64) -> Vec<Driver> {
        let mut weight = [0.0; 4];
        for (j, w) in weight.iter_mut().enumerate() {
            let mut x = *features;
            x[j] = 0.0;
            *w = (score - self.score(&x)).max(0.0);
        }
        if weight.iter().sum::<f64>() <= 0.0 {
            weight = features.map(f64::abs);
        }
        let total: f64 = weight.iter().sum();
        let mut drivers: Vec<Driver> = Metric::ALL
            .into_iter()
            .zip(weight)
            .zip(features)
            .map(|((metric, w), &z)| Driver {
                metric,
                share: if total > 0.0 { w / total } else { 0.25 },
                z,
            })
            .collect();
        drivers.sort_by(|a, b| b.share.partial_cmp(&a.share).unwrap_or(Ordering::Equal));
        drivers
    }
}
