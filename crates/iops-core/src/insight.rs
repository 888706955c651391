//! The insight record: what is wrong, how badly, and why iops thinks so.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::timestamp::Shorten;
use crate::{Error, Metric, Result, Timestamp};

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
    /// All severities, least urgent first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

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
    /// The host's metrics together are unlike anything in the fleet model, though no
    /// single metric is alarming on its own (isolation forest over the 4-metric vector).
    MultiMetricAnomaly,
    /// A host that reported regularly has sent nothing for longer than a few of its
    /// intervals (an incident type: no metric raises it).
    HostStoppedReporting,
    /// CPU or memory heading for its ceiling: when it gets there at the pace of its trend
    /// (`etaSeconds`, `etaIntervalSeconds`).
    CapacityForecast,
    /// A host's level moved away from its peer group's while the group's stayed where it
    /// was (an incident type: the peer sweep raises it, no sample does).
    PeerDeviation,
}

impl InsightType {
    /// All insight types.
    pub const ALL: [InsightType; 11] = [
        InsightType::CpuSpike,
        InsightType::CpuDrop,
        InsightType::MemoryPressure,
        InsightType::MemoryDrop,
        InsightType::DiskIoAnomaly,
        InsightType::NetworkAnomaly,
        InsightType::LevelShift,
        InsightType::MultiMetricAnomaly,
        InsightType::HostStoppedReporting,
        InsightType::CapacityForecast,
        InsightType::PeerDeviation,
    ];

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
            InsightType::MultiMetricAnomaly => "multi_metric_anomaly",
            InsightType::HostStoppedReporting => "host_stopped_reporting",
            InsightType::CapacityForecast => "capacity_forecast",
            InsightType::PeerDeviation => "peer_deviation",
        }
    }
}

impl FromStr for Severity {
    type Err = Error;

    /// Parses `info`, `warning` or `critical` (as stored in the insights table).
    fn from_str(s: &str) -> Result<Self> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "severity".into(),
                reason: format!("must be info, warning or critical, got {:?}", Shorten(s)),
            })
    }
}

impl FromStr for InsightType {
    type Err = Error;

    /// Parses a snake_case wire name such as `cpu_spike`.
    fn from_str(s: &str) -> Result<Self> {
        InsightType::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "type".into(),
                reason: format!("unknown insight type {:?}", Shorten(s)),
            })
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
    /// The metrics that drove the host's multivariate (isolation-forest) score, largest share
    /// first; empty (and absent from the JSON) when no forest model is configured or it
    /// found nothing unusual.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drivers: Vec<Driver>,
    /// The incident it belongs to ([`crate::Incident`]); absent where no incident is kept
    /// (an insight stored before incidents existed, or one from the SageMaker path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// A capacity forecast's seconds until the ceiling at the pace of the trend (absent on
    /// other insights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    /// Its interval, `[soonest, latest]`, from the interval of the trend's slope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_interval_seconds: Option<[f64; 2]>,
}

/// One metric's share of a multivariate anomaly score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    /// The metric.
    pub metric: Metric,
    /// Its share of the score in [0, 1]; the shares of an insight's drivers add up to 1.
    pub share: f64,
    /// Its standardised deviation from the host's own expected value (signed z-score).
    pub z: f64,
}

impl Insight {
    /// The wire JSON: `{"type","severity","message","hostname","timestamp","metric","value",
    /// "expected","score","detector"}`.
    pub fn to_json(&self) -> String {
        // Cannot fail: strings, numbers, unit enums and a Display timestamp.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_parse_back() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for t in InsightType::ALL {
            assert_eq!(t.as_str().parse::<InsightType>(), Ok(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert_eq!(
            "fatal".parse::<Severity>().unwrap_err().field(),
            Some("severity")
        );
        assert_eq!(
            "cpu".parse::<InsightType>().unwrap_err().field(),
            Some("type")
        );
    }

    #[test]
    fn severities_order_by_urgency() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    }
}
