//! Isolation forest (Liu, Ting & Zhou 2008): the batch detector for multivariate rows.
//!
//! [`IsolationForestParams`] (builder) → [`ParamGuard::check`](crate::ParamGuard::check) →
//! [`IsolationForestValidParams::fit`] → [`IsolationForest`], whose
//! [`score_samples`](IsolationForest::score_samples) gives the paper's normalised score.
//! linfa's `Fit` and `PredictInplace` are implemented too (see [`linfa_impl`]).
//! [`IsolationForest::leaf_sums`] sums a caller's value per leaf instead of path lengths
//! (scikit-learn's exact arithmetic from Python).

mod complete;
mod leaf_sums;
pub mod linfa_impl;
mod model;
mod params;
#[cfg(test)]
mod reference_tests;
mod rows;
mod sklearn_rng;
mod tree;

pub use leaf_sums::{Leaf, LeafSums};
pub(crate) use model::quantile_sorted;
pub(crate) use model::TreeParts;
pub use model::{quantile, IsolationForest};
pub use params::{
    IsolationForestParams, IsolationForestValidParams, MaxFeatures, MaxSamples, Threshold,
    MAX_FEATURES_LIMIT, MAX_SAMPLES_LIMIT, MAX_TREES,
};
pub(crate) use rows::{scan, Scan};
pub use tree::average_path_length;
