//! The store traits. Async (via `async-trait`) so the DynamoDB backend and the Lambda /
//! axum adapters share them; object-safe, so an adapter can hold an `Arc<dyn Store>` and
//! pick its backend at run time (one boxed future per call: tens of nanoseconds against a
//! disk write or a network round trip).

use std::fmt::Debug;

use async_trait::async_trait;
use iops_core::{Incident, Label, MetricSample, Notification, QuietKind, QuietWindow, Timestamp};

use crate::{
    HostEntry, IncidentQuery, OutboxEntry, PutMetric, PutScored, Result, StateUpdate, StoreError,
    StoredInsight, StoredMetric, StoredState,
};

/// Metric samples keyed by hostname and timestamp.
#[async_trait]
pub trait MetricStore: Send + Sync + Debug {
    /// Stores a sample once per hostname + timestamp. A second put of the same key (with
    /// the same or other values) changes nothing and returns the same `metric_id` with
    /// `inserted: false`: the first write wins.
    async fn put_metric(&self, sample: &MetricSample) -> Result<PutMetric>;

    /// [`MetricStore::put_metric`] for many samples, in order; backends that can write them
    /// in one round trip or transaction do (group commit).
    async fn put_metrics_batch(&self, samples: &[MetricSample]) -> Result<Vec<PutMetric>> {
        let mut out = Vec::with_capacity(samples.len());
        for s in samples {
            out.push(self.put_metric(s).await?);
        }
        Ok(out)
    }

    /// Samples of `hostname` with `timestamp >= since`, oldest first, at most `limit`.
    async fn list_metrics(
        &self,
        hostname: &str,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredMetric>>;

    /// How many samples of `hostname` have `timestamp >= since`.
    async fn count_metrics(&self, hostname: &str, since: Timestamp) -> Result<u64>;

    /// Every host with stored samples and the time of its newest one, by hostname. SQLite
    /// seeks from one host to the next in the metrics key (a read per host); DynamoDB
    /// queries each shard of the state table's hosts index (newest sample and arrival only).
    async fn list_hosts(&self) -> Result<Vec<HostEntry>>;
}

/// Insights keyed by hostname and time-sortable insight id.
#[async_trait]
pub trait InsightStore: Send + Sync + Debug {
    /// Stores insights; one already stored under the same hostname + insight id is kept
    /// (re-storing is a no-op, so retries cannot duplicate).
    async fn put_insights(&self, insights: &[StoredInsight]) -> Result<()>;

    /// Insights of `hostname` with `timestamp >= since`, oldest first, at most `limit`.
    async fn list_insights(
        &self,
        hostname: &str,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredInsight>>;
}

/// Incidents keyed by their id ([`iops_core::incident_id`]: time-sortable).
#[async_trait]
pub trait IncidentStore: Send + Sync + Debug {
    /// Stores each incident unless the store holds a version of it at least as new
    /// ([`crate::incident_revision`]): retries and late writes cannot roll one back.
    async fn put_incidents(&self, incidents: &[Incident]) -> Result<()>;

    /// The incident with this id, or `None`.
    async fn get_incident(&self, incident_id: &str) -> Result<Option<Incident>>;

    /// The incidents `query` selects, newest opened first.
    async fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>>;
}

/// Notifications written before they are sent and removed once delivered, so one whose
/// sender stopped (a Lambda frozen or recycled, a restarted server) is sent again by the
/// next sweep, from any process.
#[async_trait]
pub trait OutboxStore: Send + Sync + Debug {
    /// Keeps `notification` under its idempotency key, unless that key is kept already
    /// (the first write's `created` stays).
    async fn put_outbox(&self, created: Timestamp, notification: &Notification) -> Result<()>;

    /// The entries created before `created_before`, oldest first, at most `limit`.
    async fn list_outbox(
        &self,
        created_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>>;

    /// Forgets the entry of this key (delivered); a key not kept is not an error.
    async fn delete_outbox(&self, idempotency_key: &str) -> Result<()>;
}

/// Maintenance windows and mutes, by id ([`QuietWindow::window_id`]: sorts by creation).
#[async_trait]
pub trait QuietStore: Send + Sync + Debug {
    /// Stores `window`; a window already stored under its id is kept (the first write wins).
    async fn put_quiet(&self, window: &QuietWindow) -> Result<()>;

    /// The windows of `kind` that end after `ending_after`, oldest created first, at most
    /// `limit`.
    async fn list_quiet(
        &self,
        kind: QuietKind,
        ending_after: Timestamp,
        limit: usize,
    ) -> Result<Vec<QuietWindow>>;

    /// Deletes the window of this id and kind; `false` when there was none.
    async fn delete_quiet(&self, kind: QuietKind, window_id: &str) -> Result<bool>;
}

/// The operator's verdicts on incidents ([`Label`]), one per incident.
#[async_trait]
pub trait LabelStore: Send + Sync + Debug {
    /// Stores `label`, replacing the one of the same incident (the latest verdict counts).
    async fn put_label(&self, label: &Label) -> Result<()>;

    /// Every label, oldest incident first (by id), at most `limit`.
    async fn list_labels(&self, limit: usize) -> Result<Vec<Label>>;
}

/// Per-host detector state with optimistic concurrency: load a version, save against it.
#[async_trait]
pub trait StateStore: Send + Sync + Debug {
    /// The host's state, or `None` for a host never saved.
    async fn load_state(&self, hostname: &str) -> Result<Option<StoredState>>;

    /// Saves `update.state` as version `expected_version + 1` if the stored version is still
    /// `update.expected_version` (0: no state yet), together with `update.insights` and
    /// `update.incidents`;
    /// otherwise [`StoreError::Conflict`](crate::StoreError::Conflict) and nothing is
    /// written. Returns the new version.
    async fn save_state(&self, update: StateUpdate) -> Result<u64>;
}

/// Everything the ingest service needs, in one object, and the writes that span the
/// tables. A backend implements it with `impl Store for X {}` (the defaults compose the
/// other traits' calls) or overrides a method to write in one transaction.
#[async_trait]
pub trait Store:
    MetricStore + InsightStore + IncidentStore + OutboxStore + QuietStore + LabelStore + StateStore
{
    /// The last points of a host's OTLP cumulative counters (opaque JSON of the OTLP
    /// front end), kept where several processes share the store (DynamoDB: each Lambda
    /// instance) so whichever gets the next export turns it into rates. The default keeps
    /// none: a store one process owns (SQLite, `iops serve`) leaves them in its memory.
    async fn load_counters(&self, _hostname: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// True where [`Store::load_counters`] keeps anything (so callers skip the work when not).
    fn keeps_counters(&self) -> bool {
        false
    }

    /// Keeps `counters` as the host's ([`Store::load_counters`]); the default keeps none.
    async fn save_counters(&self, _hostname: &str, _counters: &str) -> Result<()> {
        Ok(())
    }

    /// Stores samples scored against a state kept in memory (one host's, in time order):
    /// the metrics, the insights they raised, the incidents they changed and, if `snapshot`
    /// is given, the host's state (compare-and-swap as [`StateStore::save_state`]; on a
    /// conflict the snapshot alone is skipped). Backends that can write all of it in one
    /// transaction do (SQLite); the default writes the metrics, then the insights, the
    /// incidents, then the snapshot.
    async fn put_scored(
        &self,
        samples: &[MetricSample],
        insights: &[StoredInsight],
        incidents: &[Incident],
        snapshot: Option<StateUpdate>,
    ) -> Result<PutScored> {
        let metrics = self.put_metrics_batch(samples).await?;
        self.put_insights(insights).await?;
        self.put_incidents(incidents).await?;
        let snapshot_version = match snapshot {
            None => None,
            Some(update) => match self.save_state(update).await {
                Ok(v) => Some(v),
                Err(StoreError::Conflict { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(PutScored {
            metrics,
            snapshot_version,
        })
    }
}
