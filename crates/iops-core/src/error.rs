//! The one error type of iops-core. Every variant names the field or parameter it is about.

use thiserror::Error;

/// Errors raised by iops-core. Library code returns these instead of panicking.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter failed its check (see the `*Params` builders).
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParam {
        /// Parameter name as spelled in the builder.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A value fed to a detector or the engine was NaN or infinite.
    #[error("`{field}` must be finite, got {value}")]
    NonFinite {
        /// What the value was for (a metric name or `value`).
        field: String,
        /// The offending value.
        value: f64,
    },
    /// A field of a wire record is missing, malformed or out of range.
    #[error("invalid `{field}`: {reason}")]
    InvalidField {
        /// The camelCase field name as it appears on the wire.
        field: String,
        /// What is wrong with it, for a person.
        reason: String,
    },
    /// A serialised state or input could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// Evaluation inputs do not fit together (lengths, labels, timestamps).
    #[error("evaluation input `{what}`: {reason}")]
    Evaluation {
        /// Which input is wrong.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An input's shape does not fit the model (feature count, row count, label count).
    #[error("`{name}`: expected {expected}, got {got}")]
    Shape {
        /// What was counted (`n_features`, `rows`, `labels`).
        name: &'static str,
        /// What the model or the other input needs (a minimum for `rows`).
        expected: usize,
        /// What the input has.
        got: usize,
    },
    /// A model artifact's checksum does not match its payload (edited or corrupted file).
    #[error(
        "model artifact checksum mismatch: header says {expected}, payload hashes to {actual}"
    )]
    ArtifactChecksum {
        /// The checksum stored in the envelope.
        expected: String,
        /// The checksum of the payload as read.
        actual: String,
    },
    /// A model artifact is larger than the loader accepts.
    #[error("model artifact is {size} bytes, larger than the limit of {limit} bytes")]
    ArtifactTooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A model artifact was written by a newer format version than this build reads.
    #[error("model artifact format_version {found} is newer than the supported {supported}")]
    ArtifactVersion {
        /// `format_version` found in the file.
        found: u64,
        /// Newest version this build reads.
        supported: u64,
    },
    /// An error reported by linfa's traits (surfaced through [`linfa::Fit`]).
    #[error("linfa: {reason}")]
    Linfa {
        /// linfa's message.
        reason: String,
    },
}

impl Error {
    /// The field or parameter this error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidParam { name, .. } => Some(name),
            Error::NonFinite { field, .. } | Error::InvalidField { field, .. } => Some(field),
            Error::Shape { name, .. } => Some(name),
            Error::Decode { .. }
            | Error::Evaluation { .. }
            | Error::ArtifactChecksum { .. }
            | Error::ArtifactTooLarge { .. }
            | Error::ArtifactVersion { .. }
            | Error::Linfa { .. } => None,
        }
    }

    pub(crate) fn param(name: &'static str, value: impl ToString, reason: &'static str) -> Self {
        Error::InvalidParam {
            name,
            value: value.to_string(),
            reason,
        }
    }
}

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Error::Linfa {
            reason: e.to_string(),
        }
    }
}

/// Result alias for iops-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns `Ok(x)` when `x` is finite, else a [`Error::NonFinite`] naming `field`.
pub fn finite(field: &str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::NonFinite {
            field: field.to_owned(),
            value: x,
        })
    }
}
