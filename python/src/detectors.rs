//! The streaming detectors `ZScore` and `Ewma`: keyword arguments are the builders' setters
//! (unset ones keep the Rust defaults), state pickles through the core's serde form.

use iops_core::detector::{self, StreamingDetector};
use iops_core::ParamGuard;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::args::{count, decode, slice};
use crate::errors::OrRaise;

/// Scores every value of `xs` and learns it, in order (score first, then learn).
fn score_and_update_all<D: StreamingDetector + Send>(
    py: Python<'_>,
    d: &mut D,
    xs: &[f64],
) -> iops_core::Result<Vec<f64>> {
    py.detach(|| {
        let mut out = Vec::with_capacity(xs.len());
        for &x in xs {
            out.push(d.score_and_update(x)?);
        }
        Ok(out)
    })
}

macro_rules! streaming_methods {
    ($ty:ident, $what:literal, { $($extra:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($extra)*

            /// Learns `x` (finite; NonFiniteError otherwise, leaving the state unchanged).
            fn update(&mut self, py: Python<'_>, x: f64) -> PyResult<()> {
                self.inner.update(x).or_raise(py)
            }

            /// Signed deviation of `x` from what was learned, in spreads (0.0 while not warm).
            fn score(&self, py: Python<'_>, x: f64) -> PyResult<f64> {
                self.inner.score(x).or_raise(py)
            }

            /// Scores `x`, then learns it.
            fn score_and_update(&mut self, py: Python<'_>, x: f64) -> PyResult<f64> {
                self.inner.score_and_update(x).or_raise(py)
            }

            /// `score_and_update` over a float64 array, in order; the GIL is released. On a
            /// non-finite value the error is raised and the values before it stay learned.
            fn score_and_update_many<'py>(
                &mut self,
                py: Python<'py>,
                xs: PyReadonlyArray1<'py, f64>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let xs = slice(&xs);
                let out = score_and_update_all(py, &mut self.inner, &xs).or_raise(py)?;
                Ok(out.into_pyarray(py))
            }

            /// True once enough values were seen for scores to mean something.
            #[getter]
            fn is_warm(&self) -> bool {
                self.inner.is_warm()
            }

            /// The value the detector currently expects.
            #[getter]
            fn expected(&self) -> f64 {
                self.inner.expected()
            }

            /// The spread the detector currently expects (never below `min_spread`).
            #[getter]
            fn spread(&self) -> f64 {
                self.inner.spread()
            }

            /// Values learned since construction or the last reset.
            #[getter]
            fn n_seen(&self) -> u64 {
                self.inner.n_seen()
            }

            /// Forgets everything learned; keeps the parameters.
            fn reset(&mut self) {
                self.inner.reset()
            }

            /// The detector's full state as JSON (parameters included).
            fn to_json(&self, py: Python<'_>) -> PyResult<String> {
                serde_json::to_string(&self.inner)
                    .map_err(|e| decode($what, e))
                    .or_raise(py)
            }

            /// A detector from `to_json`'s output; the state is validated (DecodeError).
            #[staticmethod]
            fn from_json(py: Python<'_>, state: &str) -> PyResult<Self> {
                let inner = serde_json::from_str(state)
                    .map_err(|e| decode($what, e))
                    .or_raise(py)?;
                Ok(Self { inner })
            }

            fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                let ctor = py.get_type::<Self>().getattr("from_json")?;
                let json = self.to_json(py)?;
                PyTuple::new(py, [ctor, PyTuple::new(py, [json])?.into_any()])
            }
        }
    };
}

/// Rolling-window z-score: mean / standard deviation, or median / 1.4826·MAD when `robust`.
#[pyclass(module = "iops._native")]
#[derive(Debug)]
pub struct ZScore {
    inner: detector::ZScore,
}

streaming_methods!(ZScore, "zscore state", {
    /// Keyword arguments of `ZScoreParams`: window (default 100), min_samples (default
    /// min(window, 30)), robust (default False), min_spread (default 0.0).
    #[new]
    #[pyo3(signature = (*, window=None, min_samples=None, robust=None, min_spread=None))]
    fn new(
        py: Python<'_>,
        window: Option<i128>,
        min_samples: Option<i128>,
        robust: Option<bool>,
        min_spread: Option<f64>,
    ) -> PyResult<Self> {
        let build = || {
            let mut p = detector::ZScoreParams::new();
            if let Some(w) = window {
                p = p.window(count("window", w, "must be at least 2")?);
            }
            if let Some(m) = min_samples {
                p = p.min_samples(count("min_samples", m, "must be at least 2")?);
            }
            if let Some(r) = robust {
                p = p.robust(r);
            }
            if let Some(s) = min_spread {
                p = p.min_spread(s);
            }
            p.build()
        };
        Ok(Self {
            inner: build().or_raise(py)?,
        })
    }

    /// The checked parameters, as keyword arguments.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.hyperparams();
        let d = PyDict::new(py);
        d.set_item("window", p.window())?;
        d.set_item("min_samples", p.min_samples())?;
        d.set_item("robust", p.robust())?;
        d.set_item("min_spread", p.min_spread())?;
        Ok(d)
    }

    /// Values currently in the window.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let p = self.inner.hyperparams();
        format!(
            "ZScore(window={}, min_samples={}, robust={}, min_spread={:?})",
            p.window(),
            p.min_samples(),
            if p.robust() { "True" } else { "False" },
            p.min_spread()
        )
    }
});

/// Exponentially weighted moving mean and variance, scored as a z-score.
#[pyclass(module = "iops._native")]
#[derive(Debug)]
pub struct Ewma {
    inner: detector::Ewma,
}

streaming_methods!(Ewma, "ewma state", {
    /// Keyword arguments of `EwmaParams`: alpha or half_life (at most one; default half-life
    /// 30 samples), warmup (default the half-life rounded), min_spread (default 0.0).
    #[new]
    #[pyo3(signature = (*, alpha=None, half_life=None, warmup=None, min_spread=None))]
    fn new(
        py: Python<'_>,
        alpha: Option<f64>,
        half_life: Option<f64>,
        warmup: Option<i128>,
        min_spread: Option<f64>,
    ) -> PyResult<Self> {
        let build = || {
            let mut p = detector::EwmaParams::new();
            if let Some(a) = alpha {
                p = p.alpha(a);
            }
            if let Some(h) = half_life {
                p = p.half_life(h);
            }
            if let Some(w) = warmup {
                p = p.warmup(count("warmup", w, "must be at least 1")?);
            }
            if let Some(s) = min_spread {
                p = p.min_spread(s);
            }
            p.check().map(detector::Ewma::new)
        };
        Ok(Self {
            inner: build().or_raise(py)?,
        })
    }

    /// The checked parameters (alpha and half_life both resolved).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.hyperparams();
        let d = PyDict::new(py);
        d.set_item("alpha", p.alpha())?;
        d.set_item("half_life", p.half_life())?;
        d.set_item("warmup", p.warmup())?;
        d.set_item("min_spread", p.min_spread())?;
        Ok(d)
    }

    /// The exponentially weighted variance (before the `min_spread` floor).
    #[getter]
    fn variance(&self) -> f64 {
        self.inner.variance()
    }

    fn __repr__(&self) -> String {
        let p = self.inner.hyperparams();
        format!(
            "Ewma(alpha={:?}, warmup={}, min_spread={:?})",
            p.alpha(),
            p.warmup(),
            p.min_spread()
        )
    }
});
