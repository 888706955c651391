//! `ForestModel`: a fitted isolation forest with its artifact metadata
//! ([`iops_core::artifact::ModelArtifact`]). The scikit-learn-style estimator lives in
//! python/iops/_forest.py and holds one of these as `model_`.

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::forest::{
    IsolationForestParams, LeafSums as CoreLeafSums, MaxFeatures, MaxSamples, Threshold,
};
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

/// `max_features` as Python passes it: an int (feature count) or a float (share of them).
#[derive(Debug, Clone, Copy, FromPyObject)]
pub enum MaxFeaturesArg {
    /// A feature count.
    Count(i128),
    /// A share of the features.
    Fraction(f64),
}

/// A fitted isolation forest and its model-artifact metadata (feature names, training
/// summary, creation time). Scores are the paper's s(x) in (0, 1]: higher is more anomalous.
#[pyclass(module = "iops._native", frozen)]
#[derive(Debug)]
pub struct ForestModel {
    inner: ModelArtifact,
}

/// The builder's settings as the binding takes them (unset ones keep the Rust defaults).
#[derive(Debug, Default)]
struct Settings {
    n_trees: Option<i128>,
    max_samples: Option<MaxSamplesArg>,
    max_features: Option<MaxFeaturesArg>,
    bootstrap: Option<bool>,
    contamination: Option<f64>,
    threshold: Option<f64>,
    seed: Option<i128>,
}

fn builder(s: Settings) -> Result<IsolationForestParams> {
    let Settings {
        n_trees,
        max_samples,
        max_features,
        bootstrap,
        contamination,
        threshold,
        seed,
    } = s;
    let mut p = IsolationForestParams::new();
    if let Some(n) = n_trees {
        p = p.n_trees(count("n_trees", n, "must be in 1..=100000")?);
    }
    match max_samples {
        Some(MaxSamplesArg::Count(c)) => {
            p = p.max_samples(count("max_samples", c, "must be in 1..=16777216")?)
        }
        Some(MaxSamplesArg::Fraction(f)) => p = p.max_samples_fraction(f),
        None => {}
    }
    match max_features {
        Some(MaxFeaturesArg::Count(c)) => {
            p = p.max_features_count(count("max_features", c, "count must be in 1..=4294967295")?)
        }
        Some(MaxFeaturesArg::Fraction(f)) => p = p.max_features(f),
        None => {}
    }
    if let Some(b) = bootstrap {
        p = p.bootstrap(b);
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
    small_batch(x, forest.n_features(), |row| forest.score_one(row))
}

/// `one` applied to each row of a small batch on the calling thread, with the errors a batch
/// gives (a wrong width; a non-finite value named with its row).
fn small_batch(
    x: ArrayView2<'_, f64>,
    n_features: usize,
    one: impl Fn(&[f64]) -> Result<f64>,
) -> Result<Array1<f64>> {
    if x.ncols() != n_features {
        return Err(Error::Shape {
            name: "n_features",
            expected: n_features,
            got: x.ncols(),
        });
    }
    let mut buf = vec![0.0; x.ncols()];
    let mut out = Vec::with_capacity(x.nrows());
    for row in x.outer_iter() {
        let s = match row.as_slice() {
            Some(s) => one(s),
            None => {
                for (b, &v) in buf.iter_mut().zip(row.iter()) {
                    *b = v;
                }
                one(&buf)
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
    /// Fits a forest on the rows of `x` (float64, at least 1 row, all finite). Keyword
    /// arguments are the Rust builder's setters (`IsolationForestParams`); unset ones keep
    /// the Rust defaults. `max_samples` is a row count (int) or a fraction (float), as is
    /// `max_features` (a feature count or a share); set at most one of `contamination` and
    /// `threshold`. `feature_names` defaults to x0, x1, ….
    ///
    /// `summarize=False` skips scoring the training rows for the summary's score quantiles
    /// (`ModelArtifact::fit`): the model scores, but `to_json` refuses it until
    /// `summarize(x)` is given the same rows. The GIL is released while fitting.
    #[staticmethod]
    #[pyo3(signature = (x, *, n_trees=None, max_samples=None, max_features=None,
                        bootstrap=None, contamination=None, threshold=None, seed=None,
                        feature_names=None, summarize=true))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        n_trees: Option<i128>,
        max_samples: Option<MaxSamplesArg>,
        max_features: Option<MaxFeaturesArg>,
        bootstrap: Option<bool>,
        contamination: Option<f64>,
        threshold: Option<f64>,
        seed: Option<i128>,
        feature_names: Option<Vec<String>>,
        summarize: bool,
    ) -> PyResult<Self> {
        let params = builder(Settings {
            n_trees,
            max_samples,
            max_features,
            bootstrap,
            contamination,
            threshold,
            seed,
        })
        .and_then(ParamGuard::check)
        .or_raise(py)?;
        let x = x.as_array();
        let names =
            feature_names.unwrap_or_else(|| (0..x.ncols()).map(|i| format!("x{i}")).collect());
        let now = OffsetDateTime::now_utc();
        let inner = py
            .detach(|| {
                if summarize {
                    ModelArtifact::train(&params, x, names, now)
                } else {
                    ModelArtifact::fit(&params, x, names, now)
                }
            })
            .or_raise(py)?;
        Ok(Self { inner })
    }

    /// This model with its training summary's score quantiles computed from `x`, which must
    /// be the rows it was fitted on, unchanged (ShapeError `rows`; InvalidFieldError `x` when
    /// the values differ). Returns this model when it is summarized already. The GIL is
    /// released while scoring.
    fn summarize(slf: Bound<'_, Self>, x: PyReadonlyArray2<'_, f64>) -> PyResult<Py<Self>> {
        let py = slf.py();
        let this = slf.get();
        if this.inner.is_summarized() {
            return Ok(slf.unbind());
        }
        let mut inner = this.inner.clone();
        let x = x.as_array();
        py.detach(|| inner.summarize(x)).or_raise(py)?;
        Py::new(py, Self { inner })
    }

    /// Whether the training summary has its score quantiles (see `fit`'s `summarize`).
    #[getter]
    fn summarized(&self) -> bool {
        self.inner.is_summarized()
    }

    /// The leaves, tree by tree, each tree's breadth first (model.json's `leaf_size` order):
    /// `(depth, size)` as two int64 arrays (the root's depth is 0).
    fn leaves<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>) {
        let leaves = self.inner.forest().leaves();
        let depth: Vec<i64> = leaves.iter().map(|l| i64::from(l.depth)).collect();
        let size: Vec<i64> = leaves.iter().map(|l| i64::from(l.size)).collect();
        (depth.into_pyarray(py), size.into_pyarray(py))
    }

    /// A scorer summing `values` (one per leaf, in `leaves()` order) over the leaves a row
    /// reaches, tree after tree (`LeafSums`).
    fn leaf_sums(&self, py: Python<'_>, values: PyReadonlyArray1<'_, f64>) -> PyResult<LeafSums> {
        let values = crate::args::slice(&values);
        let inner = self.inner.forest().leaf_sums(&values).or_raise(py)?;
        Ok(LeafSums { inner })
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

    /// The fleet's peer groups the model carries (None when it has none).
    #[getter]
    fn peer_groups(&self) -> Option<crate::peers::PeerGroups> {
        self.inner
            .peer_groups()
            .cloned()
            .map(crate::peers::PeerGroups::from_core)
    }

    /// A copy of this model carrying `groups` (None removes them); they are part of
    /// model.json and its checksum (format 2).
    #[pyo3(signature = (groups))]
    fn with_peer_groups(&self, groups: Option<crate::peers::PeerGroups>) -> Self {
        let mut inner = self.inner.clone();
        inner.set_peer_groups(groups.map(|g| g.core().clone()));
        Self { inner }
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

/// Per-row sums of a value per leaf over the trees, in tree order (`ForestModel.leaf_sums`):
/// the estimator sums scikit-learn's per-leaf path terms with it, and numpy does the rest,
/// so its `score_samples` equals scikit-learn's bit for bit.
#[pyclass(module = "iops._native", frozen)]
#[derive(Debug)]
pub struct LeafSums {
    inner: CoreLeafSums,
}

#[pymethods]
impl LeafSums {
    /// The sums for the rows of `x` (float64, read in place; ShapeError, NonFiniteError as
    /// for scoring), each divided by `divisor` when given (IEEE division, as numpy's: one
    /// numpy call less per batch, which is most of a one-row call). Large batches run in
    /// parallel with the GIL released.
    #[pyo3(signature = (x, *, divisor=None))]
    fn sums<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        divisor: Option<f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = x.as_array();
        let inner = &self.inner;
        let mut out = if x.nrows() >= SMALL_BATCH {
            py.detach(|| inner.sums(x))
        } else {
            small_batch(x, inner.n_features(), |row| inner.sum_one(row))
        }
        .or_raise(py)?;
        if let Some(d) = divisor {
            out.mapv_inplace(|s| s / d);
        }
        Ok(out.into_pyarray(py))
    }

    /// Number of features a row must have.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
}
