//! # iops-core
//!
//! The anomaly-detection engine of iops, with no I/O: wire types, streaming detectors,
//! the isolation forest, and the insight engine that turns detector outputs into insights.
//! How well it detects is measured by `iops-eval` (NAB scoring, ROC).
#![warn(missing_docs)]

pub mod artifact;
pub mod detector;
pub mod engine;
mod error;
mod feedback;
mod fleet;
pub mod forest;
mod incident;
mod insight;
mod metric;
mod notification;
mod param_guard;
pub mod peers;
mod quiet;
pub mod record_id;
mod request;
mod silence;
mod stats;
mod timestamp;

pub use error::{finite, Error, Result};
pub use feedback::{
    desensitisation, Label, Verdict, DESENSITISE_MAX, DESENSITISE_STEP, MAX_NOTE_CHARS,
};
pub use fleet::{FleetPolicy, FLEET};
pub use incident::{incident_id, Incident, IncidentChange, IncidentStatus, Peak};
pub use insight::{Driver, Insight, InsightType, Severity};
pub use metric::{validate_hostname, Metric, MetricSample};
/// The ndarray version the forest API takes (0.16, the one linfa 0.8 uses).
pub use ndarray;
pub use notification::Notification;
pub use param_guard::ParamGuard;
pub use quiet::{QuietKind, QuietWindow, EVERY_HOST, MAX_REASON_CHARS};
pub use silence::{FleetArrivals, SilencePolicy, FLEET_LIVE_SECONDS};
pub use timestamp::{json_type, Timestamp};
