//! `InsightEngine`: metric dicts in, assessments (score, per-metric observations, insight
//! dicts in the wire's camelCase shape) out. Keyword arguments are `EngineParams`' fields.

use std::collections::BTreeMap;

use iops_core::engine::{self, Assessment, EngineConfig, EngineParams, HostState};
use iops_core::{Metric, MetricSample, Result};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde::{Deserialize, Serialize};

use crate::args::{decode, json_bytes, slice};
use crate::errors::OrRaise;

/// `EngineParams` from Python keyword arguments: unset fields keep the Rust defaults. An
/// unknown name is a TypeError (as for any Python function); a value of the wrong type or
/// range is an InvalidParamError naming it; then the core checks the whole set.
fn engine_config(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<EngineConfig> {
    let defaults = serde_json::to_value(EngineParams::default())
        .map_err(|e| decode("engine parameters", e))
        .or_raise(py)?;
    let serde_json::Value::Object(mut map) = defaults else {
        return Err(PyTypeError::new_err("engine parameters are not a map"));
    };
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let key: String = k.extract()?;
            if !map.contains_key(&key) {
                let known: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(PyTypeError::new_err(format!(
                    "unexpected keyword argument '{key}' (engine parameters: {})",
                    known.join(", ")
                )));
            }
            let value: serde_json::Value = pythonize::depythonize(&v).map_err(|e| {
                crate::errors::InvalidParamError::new_err(format!("invalid `{key}`: {e}"))
            })?;
            let mut one = map.clone();
            one.insert(key.clone(), value.clone());
            if let Err(e) = serde_json::from_value::<EngineParams>(serde_json::Value::Object(one)) {
                let err = crate::errors::InvalidParamError::new_err(format!(
                    "invalid parameter `{key}` = {value}: {e}"
                ));
                let _ = err.value(py).setattr("name", &key);
                let _ = err.value(py).setattr("field", &key);
                return Err(err);
            }
            map.insert(key, value);
        }
    }
    let params: EngineParams = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| decode("engine parameters", e))
        .or_raise(py)?;
    params.check().or_raise(py)
}

fn sample(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<MetricSample> {
    let bytes = json_bytes("metric", obj).or_raise(py)?;
    MetricSample::from_json(&bytes).or_raise(py)
}

/// `{"score": float, "metrics": {wire name: observation}, "insights": [insight, ...]}`.
fn assessment<'py>(py: Python<'py>, a: &Assessment) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("score", a.score)?;
    let metrics = PyDict::new(py);
    for (m, obs) in Metric::ALL.into_iter().zip(&a.metrics) {
        metrics.set_item(m.wire_name(), pythonize::pythonize(py, obs)?)?;
    }
    d.set_item("metrics", metrics)?;
    d.set_item("insights", pythonize::pythonize(py, &a.insights)?)?;
    Ok(d)
}

/// What an engine pickles as: its parameters and every host's state.
#[derive(Serialize, Deserialize)]
struct EngineState {
    params: EngineParams,
    hosts: BTreeMap<String, HostState>,
}

/// Scores and explains metric samples for a fleet of hosts, keeping per-host state.
#[pyclass(module = "iops._native")]
#[derive(Debug)]
pub struct InsightEngine {
    inner: engine::InsightEngine,
    /// Reused per sample (`process_into`), so a stream allocates no assessment per call.
    buf: Assessment,
}

#[pymethods]
impl InsightEngine {
    /// Keyword arguments are the fields of the Rust `EngineParams` (window, season, …,
    /// cooldown); unset ones keep their defaults. See `InsightEngine.default_params()`.
    #[new]
    #[pyo3(signature = (**params))]
    fn new(py: Python<'_>, params: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(Self {
            inner: engine::InsightEngine::new(engine_config(py, params)?),
            buf: Assessment::default(),
        })
    }

    /// The default engine parameters, as keyword arguments.
    #[staticmethod]
    fn default_params(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(pythonize::pythonize(py, &EngineParams::default())?)
    }

    /// The parameters in use.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, self.inner.config().params())?)
    }

    /// Validates, scores and learns one metric sample (a dict in the POST /metrics shape, or
    /// its JSON as str/bytes). Returns `{"score", "metrics", "insights"}`. An invalid sample
    /// raises InvalidFieldError naming the field and changes nothing.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        metric: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let s = sample(py, metric)?;
        self.inner.process_into(&s, &mut self.buf).or_raise(py)?;
        assessment(py, &self.buf)
    }

    /// `process` over a sequence of samples, in order: returns `(scores, insights)`, the
    /// host scores as a float64 array and every insight raised, in order. Stops at the first
    /// invalid sample (the samples before it stay learned).
    fn process_many<'py>(
        &mut self,
        py: Python<'py>,
        metrics: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyList>)> {
        let mut scores = Vec::new();
        let insights = PyList::empty(py);
        for item in metrics.try_iter()? {
            let s = sample(py, &item?)?;
            self.inner.process_into(&s, &mut self.buf).or_raise(py)?;
            scores.push(self.buf.score);
            for i in &self.buf.insights {
                insights.append(pythonize::pythonize(py, i)?)?;
            }
        }
        Ok((scores.into_pyarray(py), insights))
    }

    /// Hostnames seen so far, sorted.
    fn hosts(&self) -> Vec<String> {
        let mut h: Vec<String> = self.inner.hosts().map(str::to_owned).collect();
        h.sort();
        h
    }

    /// One host's state as JSON (to persist it), or None for an unknown host.
    fn host_state(&self, py: Python<'_>, hostname: &str) -> PyResult<Option<String>> {
        self.inner
            .host_state(hostname)
            .map(|s| serde_json::to_string(s).map_err(|e| decode("host state", e)))
            .transpose()
            .or_raise(py)
    }

    /// Restores a host's state from `host_state`'s JSON (DecodeError if it is not one).
    fn restore_host(&mut self, py: Python<'_>, hostname: &str, state: &str) -> PyResult<()> {
        let s: HostState = serde_json::from_str(state)
            .map_err(|e| decode("host state", e))
            .or_raise(py)?;
        self.inner.restore_host(hostname, s);
        Ok(())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let state = EngineState {
            params: self.inner.config().params().clone(),
            hosts: self
                .inner
                .hosts()
                .filter_map(|h| Some((h.to_owned(), self.inner.host_state(h)?.clone())))
                .collect(),
        };
        let json = serde_json::to_string(&state)
            .map_err(|e| decode("engine state", e))
            .or_raise(py)?;
        let ctor = py.get_type::<Self>().getattr("_from_state")?;
        PyTuple::new(py, [ctor, PyTuple::new(py, [json])?.into_any()])
    }

    /// An engine from its pickled state.
    #[staticmethod]
    fn _from_state(py: Python<'_>, state: &str) -> PyResult<Self> {
        let s: EngineState = serde_json::from_str(state)
            .map_err(|e| decode("engine state", e))
            .or_raise(py)?;
        let mut inner = engine::InsightEngine::new(s.params.check().or_raise(py)?);
        for (h, st) in s.hosts {
            inner.restore_host(h, st);
        }
        Ok(Self {
            inner,
            buf: Assessment::default(),
        })
    }

    fn __repr__(&self) -> String {
        format!("InsightEngine(hosts={})", self.inner.hosts().count())
    }
}

/// Scores one univariate series causally with the engine's per-metric pipeline (row i sees
/// rows 0..=i only): one anomaly score in [0, 1) per row. `timestamps` are epoch seconds,
/// as many as `values`. Keyword arguments are `EngineParams`' fields. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (timestamps, values, **params))]
pub fn score_series<'py>(
    py: Python<'py>,
    timestamps: PyReadonlyArray1<'py, f64>,
    values: PyReadonlyArray1<'py, f64>,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let config = engine_config(py, params)?;
    let (t, v) = (slice(&timestamps), slice(&values));
    let out: Result<Vec<f64>> = py.detach(|| engine::score_series(&config, &t, &v));
    Ok(out.or_raise(py)?.into_pyarray(py))
}
