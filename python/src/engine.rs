//! `InsightEngine`: metric dicts in, assessments (score, per-metric observations, insight
//! dicts in the wire's camelCase shape) out. Keyword arguments are `EngineParams`' fields.

use std::collections::BTreeMap;

use iops_core::artifact::ModelArtifact;
use iops_core::engine::{self, Assessment, EngineConfig, EngineParams, HostForest, HostState};
use iops_core::{Error, Metric, MetricSample, Result, Timestamp};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde::{Deserialize, Serialize};

use crate::args::{decode, json_bytes, slice};
use crate::errors::OrRaise;
use crate::forest::ForestModel;

/// The host forest passed as `model=`: a `ForestModel`, or anything holding one as `model_`
/// (a fitted `iops.IsolationForest`).
fn host_model(model: &Bound<'_, PyAny>) -> PyResult<ModelArtifact> {
    let artifact = any_model(model)?;
    if !artifact.is_summarized() {
        // The engine's cut-offs start at the highest training score, from the summary.
        return Err(Error::InvalidField {
            field: "model".into(),
            reason: "its training summary is not computed: call ForestModel.summarize(x) \
                     with its training rows (a fitted IsolationForest's model_ is summarized)"
                .into(),
        })
        .or_raise(model.py());
    }
    Ok(artifact)
}

fn any_model(model: &Bound<'_, PyAny>) -> PyResult<ModelArtifact> {
    if let Ok(m) = model.cast::<ForestModel>() {
        return Ok(m.get().artifact().clone());
    }
    match model.getattr("model_") {
        Ok(inner) => match inner.cast::<ForestModel>() {
            Ok(m) => Ok(m.get().artifact().clone()),
            Err(_) => Err(PyTypeError::new_err(
                "model.model_ is not an iops.ForestModel",
            )),
        },
        Err(_) => Err(PyTypeError::new_err(format!(
            "model must be an iops.ForestModel or a fitted iops.IsolationForest, got {}",
            model.get_type().name()?
        ))),
    }
}

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

/// `{"score": float, "forest": float or None, "metrics": {wire name: observation}, "insights": [insight, ...]}`.
fn assessment<'py>(py: Python<'py>, a: &Assessment) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("score", a.score)?;
    d.set_item("forest", a.forest)?;
    let metrics = PyDict::new(py);
    for (m, obs) in Metric::ALL.into_iter().zip(&a.metrics) {
        metrics.set_item(m.wire_name(), pythonize::pythonize(py, obs)?)?;
    }
    d.set_item("metrics", metrics)?;
    d.set_item("insights", pythonize::pythonize(py, &a.insights)?)?;
    Ok(d)
}

/// What an engine pickles as: its parameters, its host forest (model.json text) and every
/// host's state.
#[derive(Serialize, Deserialize)]
struct EngineState {
    params: EngineParams,
    #[serde(default)]
    model: Option<String>,
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
    /// `model` is a host forest (`HostForest`, beside the parameters): a `ForestModel` or fitted
    /// `IsolationForest` trained on `host_features` (feature names `HOST_FEATURES`, as
    /// train.py and `iops train` write them); with it, insights name their `drivers` and
    /// `multi_metric_anomaly` insights can appear. Another model is an InvalidFieldError
    /// naming `feature_names`.
    #[new]
    #[pyo3(signature = (*, model=None, **params))]
    fn new(
        py: Python<'_>,
        model: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut inner = engine::InsightEngine::new(engine_config(py, params)?);
        if let Some(m) = model {
            inner = inner.with_forest(HostForest::new(host_model(m)?).or_raise(py)?);
        }
        Ok(Self {
            inner,
            buf: Assessment::default(),
        })
    }

    /// The host forest in use (a `ForestModel`), or None.
    #[getter]
    fn model(&self) -> Option<ForestModel> {
        self.inner
            .forest()
            .map(|f| ForestModel::from_artifact(f.model().clone()))
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

    /// A host's place among the model's peer groups: `{"group", "placed", "level",
    /// "shift"}` (per metric, its level relative to the group's hourly median over the last
    /// hours, and how far that is from its usual one), or None for an unknown host, a
    /// model without groups, or a host not placed yet (its first samples).
    fn peer_shift<'py>(
        &self,
        py: Python<'py>,
        hostname: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(state) = self.inner.host_state(hostname) else {
            return Ok(None);
        };
        let Some(shift) = state.peer_shift() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("group", &shift.group)?;
        d.set_item("placed", state.peer_group().is_some())?;
        let per_metric = |v: [f64; 4]| -> PyResult<Bound<'py, PyDict>> {
            let m = PyDict::new(py);
            for (metric, x) in iops_core::Metric::ALL.iter().zip(v) {
                m.set_item(metric.wire_name(), x)?;
            }
            Ok(m)
        };
        d.set_item("level", per_metric(shift.level)?)?;
        d.set_item("shift", per_metric(shift.shift)?)?;
        Ok(Some(d))
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
            model: self
                .inner
                .forest()
                .map(|f| f.model().to_json())
                .transpose()
                .or_raise(py)?,
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
        if let Some(json) = s.model {
            let model = ModelArtifact::from_slice(json.as_bytes()).or_raise(py)?;
            inner = inner.with_forest(HostForest::new(model).or_raise(py)?);
        }
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

/// Which rows a per-host pass sees: row indices grouped by host, each host's in time order
/// (stable for equal timestamps).
fn host_runs(hosts: &[i64], timestamps: &[f64]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    order.sort_by(|&a, &b| {
        hosts[a]
            .cmp(&hosts[b])
            .then(timestamps[a].total_cmp(&timestamps[b]))
    });
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match runs.last_mut() {
            Some(run) if run.first().map(|&r| hosts[r]) == Some(hosts[i]) => run.push(i),
            _ => runs.push(vec![i]),
        }
    }
    runs
}

/// One host's rows through the engine's per-metric models: `(row, features)` for every row
/// past the forest's warm-up whose models are warm (as `training_features` keeps them).
fn host_run(
    config: &EngineConfig,
    run: &[usize],
    timestamps: &[f64],
    values: &iops_core::ndarray::ArrayView2<'_, f64>,
) -> Result<Vec<(usize, [f64; 4])>> {
    let mut state = HostState::new(config)?;
    let mut out = Assessment::default();
    let mut rows = Vec::with_capacity(run.len());
    let mut sample = MetricSample {
        timestamp: Timestamp::from_epoch_seconds(0.0)?,
        // The features do not depend on the name; a valid one passes validation.
        hostname: "host".to_owned(),
        cpu_usage: 0.0,
        memory_usage: 0.0,
        disk_io: 0.0,
        network_io: 0.0,
    };
    for &i in run {
        let at = |field: String, reason: String| Error::InvalidField {
            field: format!("row {i}: {field}"),
            reason,
        };
        sample.timestamp = Timestamp::from_epoch_seconds(timestamps[i])
            .map_err(|e| at("timestamp".into(), e.to_string()))?;
        let v = values.row(i);
        sample.cpu_usage = v[0];
        sample.memory_usage = v[1];
        sample.disk_io = v[2];
        sample.network_io = v[3];
        state
            .process_into(config, None, &sample, &mut out)
            .map_err(|e| at(e.field().unwrap_or("sample").to_owned(), e.to_string()))?;
        if !state.forest_ready(config) {
            continue;
        }
        if let Some(x) = engine::host_features(&out.metrics) {
            rows.push((i, x));
        }
    }
    Ok(rows)
}

/// The host forest's input for every row: each metric's signed z-score against its host's
/// own expectation (`iops_core::engine::host_features`), computed by running each host's rows
/// in time order through the engine's per-metric models, hosts in parallel with the GIL
/// released. `timestamps` are epoch seconds, `host` any int64 host ids, `values` n × 4
/// (cpuUsage, memoryUsage, diskIO, networkIO). Rows before a host's warm-up are NaN. Row
/// order is kept, so labels and time splits still apply; the non-NaN rows are exactly the
/// rows `training_features` returns. Keyword arguments are `EngineParams`' fields.
#[pyfunction]
#[pyo3(signature = (timestamps, host, values, **params))]
pub fn host_features<'py>(
    py: Python<'py>,
    timestamps: PyReadonlyArray1<'py, f64>,
    host: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray2<'py, f64>,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    use rayon::prelude::*;
    let config = engine_config(py, params)?;
    let (t, h) = (slice(&timestamps), crate::args::slice_i64(&host));
    let x = values.as_array();
    let n = t.len();
    for (name, got) in [("host", h.len()), ("values", x.nrows())] {
        if got != n {
            return Err(crate::errors::to_py(
                py,
                Error::Shape {
                    name,
                    expected: n,
                    got,
                },
            ));
        }
    }
    if x.ncols() != 4 {
        return Err(crate::errors::to_py(
            py,
            Error::Shape {
                name: "n_features",
                expected: 4,
                got: x.ncols(),
            },
        ));
    }
    let out: Result<Vec<f64>> = py.detach(|| {
        let runs = host_runs(&h, &t);
        let per_host: Vec<Vec<(usize, [f64; 4])>> = runs
            .par_iter()
            .map(|run| host_run(&config, run, &t, &x))
            .collect::<Result<_>>()?;
        let mut flat = vec![f64::NAN; 4 * n];
        for (i, f) in per_host.into_iter().flatten() {
            if let Some(dst) = flat.get_mut(4 * i..4 * i + 4) {
                dst.copy_from_slice(&f);
            }
        }
        Ok(flat)
    });
    out.or_raise(py)?.into_pyarray(py).reshape([n, 4])
}

/// `iops_core::engine::training_features` as it is: the host forest's training rows of a
/// sequence of metric samples (dicts in the POST /metrics shape, or their JSON), hosts in
/// name order, each in time order, warm-up rows dropped. `host_features` gives the same
/// rows in the input's order; this one is the reference. Keyword arguments are
/// `EngineParams`' fields.
#[pyfunction]
#[pyo3(signature = (metrics, **params))]
pub fn training_features<'py>(
    py: Python<'py>,
    metrics: &Bound<'py, PyAny>,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let config = engine_config(py, params)?;
    let samples = metrics
        .try_iter()?
        .map(|m| sample(py, &m?))
        .collect::<PyResult<Vec<_>>>()?;
    let rows = py
        .detach(|| engine::training_features(&config, &samples))
        .or_raise(py)?;
    let n = rows.len();
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    flat.into_pyarray(py).reshape([n, 4])
}
