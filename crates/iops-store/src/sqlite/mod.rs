//! The embedded store: one SQLite file in WAL mode (or an in-memory database for tests).
//!
//! Writes go to one writer thread that owns the write connection and commits the writes
//! waiting for it together (see `worker`), so throughput grows with concurrency while each
//! caller is still answered only once its write is durable. Reads of a file database run on
//! tokio's blocking pool over a small pool of read connections (WAL: readers never wait for
//! the writer); an in-memory database has one connection, so its reads queue on the writer
//! thread. No call blocks the async runtime.

mod schema;
mod worker;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use iops_core::{
    Incident, Insight, Label, MetricSample, Notification, QuietKind, QuietWindow, Timestamp,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::oneshot;

use crate::{
    ids, incident_revision, HostEntry, IncidentQuery, IncidentStore, InsightStore, LabelStore,
    MetricStore, ModelSource, OutboxEntry, OutboxStore, PutMetric, PutScored, QuietStore, Result,
    StateStore, StateUpdate, Store, StoreError, StoredInsight, StoredMetric, StoredState,
};
use schema::{join, limit, split, to_i64};
use worker::{Job, Op};

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL on every commit: an acknowledged write survives power loss.
    #[default]
    Full,
    /// fsync only at checkpoints: an acknowledged write survives a crash of the process
    /// (SIGKILL) but may be lost on power loss. Faster.
    Normal,
}

/// Options for [`SqliteStore::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Most writes grouped into one transaction (group commit); at least 1.
    pub max_batch: usize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// Idle read connections kept open.
    pub max_idle_readers: usize,
    /// A file database: checkpoint the WAL into the database from a thread of its own this
    /// often, so a commit only appends to the WAL (SQLite's automatic checkpoint runs inside
    /// the commit that crosses 1,000 WAL pages, and that commit's callers wait for its
    /// database writes and fsyncs). `None`: SQLite's automatic checkpoints.
    pub checkpoint_every: Option<Duration>,
    /// Jobs waiting for the writer at most; one more is refused ([`StoreError::Busy`],
    /// retryable) instead of growing the queue: under more load than the disk takes, callers
    /// are told to come back rather than held in memory.
    pub max_queued: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            max_batch: 1024,
            busy_timeout: Duration::from_secs(5),
            max_idle_readers: 4,
            checkpoint_every: Some(Duration::from_millis(100)),
            max_queued: 10_000,
        }
    }
}

/// The SQLite backend of every store trait. Share it behind an `Arc`; dropping the last
/// handle stops the writer thread after it has committed what it was given.
pub struct SqliteStore {
    jobs: Option<SyncSender<Job>>,
    /// The queue's bound (for [`StoreError::Busy`]).
    max_queued: usize,
    writer: Option<JoinHandle<()>>,
    readers: Option<Arc<ReaderPool>>,
    path: Option<PathBuf>,
    /// The checkpoint thread and the channel whose closing stops it.
    checkpoints: Option<(Sender<()>, JoinHandle<()>)>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database file at `path`: WAL mode, the schema created or checked.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(StoreError::sqlite("open"))?;
        configure(&conn, &options)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(StoreError::sqlite("enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::InvalidArgument {
                name: "path",
                reason: format!("{} cannot use WAL (journal mode {mode})", path.display()),
            });
        }
        schema::migrate(&conn)?;
        let checkpoints = match options.checkpoint_every {
            Some(every) => {
                let checkpointer = Connection::open(&path).map_err(StoreError::sqlite("open"))?;
                configure(&checkpointer, &options)?;
                conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
                    .map_err(StoreError::sqlite("disable automatic checkpoints"))?;
                let (stop, stopped) = mpsc::channel();
                let thread = std::thread::Builder::new()
                    .name("iops-sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(&checkpointer, &stopped, every))
                    .map_err(|e| StoreError::InvalidArgument {
                        name: "checkpoint thread",
                        reason: format!("cannot start: {e}"),
                    })?;
                Some((stop, thread))
            }
            None => None,
        };
        let readers = Arc::new(ReaderPool {
            path: path.clone(),
            busy_timeout: options.busy_timeout,
            max_idle: options.max_idle_readers,
            idle: Mutex::new(Vec::new()),
        });
        let mut store = Self::start(conn, &options, Some(readers), Some(path))?;
        store.checkpoints = checkpoints;
        Ok(store)
    }

    /// A private in-memory database (for tests): gone when the store is dropped.
    pub fn open_in_memory() -> Result<Self> {
        let options = SqliteOptions::default();
        let conn = Connection::open_in_memory().map_err(StoreError::sqlite("open"))?;
        configure(&conn, &options)?;
        schema::migrate(&conn)?;
        Self::start(conn, &options, None, None)
    }

    /// The database file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn start(
        conn: Connection,
        options: &SqliteOptions,
        readers: Option<Arc<ReaderPool>>,
        path: Option<PathBuf>,
    ) -> Result<Self> {
        let max_queued = options.max_queued.max(1);
        let (tx, rx) = mpsc::sync_channel(max_queued);
        let max_batch = options.max_batch.max(1);
        let writer = std::thread::Builder::new()
            .name("iops-sqlite-writer".into())
            .spawn(move || worker::run(conn, rx, max_batch))
            .map_err(|e| StoreError::InvalidArgument {
                name: "writer thread",
                reason: format!("cannot start: {e}"),
            })?;
        Ok(SqliteStore {
            jobs: Some(tx),
            max_queued,
            writer: Some(writer),
            readers,
            path,
            checkpoints: None,
        })
    }

    /// Runs `f` in the writer's current group-commit transaction; answers once committed.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(op, Job::Write(Box::new(Op::new(f, reply))))?;
        answer.await.map_err(|_| StoreError::Closed { op })?
    }

    /// Runs `f` on a read connection, off the async runtime.
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if let (Some(pool), Ok(rt)) = (&self.readers, tokio::runtime::Handle::try_current()) {
            let pool = Arc::clone(pool);
            return rt
                .spawn_blocking(move || {
                    let conn = pool.take()?;
                    let r = f(&conn);
                    pool.give_back(conn);
                    r
                })
                .await
                .map_err(|_| StoreError::Closed { op })?;
        }
        let (reply, answer) = oneshot::channel();
        self.send(
            op,
            Job::Read(Box::new(move |conn: &Connection| {
                let _ = reply.send(f(conn));
            })),
        )?;
        answer.await.map_err(|_| StoreError::Closed { op })?
    }

    fn send(&self, op: &'static str, job: Job) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed { op })?;
        jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Busy {
                op,
                queued: self.max_queued,
            },
            TrySendError::Disconnected(_) => StoreError::Closed { op },
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // closing the channel lets the writer finish its queue, commit and exit
        drop(self.jobs.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        if let Some((stop, thread)) = self.checkpoints.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

/// WAL frames past which the checkpoint thread restarts the WAL (4 KiB pages: 16 MiB).
const WAL_RESTART_FRAMES: i64 = 4096;

/// Checkpoints the WAL every `every` until `stop`'s sender is dropped. PASSIVE copies the
/// committed pages into the database without waiting for, or blocking, the writer; but a
/// writer that keeps committing never lets the WAL start over, so once it holds
/// [`WAL_RESTART_FRAMES`] a RESTART checkpoint (which holds the writer back while it copies
/// what the PASSIVE one left, a short stall) makes the next commit write from its start.
fn checkpoint_loop(conn: &Connection, stop: &mpsc::Receiver<()>, every: Duration) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let frames = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
            .unwrap_or(0);
        if frames >= WAL_RESTART_FRAMES {
            let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        }
    }
}

fn configure(conn: &Connection, options: &SqliteOptions) -> Result<()> {
    conn.busy_timeout(options.busy_timeout)
        .map_err(StoreError::sqlite("set busy timeout"))?;
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!("PRAGMA synchronous = {sync};"))
        .map_err(StoreError::sqlite("set synchronous"))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Read-only connections to a database file, reused between reads.
#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    busy_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn take(&self) -> Result<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::sqlite("open reader"))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(StoreError::sqlite("set busy timeout"))?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }
}

const INSERT_METRIC: &str = "INSERT INTO metrics
    (hostname, ts_s, ts_ns, metric_id, cpu_usage, memory_usage, disk_io, network_io)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";

fn insert_metric(conn: &Connection, sample: &MetricSample) -> Result<PutMetric> {
    let metric_id = ids::metric_id(&sample.hostname, sample.timestamp);
    let (s, ns) = split(sample.timestamp);
    let changed = conn
        .prepare_cached(INSERT_METRIC)
        .and_then(|mut st| {
            st.execute(params![
                sample.hostname,
                s,
                ns,
                metric_id,
                sample.cpu_usage,
                sample.memory_usage,
                sample.disk_io,
                sample.network_io
            ])
        })
        .map_err(StoreError::sqlite("put_metric"))?;
    Ok(PutMetric {
        metric_id,
        inserted: changed == 1,
    })
}

const INSERT_INSIGHT: &str = "INSERT INTO insights
    (hostname, insight_id, ts_s, ts_ns, type, severity, model_source, model_version, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING";

fn insert_insights(conn: &Connection, insights: &[StoredInsight]) -> Result<()> {
    let mut st = conn
        .prepare_cached(INSERT_INSIGHT)
        .map_err(StoreError::sqlite("put_insights"))?;
    for i in insights {
        let body = serde_json::to_string(&i.insight).map_err(|e| StoreError::InvalidArgument {
            name: "insight",
            reason: e.to_string(),
        })?;
        let (s, ns) = split(i.insight.timestamp);
        st.execute(params![
            i.insight.hostname,
            i.insight_id,
            s,
            ns,
            i.insight.kind.as_str(),
            i.insight.severity.as_str(),
            i.model_source.as_str(),
            i.model_version,
            body
        ])
        .map_err(StoreError::sqlite("put_insights"))?;
    }
    Ok(())
}

const UPSERT_INCIDENT: &str = "INSERT INTO incidents
    (incident_id, hostname, status, updated_s, updated_ns, revision, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (incident_id) DO UPDATE SET
        hostname = excluded.hostname, status = excluded.status, updated_s = excluded.updated_s,
        updated_ns = excluded.updated_ns, revision = excluded.revision, body = excluded.body
    WHERE excluded.revision > incidents.revision";

fn upsert_incidents(conn: &Connection, incidents: &[Incident]) -> Result<()> {
    let mut st = conn
        .prepare_cached(UPSERT_INCIDENT)
        .map_err(StoreError::sqlite("put_incidents"))?;
    for i in incidents {
        let body = serde_json::to_string(i).map_err(|e| StoreError::InvalidArgument {
            name: "incident",
            reason: e.to_string(),
        })?;
        let (s, ns) = split(i.updated);
        st.execute(params![
            i.incident_id,
            i.hostname,
            i.status.as_str(),
            s,
            ns,
            incident_revision(i),
            body
        ])
        .map_err(StoreError::sqlite("put_incidents"))?;
    }
    Ok(())
}

fn incident_from_body(body: &str) -> Result<Incident> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: "incident",
        reason: e.to_string(),
    })
}

#[async_trait]
impl LabelStore for SqliteStore {
    async fn put_label(&self, label: &Label) -> Result<()> {
        let body = serde_json::to_string(label).map_err(|e| StoreError::InvalidArgument {
            name: "label",
            reason: e.to_string(),
        })?;
        let id = label.incident_id.clone();
        self.write("put_label", move |conn| {
            conn.prepare_cached("INSERT OR REPLACE INTO labels (incident_id, body) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![id, body]))
                .map(drop)
                .map_err(StoreError::sqlite("put_label"))
        })
        .await
    }

    async fn list_labels(&self, max: usize) -> Result<Vec<Label>> {
        self.read("list_labels", move |conn| {
            let mut st = conn
                .prepare_cached("SELECT body FROM labels ORDER BY incident_id LIMIT ?1")
                .map_err(StoreError::sqlite("list_labels"))?;
            let rows = st
                .query_map(params![limit(max)], |r| r.get::<_, String>(0))
                .map_err(StoreError::sqlite("list_labels"))?;
            let mut out = Vec::new();
            for row in rows {
                let body = row.map_err(StoreError::sqlite("list_labels"))?;
                out.push(
                    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                        what: "label",
                        reason: e.to_string(),
                    })?,
                );
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl QuietStore for SqliteStore {
    async fn put_quiet(&self, window: &QuietWindow) -> Result<()> {
        let body = serde_json::to_string(window).map_err(|e| StoreError::InvalidArgument {
            name: "window",
            reason: e.to_string(),
        })?;
        let (id, kind) = (window.window_id.clone(), window.kind.as_str());
        let (s, ns) = split(window.end);
        self.write("put_quiet", move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO quiet_windows (window_id, kind, end_s, end_ns, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![id, kind, s, ns, body]))
            .map(drop)
            .map_err(StoreError::sqlite("put_quiet"))
        })
        .await
    }

    async fn list_quiet(
        &self,
        kind: QuietKind,
        ending_after: Timestamp,
        max: usize,
    ) -> Result<Vec<QuietWindow>> {
        let (s, ns) = split(ending_after);
        self.read("list_quiet", move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT body FROM quiet_windows
                     WHERE kind = ?1 AND (end_s, end_ns) > (?2, ?3)
                     ORDER BY window_id LIMIT ?4",
                )
                .map_err(StoreError::sqlite("list_quiet"))?;
            let rows = st
                .query_map(params![kind.as_str(), s, ns, limit(max)], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(StoreError::sqlite("list_quiet"))?;
            let mut out = Vec::new();
            for row in rows {
                let body = row.map_err(StoreError::sqlite("list_quiet"))?;
                out.push(
                    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                        what: "quiet window",
                        reason: e.to_string(),
                    })?,
                );
            }
            Ok(out)
        })
        .await
    }

    async fn delete_quiet(&self, kind: QuietKind, window_id: &str) -> Result<bool> {
        let id = window_id.to_owned();
        self.write("delete_quiet", move |conn| {
            conn.prepare_cached("DELETE FROM quiet_windows WHERE window_id = ?1 AND kind = ?2")
                .and_then(|mut st| st.execute(params![id, kind.as_str()]))
                .map(|deleted| deleted > 0)
                .map_err(StoreError::sqlite("delete_quiet"))
        })
        .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn put_outbox(&self, created: Timestamp, notification: &Notification) -> Result<()> {
        let key = notification.idempotency_key.clone();
        let body =
            serde_json::to_string(notification).map_err(|e| StoreError::InvalidArgument {
                name: "notification",
                reason: e.to_string(),
            })?;
        let (s, ns) = split(created);
        self.write("put_outbox", move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO outbox (idempotency_key, created_s, created_ns, body)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![key, s, ns, body]))
            .map(drop)
            .map_err(StoreError::sqlite("put_outbox"))
        })
        .await
    }

    async fn list_outbox(&self, created_before: Timestamp, max: usize) -> Result<Vec<OutboxEntry>> {
        let (s, ns) = split(created_before);
        self.read("list_outbox", move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT created_s, created_ns, body FROM outbox
                     WHERE (created_s, created_ns) < (?1, ?2)
                     ORDER BY created_s, created_ns, idempotency_key LIMIT ?3",
                )
                .map_err(StoreError::sqlite("list_outbox"))?;
            let rows = st
                .query_map(params![s, ns, limit(max)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(StoreError::sqlite("list_outbox"))?;
            let mut out = Vec::new();
            for row in rows {
                let (s, ns, body) = row.map_err(StoreError::sqlite("list_outbox"))?;
                out.push(OutboxEntry {
                    created: join("outbox", s, ns)?,
                    notification: serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                        what: "outbox",
                        reason: e.to_string(),
                    })?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_outbox(&self, idempotency_key: &str) -> Result<()> {
        let key = idempotency_key.to_owned();
        self.write("delete_outbox", move |conn| {
            conn.prepare_cached("DELETE FROM outbox WHERE idempotency_key = ?1")
                .and_then(|mut st| st.execute(params![key]))
                .map(drop)
                .map_err(StoreError::sqlite("delete_outbox"))
        })
        .await
    }
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn put_incidents(&self, incidents: &[Incident]) -> Result<()> {
        let incidents = incidents.to_vec();
        self.write("put_incidents", move |conn| {
            upsert_incidents(conn, &incidents)
        })
        .await
    }

    async fn get_incident(&self, incident_id: &str) -> Result<Option<Incident>> {
        let id = incident_id.to_owned();
        self.read("get_incident", move |conn| {
            conn.prepare_cached("SELECT body FROM incidents WHERE incident_id = ?1")
                .and_then(|mut st| {
                    st.query_row(params![id], |r| r.get::<_, String>(0))
                        .optional()
                })
                .map_err(StoreError::sqlite("get_incident"))?
                .map(|body| incident_from_body(&body))
                .transpose()
        })
        .await
    }

    async fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>> {
        let q = query.clone();
        self.read("list_incidents", move |conn| {
            let (s, ns) = q.since.map_or((None, None), |t| {
                let (s, ns) = split(t);
                (Some(s), Some(ns))
            });
            let mut st = conn
                .prepare_cached(
                    "SELECT body FROM incidents
                     WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR hostname = ?2)
                       AND (?3 IS NULL OR (updated_s, updated_ns) >= (?3, ?4))
                     ORDER BY incident_id DESC LIMIT ?5",
                )
                .map_err(StoreError::sqlite("list_incidents"))?;
            let status = q.status.map(|s| s.as_str());
            let rows = st
                .query_map(params![status, q.hostname, s, ns, limit(q.limit)], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(StoreError::sqlite("list_incidents"))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(incident_from_body(
                    &row.map_err(StoreError::sqlite("list_incidents"))?,
                )?);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl MetricStore for SqliteStore {
    async fn put_metric(&self, sample: &MetricSample) -> Result<PutMetric> {
        let sample = sample.clone();
        self.write("put_metric", move |conn| insert_metric(conn, &sample))
            .await
    }

    async fn put_metrics_batch(&self, samples: &[MetricSample]) -> Result<Vec<PutMetric>> {
        let samples = samples.to_vec();
        self.write("put_metrics_batch", move |conn| {
            samples.iter().map(|s| insert_metric(conn, s)).collect()
        })
        .await
    }

    async fn list_metrics(
        &self,
        hostname: &str,
        since: Timestamp,
        max: usize,
    ) -> Result<Vec<StoredMetric>> {
        let hostname = hostname.to_owned();
        self.read("list_metrics", move |conn| {
            let (s, ns) = split(since);
            let mut st = conn
                .prepare_cached(
                    "SELECT metric_id, ts_s, ts_ns, cpu_usage, memory_usage, disk_io, network_io
                     FROM metrics WHERE hostname = ?1 AND (ts_s, ts_ns) >= (?2, ?3)
                     ORDER BY ts_s, ts_ns LIMIT ?4",
                )
                .map_err(StoreError::sqlite("list_metrics"))?;
            let rows = st
                .query_map(params![hostname, s, ns, limit(max)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                    ))
                })
                .map_err(StoreError::sqlite("list_metrics"))?;
            let mut out = Vec::new();
            for row in rows {
                let (metric_id, s, ns, [cpu, mem, disk, net]) =
                    row.map_err(StoreError::sqlite("list_metrics"))?;
                out.push(StoredMetric {
                    metric_id,
                    sample: MetricSample {
                        timestamp: join("metric", s, ns)?,
                        hostname: hostname.clone(),
                        cpu_usage: cpu,
                        memory_usage: mem,
                        disk_io: disk,
                        network_io: net,
                    },
                });
            }
            Ok(out)
        })
        .await
    }

    async fn count_metrics(&self, hostname: &str, since: Timestamp) -> Result<u64> {
        let hostname = hostname.to_owned();
        self.read("count_metrics", move |conn| {
            let (s, ns) = split(since);
            let n: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM metrics
                     WHERE hostname = ?1 AND (ts_s, ts_ns) >= (?2, ?3)",
                )
                .and_then(|mut st| st.query_row(params![hostname, s, ns], |r| r.get(0)))
                .map_err(StoreError::sqlite("count_metrics"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn list_hosts(&self) -> Result<Vec<HostEntry>> {
        self.read("list_hosts", |conn| {
            let mut next_host = conn
                .prepare_cached(
                    "SELECT hostname FROM metrics WHERE hostname > ?1 ORDER BY hostname LIMIT 1",
                )
                .map_err(StoreError::sqlite("list_hosts"))?;
            let mut newest = conn
                .prepare_cached(
                    "SELECT ts_s, ts_ns FROM metrics WHERE hostname = ?1
                     ORDER BY ts_s DESC, ts_ns DESC LIMIT 1",
                )
                .map_err(StoreError::sqlite("list_hosts"))?;
            let mut out = Vec::new();
            let mut after = String::new();
            // one seek per host in the (hostname, ts) key, not a scan of every sample
            while let Some(hostname) = next_host
                .query_row(params![after], |r| r.get::<_, String>(0))
                .optional()
                .map_err(StoreError::sqlite("list_hosts"))?
            {
                let (s, ns) = newest
                    .query_row(params![hostname], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(StoreError::sqlite("list_hosts"))?;
                out.push(HostEntry {
                    last_timestamp: join("metric", s, ns)?,
                    hostname: hostname.clone(),
                    last_received: None,
                });
                after = hostname;
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl InsightStore for SqliteStore {
    async fn put_insights(&self, insights: &[StoredInsight]) -> Result<()> {
        let insights = insights.to_vec();
        self.write("put_insights", move |conn| insert_insights(conn, &insights))
            .await
    }

    async fn list_insights(
        &self,
        hostname: &str,
        since: Timestamp,
        max: usize,
    ) -> Result<Vec<StoredInsight>> {
        let hostname = hostname.to_owned();
        self.read("list_insights", move |conn| {
            let (s, ns) = split(since);
            let mut st = conn
                .prepare_cached(
                    "SELECT insight_id, model_source, model_version, body FROM insights
                     WHERE hostname = ?1 AND insight_id >= ?2 AND (ts_s, ts_ns) >= (?3, ?4)
                     ORDER BY insight_id LIMIT ?5",
                )
                .map_err(StoreError::sqlite("list_insights"))?;
            let bound = ids::insight_id_lower_bound(since);
            let rows = st
                .query_map(params![hostname, bound, s, ns, limit(max)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(StoreError::sqlite("list_insights"))?;
            let mut out = Vec::new();
            for row in rows {
                let (insight_id, source, model_version, body) =
                    row.map_err(StoreError::sqlite("list_insights"))?;
                let corrupt = |reason: String| StoreError::Corrupt {
                    what: "insight",
                    reason: format!("{insight_id}: {reason}"),
                };
                let model_source = source
                    .parse::<ModelSource>()
                    .map_err(|e| corrupt(e.to_string()))?;
                let insight: Insight =
                    serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
                out.push(StoredInsight {
                    insight_id,
                    model_source,
                    model_version,
                    insight,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn load_state(&self, hostname: &str) -> Result<Option<StoredState>> {
        let hostname = hostname.to_owned();
        self.read("load_state", move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT version, last_ts_s, last_ts_ns, state FROM host_state
                     WHERE hostname = ?1",
                )
                .and_then(|mut st| {
                    st.query_row(params![hostname], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Vec<u8>>(3)?,
                        ))
                    })
                    .optional()
                })
                .map_err(StoreError::sqlite("load_state"))?;
            row.map(|(version, s, ns, state)| {
                Ok(StoredState {
                    version: u64::try_from(version).map_err(|_| StoreError::Corrupt {
                        what: "state",
                        reason: format!("negative version {version} for {hostname}"),
                    })?,
                    last_timestamp: join("state", s, ns)?,
                    state,
                })
            })
            .transpose()
        })
        .await
    }

    async fn save_state(&self, update: StateUpdate) -> Result<u64> {
        let expected = to_i64("expected_version", update.expected_version)?;
        self.write("save_state", move |conn| {
            let version = save_state_in(conn, expected, &update)?;
            insert_insights(conn, &update.insights)?;
            upsert_incidents(conn, &update.incidents)?;
            Ok(version)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// One write job: metric, insights, incidents and snapshot commit together (group
    /// commit).
    async fn put_scored(
        &self,
        samples: &[MetricSample],
        insights: &[StoredInsight],
        incidents: &[Incident],
        snapshot: Option<StateUpdate>,
    ) -> Result<PutScored> {
        let samples = samples.to_vec();
        let insights = insights.to_vec();
        let incidents = incidents.to_vec();
        let expected = snapshot
            .as_ref()
            .map(|u| to_i64("expected_version", u.expected_version))
            .transpose()?;
        self.write("put_scored", move |conn| {
            let metrics = samples
                .iter()
                .map(|s| insert_metric(conn, s))
                .collect::<Result<Vec<_>>>()?;
            insert_insights(conn, &insights)?;
            upsert_incidents(conn, &incidents)?;
            let snapshot_version = match (snapshot, expected) {
                (Some(update), Some(expected)) => match save_state_in(conn, expected, &update) {
                    Ok(v) => Some(v),
                    Err(StoreError::Conflict { .. }) => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            };
            Ok(PutScored {
                metrics,
                snapshot_version,
            })
        })
        .await
    }
}

/// Saves `update.state` as version `expected + 1` if the stored version is `expected`
/// (compare-and-swap inside the caller's transaction); its insights are the caller's.
fn save_state_in(conn: &Connection, expected: i64, update: &StateUpdate) -> Result<u64> {
    let found: i64 = conn
        .prepare_cached("SELECT version FROM host_state WHERE hostname = ?1")
        .and_then(|mut st| {
            st.query_row(params![update.hostname], |r| r.get(0))
                .optional()
        })
        .map_err(StoreError::sqlite("save_state"))?
        .unwrap_or(0);
    if found != expected {
        return Err(StoreError::Conflict {
            hostname: update.hostname.clone(),
            expected: update.expected_version,
            found: u64::try_from(found).unwrap_or(0),
        });
    }
    let (s, ns) = split(update.last_timestamp);
    let version = expected + 1;
    conn.prepare_cached(
        "INSERT INTO host_state (hostname, version, last_ts_s, last_ts_ns, state)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (hostname) DO UPDATE SET version = excluded.version,
           last_ts_s = excluded.last_ts_s, last_ts_ns = excluded.last_ts_ns,
           state = excluded.state",
    )
    .and_then(|mut st| st.execute(params![update.hostname, version, s, ns, update.state]))
    .map_err(StoreError::sqlite("save_state"))?;
    Ok(version.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use super::*;

    #[tokio::test]
    async fn a_full_write_queue_refuses_instead_of_growing() {
        let options = SqliteOptions {
            max_queued: 2,
            ..SqliteOptions::default()
        };
        let conn = Connection::open_in_memory().unwrap();
        configure(&conn, &options).unwrap();
        schema::migrate(&conn).unwrap();
        let store = Arc::new(SqliteStore::start(conn, &options, None, None).unwrap());
        // the writer held by a job until released; then two more fill the queue
        let (release, held) = std_mpsc::channel::<()>();
        let (started, running) = std_mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let store = Arc::clone(&store);
            async move {
                store
                    .write("hold", move |_| {
                        started.send(()).unwrap();
                        held.recv().unwrap();
                        Ok(())
                    })
                    .await
            }
        });
        // (the test's runtime has one thread: spawned tasks run when this one yields)
        while running.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.write("queued", |_| Ok(())).await })
            })
            .collect();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let refused = store.write("one more", |_| Ok(())).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::Busy { queued: 2, .. }),
            "{refused}"
        );
        assert!(refused.is_retryable());
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for q in queued {
            q.await.unwrap().unwrap();
        }
        // room again
        store.write("after", |_| Ok(())).await.unwrap();
    }
}
