//! The service's one error type, and how each error answers over HTTP (as a plain status
//! code and JSON body, so no HTTP crate is needed here).

use iops_store::{ModelSource, StoreError};
use serde::Serialize;
use thiserror::Error;

/// Why a request failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is malformed: a field is missing, of the wrong type or out of range.
    /// Nothing was stored.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The wire name of the field (`cpuUsage`, `timestamp`, `body`, `since`, ...).
        field: String,
        /// What is wrong with it, for a person.
        reason: String,
    },
    /// The request body is larger than the service accepts. Nothing was stored.
    #[error("request body is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request body is larger than the service accepts, and was not read to its end
    /// (its size is unknown: a streamed body). Nothing was stored.
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLargeUnread {
        /// The limit.
        limit: usize,
    },
    /// A batch holds more samples than the service takes in one request. Nothing was
    /// stored.
    #[error("batch holds {count} samples, more than the limit of {limit}")]
    TooManySamples {
        /// Samples in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Other writers kept changing the host's state; the metric is stored but was not
    /// scored. Retrying the same request is safe (it is idempotent) and scores it.
    #[error("state of host `{hostname}` kept changing: gave up after {attempts} attempts")]
    Contention {
        /// The host.
        hostname: String,
        /// Compare-and-swap attempts made.
        attempts: u32,
    },
    /// No record has this id.
    #[error("no {what} {id:?}")]
    NotFound {
        /// What was looked for (`incident`).
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A model failed to score the sample.
    #[error("{source_name} model failed: {reason}")]
    Scoring {
        /// Which model.
        source_name: ModelSource,
        /// Its message.
        reason: String,
    },
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ServiceError {
    /// A 400 from a core error, naming its field (`default_field` when it names none).
    /// `reason` leaves the field out (this variant's `Display` prefixes it), so the message
    /// names the field once.
    pub fn invalid(e: iops_core::Error, default_field: &str) -> Self {
        let field = e.field().unwrap_or(default_field).to_owned();
        let reason = match e {
            iops_core::Error::InvalidField { reason, .. } => reason,
            iops_core::Error::NonFinite { value, .. } => format!("must be finite, got {value}"),
            other => other.to_string(),
        };
        ServiceError::Invalid { field, reason }
    }

    /// The HTTP status this error answers with: 400 invalid input, 404 no such record, 413
    /// body too large,
    /// 503 a transient condition worth retrying (contention, a busy or throttled store),
    /// 500 anything else.
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Invalid { .. } => 400,
            ServiceError::NotFound { .. } => 404,
            ServiceError::TooLarge { .. }
            | ServiceError::TooLargeUnread { .. }
            | ServiceError::TooManySamples { .. } => 413,
            ServiceError::Contention { .. } => 503,
            ServiceError::Store(e) if e.is_retryable() => 503,
            ServiceError::Store(_) | ServiceError::Scoring { .. } => 500,
        }
    }

    /// The field a 400 is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            ServiceError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// True when the client may retry the same request.
    pub fn is_retryable(&self) -> bool {
        self.status() == 503
    }

    /// The response body: `{"error":"...","field":"..."}` for a 4xx (the message names
    /// what is wrong), `{"error":"..."}` with a generic message for a 5xx (internal details
    /// belong in the log: write this error's `Display` there).
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: &self.public_message(),
            field: self.field(),
        })
        .unwrap_or_else(|_| r#"{"error":"internal error"}"#.to_owned())
    }

    /// The message a client is told: this error's `Display` for a 4xx, a generic one for a
    /// 5xx.
    pub fn public_message(&self) -> String {
        match self.status() {
            500 => "internal error".to_owned(),
            503 => "service busy, retry the request".to_owned(),
            _ => self.to_string(),
        }
    }
}
