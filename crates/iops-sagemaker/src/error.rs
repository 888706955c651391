//! The one error type of iops-sagemaker, and how a request error becomes an HTTP response.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Errors of the server (one per HTTP status it answers with) and of the training job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body is larger than [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) (413).
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request's Content-Type is missing or not one we decode (415).
    #[error(
        "unsupported Content-Type {content_type:?}: send text/csv, application/json or application/jsonlines"
    )]
    UnsupportedMediaType {
        /// The Content-Type as sent (empty when missing).
        content_type: String,
    },
    /// None of the types in the request's Accept header is one we encode (406).
    #[error(
        "cannot answer with any of Accept {accept:?}: application/json, application/jsonlines and text/csv are available"
    )]
    NotAcceptable {
        /// The Accept header as sent.
        accept: String,
    },
    /// The body is empty or a row is malformed; the message names the row and column (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body could not be read from the connection (400).
    #[error("cannot read the request body: {0}")]
    Body(String),
    /// No model is loaded yet (503).
    #[error("no model is loaded")]
    ModelNotLoaded,
    /// Scoring failed on rows the decoder accepted (500; a bug if it ever happens).
    #[error("scoring failed: {0}")]
    Scoring(iops_core::Error),
    /// A server task failed unexpectedly (500).
    #[error("internal error: {0}")]
    Internal(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A model artifact could not be loaded (the error names the file).
    #[error("model {0}")]
    Model(#[from] iops_model::ModelError),
    /// A training configuration file or data file is invalid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file at fault (hyperparameters.json, a data file, ...).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Fitting the forest failed.
    #[error("training failed: {0}")]
    Train(iops_core::Error),
}

/// Result alias for iops-sagemaker.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            Error::BadRequest(_) | Error::Body(_) => StatusCode::BAD_REQUEST,
            Error::ModelNotLoaded => StatusCode::SERVICE_UNAVAILABLE,
            Error::Scoring(_)
            | Error::Internal(_)
            | Error::Io { .. }
            | Error::Model(_)
            | Error::Config { .. }
            | Error::Train(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"error": "<message>"}` with the error's status.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut response = (self.status(), body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

pub(crate) fn bad(message: impl Into<String>) -> Error {
    Error::BadRequest(message.into())
}
