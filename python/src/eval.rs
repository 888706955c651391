//! Evaluation metrics of iops_eval: ROC AUC, average precision and the NAB score.

use std::borrow::Cow;

use iops_eval::nab::{self, CostMatrix, FileScores, LabelSet};
use iops_eval::roc;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::args::{decode, json_bytes, slice};
use crate::errors::OrRaise;

/// One file's name, timestamps and scores, read in place where contiguous.
type FileSlices<'a> = (&'a str, Cow<'a, [f64]>, Cow<'a, [f64]>);

fn bools<'a>(a: &'a PyReadonlyArray1<'_, bool>) -> Cow<'a, [bool]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().to_vec()),
    }
}

/// Area under the ROC curve of `scores` (float64, higher = more anomalous) against boolean
/// `labels` (True = anomaly); ties count half.
#[pyfunction]
pub fn roc_auc(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<f64> {
    let (s, l) = (slice(&scores), bools(&labels));
    py.detach(|| roc::roc_auc(&s, &l)).or_raise(py)
}

/// Average precision (area under the precision-recall curve, scikit-learn's step form).
#[pyfunction]
pub fn average_precision(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<f64> {
    let (s, l) = (slice(&scores), bools(&labels));
    py.detach(|| roc::average_precision(&s, &l)).or_raise(py)
}

/// NAB score of one detector over a corpus. `files` maps each labelled file name
/// (`category/file.csv`) to `(timestamps, scores)` (float64 arrays, epoch seconds and one
/// anomaly score per row); `labels` is `combined_windows.json` (text, bytes or the parsed
/// dict); `costs` is a profile's CostMatrix `{"tpWeight", "fpWeight", "fnWeight"}` (default:
/// NAB's standard profile 1.0 / 0.11 / 1.0). Returns `{"score", "raw", "threshold", "tp",
/// "fp"}`. The GIL is released while scoring.
#[pyfunction]
#[pyo3(signature = (files, labels, costs=None))]
pub fn nab_score<'py>(
    py: Python<'py>,
    files: &Bound<'py, PyDict>,
    labels: &Bound<'py, PyAny>,
    costs: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let label_json = json_bytes("combined_windows.json", labels).or_raise(py)?;
    let label_text = String::from_utf8(label_json)
        .map_err(|e| decode("combined_windows.json", e))
        .or_raise(py)?;
    let labels = LabelSet::parse(&label_text).or_raise(py)?;
    let costs = match costs {
        None => CostMatrix {
            tp_weight: 1.0,
            fp_weight: 0.11,
            fn_weight: 1.0,
        },
        Some(c) => pythonize::depythonize::<CostMatrix>(c)
            .map_err(|e| decode("CostMatrix", e))
            .or_raise(py)?,
    };
    let mut arrays = Vec::with_capacity(files.len());
    for (k, v) in files.iter() {
        let name: String = k.extract()?;
        let (t, s): (PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, f64>) = v.extract()?;
        arrays.push((name, t, s));
    }
    let slices: Vec<FileSlices<'_>> = arrays
        .iter()
        .map(|(n, t, s)| (n.as_str(), slice(t), slice(s)))
        .collect();
    let result = py.detach(|| {
        let scores: Vec<FileScores<'_>> = slices
            .iter()
            .map(|(name, t, s)| FileScores {
                name,
                timestamps: t,
                scores: s,
            })
            .collect();
        nab::score_corpus(&labels, &scores, &costs)
    });
    let result = result.or_raise(py)?;
    Ok(pythonize::pythonize(py, &result)?)
}

/// NAB's `config/profiles.json` (text, bytes or dict) as `{name: {"tpWeight", "fpWeight",
/// "fnWeight"}}`, in the file's order.
#[pyfunction]
pub fn nab_profiles<'py>(
    py: Python<'py>,
    profiles: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let bytes = json_bytes("profiles.json", profiles).or_raise(py)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| decode("profiles.json", e))
        .or_raise(py)?;
    let out = PyDict::new(py);
    for p in nab::parse_profiles(&text).or_raise(py)? {
        out.set_item(p.name, pythonize::pythonize(py, &p.costs)?)?;
    }
    Ok(out)
}

/// A NAB timestamp (`2014-02-14 14:30:00[.ffffff]`, naive UTC) as epoch seconds.
#[pyfunction]
pub fn nab_timestamp(py: Python<'_>, text: &str) -> PyResult<f64> {
    nab::parse_timestamp(text).or_raise(py)
}
