//! The canary policy: a share of requests is answered by a remote model (the SageMaker
//! endpoint, behind [`RemoteScorer`]) and the rest by the built-in engine.
//!
//! - Routing is per request and deterministic: a hash of hostname + timestamp, so a retry of
//!   the same metric routes the same way, and raising the percentage only adds requests to
//!   the canary (a sample routed at 10 % is still routed at 20 %).
//! - The built-in engine scores *every* sample, whichever model answers, so each host's
//!   streaming state stays complete and turning the canary off (or 0 %) is an instant
//!   rollback.
//! - A canary request answers the remote verdict: an `anomaly: true` score becomes one
//!   `multi_metric_anomaly` insight with modelSource `sagemaker`; the built-in insights of
//!   that request are not emitted. Any error logs an ERROR line and answers the built-in
//!   result (modelSource `builtin`, [`Scored::fallback`] set).

use std::fmt::Debug;

use async_trait::async_trait;
use iops_core::engine::{Assessment, HostState};
use iops_core::{Insight, InsightType, Metric, MetricSample, Severity};
use iops_store::ModelSource;

use crate::{BuiltinScorer, Scored, Scorer, ServiceError};

/// One score from a remote model.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteScore {
    /// The isolation-forest score in (0, 1].
    pub score: f64,
    /// True when the score is above the served model's threshold.
    pub anomaly: bool,
    /// The served model's version, recorded with the insight.
    pub version: String,
}

/// A remote model that scores one sample: the SageMaker endpoint in the Lambda
/// (iops-lambda's `SageMakerEndpoint`), a fake in tests.
#[async_trait]
pub trait RemoteScorer: Send + Sync + Debug {
    /// Why a call failed (the request then falls back to the built-in engine).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The endpoint's name, for insights and logs.
    fn name(&self) -> &str;

    /// Scores one sample.
    async fn score(&self, sample: &MetricSample) -> Result<RemoteScore, Self::Error>;
}

/// True when a sample of `hostname` at `epoch_nanos` goes to the canary at `percentage`
/// (0–100). FNV-1a over the key, then a 64-bit finaliser so close timestamps spread
/// evenly; buckets of 1/10,000 (0.01 %).
pub fn routes_to_canary(hostname: &str, epoch_nanos: i128, percentage: f64) -> bool {
    if percentage <= 0.0 {
        return false;
    }
    if percentage >= 100.0 {
        return true;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in hostname
        .bytes()
        .chain([0xff])
        .chain(epoch_nanos.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let bucket = (h % 10_000) as f64;
    bucket < percentage * 100.0
}

/// The built-in engine plus, when configured, a remote canary `R` (the Lambda's SageMaker
/// endpoint).
#[derive(Debug)]
pub struct CanaryScorer<R> {
    builtin: BuiltinScorer,
    canary: Option<(R, f64)>,
}

impl<R: RemoteScorer> CanaryScorer<R> {
    /// Only the built-in engine (USE_SAGEMAKER=false).
    pub fn builtin(builtin: BuiltinScorer) -> Self {
        CanaryScorer {
            builtin,
            canary: None,
        }
    }

    /// The built-in engine, and `endpoint` for `percentage` % (0–100) of requests.
    pub fn with_canary(builtin: BuiltinScorer, endpoint: R, percentage: f64) -> Self {
        CanaryScorer {
            builtin,
            canary: Some((endpoint, percentage.clamp(0.0, 100.0))),
        }
    }

    /// The endpoint and percentage, when the canary is on.
    pub fn canary(&self) -> Option<(&R, f64)> {
        self.canary.as_ref().map(|(e, p)| (e, *p))
    }
}

#[async_trait]
impl<R: RemoteScorer> Scorer for CanaryScorer<R> {
    fn new_state(&self) -> Result<HostState, ServiceError> {
        self.builtin.new_state()
    }

    fn info_score(&self) -> f64 {
        self.builtin.info_score()
    }

    fn peer_groups(&self) -> Option<&iops_core::peers::PeerGroups> {
        self.builtin.peer_groups()
    }

    async fn score(
        &self,
        state: &mut HostState,
        sample: &MetricSample,
    ) -> Result<Scored, ServiceError> {
        let mut scored = self.builtin.score(state, sample).await?;
        let Some((endpoint, percentage)) = &self.canary else {
            return Ok(scored);
        };
        if !routes_to_canary(
            &sample.hostname,
            sample.timestamp.epoch_nanos(),
            *percentage,
        ) {
            return Ok(scored);
        }
        match endpoint.score(sample).await {
            Ok(answer) => {
                let insights = answer
                    .anomaly
                    .then(|| {
                        sagemaker_insight(sample, &scored.assessment, &answer, endpoint.name())
                    })
                    .into_iter()
                    .collect();
                scored.assessment.insights = insights;
                scored.assessment.score = answer.score;
                scored.source = ModelSource::Sagemaker;
                scored.version = answer.version;
            }
            Err(e) => {
                tracing::error!(
                    endpoint = endpoint.name(),
                    hostname = %sample.hostname,
                    timestamp = %sample.timestamp,
                    error = %e,
                    "sagemaker canary failed; scored by the built-in model"
                );
                scored.fallback = true;
            }
        }
        Ok(scored)
    }
}

/// The insight for an anomalous endpoint score. The endpoint gives only a score and a flag,
/// so the severity is `warning`; the metric named is the one the built-in models found
/// furthest from its expected value (they scored the same sample), with that expectation.
fn sagemaker_insight(
    sample: &MetricSample,
    builtin: &Assessment,
    answer: &RemoteScore,
    endpoint: &str,
) -> Insight {
    let (metric, expected) = Metric::ALL
        .into_iter()
        .zip(builtin.metrics.iter())
        .max_by(|(_, a), (_, b)| a.score.total_cmp(&b.score))
        .map_or((Metric::Cpu, f64::NAN), |(m, o)| (m, o.expected));
    let value = sample.value(metric);
    let expected = if expected.is_finite() {
        expected
    } else {
        value
    };
    Insight {
        kind: InsightType::MultiMetricAnomaly,
        severity: Severity::Warning,
        message: format!(
            "SageMaker endpoint {endpoint} scored host {} at {:.3} (anomalous); {} {:.1} vs expected {:.1}",
            sample.hostname,
            answer.score,
            metric.wire_name(),
            value,
            expected
        ),
        hostname: sample.hostname.clone(),
        timestamp: sample.timestamp,
        metric,
        value,
        expected,
        // The insight score is in [0, 1); a forest score may reach 1.
        score: answer.score.clamp(0.0, 1.0 - f64::EPSILON),
        detector: "sagemaker".into(),
        drivers: Vec::new(),
        incident_id: None,
        eta_seconds: None,
        eta_interval_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_deterministic_monotonic_and_proportional() {
        let n = 20_000;
        let keys: Vec<(String, i128)> = (0..n)
            .map(|i| {
                (
                    format!("web-{}", i % 50),
                    1_795_000_000_000_000_000 + i as i128 * 60_000_000_000,
                )
            })
            .collect();
        for p in [0.0, 5.0, 10.0, 50.0, 100.0] {
            let routed = keys
                .iter()
                .filter(|(h, t)| routes_to_canary(h, *t, p))
                .count();
            let share = routed as f64 / n as f64 * 100.0;
            assert!((share - p).abs() < 1.0, "{p}% routed {share}%");
        }
        for (h, t) in &keys {
            assert_eq!(routes_to_canary(h, *t, 10.0), routes_to_canary(h, *t, 10.0));
            if routes_to_canary(h, *t, 10.0) {
                assert!(
                    routes_to_canary(h, *t, 20.0),
                    "raising the share keeps routed keys"
                );
            }
        }
    }
}
