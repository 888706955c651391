//! The training data on disk, for Python: `write_fleet_csv` and `read_metrics_csv` open the
//! file and call iops-synth's CSV writer and reader ([`iops_synth::csv_file`], where the
//! format is described) with the GIL released.

use std::fs::File;
use std::path::PathBuf;

use iops_core::Metric;
use iops_synth::csv_file::{read_csv, write_csv, ReadError};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::OrRaise;

/// Writes a synthetic fleet straight to a CSV file (format in the module docs), formatting
/// in parallel with the GIL released. Keyword arguments are `generate_fleet`'s. Returns a
/// dict: `rows`, `labelled` (rows inside incidents), `bytes`, and `generate_fleet`'s
/// `hostnames`, `roles`, `metrics`, `incidents`. An I/O failure raises OSError.
#[pyfunction]
#[pyo3(signature = (path, **kwargs))]
pub fn write_fleet_csv<'py>(
    py: Python<'py>,
    path: PathBuf,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let fleet = crate::synth::FleetArgs::from_kwargs(kwargs)?
        .fleet()
        .or_raise(py)?;
    let (rows, labelled, bytes) = py.detach(|| write_csv(&fleet, File::create(&path)?))?;
    let out = PyDict::new(py);
    out.set_item("rows", rows)?;
    out.set_item("labelled", labelled)?;
    out.set_item("bytes", bytes)?;
    crate::synth::describe(py, &fleet, &out)?;
    Ok(out)
}

/// Reads a metrics CSV (as `write_fleet_csv` writes it; only the four metric columns are
/// required) with the GIL released. Returns a dict: `timestamp` (float64 epoch seconds; RFC
/// 3339 or epoch-second cells; without the column, rows 300 s apart), `host` (int64 index
/// into `hostnames`, in order of first appearance; one host "" without the column),
/// `hostnames`, `values` (float64, n × 4, columns `metrics`), `metrics`, and `label` (int8,
/// None without the column). A malformed cell raises InvalidFieldError naming `file:line`.
#[pyfunction]
pub fn read_metrics_csv(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let read = || match File::open(&path) {
        Ok(file) => read_csv(&path.display().to_string(), file),
        Err(e) => Err(ReadError::Io(e)),
    };
    let cols = match py.detach(read) {
        Ok(c) => c,
        Err(ReadError::Io(e)) => return Err(e.into()),
        Err(ReadError::Content(e)) => return Err(crate::errors::to_py(py, e)),
    };
    let rows = cols.host.len();
    let out = PyDict::new(py);
    out.set_item("timestamp", cols.timestamp.into_pyarray(py))?;
    out.set_item("host", cols.host.into_pyarray(py))?;
    out.set_item("hostnames", PyList::new(py, cols.hostnames)?)?;
    let values: Bound<'_, PyArray2<f64>> = cols.values.into_pyarray(py).reshape([rows, 4])?;
    out.set_item("values", values)?;
    out.set_item(
        "metrics",
        PyList::new(py, Metric::ALL.map(|m| m.wire_name()))?,
    )?;
    out.set_item("label", cols.label.map(|l| l.into_pyarray(py)))?;
    Ok(out)
}
