//! `iops._native`: the Python binding of iops-core, kept thin. Keyword arguments map 1:1 to
//! the core's builders, every [`iops_core::Error`] kind raises its own exception class (see
//! [`errors`]), heavy work runs with the GIL released, and float64 arrays are read in place.
//!
//! The `iops` Python package (python/iops) re-exports these types and adds the
//! scikit-learn-style `IsolationForest` estimator on top of [`forest::ForestModel`].

mod args;
mod csvio;
mod detectors;
mod engine;
mod errors;
mod eval;
mod forest;
mod peers;
mod synth;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<forest::ForestModel>()?;
    m.add_class::<forest::LeafSums>()?;
    m.add_class::<detectors::ZScore>()?;
    m.add_class::<detectors::Ewma>()?;
    m.add_class::<engine::InsightEngine>()?;
    m.add_class::<peers::PeerGroups>()?;
    m.add_function(wrap_pyfunction!(engine::score_series, m)?)?;
    m.add_function(wrap_pyfunction!(engine::host_features, m)?)?;
    m.add_function(wrap_pyfunction!(engine::training_features, m)?)?;
    m.add("HOST_FEATURES", iops_core::engine::HOST_FEATURES.to_vec())?;
    m.add_function(wrap_pyfunction!(eval::roc_auc, m)?)?;
    m.add_function(wrap_pyfunction!(eval::average_precision, m)?)?;
    m.add_function(wrap_pyfunction!(eval::nab_score, m)?)?;
    m.add_function(wrap_pyfunction!(eval::nab_profiles, m)?)?;
    m.add_function(wrap_pyfunction!(eval::nab_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(synth::generate_fleet, m)?)?;
    m.add_function(wrap_pyfunction!(csvio::write_fleet_csv, m)?)?;
    m.add_function(wrap_pyfunction!(csvio::read_metrics_csv, m)?)?;
    Ok(())
}
