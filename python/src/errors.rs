//! One Python exception class per [`iops_core::Error`] kind, all under `iops.IopsError`
//! (itself a `ValueError`: every iops error is about a bad value or input, never I/O).
//! Each exception carries the variant's fields as attributes, plus `field` ([`Error::field`]).

use iops_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;

create_exception!(
    iops,
    IopsError,
    PyValueError,
    "Base class of every error raised by iops (a ValueError)."
);
create_exception!(
    iops,
    InvalidParamError,
    IopsError,
    "A hyper-parameter failed its check. Attributes: name, value, reason."
);
create_exception!(
    iops,
    NonFiniteError,
    IopsError,
    "A value fed to a detector, the forest or the engine was NaN or infinite. Attributes: field, value."
);
create_exception!(
    iops,
    InvalidFieldError,
    IopsError,
    "A field of a metric or insight record is missing, malformed or out of range. Attributes: field, reason."
);
create_exception!(
    iops,
    DecodeError,
    IopsError,
    "A serialised model, state or input could not be decoded. Attributes: what, reason."
);
create_exception!(
    iops,
    EvaluationError,
    IopsError,
    "Evaluation inputs do not fit together (lengths, labels, timestamps). Attributes: what, reason."
);
create_exception!(
    iops,
    ShapeError,
    IopsError,
    "An input's shape does not fit the model. Attributes: name, expected, got."
);
create_exception!(
    iops,
    ArtifactError,
    IopsError,
    "Base class of the model-artifact errors (checksum, size, version)."
);
create_exception!(
    iops,
    ArtifactChecksumError,
    ArtifactError,
    "A model artifact's checksum does not match its payload. Attributes: expected, actual."
);
create_exception!(
    iops,
    ArtifactTooLargeError,
    ArtifactError,
    "A model artifact is larger than the loader accepts. Attributes: size, limit."
);
create_exception!(
    iops,
    ArtifactVersionError,
    ArtifactError,
    "A model artifact was written by a newer format version. Attributes: found, supported."
);
create_exception!(
    iops,
    LinfaError,
    IopsError,
    "An error reported through linfa's traits. Attributes: reason."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("IopsError", py.get_type::<IopsError>())?;
    m.add("InvalidParamError", py.get_type::<InvalidParamError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add("InvalidFieldError", py.get_type::<InvalidFieldError>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("EvaluationError", py.get_type::<EvaluationError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("ArtifactError", py.get_type::<ArtifactError>())?;
    m.add(
        "ArtifactChecksumError",
        py.get_type::<ArtifactChecksumError>(),
    )?;
    m.add(
        "ArtifactTooLargeError",
        py.get_type::<ArtifactTooLargeError>(),
    )?;
    m.add(
        "ArtifactVersionError",
        py.get_type::<ArtifactVersionError>(),
    )?;
    m.add("LinfaError", py.get_type::<LinfaError>())?;
    Ok(())
}

/// The Python exception for a core error, with the variant's fields as attributes.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let field = e.field().map(str::to_owned);
    let (err, attrs): (PyErr, Vec<(&str, Py<PyAny>)>) = match e {
        Error::InvalidParam {
            name,
            value,
            reason,
        } => (
            InvalidParamError::new_err(msg),
            vec![
                ("name", obj(py, name)),
                ("value", obj(py, value)),
                ("reason", obj(py, reason)),
            ],
        ),
        Error::NonFinite { value, .. } => (
            NonFiniteError::new_err(msg),
            vec![("value", obj(py, value))],
        ),
        Error::InvalidField { reason, .. } => (
            InvalidFieldError::new_err(msg),
            vec![("reason", obj(py, reason))],
        ),
        Error::Decode { what, reason } => (
            DecodeError::new_err(msg),
            vec![("what", obj(py, what)), ("reason", obj(py, reason))],
        ),
        Error::Evaluation { what, reason } => (
            EvaluationError::new_err(msg),
            vec![("what", obj(py, what)), ("reason", obj(py, reason))],
        ),
        Error::Shape {
            name,
            expected,
            got,
        } => (
            ShapeError::new_err(msg),
            vec![
                ("name", obj(py, name)),
                ("expected", obj(py, expected)),
                ("got", obj(py, got)),
            ],
        ),
        Error::ArtifactChecksum { expected, actual } => (
            ArtifactChecksumError::new_err(msg),
            vec![("expected", obj(py, expected)), ("actual", obj(py, actual))],
        ),
        Error::ArtifactTooLarge { size, limit } => (
            ArtifactTooLargeError::new_err(msg),
            vec![("size", obj(py, size)), ("limit", obj(py, limit))],
        ),
        Error::ArtifactVersion { found, supported } => (
            ArtifactVersionError::new_err(msg),
            vec![("found", obj(py, found)), ("supported", obj(py, supported))],
        ),
        Error::Linfa { reason } => (LinfaError::new_err(msg), vec![("reason", obj(py, reason))]),
        // A kind added to the core later: still an IopsError.
        _ => (IopsError::new_err(msg), Vec::new()),
    };
    let value = err.value(py);
    // Attributes are a convenience: failing to set one must not hide the error itself.
    let _ = value.setattr("field", field);
    for (k, v) in attrs {
        let _ = value.setattr(k, v);
    }
    err
}

fn obj<'py, T>(py: Python<'py>, v: T) -> Py<PyAny>
where
    T: IntoPyObject<'py>,
{
    v.into_py_any(py)
        .unwrap_or_else(|_| PyTuple::empty(py).into_any().unbind())
}

/// `result.or_raise(py)?`: a core result as a Python result.
pub trait OrRaise<T> {
    /// Converts the error with [`to_py`].
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// An [`Error::InvalidParam`] raised by the binding itself (a Python value the core's
/// builder cannot take, e.g. a negative count).
pub fn invalid_param(name: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidParam {
        name,
        value: value.to_string(),
        reason,
    }
}
