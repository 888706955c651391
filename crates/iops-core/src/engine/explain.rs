//! Turns a scored sample into an insight a person understands: type, severity, message.

use super::series::Observation;
use crate::{Insight, InsightType, Metric, Severity, Timestamp};

/// Severity for a score under the configured cut-offs, or `None` below the first.
pub(crate) fn severity(score: f64, info: f64, warning: f64, critical: f64) -> Option<Severity> {
    if score >= critical {
        Some(Severity::Critical)
    } else if score >= warning {
        Some(Severity::Warning)
    } else if score >= info {
        Some(Severity::Info)
    } else {
        None
    }
}

/// True when the level model (a sustained shift of the recent mean) explains the surprise
/// better than the point model.
fn is_level_shift(obs: &Observation) -> bool {
    obs.level_surprise > obs.point_surprise
}

/// The insight type for a metric moving in a direction.
pub(crate) fn kind(metric: Metric, obs: &Observation) -> InsightType {
    if is_level_shift(obs) {
        return InsightType::LevelShift;
    }
    let up = obs.z >= 0.0;
    match (metric, up) {
        (Metric::Cpu, true) => InsightType::CpuSpike,
        (Metric::Cpu, false) => InsightType::CpuDrop,
        (Metric::Memory, true) => InsightType::MemoryPressure,
        (Metric::Memory, false) => InsightType::MemoryDrop,
        (Metric::DiskIo, _) => InsightType::DiskIoAnomaly,
        (Metric::NetworkIo, _) => InsightType::NetworkAnomaly,
    }
}

/// Decimals that show a spread with about one significant digit; percentages never need
/// more than one, other rates no more than three (a near-zero spread is not worth six zeros).
fn decimals(metric: Metric, spread: f64) -> usize {
    let most = if metric.is_percent() { 1 } else { 3 };
    if !(spread.is_finite() && spread > 0.0) || spread >= 1.0 {
        0
    } else {
        ((-spread.log10()).ceil() as usize).min(most)
    }
}

/// "cpuUsage 97.0% on web-1, expected 41±6%" and a few words on what kind of surprise it is.
pub(crate) fn message(metric: Metric, hostname: &str, value: f64, obs: &Observation) -> String {
    let spread = if obs.spread.is_finite() {
        obs.spread
    } else {
        0.0
    };
    let d = decimals(metric, spread);
    let dv = d.max(1);
    let unit = if metric.is_percent() { "%" } else { "" };
    let how = if is_level_shift(obs) {
        "sustained shift of its recent level"
    } else if obs.z >= 0.0 {
        "unusually high"
    } else {
        "unusually low"
    };
    format!(
        "{metric} {value:.dv$}{unit} on {hostname}, expected {:.d$}±{spread:.d$}{unit} ({how}, anomaly score {:.2})",
        obs.expected, obs.score
    )
}

/// Builds the insight record.
pub(crate) fn insight(
    metric: Metric,
    hostname: &str,
    timestamp: Timestamp,
    value: f64,
    severity: Severity,
    obs: &Observation,
) -> Insight {
    let detector = match (is_level_shift(obs), obs.model) {
        (true, _) => "level",
        (false, super::series::Model::Seasonal) => "seasonal",
        (false, super::series::Model::Rolling) => "zscore",
    };
    Insight {
        kind: kind(metric, obs),
        severity,
        message: message(metric, hostname, value, obs),
        hostname: hostname.to_owned(),
        timestamp,
        metric,
        value,
        expected: obs.expected,
        score: obs.score,
        detector: detector.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::series::Model;

    fn obs(z: f64, point_p: f64, level_p: f64) -> Observation {
        let (point_surprise, level_surprise) = (-point_p.ln(), -level_p.ln());
        Observation {
            score: 0.62,
            surprise: 30.0,
            suppressed: false,
            expected: 41.0,
            spread: 6.0,
            z,
            level_z: 1.0,
            point_surprise,
            level_surprise,
            model: Model::Rolling,
            warm: true,
        }
    }

    #[test]
    fn message_says_actual_expected_and_host() {
        let m = message(Metric::Cpu, "web-1", 97.0, &obs(9.3, 1e-9, 1e-3));
        assert!(
            m.starts_with("cpuUsage 97.0% on web-1, expected 41±6%"),
            "{m}"
        );
        assert!(m.contains("unusually high"), "{m}");
    }

    #[test]
    fn near_zero_spread_does_not_print_a_wall_of_zeros() {
        let mut o = obs(9.3, 1e-9, 1e-3);
        (o.expected, o.spread) = (46.0, 1e-12);
        let m = message(Metric::Cpu, "web-1", 97.0, &o);
        assert!(
            m.starts_with("cpuUsage 97.0% on web-1, expected 46.0±0.0%"),
            "{m}"
        );
        (o.expected, o.spread) = (0.1325, 0.0042);
        let m = message(Metric::DiskIo, "db-1", 2.5, &o);
        assert!(
            m.starts_with("diskIO 2.500 on db-1, expected 0.133±0.004 "),
            "{m}"
        );
    }

    #[test]
    fn types_follow_metric_direction_and_model() {
        assert_eq!(
            kind(Metric::Cpu, &obs(5.0, 1e-9, 1e-3)),
            InsightType::CpuSpike
        );
        assert_eq!(
            kind(Metric::Cpu, &obs(-5.0, 1e-9, 1e-3)),
            InsightType::CpuDrop
        );
        assert_eq!(
            kind(Metric::Memory, &obs(5.0, 1e-9, 1e-3)),
            InsightType::MemoryPressure
        );
        assert_eq!(
            kind(Metric::DiskIo, &obs(-5.0, 1e-9, 1e-3)),
            InsightType::DiskIoAnomaly
        );
        assert_eq!(
            kind(Metric::NetworkIo, &obs(5.0, 1e-9, 1e-3)),
            InsightType::NetworkAnomaly
        );
        assert_eq!(
            kind(Metric::Memory, &obs(5.0, 1e-3, 1e-9)),
            InsightType::LevelShift
        );
    }

    #[test]
    fn severity_cutoffs() {
        assert_eq!(severity(0.2, 0.3, 0.4, 0.55), None);
        assert_eq!(severity(0.3, 0.3, 0.4, 0.55), Some(Severity::Info));
        assert_eq!(severity(0.5, 0.3, 0.4, 0.55), Some(Severity::Warning));
        assert_eq!(severity(0.9, 0.3, 0.4, 0.55), Some(Severity::Critical));
    }
}
