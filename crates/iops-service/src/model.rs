//! The built-in engine's fleet forest, read from disk by the one model loader
//! ([`iops_model::read_model`]: read, verify, errors naming the file) for the Lambda
//! (MODEL_PATH), `iops serve --model` and `iops demo --model`, and checked to be a host forest;
//! [`BuiltinScorer::with_forest`](crate::BuiltinScorer::with_forest) then names the model by
//! its checksum.

use std::path::Path;

use iops_core::engine::HostForest;
use iops_model::{model_file, read_model, ModelError};

/// The built-in engine's fleet forest at `path`, when one is given. Only a host forest
/// (trained on [`HOST_FEATURES`](iops_core::engine::HOST_FEATURES), as `iops train` writes)
/// fits the engine (`HostForest::new` checks it); any other model is an error naming the
/// file and `feature_names`.
pub fn load_forest(path: Option<&Path>) -> Result<Option<HostForest>, ModelError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let artifact = read_model(path)?;
    HostForest::new(artifact).map(Some).map_err(|e| ModelError {
        path: model_file(path),
        reason: e.to_string(),
    })
}
