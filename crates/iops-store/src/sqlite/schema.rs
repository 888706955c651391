//! The SQLite schema, created on open, and the conversions between rows and records.
//!
//! Timestamps are stored exactly as two integers, whole seconds since the Unix epoch
//! (floor) and nanoseconds within that second, so every timestamp iops accepts (years
//! 0000-9999, nanosecond precision) is its own key. Row values `(ts_s, ts_ns) >= (?, ?)`
//! compare them in order.

use iops_core::Timestamp;
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::{Result, StoreError};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 4;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS metrics (
    hostname     TEXT    NOT NULL,
    ts_s         INTEGER NOT NULL,
    ts_ns        INTEGER NOT NULL,
    metric_id    TEXT    NOT NULL,
    cpu_usage    REAL    NOT NULL,
    memory_usage REAL    NOT NULL,
    disk_io      REAL    NOT NULL,
    network_io   REAL    NOT NULL,
    PRIMARY KEY (hostname, ts_s, ts_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS insights (
    hostname      TEXT    NOT NULL,
    insight_id    TEXT    NOT NULL,
    ts_s          INTEGER NOT NULL,
    ts_ns         INTEGER NOT NULL,
    type          TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    model_source  TEXT    NOT NULL,
    model_version TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    PRIMARY KEY (hostname, insight_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS host_state (
    hostname   TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL,
    last_ts_s  INTEGER NOT NULL,
    last_ts_ns INTEGER NOT NULL,
    state      BLOB    NOT NULL
) WITHOUT ROWID;
";

/// Version 2: incidents, by id (time-sortable) with the status and host indexes the
/// list queries use; `revision` orders an incident's versions ([`crate::incident_revision`]).
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT    NOT NULL PRIMARY KEY,
    hostname    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    updated_s   INTEGER NOT NULL,
    updated_ns  INTEGER NOT NULL,
    revision    TEXT    NOT NULL,
    body        TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incidents_by_status ON incidents (status, incident_id);
CREATE INDEX IF NOT EXISTS incidents_by_host ON incidents (hostname, incident_id);
";

/// Version 3: the notification outbox, by idempotency key ([`crate::OutboxStore`]).
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT    NOT NULL PRIMARY KEY,
    created_s       INTEGER NOT NULL,
    created_ns      INTEGER NOT NULL,
    body            TEXT    NOT NULL
) WITHOUT ROWID;
";

/// Version 4: maintenance windows and mutes, by id (time-sortable), with their kind and
/// end for the list of the ones not over yet; the operator's labels, one per incident.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS quiet_windows (
    window_id TEXT    NOT NULL PRIMARY KEY,
    kind      TEXT    NOT NULL,
    end_s     INTEGER NOT NULL,
    end_ns    INTEGER NOT NULL,
    body      TEXT    NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (
    incident_id TEXT NOT NULL PRIMARY KEY,
    body        TEXT NOT NULL
) WITHOUT ROWID;
";

/// Creates the schema in a new database, upgrades an older one (version 1 gains the
/// incidents table, version 2 the outbox, version 3 the quiet windows and labels), or checks an existing one's version.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StoreError::sqlite("read schema version"))?;
    match found {
        0 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA_V1} {SCHEMA_V2} {SCHEMA_V3} {SCHEMA_V4} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(StoreError::sqlite("create schema")),
        1 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA_V2} {SCHEMA_V3} {SCHEMA_V4} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(StoreError::sqlite("upgrade schema 1 to 4")),
        2 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA_V3} {SCHEMA_V4} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(StoreError::sqlite("upgrade schema 2 to 4")),
        3 => conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA_V4} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(StoreError::sqlite("upgrade schema 3 to 4")),
        SCHEMA_VERSION => Ok(()),
        _ => Err(StoreError::SchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}

/// `(whole seconds, nanoseconds)` of a timestamp.
pub(super) fn split(t: Timestamp) -> (i64, i64) {
    let n = t.epoch_nanos();
    // years 0000-9999 are about ±2.5e11 s: always within i64
    let s = i64::try_from(n.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let ns = i64::try_from(n.rem_euclid(1_000_000_000)).unwrap_or(0);
    (s, ns)
}

/// The timestamp of `(whole seconds, nanoseconds)` read from a row.
pub(super) fn join(what: &'static str, s: i64, ns: i64) -> Result<Timestamp> {
    let nanos = i128::from(s) * 1_000_000_000 + i128::from(ns);
    if !(0..1_000_000_000).contains(&ns) {
        return Err(StoreError::Corrupt {
            what,
            reason: format!("timestamp nanoseconds {ns} out of range"),
        });
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(Timestamp::from)
        .map_err(|e| StoreError::Corrupt {
            what,
            reason: format!("timestamp {s}.{ns:09} out of range: {e}"),
        })
}

/// A u64 count or version as SQLite's i64.
pub(super) fn to_i64(name: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::InvalidArgument {
        name,
        reason: format!("{v} exceeds {}", i64::MAX),
    })
}

/// A limit as SQLite's i64 (saturating: no store holds more than i64::MAX rows).
pub(super) fn limit(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
