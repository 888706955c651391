//! The built-in engine's fleet forest, read from disk: one loader for the Lambda
//! (MODEL_PATH), `iops serve --model` and `iops demo --model`. It reads the file, verifies it
//! (size, format version, checksum: `ModelArtifact::from_slice`) and checks that it is a host
//! forest; [`BuiltinScorer::with_forest`](crate::BuiltinScorer::with_forest) then names the
//! model by its checksum.

use std::path::{Path, PathBuf};

use iops_core::artifact::ModelArtifact;
use iops_core::engine::HostForest;
use thiserror::Error;

/// A model file that cannot be read, is not a model artifact, or is not a host forest.
#[derive(Debug, Error)]
#[error("{path}: {reason}")]
pub struct ModelError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// `path` itself, or `path/model.json` when it is a directory (as SageMaker and the
/// Lambda's layer lay models out).
pub fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("model.json")
    } else {
        path.to_path_buf()
    }
}

/// Reads and verifies the model artifact at `path` (a file, or a directory holding
/// `model.json`).
pub fn read_model(path: &Path) -> Result<ModelArtifact, ModelError> {
    read_file(&model_file(path))
}

fn read_file(file: &Path) -> Result<ModelArtifact, ModelError> {
    let error = |reason: String| ModelError {
        path: file.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(file).map_err(|e| error(e.to_string()))?;
    ModelArtifact::from_slice(&bytes).map_err(|e| error(e.to_string()))
}

/// The built-in engine's fleet forest at `path`, when one is given. Only a host forest
/// (trained on [`HOST_FEATURES`](iops_core::engine::HOST_FEATURES), as `iops train` writes)
/// fits the engine (`HostForest::new` checks it); any other model is an error naming the
/// file and `feature_names`.
pub fn load_forest(path: Option<&Path>) -> Result<Option<HostForest>, ModelError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let file = model_file(path);
    let artifact = read_file(&file)?;
    HostForest::new(artifact).map(Some).map_err(|e| ModelError {
        path: file,
        reason: e.to_string(),
    })
}
