//! `generate_fleet`: the seeded synthetic fleet of crates/iops-synth (the same generator as
//! the demo and the tests), as columns of numpy arrays for the training scripts.

use iops_core::{Metric, Timestamp};
use iops_synth::{Fleet, FleetParams, IncidentKind};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::args::{count, seed as seed_arg};
use crate::errors::{invalid_param, OrRaise};

/// The keyword arguments of `generate_fleet` and `write_fleet_csv`: `FleetParams`' fields,
/// read in one place. Unset ones (or `None`) keep the Rust defaults.
#[derive(Default)]
pub struct FleetArgs {
    hosts: Option<i128>,
    days: Option<f64>,
    interval_secs: Option<i128>,
    seed: Option<i128>,
    incident_rate: Option<f64>,
    calm_days: Option<f64>,
    start: Option<f64>,
    kinds: Option<Vec<String>>,
}

/// The names [`FleetArgs::from_kwargs`] accepts, for its error message.
const FLEET_KWARGS: &str =
    "hosts, days, interval_secs, seed, incident_rate, calm_days, start, kinds";

impl FleetArgs {
    /// Reads `**kwargs`. An unknown name is a TypeError (as for any Python function), and
    /// so is a value of the wrong type, naming the argument; ranges are checked by
    /// [`FleetArgs::fleet`].
    pub fn from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut args = FleetArgs::default();
        for (k, v) in kwargs.into_iter().flat_map(|d| d.iter()) {
            let key: String = k.extract()?;
            if v.is_none() {
                continue;
            }
            let wrong = |e: PyErr| PyTypeError::new_err(format!("argument '{key}': {e}"));
            match key.as_str() {
                "hosts" => args.hosts = Some(v.extract().map_err(wrong)?),
                "days" => args.days = Some(v.extract().map_err(wrong)?),
                "interval_secs" => args.interval_secs = Some(v.extract().map_err(wrong)?),
                "seed" => args.seed = Some(v.extract().map_err(wrong)?),
                "incident_rate" => args.incident_rate = Some(v.extract().map_err(wrong)?),
                "calm_days" => args.calm_days = Some(v.extract().map_err(wrong)?),
                "start" => args.start = Some(v.extract().map_err(wrong)?),
                "kinds" => args.kinds = Some(v.extract().map_err(wrong)?),
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "unexpected keyword argument '{key}' (fleet parameters: {FLEET_KWARGS})"
                    )))
                }
            }
        }
        Ok(args)
    }

    /// The fleet these arguments describe; a bad value is an invalid parameter naming it.
    pub fn fleet(self) -> iops_core::Result<Fleet> {
        let FleetArgs {
            hosts,
            days,
            interval_secs,
            seed,
            incident_rate,
            calm_days,
            start,
            kinds,
        } = self;
        let mut p = FleetParams::default();
        if let Some(h) = hosts {
            p.hosts = count("hosts", h, "must be in 1..=100000")?;
        }
        if let Some(d) = days {
            p.days = d;
        }
        if let Some(i) = interval_secs {
            p.interval_secs = u32::try_from(i)
                .map_err(|_| invalid_param("interval_secs", i, "must be in 1..=86400"))?;
        }
        if let Some(s) = seed {
            p.seed = seed_arg(s)?;
        }
        if let Some(r) = incident_rate {
            p.incident_rate = r;
        }
        if let Some(c) = calm_days {
            p.calm_days = c;
        }
        if let Some(s) = start {
            p.start = Timestamp::from_epoch_seconds(s)?;
        }
        if let Some(names) = kinds {
            p.kinds = names
                .iter()
                .map(|n| {
                    IncidentKind::ALL
                        .into_iter()
                        .find(|k| k.as_str() == n)
                        .ok_or_else(|| {
                            invalid_param(
                                "kinds",
                                n,
                                "must be cpu_spike, memory_leak, disk_io_storm, network_outage or level_shift",
                            )
                        })
                })
                .collect::<iops_core::Result<_>>()?;
        }
        Fleet::new(p)
    }
}

/// The fleet's description: `hostnames`, `roles`, `metrics` and `incidents` (dicts: id, kind,
/// host, hostname, start, end in epoch seconds, magnitude, metrics), into `out`.
pub fn describe<'py>(py: Python<'py>, fleet: &Fleet, out: &Bound<'py, PyDict>) -> PyResult<()> {
    out.set_item(
        "hostnames",
        PyList::new(py, fleet.hosts().iter().map(|h| h.hostname.as_str()))?,
    )?;
    out.set_item(
        "roles",
        PyList::new(py, fleet.hosts().iter().map(|h| h.role.as_str()))?,
    )?;
    out.set_item(
        "metrics",
        PyList::new(py, Metric::ALL.map(|m| m.wire_name()))?,
    )?;
    let incidents = PyList::empty(py);
    for i in fleet.incidents() {
        let d = PyDict::new(py);
        d.set_item("id", i.id)?;
        d.set_item("kind", i.kind.as_str())?;
        d.set_item("host", i.host)?;
        d.set_item("hostname", &i.hostname)?;
        d.set_item("start", i.start_secs)?;
        d.set_item("end", i.end_secs)?;
        d.set_item("magnitude", i.magnitude)?;
        d.set_item(
            "metrics",
            PyList::new(py, i.metrics().iter().map(|m| m.wire_name()))?,
        )?;
        incidents.append(d)?;
    }
    out.set_item("incidents", incidents)?;
    Ok(())
}

/// Every sample of a synthetic fleet, time-major (all hosts at step 0, then step 1, …).
/// Keyword arguments are `FleetParams`' fields (unset ones keep the Rust defaults: 8 hosts,
/// 14 days, 300 s interval, seed 42, 0.3 incidents per host per day, no calm days, every
/// kind); `start` is epoch seconds, `kinds` a list of incident kind names.
///
/// Returns a dict: `host` (int64 index into `hostnames`), `timestamp` (int64 epoch seconds),
/// `values` (float64, n × 4, columns `metrics`), `incident` (int64 index into `incidents`,
/// -1 outside incidents), `hostnames`, `roles`, `metrics` and `incidents` (dicts: id, kind,
/// host, hostname, start, end in epoch seconds, magnitude, metrics). Releases the GIL.
#[pyfunction]
#[pyo3(signature = (**kwargs))]
pub fn generate_fleet<'py>(
    py: Python<'py>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let params = FleetArgs::from_kwargs(kwargs)?.fleet().or_raise(py)?;

    let (host, secs, values, incident) = py.detach(|| {
        let n = usize::try_from(params.len()).unwrap_or(0);
        let mut host = Vec::with_capacity(n);
        let mut secs = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(4 * n);
        let mut incident = Vec::with_capacity(n);
        for p in params.points() {
            host.push(p.host as i64);
            secs.push(p.secs);
            values.extend_from_slice(&p.values);
            incident.push(p.incident.map_or(-1, |i| i as i64));
        }
        (host, secs, values, incident)
    });
    let rows = host.len();
    let out = PyDict::new(py);
    out.set_item("host", host.into_pyarray(py))?;
    out.set_item("timestamp", secs.into_pyarray(py))?;
    let values = values.into_pyarray(py);
    let values: Bound<'py, PyArray2<f64>> = values.reshape([rows, 4])?;
    out.set_item("values", values)?;
    out.set_item("incident", incident.into_pyarray(py))?;
    describe(py, &params, &out)?;
    Ok(out)
}
