//! What the engine concluded about one sample of one series: the score and the parts it is
//! made of, which the insight messages and the fleet forest read.

use serde::{Deserialize, Serialize};

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
    /// Signed z-score of the recent mean against the baseline of such means.
    pub level_z: f64,
    /// Log-surprise (nats) of the point model: `-ln` of its calibrated tail probability.
    pub point_surprise: f64,
    /// Log-surprise (nats) of the sustained models: the level model or the evidence of
    /// persistent surprise, the larger.
    pub level_surprise: f64,
    /// Log-surprise (nats) of the volatility model (0 unless the series is more erratic
    /// than usual).
    #[serde(default)]
    pub volatility_surprise: f64,
    /// The point model used.
    pub model: Model,
    /// False until the models have seen enough samples to score.
    pub warm: bool,
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
            volatility_surprise: 0.0,
            model: Model::Rolling,
            warm: false,
        }
    }
}
