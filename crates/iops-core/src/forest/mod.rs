//! Isolation forest (Liu, Ting & Zhou 2008): the batch detector for multivariate rows.
//!
//! [`IsolationForestParams`] (builder) → [`ParamGuard::check`](crate::ParamGuard::check) →
//! [`IsolationForestValidParams::fit`] → [`IsolationForest`], whose
//! [`score_samples`](IsolationForest::score_samples) gives the paper's normalised score.
//! linfa's `Fit` and `PredictInplace` are implemented too (see [`linfa_impl`]).

mod complete;
pub mod linfa_impl;
mod model;
mod params;
#[cfg(test)]
mod reference_tests;
mod sklearn_rng;
mod tree;

pub use model::{average_path_length, quantile, IsolationForest};
pub(crate) use model::{quantile_sorted, TreeParts};
pub use params::{
    IsolationForestParams, IsolationForestValidParams, MaxFeatures, MaxSamples, Threshold,
    MAX_FEATURES_LIMIT, MAX_SAMPLES_LIMIT, MAX_TREES,
};
