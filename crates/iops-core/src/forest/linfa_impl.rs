//! linfa integration: `Fit` on the (checked or unchecked) parameters and `PredictInplace`
//! giving anomaly scores.
//!
//! The inherent [`IsolationForest::predict`] (threshold flags, typed errors) shadows linfa's
//! `Predict::predict` in method syntax, so call linfa's as `Predict::predict(&forest, &x)`.
//!
//! ```
//! use iops_core::forest::{IsolationForest, IsolationForestParams};
//! use linfa::prelude::*;
//! use ndarray::Array2;
//!
//! let x = Array2::from_shape_fn((300, 3), |(i, j)| ((i * 7 + j * 13) % 29) as f64);
//! let data = DatasetBase::from(x.clone());
//! let forest: IsolationForest = IsolationForestParams::new().seed(1).fit(&data)?;
//! let scores: ndarray::Array1<f64> = Predict::predict(&forest, &x);
//! assert_eq!(scores.len(), 300);
//! # Ok::<(), iops_core::Error>(())
//! ```

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix2};

use super::{IsolationForest, IsolationForestParams, IsolationForestValidParams};
use crate::Error;

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, Error> for IsolationForestValidParams {
    type Object = IsolationForest;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<IsolationForest, Error> {
        IsolationForestValidParams::fit(self, dataset.records.view())
    }
}

impl linfa::ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&Self::Checked, Error> {
        crate::ParamGuard::check_ref(self)
    }

    fn check(self) -> Result<Self::Checked, Error> {
        crate::ParamGuard::check(self)
    }
}

/// Anomaly scores (as [`IsolationForest::score_samples`]). linfa's trait cannot return an
/// error, so a row of the wrong width or with a non-finite value gets `NaN`; use
/// `score_samples` for typed errors.
impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for IsolationForest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        if x.ncols() != self.n_features() {
            y.fill(f64::NAN);
            return;
        }
        match self.score_samples(x.view()) {
            Ok(s) if s.len() == y.len() => y.assign(&s),
            _ => {
                let mut buf = vec![0.0; x.ncols()];
                for (o, row) in y.iter_mut().zip(x.outer_iter()) {
                    for (b, &v) in buf.iter_mut().zip(row.iter()) {
                        *b = v;
                    }
                    *o = self.score_one(&buf).unwrap_or(f64::NAN);
                }
            }
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}
