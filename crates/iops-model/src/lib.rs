//! # iops-model
//!
//! The one loader of a model artifact from disk, used by every runtime that reads one: the
//! Lambda (MODEL_PATH), `iops serve --model`, `iops demo --model` (through iops-service) and
//! the SageMaker container (`/opt/ml/model`). It reads the file, verifies it (size, format
//! version, checksum: `ModelArtifact::from_slice`) and names the file in every error. A
//! crate of its own so the SageMaker container reads models this way without building the
//! service and its store.

use std::path::{Path, PathBuf};

use iops_core::artifact::ModelArtifact;
use thiserror::Error;

/// The file name of a model inside a model directory (SageMaker's `/opt/ml/model`, the
/// Lambda's layer).
pub const MODEL_FILE: &str = "model.json";

/// A model file that cannot be read, is not a verified model artifact, or does not fit
/// where it is used.
#[derive(Debug, Error)]
#[error("{}: {reason}", path.display())]
pub struct ModelError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// `path` itself, or `path/model.json` when it is a directory.
pub fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Reads and verifies the model artifact at `path` (a file, or a directory holding
/// `model.json`); the error names the file. Its version is its checksum
/// ([`ModelArtifact::checksum`]).
pub fn read_model(path: &Path) -> Result<ModelArtifact, ModelError> {
    let file = model_file(path);
    let error = |reason: String| ModelError {
        path: file.clone(),
        reason,
    };
    let bytes = std::fs::read(&file).map_err(|e| error(e.to_string()))?;
    ModelArtifact::from_slice(&bytes).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_means_its_model_json_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(MODEL_FILE);
        assert_eq!(model_file(dir.path()), file);
        assert_eq!(model_file(&file), file);
        // missing, then not an artifact: both name model.json
        for content in [None, Some("{\"format_version\":")] {
            if let Some(text) = content {
                std::fs::write(&file, text).unwrap();
            }
            let e = read_model(dir.path()).unwrap_err();
            assert_eq!(e.path, file);
            assert!(
                e.to_string().starts_with(&file.display().to_string()),
                "{e}"
            );
        }
    }
}
