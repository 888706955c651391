//! The SageMaker canary: a [`Scorer`] that sends a share of requests to a SageMaker endpoint
//! (through `aws-sdk-sagemakerruntime`) and scores the rest with the built-in engine.
//!
//! - Routing is per request and deterministic: a hash of hostname + timestamp, so a retry of
//!   the same metric routes the same way, and raising the percentage only adds requests to
//!   the canary (a sample routed at 10 % is still routed at 20 %).
//! - The built-in engine scores *every* sample, whichever model answers, so each host's
//!   streaming state stays complete and USE_SAGEMAKER=false (or 0 %) is an instant rollback.
//! - A canary request answers the endpoint's verdict: an `anomaly: true` score becomes one
//!   `multi_metric_anomaly` insight with modelSource `sagemaker`; the built-in insights of
//!   that request are not emitted. Any error or timeout logs an ERROR line and answers the
//!   built-in result (modelSource `builtin`, [`Scored::fallback`] set).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_sagemakerruntime::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_sagemakerruntime::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use iops_core::engine::{Assessment, HostState};
use iops_core::{Insight, InsightType, Metric, MetricSample, Severity};
use iops_service::{BuiltinScorer, Scored, Scorer, ServiceError};
use iops_store::ModelSource;
use serde::Deserialize;
use thiserror::Error;

use crate::config::CanaryConfig;

/// The SageMaker server's response header naming the model that scored.
pub const MODEL_VERSION_HEADER: &str = "x-iops-model-version";

/// Why a canary call failed (the request then falls back to the built-in model).
#[derive(Debug, Error)]
pub enum CanaryError {
    /// No answer within the timeout.
    #[error("no answer from endpoint `{endpoint}` within {timeout:?}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The limit.
        timeout: Duration,
    },
    /// The SDK call failed (connection, HTTP status, credentials).
    #[error("endpoint `{endpoint}`: {reason}")]
    Call {
        /// The endpoint.
        endpoint: String,
        /// The SDK's error, with its sources.
        reason: String,
    },
    /// The endpoint answered something other than one score.
    #[error("endpoint `{endpoint}` answered an unexpected body: {reason}")]
    Response {
        /// The endpoint.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One score from the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointScore {
    /// The isolation-forest score in (0, 1].
    pub score: f64,
    /// True when the score is above the served model's threshold.
    pub anomaly: bool,
    /// The served model's version (`x-iops-model-version`), else `sagemaker:<endpoint>`.
    pub version: String,
}

#[derive(Deserialize)]
struct ScoresBody {
    scores: Vec<ScoreItem>,
}

#[derive(Deserialize)]
struct ScoreItem {
    score: f64,
    anomaly: bool,
}

/// A SageMaker endpoint called through the runtime SDK: no retries (the timeout is short and
/// the fallback is immediate), HTTPS by hyper + rustls on ring.
#[derive(Clone)]
pub struct SageMakerEndpoint {
    client: Client,
    endpoint: String,
    timeout: Duration,
}

impl fmt::Debug for SageMakerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SageMakerEndpoint")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SageMakerEndpoint {
    /// Builds the client from the default AWS configuration (region and credentials from the
    /// Lambda environment), with `config`'s endpoint URL override. Makes no request.
    pub async fn connect(config: &CanaryConfig) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.timeout)
            .operation_timeout(config.timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts);
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        Self::from_client(Client::new(&sdk), config)
    }

    /// Wraps a client the caller configured.
    pub fn from_client(client: Client, config: &CanaryConfig) -> Self {
        SageMakerEndpoint {
            client,
            endpoint: config.endpoint.clone(),
            timeout: config.timeout,
        }
    }

    /// The endpoint name.
    pub fn name(&self) -> &str {
        &self.endpoint
    }

    /// Scores one sample: POST its metric JSON (application/json; the server maps the
    /// fields to its model's features by name) and read `{"scores":[{"score","anomaly"}]}`.
    pub async fn score(&self, sample: &MetricSample) -> Result<EndpointScore, CanaryError> {
        let version = Arc::new(Mutex::new(None));
        let call = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(sample.to_json()))
            .customize()
            .interceptor(VersionCapture(Arc::clone(&version)))
            .send();
        let out = match tokio::time::timeout(self.timeout, call).await {
            Err(_) => {
                return Err(CanaryError::Timeout {
                    endpoint: self.endpoint.clone(),
                    timeout: self.timeout,
                })
            }
            Ok(Err(e)) => {
                return Err(CanaryError::Call {
                    endpoint: self.endpoint.clone(),
                    reason: error_chain(&e),
                })
            }
            Ok(Ok(out)) => out,
        };
        let bad = |reason: String| CanaryError::Response {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let body = out.body().map(Blob::as_ref).unwrap_or_default();
        let parsed: ScoresBody = serde_json::from_slice(body).map_err(|e| {
            bad(format!(
                "not {{\"scores\":[{{\"score\",\"anomaly\"}}]}}: {e}"
            ))
        })?;
        let [item] = parsed.scores.as_slice() else {
            return Err(bad(format!(
                "expected 1 score, got {}",
                parsed.scores.len()
            )));
        };
        if !item.score.is_finite() {
            return Err(bad(format!("score {} is not finite", item.score)));
        }
        let version = version
            .lock()
            .ok()
            .and_then(|mut v| v.take())
            .or_else(|| out.invoked_production_variant().map(str::to_owned))
            .unwrap_or_else(|| format!("sagemaker:{}", self.endpoint));
        Ok(EndpointScore {
            score: item.score,
            anomaly: item.anomaly,
            version,
        })
    }
}

/// The error and its sources on one line (the SDK's Display alone says only "dispatch
/// failure" or "service error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Reads the `x-iops-model-version` response header, which the SDK's typed output drops.
#[derive(Debug)]
struct VersionCapture(Arc<Mutex<Option<String>>>);

impl Intercept for VersionCapture {
    fn name(&self) -> &'static str {
        "iops-model-version-capture"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(v) = context.response().headers().get(MODEL_VERSION_HEADER) {
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(v.to_owned());
            }
        }
        Ok(())
    }
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

/// The built-in engine plus, when configured, the SageMaker canary.
#[derive(Debug)]
pub struct CanaryScorer {
    builtin: BuiltinScorer,
    canary: Option<(SageMakerEndpoint, f64)>,
}

impl CanaryScorer {
    /// Only the built-in engine (USE_SAGEMAKER=false).
    pub fn builtin(builtin: BuiltinScorer) -> Self {
        CanaryScorer {
            builtin,
            canary: None,
        }
    }

    /// The built-in engine, and `endpoint` for `percentage` % (0–100) of requests.
    pub fn with_canary(
        builtin: BuiltinScorer,
        endpoint: SageMakerEndpoint,
        percentage: f64,
    ) -> Self {
        CanaryScorer {
            builtin,
            canary: Some((endpoint, percentage.clamp(0.0, 100.0))),
        }
    }

    /// The endpoint and percentage, when the canary is on.
    pub fn canary(&self) -> Option<(&SageMakerEndpoint, f64)> {
        self.canary.as_ref().map(|(e, p)| (e, *p))
    }
}

#[async_trait]
impl Scorer for CanaryScorer {
    fn new_state(&self) -> Result<HostState, ServiceError> {
        self.builtin.new_state()
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
    answer: &EndpointScore,
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
