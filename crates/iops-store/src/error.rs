//! The one error type of iops-store. Every variant says which operation or record failed.

use thiserror::Error;

/// Errors raised by a store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-swap on a host's state lost: another writer saved a newer version
    /// first. Reload the state, redo the step, and save again.
    #[error("state of host `{hostname}` changed: expected version {expected}, found {found}")]
    Conflict {
        /// The host whose state was being saved.
        hostname: String,
        /// The version the caller loaded (0: no state yet).
        expected: u64,
        /// The version the store holds now (0: none).
        found: u64,
    },
    /// The database engine failed an operation.
    #[error("sqlite: {op}: {source}")]
    Sqlite {
        /// What was being done (`open`, `put_metric`, `load_state`, ...).
        op: &'static str,
        /// The engine's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored record cannot be read back (edited or corrupted database).
    #[error("corrupt {what} record: {reason}")]
    Corrupt {
        /// Which record kind (`metric`, `insight`, `state`).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The database was written by a newer schema than this build reads.
    #[error("database schema version {found} is newer than the supported {supported}")]
    SchemaVersion {
        /// `user_version` found in the file.
        found: i64,
        /// Newest version this build reads.
        supported: i64,
    },
    /// The store's write queue is full: more is asked of it than the disk takes. Nothing of
    /// this request was queued; retry it later.
    #[error("store is busy: {queued} writes already queued ({op})")]
    Busy {
        /// The operation that was not queued.
        op: &'static str,
        /// The queue's bound.
        queued: usize,
    },
    /// The store's worker has stopped (the store was closed or its thread failed).
    #[error("store is closed ({op})")]
    Closed {
        /// The operation that could not run.
        op: &'static str,
    },
    /// A group-commit transaction failed; every write in it was rolled back.
    #[error("commit failed, nothing of this write was stored: {reason}")]
    CommitFailed {
        /// The engine's message.
        reason: String,
        /// True when a later retry may pass (the disk was full, the database busy).
        retryable: bool,
    },
    /// A DynamoDB request failed (after the SDK's own retries, for throttling and transient
    /// errors). Present whether or not the `dynamodb` feature is on, so matches on this enum
    /// do not depend on features.
    #[error("dynamodb: {op}: {message}")]
    Dynamo {
        /// What was being done (`put_metric`, `save_state`, ...).
        op: &'static str,
        /// DynamoDB's error code (`ProvisionedThroughputExceededException`, ...), when it
        /// answered one.
        code: Option<String>,
        /// The SDK's description, with its causes.
        message: String,
        /// True for throttling, server-side and network errors: the same request may pass later.
        retryable: bool,
    },
    /// An argument is out of the range the store accepts.
    #[error("invalid `{name}`: {reason}")]
    InvalidArgument {
        /// The parameter name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// True for errors a caller may cure by retrying the same request later (a lost
    /// compare-and-swap, a busy or locked database, a full disk, DynamoDB throttling or a
    /// network error).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } => true,
            StoreError::Sqlite { source, .. } => sqlite_retryable(source),
            StoreError::Dynamo { retryable, .. } | StoreError::CommitFailed { retryable, .. } => {
                *retryable
            }
            StoreError::Busy { .. } => true,
            StoreError::Corrupt { .. }
            | StoreError::SchemaVersion { .. }
            | StoreError::Closed { .. }
            | StoreError::InvalidArgument { .. } => false,
        }
    }

    pub(crate) fn sqlite(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sqlite { op, source }
    }
}

/// True for SQLite errors a later retry may cure: a busy or locked database, a full disk
/// (the write was rolled back; it passes once space returns).
pub(crate) fn sqlite_retryable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::DiskFull
        )
    )
}

/// Result alias for iops-store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
