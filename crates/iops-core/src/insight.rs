//! The insight record: what is wrong, how badly, and why iops thinks so.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Metric, Timestamp};

/// How urgent an insight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Likely a problem.
    Warning,
    /// Act now.
    Critical,
}

impl Severity {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of problem an insight describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InsightType {
    /// CPU far above its expected level.
    CpuSpike,
    /// CPU far below its expected level (a stalled or drained host).
    CpuDrop,
    /// Memory far above its expected level.
    MemoryPressure,
    /// Memory far below its expected level (a restart, a leak released).
    MemoryDrop,
    /// Disk I/O unlike its recent behaviour.
    DiskIoAnomaly,
    /// Network I/O unlike its recent behaviour.
    NetworkAnomaly,
    /// A metric moved to a new level and stayed there.
    LevelShift,
}

impl InsightType {
    /// snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InsightType::CpuSpike => "cpu_spike",
            InsightType::CpuDrop => "cpu_drop",
            InsightType::MemoryPressure => "memory_pressure",
            InsightType::MemoryDrop => "memory_drop",
            InsightType::DiskIoAnomaly => "disk_io_anomaly",
            InsightType::NetworkAnomaly => "network_anomaly",
            InsightType::LevelShift => "level_shift",
        }
    }
}

impl fmt::Display for InsightType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One insight, as stored and as answered to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    /// The kind of problem.
    #[serde(rename = "type")]
    pub kind: InsightType,
    /// How urgent it is.
    pub severity: Severity,
    /// A sentence for a person: actual vs expected, on which host.
    pub message: String,
    /// The host it is about.
    pub hostname: String,
    /// The sample that raised it.
    pub timestamp: Timestamp,
    /// The metric that drove it most.
    pub metric: Metric,
    /// The observed value of that metric.
    pub value: f64,
    /// The value the model expected.
    pub expected: f64,
    /// Anomaly score in [0, 1).
    pub score: f64,
    /// Which detector(s) raised it, e.g. `zscore+ewma`.
    pub detector: String,
}
