//! The insight engine: per-host, per-metric detector state combined into calibrated anomaly
//! scores and turned into insights. Stub, being written.

use crate::Result;

/// Engine configuration (one configuration for every series).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineConfig {}

/// Scores one univariate series causally (row i sees rows 0..=i only) with the engine's
/// per-metric pipeline; one anomaly score in [0, 1) per row. `timestamps` are epoch seconds.
pub fn score_series(config: &EngineConfig, timestamps: &[f64], values: &[f64]) -> Result<Vec<f64>> {
    let _ = (config, timestamps);
    Ok(vec![0.0; values.len()])
}
