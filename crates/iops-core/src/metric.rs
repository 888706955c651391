//! The metric sample exactly as the runbook's agents send it, and its validation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Timestamp};

/// One of the four metrics every sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Metric {
    /// CPU utilisation, percent (0–100).
    #[serde(rename = "cpuUsage")]
    Cpu,
    /// Memory utilisation, percent (0–100).
    #[serde(rename = "memoryUsage")]
    Memory,
    /// Disk I/O, any non-negative rate.
    #[serde(rename = "diskIO")]
    DiskIo,
    /// Network I/O, any non-negative rate.
    #[serde(rename = "networkIO")]
    NetworkIo,
}

impl Metric {
    /// All metrics, in wire order.
    pub const ALL: [Metric; 4] = [Metric::Cpu, Metric::Memory, Metric::DiskIo, Metric::NetworkIo];

    /// The camelCase wire name (`cpuUsage`, `memoryUsage`, `diskIO`, `networkIO`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpuUsage",
            Metric::Memory => "memoryUsage",
            Metric::DiskIo => "diskIO",
            Metric::NetworkIo => "networkIO",
        }
    }

    /// Position in [`Metric::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for metrics measured in percent.
    pub fn is_percent(self) -> bool {
        matches!(self, Metric::Cpu | Metric::Memory)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A metric sample: `{"timestamp","hostname","cpuUsage","memoryUsage","diskIO","networkIO"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSample {
    /// When the sample was taken.
    pub timestamp: Timestamp,
    /// The host it comes from.
    pub hostname: String,
    /// CPU utilisation, percent.
    pub cpu_usage: f64,
    /// Memory utilisation, percent.
    pub memory_usage: f64,
    /// Disk I/O rate.
    #[serde(rename = "diskIO")]
    pub disk_io: f64,
    /// Network I/O rate.
    #[serde(rename = "networkIO")]
    pub network_io: f64,
}

impl MetricSample {
    /// The value of one metric.
    pub fn value(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Cpu => self.cpu_usage,
            Metric::Memory => self.memory_usage,
            Metric::DiskIo => self.disk_io,
            Metric::NetworkIo => self.network_io,
        }
    }

    /// The four values in [`Metric::ALL`] order.
    pub fn values(&self) -> [f64; 4] {
        [self.cpu_usage, self.memory_usage, self.disk_io, self.network_io]
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        validate_hostname(&self.hostname)?;
        for m in Metric::ALL {
            let v = self.value(m);
            if !v.is_finite() {
                return Err(Error::InvalidField {
                    field: m.wire_name().into(),
                    reason: format!("must be a finite number, got {v}"),
                });
            }
            let max = if m.is_percent() { 100.0 } else { f64::INFINITY };
            if !(0.0..=max).contains(&v) {
                let range = if m.is_percent() { "between 0 and 100" } else { ">= 0" };
                return Err(Error::InvalidField {
                    field: m.wire_name().into(),
                    reason: format!("must be {range}, got {v}"),
                });
            }
        }
        Ok(())
    }

    /// Parses and validates one JSON object; errors name the offending field.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let sample: MetricSample = serde_json::from_slice(bytes).map_err(|e| Error::Decode {
            what: "metric sample",
            reason: e.to_string(),
        })?;
        sample.validate()?;
        Ok(sample)
    }
}

/// Hostnames are 1–255 characters of letters, digits and `.-_:`.
pub fn validate_hostname(hostname: &str) -> Result<()> {
    let bad = |reason: String| Error::InvalidField {
        field: "hostname".into(),
        reason,
    };
    if hostname.is_empty() || hostname.len() > 255 {
        return Err(bad(format!(
            "must be 1-255 characters, got {}",
            hostname.len()
        )));
    }
    if let Some(c) = hostname
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
    {
        return Err(bad(format!(
            "may hold only letters, digits and . - _ :, found {c:?}"
        )));
    }
    Ok(())
}
