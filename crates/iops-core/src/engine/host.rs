//! Per-host state: one [`SeriesScorer`] per metric plus the hysteresis that keeps one
//! incident to one insight (and one more per escalation of its severity). Serialises with serde so a stateless runtime (Lambda) can load
//! it, process a sample and store it back.

use serde::{Deserialize, Serialize};

use super::config::EngineConfig;
use super::explain;
use super::series::{Observation, SeriesScorer};
use crate::{Insight, Metric, MetricSample, Result, Severity};

/// An incident open on one metric: it raised an insight when its score first reached the
/// info cut-off, raises another only when it becomes more severe, and closes after
/// `cooldown` samples in a row below the release score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct OpenIncident {
    severity: Severity,
    calm: u32,
}

/// An open incident is released below this fraction of the info cut-off (hysteresis: a
/// score wobbling around the cut-off is one incident, not many).
const RELEASE_FRACTION: f64 = 0.9;

/// Everything the engine remembers about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    series: [SeriesScorer; 4],
    incidents: [Option<OpenIncident>; 4],
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
            incidents: [None; 4],
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
            // Insights follow the unsuppressed surprise: the row score damps an incident's
            // later samples, which would hide a slow ramp (a memory leak) for good.
            let mut obs = metrics[i];
            obs.score = obs.surprise / (obs.surprise + p.score_scale);
            let severity =
                explain::severity(obs.score, p.info_score, p.warning_score, p.critical_score);
            let raise = match (&mut self.incidents[i], severity) {
                (None, Some(s)) => {
                    self.incidents[i] = Some(OpenIncident {
                        severity: s,
                        calm: 0,
                    });
                    Some(s)
                }
                (None, None) => None,
                (Some(open), s) => {
                    if obs.score < RELEASE_FRACTION * p.info_score {
                        open.calm += 1;
                    } else {
                        open.calm = 0;
                    }
                    let escalated = s.filter(|&s| s > open.severity);
                    if let Some(s) = escalated {
                        open.severity = s;
                    }
                    if open.calm as usize >= p.cooldown {
                        self.incidents[i] = None;
                    }
                    escalated
                }
            };
            if let Some(severity) = raise {
                insights.push(explain::insight(
                    metric,
                    &sample.hostname,
                    sample.timestamp,
                    values[i],
                    severity,
                    &obs,
                ));
            }
        }
        let score = metrics.iter().map(|o| o.score).fold(0.0, f64::max);
        Ok(Assessment {
            score,
            metrics,
            insights,
        })
    }
}
