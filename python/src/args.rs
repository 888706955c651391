//! Conversions of Python arguments shared by the bindings: counts that may be negative in
//! Python, float64 arrays read in place, and JSON-shaped values.

use std::borrow::Cow;

use iops_core::{Error, Result};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::errors::invalid_param;

/// A non-negative Python int as `usize`; a negative or huge one is an invalid parameter.
pub fn count(name: &'static str, v: i128, reason: &'static str) -> Result<usize> {
    usize::try_from(v).map_err(|_| invalid_param(name, v, reason))
}

/// A Python int as `u64` seed; negative or ≥ 2^64 is an invalid parameter.
pub fn seed(v: i128) -> Result<u64> {
    u64::try_from(v).map_err(|_| invalid_param("seed", v, "must be in 0..2**64"))
}

/// The elements of a 1-d float64 array: borrowed when contiguous, else copied once.
pub fn slice<'a>(a: &'a PyReadonlyArray1<'_, f64>) -> Cow<'a, [f64]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().to_vec()),
    }
}

/// The elements of a 1-d int64 array: borrowed when contiguous, else copied once.
pub fn slice_i64<'a>(a: &'a PyReadonlyArray1<'_, i64>) -> Cow<'a, [i64]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().to_vec()),
    }
}

/// JSON bytes from `str`, `bytes`/`bytearray` (taken as they are) or any JSON-shaped Python
/// value (dicts, lists, numbers, strings), serialised with serde.
pub fn json_bytes(what: &'static str, obj: &Bound<'_, PyAny>) -> Result<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str().map_err(|e| decode(what, e))?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    let value: serde_json::Value = pythonize::depythonize(obj).map_err(|e| decode(what, e))?;
    serde_json::to_vec(&value).map_err(|e| decode(what, e))
}

/// A [`Error::Decode`] about `what`.
pub fn decode(what: &'static str, e: impl ToString) -> Error {
    Error::Decode {
        what,
        reason: e.to_string(),
    }
}
