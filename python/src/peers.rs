//! `iops.PeerGroups`: a fleet's peer groups (`iops_core::peers`), fitted from arrays as
//! `host_features` takes them, inspected, and attached to a model (`ForestModel.with_peer_groups`).

use iops_core::peers::{PeerGroups as CoreGroups, PeerParams};
use iops_core::{Error, Metric, MetricSample, Result, Timestamp};
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::args::{count, slice, slice_i64};
use crate::errors::OrRaise;

/// A fleet's peer groups: hosts clustered on their metrics' level, spread and daily shape.
#[pyclass(module = "iops._native", frozen)]
#[derive(Debug, Clone)]
pub struct PeerGroups {
    inner: CoreGroups,
}

impl PeerGroups {
    pub(crate) fn core(&self) -> &CoreGroups {
        &self.inner
    }

    pub(crate) fn from_core(inner: CoreGroups) -> Self {
        Self { inner }
    }
}

fn shape(name: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::Shape {
            name,
            expected,
            got,
        })
    }
}

fn metric(name: &str) -> Result<usize> {
    Metric::ALL
        .iter()
        .position(|m| m.wire_name() == name)
        .ok_or_else(|| Error::InvalidField {
            field: "metric".into(),
            reason: format!("{name:?} is not one of cpuUsage, memoryUsage, diskIO, networkIO"),
        })
}

#[pymethods]
impl PeerGroups {
    /// Fits peer groups (`PeerGroups::fit`): `timestamps` epoch seconds, `host` int64 indices
    /// into `hostnames`, `values` n × 4 (cpuUsage, memoryUsage, diskIO, networkIO). Hosts
    /// with less than `min_history_seconds` of history are left out; fewer than 2 left is an
    /// InvalidFieldError naming `samples`. The GIL is released while fitting.
    #[staticmethod]
    #[pyo3(signature = (timestamps, host, values, hostnames, *, max_groups=8,
                        min_silhouette=0.25, min_history_seconds=86400.0))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        timestamps: PyReadonlyArray1<'_, f64>,
        host: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray2<'_, f64>,
        hostnames: Vec<String>,
        max_groups: i128,
        min_silhouette: f64,
        min_history_seconds: f64,
    ) -> PyResult<Self> {
        let params = PeerParams {
            max_groups: count("max_groups", max_groups, "must be in 1..=64").or_raise(py)?,
            min_silhouette,
            min_history_seconds,
        };
        let (t, h, x) = (slice(&timestamps), slice_i64(&host), values.as_array());
        let n = t.len();
        let samples: Result<Vec<MetricSample>> = (|| {
            shape("host", n, h.len())?;
            shape("values", n, x.nrows())?;
            shape("n_features", 4, x.ncols())?;
            (0..n)
                .map(|i| {
                    let name = usize::try_from(h[i])
                        .ok()
                        .and_then(|k| hostnames.get(k))
                        .ok_or_else(|| Error::InvalidField {
                            field: format!("host[{i}]"),
                            reason: format!("{} is not an index into hostnames", h[i]),
                        })?;
                    Ok(MetricSample {
                        timestamp: Timestamp::from_epoch_seconds(t[i])?,
                        hostname: name.clone(),
                        cpu_usage: x[[i, 0]],
                        memory_usage: x[[i, 1]],
                        disk_io: x[[i, 2]],
                        network_io: x[[i, 3]],
                    })
                })
                .collect()
        })();
        let samples = samples.or_raise(py)?;
        let inner = py
            .detach(|| CoreGroups::fit(&samples, &params))
            .or_raise(py)?;
        Ok(Self { inner })
    }

    /// Reads groups written by `to_json` (checked: a bad field is an InvalidFieldError
    /// naming it).
    #[staticmethod]
    fn from_json(py: Python<'_>, data: &str) -> PyResult<Self> {
        let inner: CoreGroups = serde_json::from_str(data)
            .map_err(|e| Error::Decode {
                what: "peer groups",
                reason: e.to_string(),
            })
            .or_raise(py)?;
        inner.check().or_raise(py)?;
        Ok(Self { inner })
    }

    /// The groups as JSON (the model artifact's `peer_groups`).
    fn to_json(&self) -> String {
        serde_json::to_string(&self.inner).unwrap_or_default()
    }

    /// Each group's name and hosts, in order.
    #[getter]
    fn groups<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .groups()
            .iter()
            .map(|g| {
                let d = PyDict::new(py);
                d.set_item("name", &g.name)?;
                d.set_item("hosts", &g.hosts)?;
                Ok(d)
            })
            .collect()
    }

    /// The silhouette of the groups (None for a single group).
    #[getter]
    fn silhouette(&self) -> Option<f64> {
        self.inner.silhouette
    }

    /// The group a host was fitted in, by name.
    fn group_of(&self, hostname: &str) -> Option<String> {
        let g = self.inner.group_of(hostname)?;
        self.inner.groups().get(g).map(|g| g.name.clone())
    }

    /// The group a new host's first samples (epoch seconds, n × 4 values) fit best.
    fn nearest(
        &self,
        py: Python<'_>,
        timestamps: PyReadonlyArray1<'_, f64>,
        values: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Option<String>> {
        let (t, x) = (slice(&timestamps), values.as_array());
        shape("values", t.len(), x.nrows()).or_raise(py)?;
        shape("n_features", 4, x.ncols()).or_raise(py)?;
        let first: Vec<(f64, [f64; 4])> = t
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, [x[[i, 0]], x[[i, 1]], x[[i, 2]], x[[i, 3]]]))
            .collect();
        let g = self.inner.nearest(&first);
        Ok(g.and_then(|g| self.inner.groups().get(g))
            .map(|g| g.name.clone()))
    }

    /// A group's expectation and spread for `metric` (wire name) at `t` (epoch seconds).
    fn expected(
        &self,
        py: Python<'_>,
        group: &str,
        metric_name: &str,
        t: f64,
    ) -> PyResult<(f64, f64)> {
        let m = metric(metric_name).or_raise(py)?;
        let g = self
            .inner
            .groups()
            .iter()
            .find(|g| g.name == group)
            .ok_or_else(|| Error::InvalidField {
                field: "group".into(),
                reason: format!("no group named {group:?}"),
            })
            .or_raise(py)?;
        Ok(g.baseline
            .get(m)
            .map_or((f64::NAN, f64::NAN), |b| b.expected(t)))
    }

    fn __len__(&self) -> usize {
        self.inner.groups().len()
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ctor = py.get_type::<Self>().getattr("from_json")?;
        PyTuple::new(py, [ctor, PyTuple::new(py, [self.to_json()])?.into_any()])
    }

    fn __repr__(&self) -> String {
        let names: Vec<String> = self
            .inner
            .groups()
            .iter()
            .map(|g| format!("{} ({})", g.name, g.hosts.len()))
            .collect();
        format!("PeerGroups([{}])", names.join(", "))
    }
}
