//! # iops-store
//!
//! Where iops keeps metrics, insights and per-host detector state: the [`MetricStore`],
//! [`InsightStore`] and [`StateStore`] traits (async, object-safe) and the embedded
//! [`SqliteStore`]. With the feature `dynamodb`, `DynamoStore` implements the same traits
//! with the item schema of ARCHITECTURE.md (its module docs say how: conditional writes,
//! state with an outbox of insights, retries). Record ids come from [`ids`] so both
//! backends agree.
//!
//! ```
//! use iops_core::{MetricSample, Timestamp};
//! use iops_store::{MetricStore, SqliteStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = SqliteStore::open_in_memory()?;
//! let sample = MetricSample::from_json(br#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#)
//!     .expect("valid sample");
//! let first = store.put_metric(&sample).await?;
//! let again = store.put_metric(&sample).await?;
//! assert!(first.inserted && !again.inserted);
//! assert_eq!(first.metric_id, again.metric_id);
//! assert_eq!(store.count_metrics("web-1", Timestamp::MIN).await?, 1);
//! # Ok::<(), iops_store::StoreError>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]

#[cfg(feature = "dynamodb")]
mod dynamo;
mod error;
pub mod ids;
mod records;
mod sqlite;
mod traits;

#[cfg(feature = "dynamodb")]
pub use dynamo::{host_shard, DynamoOptions, DynamoStore, TableNames, HOSTS_INDEX, HOST_SHARDS};
pub use error::{Result, StoreError};
pub use records::{
    incident_revision, HostEntry, IncidentQuery, ModelSource, OutboxEntry, PutMetric, PutScored,
    StateUpdate, StoredInsight, StoredMetric, StoredState,
};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use traits::{
    IncidentStore, InsightStore, LabelStore, MetricStore, OutboxStore, QuietStore, StateStore,
    Store,
};
