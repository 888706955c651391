//! # iops-service
//!
//! The transport-free ingest pipeline shared by the Lambda and the local server:
//! validate → store the metric → load the host's state → score → save the state with its
//! insights (compare-and-swap) → answer. Adapters translate their requests into
//! [`Service::ingest`], [`Service::list_metrics`] and [`Service::list_insights`], and a
//! [`ServiceError`] into [`ServiceError::status`] and [`ServiceError::body`].
//!
//! ```
//! use std::sync::Arc;
//! use iops_core::engine::EngineConfig;
//! use iops_service::Service;
//! use iops_store::SqliteStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = Service::new(Arc::new(SqliteStore::open_in_memory().unwrap()), EngineConfig::default());
//! let body = br#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;
//! let answer = service.ingest(body).await.unwrap();
//! assert!(answer.to_json().starts_with(r#"{"message":"Metric stored successfully","metricId":""#));
//!
//! let bad = service.ingest(br#"{"hostname":"web-1"}"#).await.unwrap_err();
//! assert_eq!((bad.status(), bad.field()), (400, Some("timestamp")));
//! # });
//! ```
#![warn(missing_docs)]

mod canary;
mod error;
#[cfg(feature = "http")]
pub mod http;
mod model;
mod notify;
mod reorder;
mod scorer;
mod service;

pub use canary::{routes_to_canary, CanaryScorer, RemoteScore, RemoteScorer};
pub use error::ServiceError;
pub use iops_model::{model_file, read_model, ModelError};
pub use model::load_forest;
pub use notify::{DeliveryLog, Dispatcher, Notifier, NotifyError, RetryPolicy, QUEUE_CAPACITY};
pub use scorer::{BuiltinScorer, Scored, Scorer};
pub use service::{
    decode_state, encode_state, host_reorder_window, BatchItem, BatchResponse, GroupSource,
    HostGroup, HostList, HostReplay, HostView, IncidentList, IncidentSpan, IngestOutcome,
    IngestResponse, InsightList, ItemError, ListQuery, MetricList, PeerSweep, QuietList,
    ReplayCounts, ReplayReport, ReplayRequest, Service, ServiceConfig, SilenceSweep,
    SnapshotPolicy, BATCH_MESSAGE, REORDER_INTERVALS, RESEND_AFTER_SECONDS, STORED_MESSAGE,
};
