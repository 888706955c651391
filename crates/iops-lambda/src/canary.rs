//! The SageMaker endpoint, called through `aws-sdk-sagemakerruntime`: the remote model of the
//! canary. The policy (routing, fallback, the insight of an endpoint's verdict) is
//! iops-service's [`CanaryScorer`](iops_service::CanaryScorer); this module is only the
//! client, as a [`RemoteScorer`].

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
use iops_core::MetricSample;
pub use iops_service::routes_to_canary;
use iops_service::{RemoteScore, RemoteScorer};
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
    pub async fn score(&self, sample: &MetricSample) -> Result<RemoteScore, CanaryError> {
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
        Ok(RemoteScore {
            score: item.score,
            anomaly: item.anomaly,
            version,
        })
    }
}

#[async_trait]
impl RemoteScorer for SageMakerEndpoint {
    type Error = CanaryError;

    fn name(&self) -> &str {
        SageMakerEndpoint::name(self)
    }

    async fn score(&self, sample: &MetricSample) -> Result<RemoteScore, CanaryError> {
        SageMakerEndpoint::score(self, sample).await
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
