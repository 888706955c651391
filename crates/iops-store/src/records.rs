//! The records a store keeps: metrics with their ids, insights with their model source,
//! and per-host detector state with its version.

use std::fmt;
use std::str::FromStr;

use iops_core::{Incident, IncidentStatus, Insight, MetricSample, Notification, Timestamp};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A stored metric sample and its id. Serialises as the sample's wire JSON plus `metricId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMetric {
    /// The id returned when it was posted ([`crate::ids::metric_id`]).
    pub metric_id: String,
    /// The sample as first stored.
    #[serde(flatten)]
    pub sample: MetricSample,
}

/// What [`crate::MetricStore::put_metric`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutMetric {
    /// The record's id: the same for every put of the same hostname and timestamp.
    pub metric_id: String,
    /// True when this put created the record; false when one with the same hostname and
    /// timestamp existed (the first write wins: its values are kept).
    pub inserted: bool,
}

/// Which model scored the sample that raised an insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSource {
    /// The built-in engine (streaming detectors, optional fleet forest).
    Builtin,
    /// The SageMaker endpoint (canary).
    Sagemaker,
}

impl ModelSource {
    /// The wire name: `builtin` or `sagemaker`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Builtin => "builtin",
            ModelSource::Sagemaker => "sagemaker",
        }
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelSource {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "builtin" => Ok(ModelSource::Builtin),
            "sagemaker" => Ok(ModelSource::Sagemaker),
            other => Err(StoreError::InvalidArgument {
                name: "modelSource",
                reason: format!("must be builtin or sagemaker, got {other:?}"),
            }),
        }
    }
}

/// A stored insight: the engine's [`Insight`] plus its id and the model that raised it.
/// Serialises as the insight's wire JSON plus `insightId`, `modelSource`, `modelVersion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredInsight {
    /// Time-sortable id, unique per host ([`crate::ids::insight_id`]).
    pub insight_id: String,
    /// Which model scored the sample.
    pub model_source: ModelSource,
    /// That model's version (for the built-in engine: crate version and forest checksum).
    pub model_version: String,
    /// The insight.
    #[serde(flatten)]
    pub insight: Insight,
}

/// A host's detector state as stored: an opaque encoding chosen by the service, the
/// timestamp of the last sample it learned, and a version for compare-and-swap.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredState {
    /// Starts at 1 with the first save; each save adds 1.
    pub version: u64,
    /// The newest sample the state has learned. Samples at or before it must not be fed to
    /// the state again (that would break its time order).
    pub last_timestamp: Timestamp,
    /// The encoded state.
    pub state: Vec<u8>,
}

/// One step of a host's state: save `state` if the stored version is still
/// `expected_version`, and store the insights the step raised, atomically where the
/// backend can (SQLite: one transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct StateUpdate {
    /// The host.
    pub hostname: String,
    /// The version the step started from; 0 when the host had no state.
    pub expected_version: u64,
    /// The timestamp of the sample the step learned.
    pub last_timestamp: Timestamp,
    /// The encoded new state.
    pub state: Vec<u8>,
    /// Insights raised by the step.
    pub insights: Vec<StoredInsight>,
    /// The host's incident, when the step opened, escalated or resolved it.
    pub incidents: Vec<Incident>,
    /// When the step's samples were received, by the service's clock: DynamoDB keeps it
    /// (`receivedAt`) for the sweep to tell a fleet that stopped sending; SQLite does not
    /// (`iops serve`, one process, remembers its arrivals itself).
    pub received: Option<Timestamp>,
}

/// A host the store knows, as [`crate::MetricStore::list_hosts`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The host.
    pub hostname: String,
    /// Its newest sample: the newest stored metric (SQLite), or the newest sample its state
    /// learned (DynamoDB; the same unless that sample's scoring failed, as late samples
    /// are older by definition).
    pub last_timestamp: Timestamp,
    /// When its newest state was saved with a received time ([`StateUpdate::received`]);
    /// `None` where the store does not keep it (SQLite) or no save carried one yet.
    pub last_received: Option<Timestamp>,
}

/// What [`crate::Store::put_scored`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutScored {
    /// Each metric's put, in the order given.
    pub metrics: Vec<PutMetric>,
    /// The snapshot's new version; `None` when no snapshot was given, or when another
    /// writer had saved the host's state meanwhile (the snapshot was skipped, the metric
    /// and insights were stored all the same).
    pub snapshot_version: Option<u64>,
}

/// A notification not yet known to be delivered ([`crate::OutboxStore`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// When it was first written, by the writer's clock.
    pub created: Timestamp,
    /// The notification (its idempotency key is the entry's key).
    pub notification: Notification,
}

/// Which incidents [`crate::IncidentStore::list_incidents`] returns: newest opened first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Only incidents with this status.
    pub status: Option<IncidentStatus>,
    /// Only incidents of this host.
    pub hostname: Option<String>,
    /// Only incidents changed (opened, escalated or resolved) at or after this time.
    pub since: Option<Timestamp>,
    /// At most this many.
    pub limit: usize,
}

/// The order in which versions of one incident supersede each other: a later change, then
/// more insights, then resolved over open. A store keeps the greatest it was given, so a
/// retried or late write cannot roll an incident back. As text (fixed-width hex) it sorts
/// the same way, for stores that compare it as a string.
pub fn incident_revision(incident: &Incident) -> String {
    let ns = incident.updated.epoch_nanos().rem_euclid(1_000_000);
    format!(
        "{}{:05x}{:08x}{}",
        iops_core::record_id::time_prefix(incident.updated),
        ns,
        incident.insights,
        u8::from(incident.status == IncidentStatus::Resolved)
    )
}
