//! The served model and the state shared by every request.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::http::HeaderValue;
use iops_core::artifact::ModelArtifact;

use crate::error::Result;

/// File name of the model artifact inside the model directory.
pub use iops_model::MODEL_FILE;

/// A model ready to serve: the artifact and the version the responses carry.
#[derive(Debug)]
pub struct LoadedModel {
    artifact: ModelArtifact,
    version: HeaderValue,
    custom_attributes: HeaderValue,
}

impl LoadedModel {
    /// Wraps an artifact; `version` is what the `x-iops-model-version` header says (falls back
    /// to the artifact's `created_at` when it is not a valid header value).
    pub fn new(artifact: ModelArtifact, version: &str) -> Self {
        let version = HeaderValue::from_str(version).unwrap_or_else(|_| {
            HeaderValue::from_str(&artifact.created_at().unix_timestamp().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
        // SageMaker's runtime returns only this container header to the caller (as
        // CustomAttributes of InvokeEndpoint), so the version travels there too.
        let custom_attributes = version
            .to_str()
            .ok()
            .and_then(|v| HeaderValue::from_str(&format!("model-version={v}")).ok())
            .unwrap_or(HeaderValue::from_static("model-version=unknown"));
        Self {
            artifact,
            version,
            custom_attributes,
        }
    }

    /// Loads a `model.json` from bytes; the version is the artifact's checksum
    /// (`sha256:<hex>`), so two variants of an A/B endpoint are told apart by content.
    pub fn from_slice(bytes: &[u8]) -> iops_core::Result<Self> {
        Self::from_artifact(ModelArtifact::from_slice(bytes)?)
    }

    /// Loads `dir/model.json` with the one model loader ([`iops_model::read_model`]).
    pub fn load(dir: &Path) -> Result<Self> {
        let artifact = iops_model::read_model(dir)?;
        Ok(
            Self::from_artifact(artifact).map_err(|e| iops_model::ModelError {
                path: iops_model::model_file(dir),
                reason: e.to_string(),
            })?,
        )
    }

    /// A verified artifact, versioned by the checksum its file carried (kept by
    /// `ModelArtifact::from_slice`, so the envelope is parsed once).
    fn from_artifact(artifact: ModelArtifact) -> iops_core::Result<Self> {
        let version = artifact.checksum()?.to_owned();
        Ok(Self::new(artifact, &version))
    }

    /// The artifact.
    pub fn artifact(&self) -> &ModelArtifact {
        &self.artifact
    }

    /// The model version sent in the `x-iops-model-version` response header.
    pub fn version(&self) -> &HeaderValue {
        &self.version
    }

    /// `model-version=<version>`, sent in [`CUSTOM_ATTRIBUTES_HEADER`](crate::CUSTOM_ATTRIBUTES_HEADER).
    pub fn custom_attributes(&self) -> &HeaderValue {
        &self.custom_attributes
    }
}

/// State shared by all requests: the model, set once (at start or when a background load
/// finishes). Cloning is cheap.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    model: Arc<OnceLock<Arc<LoadedModel>>>,
}

impl AppState {
    /// State serving `model`.
    pub fn new(model: LoadedModel) -> Self {
        let state = Self::empty();
        let _ = state.model.set(Arc::new(model));
        state
    }

    /// State without a model yet: /ping answers 503 until [`set_model`](Self::set_model).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Installs the model; false (and the model is dropped) if one is already loaded.
    pub fn set_model(&self, model: LoadedModel) -> bool {
        self.model.set(Arc::new(model)).is_ok()
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Arc<LoadedModel>> {
        self.model.get()
    }
}
