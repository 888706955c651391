//! The writer thread: owns the one write connection and runs jobs in arrival order,
//! grouping the writes that queue up while a commit is in flight into one transaction
//! (group commit: one fsync for many acknowledged writes). Each write runs inside its own
//! savepoint, so a failing write rolls back alone and the others still commit. A caller is
//! answered only after the transaction holding its write has committed.

use std::sync::mpsc::Receiver;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// A job for the writer thread.
pub(super) enum Job {
    /// A write, run inside the current group-commit transaction.
    Write(Box<dyn WriteJob>),
    /// A read, run outside any transaction (after committing the writes before it).
    Read(Box<dyn FnOnce(&Connection) + Send>),
}

/// A write that reports its outcome once its transaction has ended.
pub(super) trait WriteJob: Send {
    /// Runs the write; false when it failed (its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: `commit` is the outcome of the enclosing transaction.
    fn finish(self: Box<Self>, commit: std::result::Result<(), Failure>);
}

/// Why a transaction did not commit.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    reason: String,
    retryable: bool,
}

impl Failure {
    fn of(e: &rusqlite::Error) -> Self {
        Failure {
            reason: e.to_string(),
            retryable: crate::error::sqlite_retryable(e),
        }
    }
}

/// A write closure and the channel its caller waits on.
pub(super) struct Op<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Op<T, F> {
    pub(super) fn new(f: F, reply: oneshot::Sender<Result<T>>) -> Self {
        Op {
            f: Some(f),
            result: None,
            reply,
        }
    }
}

impl<T, F> WriteJob for Op<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let r = f(conn);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), Failure>) {
        let answer = match (commit, self.result) {
            // a failed write rolled back alone: its own error, whatever the commit did
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(Failure { reason, retryable }), _) => {
                Err(StoreError::CommitFailed { reason, retryable })
            }
            (Ok(()), None) => Err(StoreError::Closed { op: "write" }),
        };
        // the caller may have given up waiting; nothing to do then
        let _ = self.reply.send(answer);
    }
}

/// Runs jobs until every sender is gone. `max_batch` bounds the writes per transaction.
pub(super) fn run(conn: Connection, jobs: Receiver<Job>, max_batch: usize) {
    let mut pending: Vec<Box<dyn WriteJob>> = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(mut w) => {
                    if pending.is_empty() {
                        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                            w.finish(Err(Failure::of(&e)));
                            break;
                        }
                    }
                    let ran = conn.execute_batch("SAVEPOINT job").is_ok() && {
                        let ok = w.run(&conn);
                        let end = if ok {
                            "RELEASE job"
                        } else {
                            "ROLLBACK TO job; RELEASE job"
                        };
                        conn.execute_batch(end).is_ok()
                    };
                    pending.push(w);
                    if !ran {
                        // the transaction is in an unknown state: end it now, all or nothing
                        commit(&conn, &mut pending);
                    }
                }
                Job::Read(r) => {
                    commit(&conn, &mut pending);
                    r(&conn);
                }
            }
            if pending.len() >= max_batch {
                commit(&conn, &mut pending);
            }
            // empty or disconnected: commit what we have, then wait (or stop)
            next = jobs.try_recv().ok();
        }
        commit(&conn, &mut pending);
    }
}

/// Commits the open transaction (if any writes are pending) and answers their callers.
fn commit(conn: &Connection, pending: &mut Vec<Box<dyn WriteJob>>) {
    if pending.is_empty() {
        return;
    }
    let outcome = conn.execute_batch("COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        Failure::of(&e)
    });
    for w in pending.drain(..) {
        w.finish(outcome.clone());
    }
}
