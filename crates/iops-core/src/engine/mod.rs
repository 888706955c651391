//! The insight engine: per-host, per-metric detector state combined into one calibrated
//! anomaly score per sample, and turned into insights a person understands.
//!
//! ```
//! use iops_core::engine::{EngineConfig, InsightEngine};
//! use iops_core::MetricSample;
//!
//! let mut engine = InsightEngine::new(EngineConfig::default());
//! let mut insights = Vec::new();
//! for minute in 0..600u32 {
//!     // a quiet host: CPU 40% ± a little, then one sample at 97%
//!     let cpu = if minute == 550 { 97.0 } else { 40.0 + f64::from(minute % 7) };
//!     let sample = MetricSample::from_json(format!(
//!         r#"{{"timestamp":{},"hostname":"web-1","cpuUsage":{cpu},"memoryUsage":60,"diskIO":100,"networkIO":50}}"#,
//!         1_764_000_000 + u64::from(minute) * 300
//!     ).as_bytes())?;
//!     insights.extend(engine.process(&sample)?.insights);
//! }
//! assert_eq!(insights.len(), 1);
//! assert_eq!(insights[0].kind.as_str(), "cpu_spike");
//! println!("{}", insights[0].message);
//! # Ok::<(), iops_core::Error>(())
//! ```

mod calibrate;
mod cold_start;
mod config;
mod episode;
mod evidence;
mod explain;
mod fastmath;
mod forecast;
mod host;
mod lanes;
mod level;
mod multivariate;
mod observation;
mod season;
mod series;
mod sizes;
mod training;
mod window;

use std::collections::HashMap;
use std::sync::Arc;

pub use cold_start::PeerShift;
pub use config::{EngineConfig, EngineParams, MAX_DURATION_SECONDS};
pub use host::{Assessment, HostState};
pub use multivariate::{host_features, HostForest, HOST_FEATURES};
pub use observation::{Model, Observation};
pub use series::SeriesScorer;
pub use training::training_features;

use crate::{MetricSample, Result};

/// Scores and explains metric samples for a fleet of hosts, keeping per-host state in memory.
/// For stateless runtimes, load a [`HostState`], call [`HostState::process`], store it back.
#[derive(Debug, Clone)]
pub struct InsightEngine {
    config: EngineConfig,
    forest: Option<Arc<HostForest>>,
    hosts: HashMap<String, HostState>,
}

impl InsightEngine {
    /// An engine with no hosts yet.
    pub fn new(config: EngineConfig) -> Self {
        InsightEngine {
            config,
            forest: None,
            hosts: HashMap::new(),
        }
    }

    /// This engine with a fleet forest scoring every host's 4-metric vector.
    pub fn with_forest(self, forest: impl Into<Arc<HostForest>>) -> Self {
        InsightEngine {
            forest: Some(forest.into()),
            ..self
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The fleet forest, if one is set.
    pub fn forest(&self) -> Option<&HostForest> {
        self.forest.as_deref()
    }

    /// Validates, scores and learns one sample; returns the assessment with any insights.
    /// An invalid sample is an error naming the field, and changes nothing.
    pub fn process(&mut self, sample: &MetricSample) -> Result<Assessment> {
        let mut out = Assessment::default();
        self.process_into(sample, &mut out)?;
        Ok(out)
    }

    /// [`InsightEngine::process`] into a caller's buffer (see [`HostState::process_into`]):
    /// the fastest path for a long-running server. On an invalid sample (an error), nothing
    /// changes, `out` included.
    pub fn process_into(&mut self, sample: &MetricSample, out: &mut Assessment) -> Result<()> {
        sample.validate()?;
        let state = match self.hosts.get_mut(&sample.hostname) {
            Some(state) => state,
            None => self
                .hosts
                .entry(sample.hostname.clone())
                .or_insert(HostState::new(&self.config)?),
        };
        // validated once, above
        state.process_valid(&self.config, self.forest.as_deref(), sample, out);
        Ok(())
    }

    /// The state of one host, to persist it.
    pub fn host_state(&self, hostname: &str) -> Option<&HostState> {
        self.hosts.get(hostname)
    }

    /// Restores a host's state (for example loaded from a store).
    pub fn restore_host(&mut self, hostname: impl Into<String>, state: HostState) {
        self.hosts.insert(hostname.into(), state);
    }

    /// Hostnames seen so far.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }
}

/// Scores one univariate series causally (row i sees rows 0..=i only) with the engine's
/// per-metric pipeline; one anomaly score in [0, 1) per row. `timestamps` are epoch seconds
/// and must have the same length as `values`.
pub fn score_series(config: &EngineConfig, timestamps: &[f64], values: &[f64]) -> Result<Vec<f64>> {
    if timestamps.len() != values.len() {
        return Err(crate::Error::Evaluation {
            what: "timestamps".into(),
            reason: format!(
                "{} timestamps for {} values",
                timestamps.len(),
                values.len()
            ),
        });
    }
    let mut scorer = SeriesScorer::new(config)?;
    timestamps
        .iter()
        .zip(values)
        .map(|(&t, &x)| scorer.observe(t, x).map(|o| o.score))
        .collect()
}
