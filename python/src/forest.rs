//! `ForestModel`: a fitted isolation forest with its artifact metadata
//! ([`iops_core::artifact::ModelArtifact`]). The scikit-learn-style estimator lives in
//! python/iops/_forest.py and holds one of these as `model_`.

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::forest::{IsolationForestParams, MaxFeatures, MaxSamples, Threshold};
use iops_core::ndarray::{Array1, ArrayView2};
use iops_core::{Error, ParamGuard, Result};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use time::format_description::well_known::Rfc3339;

use crate::args::{count, json_bytes, seed as seed_arg};
use crate::errors::{invalid_param, OrRaise};

/// Batches below this many rows are scored on the calling thread with the GIL held: releasing
/// the GIL and handing work to rayon's pool costs more than scoring a few rows.
const SMALL_BATCH: usize = 64;

/// `max_samples` as Python passes it: an int (row count) or a float (fraction of the rows).
#[derive(Debug, Clone, Copy, FromPyObject)]
pub enum MaxSamplesArg {
    /// A row count.
    Count(i128),
    /// A fraction of the training rows.
    Fraction(f64),
}

/// A fitted isolation forest and its model-artifact metadata (feature names, training
/// summary, creation time). Scores are the paper's s(x) in (0, 1]: higher is more anomalous.
#[pyclass(module = "iops._native", frozen)]
#[derive(Debug)]
pub struct ForestModel {
    inner: ModelArtifact,
}

fn builder(
    n_trees: Option<i128>,
    max_samples: Option<MaxSamplesArg>,
    max_features: Option<f64>,
    contamination: Option<f64>,
    threshold: Option<f64>,
    seed: Option<i128>,
) -> Result<IsolationForestParams> {
    let mut p = IsolationForestParams::new();
    if let Some(n) = n_trees {
        p = p.n_trees(count("n_trees", n, "must be in 1..=100000")?);
    }
    match max_samples {
        Some(MaxSamplesArg::Count(c)) => {
            p = p.max_samples(count("max_samples", c, "must be in 2..=16777216")?)
        }
        Some(MaxSamplesArg::Fraction(f)) => p = p.max_samples_fraction(f),
        None => {}
    }
    if let Some(f) = max_features {
        p = p.max_features(f);
    }
    match (contamination, threshold) {
        (Some(c), Some(_)) => {
            return Err(invalid_param(
                "contamination",
                c,
                "set either contamination or threshold, not both",
            ))
        }
        (Some(c), None) => p = p.contamination(c),
        (None, Some(t)) => p = p.threshold(t),
        (None, None) => {}
    }
    if let Some(s) = seed {
        p = p.seed(seed_arg(s)?);
    }
    Ok(p)
}

fn scores(model: &ModelArtifact, x: ArrayView2<'_, f64>, py: Python<'_>) -> Result<Array1<f64>> {
    let forest = model.forest();
    if x.nrows() >= SMALL_BATCH {
        return py.detach(|| forest.score_samples(x));
    }
    if x.ncols() != forest.n_features() {
        return Err(Error::Shape {
            name: "n_features",
            expected: forest.n_features(),
            got: x.ncols(),
        });
    }
    let mut buf = vec![0.0; x.ncols()];
    let mut out = Vec::with_capacity(x.nrows());
    for row in x.outer_iter() {
        let s = match row.as_slice() {
            Some(s) => forest.score_one(s),
            None => {
                for (b, &v) in buf.iter_mut().zip(row.iter()) {
                    *b = v;
                }
                forest.score_one(&buf)
            }
        };
        // score_one names row 0; say which row it was.
        out.push(s.map_err(|e| match e {
            Error::NonFinite { field, value } => Error::NonFinite {
                field: field.replace("(row 0)", &format!("(row {})", out.len())),
                value,
            },
            e => e,
        })?);
    }
    Ok(Array1::from_vec(out))
}

impl ForestModel {
    /// The model artifact.
    pub(crate) fn artifact(&self) -> &ModelArtifact {
        &self.inner
    }

    /// Wraps a model artifact.
    pub(crate) fn from_artifact(inner: ModelArtifact) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl ForestModel {
    /// Fits a forest on the rows of `x` (float64, at least 2 rows, all finite). Keyword
    /// arguments are the Rust builder's setters (`IsolationForestParams`); unset ones keep
    /// the Rust defaults. `max_samples` is a row count (int) or a fraction (float); set at most
    /// one of `contamination` and `threshold`. `feature_names` defaults to x0, x1, ….
    /// The GIL is released while fitting.
    #[staticmethod]
    #[pyo3(signature = (x, *, n_trees=None, max_samples=None, max_features=None,
                        contamination=None, threshold=None, seed=None, feature_names=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        n_trees: Option<i128>,
        max_samples: Option<MaxSamplesArg>,
        max_features: Option<f64>,
        contamination: Option<f64>,
        threshold: Option<f64>,
        seed: Option<i128>,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let params = builder(
            n_trees,
            max_samples,
            max_features,
            contamination,
            threshold,
            seed,
        )
        .and_then(ParamGuard::check)
        .or_raise(py)?;
        let x = x.as_array();
        let names =
            feature_names.unwrap_or_else(|| (0..x.ncols()).map(|i| format!("x{i}")).collect());
        let inner = py
            .detach(|| ModelArtifact::train(&params, x, names, OffsetDateTime::now_utc()))
            .or_raise(py)?;
        Ok(Self { inner })
    }

    /// Loads a model artifact (model.json) from `str` or `bytes`; checks the checksum, the
    /// format version and every tree.
    #[staticmethod]
    fn from_json(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = json_bytes("model artifact", data).or_raise(py)?;
        let inner = py
            .detach(|| ModelArtifact::from_slice(&bytes))
            .or_raise(py)?;
        Ok(Self { inner })
    }

    /// The model artifact as compact JSON (what `save_model` writes).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.inner.to_json().or_raise(py)
    }

    /// Anomaly scores s(x) in (0, 1] of the rows of `x` (float64, read in place): higher is
    /// more anomalous. Large batches are scored in parallel with the GIL released.
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let s = scores(&self.inner, x.as_array(), py).or_raise(py)?;
        Ok(s.into_pyarray(py))
    }

    /// The anomaly score of one row (a 1-d float64 array of `n_features` values).
    fn score_one(&self, py: Python<'_>, row: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        let row = crate::args::slice(&row);
        self.inner.forest().score_one(&row).or_raise(py)
    }

    /// True for rows whose score is above the threshold (anomalies).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let t = self.inner.forest().threshold();
        let s = scores(&self.inner, x.as_array(), py).or_raise(py)?;
        Ok(s.mapv(|v| v > t).into_pyarray(py))
    }

    /// A copy of this model whose decision threshold is `threshold` (in (0, 1)), e.g. one
    /// chosen on held-out data after training; the training summary records it as the
    /// chosen threshold (`ModelArtifact::set_threshold`), so model.json says which threshold
    /// the model is used with.
    fn with_threshold(&self, py: Python<'_>, threshold: f64) -> PyResult<Self> {
        let mut inner = self.inner.clone();
        inner.set_threshold(threshold).or_raise(py)?;
        Ok(Self { inner })
    }

    /// Score above which a row is an anomaly.
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.forest().threshold()
    }

    /// Number of features a row must have.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.forest().n_features()
    }

    /// Number of trees.
    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.forest().n_trees()
    }

    /// Rows each tree was grown on (ψ).
    #[getter]
    fn samples_per_tree(&self) -> usize {
        self.inner.forest().samples_per_tree()
    }

    /// Total number of nodes over all trees.
    #[getter]
    fn n_nodes(&self) -> usize {
        self.inner.forest().n_nodes()
    }

    /// Feature names, one per column.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }

    /// When the model was trained, RFC 3339 UTC.
    #[getter]
    fn created_at(&self) -> String {
        self.inner.created_at().format(&Rfc3339).unwrap_or_default()
    }

    /// The hyper-parameters as the keyword arguments of `fit` (`contamination` or
    /// `threshold` is None, whichever rule was not used).
    #[getter]
    fn hyperparameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.forest().params();
        let d = PyDict::new(py);
        d.set_item("n_trees", p.n_trees())?;
        match p.max_samples() {
            MaxSamples::Count(c) => d.set_item("max_samples", c)?,
            MaxSamples::Fraction(f) => d.set_item("max_samples", f)?,
        }
        match p.max_features() {
            MaxFeatures::Fraction(f) => d.set_item("max_features", f)?,
            MaxFeatures::Count(c) => d.set_item("max_features", c)?,
        }
        d.set_item("bootstrap", p.bootstrap())?;
        let (c, t) = match p.threshold() {
            Threshold::Contamination(c) => (Some(c), None),
            Threshold::Score(s) => (None, Some(s)),
        };
        d.set_item("contamination", c)?;
        d.set_item("threshold", t)?;
        d.set_item("seed", p.seed())?;
        Ok(d)
    }

    /// What the model saw in training: rows, score quantiles, threshold.
    #[getter]
    fn training<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, self.inner.training()).map_err(PyErr::from)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ctor = py.get_type::<Self>().getattr("from_json")?;
        let json = self.inner.to_json().or_raise(py)?;
        PyTuple::new(py, [ctor, PyTuple::new(py, [json])?.into_any()])
    }

    fn __repr__(&self) -> String {
        format!(
            "ForestModel(n_trees={}, n_features={}, samples_per_tree={}, threshold={})",
            self.n_trees(),
            self.n_features(),
            self.samples_per_tree(),
            self.threshold()
        )
    }
}
