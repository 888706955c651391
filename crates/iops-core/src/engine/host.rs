//! Per-host state: one [`SeriesScorer`] per metric plus the hysteresis that keeps one
//! incident to one insight. Serialises with serde so a stateless runtime (Lambda) can load
//! it, process a sample and store it back.

use serde::{Deserialize, Serialize};

use super::config::EngineConfig;
use super::explain;
use super::series::{Observation, SeriesScorer};
use crate::{Insight, Metric, MetricSample, Result, Severity};

/// The last insight raised for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct LastInsight {
    at: u64,
    severity: Severity,
}

/// Everything the engine remembers about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    series: [SeriesScorer; 4],
    last_insight: [Option<LastInsight>; 4],
}

/// What the engine concluded about one sample of one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Host-level anomaly score in [0, 1): the highest of the metrics' scores.
    pub score: f64,
    /// Per-metric observations, in [`Metric::ALL`] order.
    pub metrics: [Observation; 4],
    /// Insights raised by this sample (usually none).
    pub insights: Vec<Insight>,
}

impl HostState {
    /// A fresh state for a host never seen before.
    pub fn new(config: &EngineConfig) -> Result<Self> {
        let s = SeriesScorer::new(config)?;
        Ok(HostState {
            series: [s.clone(), s.clone(), s.clone(), s],
            last_insight: [None; 4],
        })
    }

    /// Samples this host has sent.
    pub fn n_seen(&self) -> u64 {
        self.series[0].n_seen()
    }

    /// Scores a sample (validated first; an invalid one changes nothing), learns it, and
    /// raises insights.
    pub fn process(&mut self, config: &EngineConfig, sample: &MetricSample) -> Result<Assessment> {
        sample.validate()?;
        let p = config.params();
        let values = sample.values();
        let mut metrics = [Observation::default(); 4];
        for ((series, x), out) in self.series.iter_mut().zip(values).zip(metrics.iter_mut()) {
            // validated above: every value is finite
            *out = series.observe_finite(x);
        }
        let mut insights = Vec::new();
        for (i, metric) in Metric::ALL.into_iter().enumerate() {
            let obs = &metrics[i];
            let Some(severity) =
                explain::severity(obs.score, p.info_score, p.warning_score, p.critical_score)
            else {
                continue;
            };
            let now = self.series[i].n_seen();
            let cooling = self.last_insight[i]
                .is_some_and(|last| now < last.at + p.cooldown as u64 && severity <= last.severity);
            if cooling {
                continue;
            }
            self.last_insight[i] = Some(LastInsight { at: now, severity });
            insights.push(explain::insight(
                metric,
                &sample.hostname,
                sample.timestamp,
                values[i],
                severity,
                obs,
            ));
        }
        let score = metrics.iter().map(|o| o.score).fold(0.0, f64::max);
        Ok(Assessment {
            score,
            metrics,
            insights,
        })
    }
}
