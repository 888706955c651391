//! The seam between the pipeline and the models that score a sample. The built-in engine is
//! [`BuiltinScorer`]; the canary ([`CanaryScorer`](crate::CanaryScorer)) is another
//! [`Scorer`] that routes a share of requests to a remote model (the Lambda's SageMaker
//! endpoint) and falls back to the built-in one.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use iops_core::engine::{Assessment, EngineConfig, HostForest, HostState};
use iops_core::peers::PeerGroups;
use iops_core::MetricSample;
use iops_store::ModelSource;

use crate::ServiceError;

/// What a scorer concluded, and which model concluded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The assessment, with any insights.
    pub assessment: Assessment,
    /// The model that scored (after any fallback).
    pub source: ModelSource,
    /// That model's version, recorded with each insight.
    pub version: String,
    /// True when the request was routed to another model that failed, and `source` is the
    /// fallback that scored it instead (for metrics and logs).
    pub fallback: bool,
}

/// Scores a sample against a host's streaming state and advances the state.
#[async_trait]
pub trait Scorer: Send + Sync + Debug {
    /// A fresh state for a host never seen.
    fn new_state(&self) -> Result<HostState, ServiceError>;

    /// The engine's `info_score`, against which the operator's labels lift the cut-offs
    /// ([`iops_core::desensitisation`]).
    fn info_score(&self) -> f64;

    /// The fleet's peer groups the scoring model carries, if any (GET /hosts shows them).
    fn peer_groups(&self) -> Option<&PeerGroups> {
        None
    }

    /// Scores `sample` (already validated; newer than anything `state` has learned, or late
    /// by at most the service's reorder window, or scored on a copy that is then dropped),
    /// learns it into `state`, and says which model scored it. The built-in engine always advances
    /// the state, whichever model scores, so a canary can be switched off at any time.
    async fn score(
        &self,
        state: &mut HostState,
        sample: &MetricSample,
    ) -> Result<Scored, ServiceError>;
}

/// The built-in engine: streaming per-metric detectors and an optional fleet forest.
#[derive(Debug, Clone)]
pub struct BuiltinScorer {
    config: EngineConfig,
    forest: Option<Arc<HostForest>>,
    version: String,
}

impl BuiltinScorer {
    /// The engine with `config`, without a fleet forest. Its model version is
    /// `builtin-<crate version>`; override it with [`BuiltinScorer::with_version`].
    pub fn new(config: EngineConfig) -> Self {
        BuiltinScorer {
            config,
            forest: None,
            version: format!("builtin-{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// This scorer with a fleet forest scoring every host's 4-metric vector (none if
    /// `None`). The model version gains `+forest-sha256:<hex>`: the artifact's checksum, as
    /// the SageMaker container reports it.
    pub fn with_forest(self, forest: Option<HostForest>) -> Self {
        let Some(forest) = forest else { return self };
        let checksum = forest.model().checksum().unwrap_or("sha256:unknown");
        let version = format!("{}+forest-{checksum}", self.version);
        BuiltinScorer {
            forest: Some(Arc::new(forest)),
            version,
            ..self
        }
    }

    /// Records `version` as the model version of its insights.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The model version recorded with insights.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The engine configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The fleet forest, if one is set.
    pub fn forest(&self) -> Option<&HostForest> {
        self.forest.as_deref()
    }
}

#[async_trait]
impl Scorer for BuiltinScorer {
    fn peer_groups(&self) -> Option<&PeerGroups> {
        self.forest.as_deref().and_then(HostForest::peers)
    }

    fn info_score(&self) -> f64 {
        self.config.params().info_score
    }

    fn new_state(&self) -> Result<HostState, ServiceError> {
        HostState::new(&self.config).map_err(|e| ServiceError::Scoring {
            source_name: ModelSource::Builtin,
            reason: e.to_string(),
        })
    }

    async fn score(
        &self,
        state: &mut HostState,
        sample: &MetricSample,
    ) -> Result<Scored, ServiceError> {
        let assessment = state
            .process(&self.config, self.forest.as_deref(), sample)
            .map_err(|e| ServiceError::invalid(e, "body"))?;
        Ok(Scored {
            assessment,
            source: ModelSource::Builtin,
            version: self.version.clone(),
            fallback: false,
        })
    }
}
