//! Turns a scored sample into an insight a person understands: type, severity, message.

use std::fmt::Write;

use super::config::EngineParams;
use super::forecast::Forecast;
use super::observation::Observation;
use crate::{Driver, Insight, InsightType, Metric, MetricSample, Severity, Timestamp};

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

/// Why an insight is critical beyond its anomaly score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Impact {
    /// CPU or memory saturated.
    Saturation,
    /// Disk or network I/O collapsed on a host that normally has it.
    Outage,
}

impl Impact {
    /// The clause the insight's message ends with.
    pub(crate) fn clause(self) -> &'static str {
        match self {
            Impact::Saturation => "; saturated",
            Impact::Outage => "; outage: near zero",
        }
    }
}

/// The impact rules (README, "Severity"), on top of the score's `severity`:
///
/// | rule | metrics | when | severity |
/// |---|---|---|---|
/// | sustained saturation | cpuUsage, memoryUsage | at or above `saturation_percent` for `saturation_seconds`, surprising or not | critical |
/// | surprising saturation | cpuUsage, memoryUsage | surprising and at or above `saturation_surprise_percent` | critical |
/// | outage | diskIO, networkIO | surprising and at or below `outage_fraction` × the expected value (expected > 0) | critical |
/// | extreme deviation | any | anomaly score at or above `critical_score` | critical (from the score) |
/// | capacity forecast | cpuUsage, memoryUsage | trend reaches `saturation_percent` within 6 hours (forecast.rs) | warning |
///
/// "Surprising" is a score at or above `info_score`: routine load that the models expect
/// raises nothing.
pub(crate) fn impact(
    metric: Metric,
    value: f64,
    expected: f64,
    severity: Option<Severity>,
    sustained_saturation: bool,
    p: &EngineParams,
) -> Option<Impact> {
    let surprising = severity.is_some();
    match metric {
        Metric::Cpu | Metric::Memory => (sustained_saturation
            || (surprising && value >= p.saturation_surprise_percent))
            .then_some(Impact::Saturation),
        Metric::DiskIo | Metric::NetworkIo => {
            (surprising && expected > 0.0 && value <= p.outage_fraction * expected)
                .then_some(Impact::Outage)
        }
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

/// A metric's value and expectation as a message shows them: "97.0%" and "41±6%".
struct Shown {
    value: String,
    expected: String,
}

fn shown(metric: Metric, value: f64, obs: &Observation) -> Shown {
    let spread = if obs.spread.is_finite() {
        obs.spread
    } else {
        0.0
    };
    let d = decimals(metric, spread);
    let dv = d.max(1);
    let unit = if metric.is_percent() { "%" } else { "" };
    Shown {
        value: format!("{value:.dv$}{unit}"),
        expected: format!("{:.d$}±{spread:.d$}{unit}", obs.expected),
    }
}

/// "cpuUsage 97.0% on web-1, expected 41±6%" and a few words on what kind of surprise it is.
pub(crate) fn message(metric: Metric, hostname: &str, value: f64, obs: &Observation) -> String {
    let Shown { value, expected } = shown(metric, value, obs);
    let how = if is_level_shift(obs) {
        "sustained shift of its recent level"
    } else if obs.z >= 0.0 {
        "unusually high"
    } else {
        "unusually low"
    };
    format!(
        "{metric} {value} on {hostname}, expected {expected} ({how}, anomaly score {:.2})",
        obs.score
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
        (false, super::observation::Model::Seasonal) => "seasonal",
        (false, super::observation::Model::Rolling) => "zscore",
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
        drivers: Vec::new(),
        incident_id: None,
        eta_seconds: None,
        eta_interval_seconds: None,
    }
}

/// "40 min", "2 h 15 min" or "14 h": the precision a person plans with (5 minutes, whole
/// hours from 10 hours on).
fn duration(seconds: f64) -> String {
    let minutes = ((seconds / 60.0 / 5.0).round() * 5.0).max(5.0) as u64;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, _) if h >= 10 => format!("{} h", (seconds / 3600.0).round()),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The insight of a capacity forecast: "memoryUsage on db-2 reaches 95% in about 6 h
/// (4 h 40 min–8 h), rising 5.8 points an hour from 61.0%".
pub(crate) fn forecast_insight(
    metric: Metric,
    hostname: &str,
    timestamp: Timestamp,
    ceiling: f64,
    f: &Forecast,
    obs: &Observation,
) -> Insight {
    Insight {
        kind: InsightType::CapacityForecast,
        // likely a problem, not yet one: saturation is critical when it comes
        severity: Severity::Warning,
        message: format!(
            "{metric} on {hostname} reaches {ceiling:.0}% in about {} ({}–{}), rising {:.1} \
             points an hour from {:.1}%",
            duration(f.eta),
            duration(f.eta_low),
            duration(f.eta_high),
            f.rate_per_hour,
            f.level
        ),
        hostname: hostname.to_owned(),
        timestamp,
        metric,
        value: f.level,
        expected: obs.expected,
        score: obs.score,
        detector: "trend".to_owned(),
        drivers: Vec::new(),
        incident_id: None,
        eta_seconds: Some(f.eta),
        eta_interval_seconds: Some([f.eta_low, f.eta_high]),
    }
}

/// Drivers named in a message: those with at least this share, and always the first.
const NAMED_SHARE: f64 = 0.15;

/// "value (expected e±s)" of one metric, with the decimals of [`message`].
fn value_vs_expected(metric: Metric, value: f64, obs: &Observation) -> String {
    let Shown { value, expected } = shown(metric, value, obs);
    format!("{metric} {value} (expected {expected})")
}

/// The insight of the fleet forest: the host's metrics together are unusual. Names the
/// metrics that drove the score with their values, expectations and shares.
pub(crate) fn multi_metric_insight(
    sample: &MetricSample,
    severity: Severity,
    score: f64,
    threshold: f64,
    metrics: &[Observation; 4],
    drivers: Vec<Driver>,
) -> Insight {
    let values = sample.values();
    let position = |m: Metric| Metric::ALL.iter().position(|&a| a == m).unwrap_or(0);
    let top = drivers.first().map_or(Metric::Cpu, |d| d.metric);
    let mut message = format!(
        "unusual combination of metrics on {} (isolation score {score:.2}, highest in training {threshold:.2}): ",
        sample.hostname
    );
    for (k, d) in drivers
        .iter()
        .enumerate()
        .filter(|(k, d)| *k == 0 || d.share >= NAMED_SHARE)
    {
        let i = position(d.metric);
        if k > 0 {
            message.push_str(", ");
        }
        let _ = write!(
            message,
            "{} {:.0}% of the score",
            value_vs_expected(d.metric, values[i], &metrics[i]),
            100.0 * d.share
        );
    }
    let i = position(top);
    Insight {
        kind: InsightType::MultiMetricAnomaly,
        severity,
        message,
        hostname: sample.hostname.clone(),
        timestamp: sample.timestamp,
        metric: top,
        value: values[i],
        expected: metrics[i].expected,
        score,
        detector: "isolation_forest".to_owned(),
        drivers,
        incident_id: None,
        eta_seconds: None,
        eta_interval_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_plans() {
        assert_eq!(duration(100.0), "5 min");
        assert_eq!(duration(40.0 * 60.0), "40 min");
        assert_eq!(duration(3600.0), "1 h");
        assert_eq!(duration(2.0 * 3600.0 + 14.0 * 60.0), "2 h 15 min");
        assert_eq!(duration(14.4 * 3600.0), "14 h");
    }
    use crate::engine::observation::Model;

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
            volatility_surprise: 0.0,
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
    fn multi_metric_message_names_the_drivers_with_values_and_shares() {
        let sample = MetricSample {
            timestamp: Timestamp::from_epoch_seconds(1.7e9).unwrap(),
            hostname: "db-1".into(),
            cpu_usage: 71.24,
            memory_usage: 50.0,
            disk_io: 120.0,
            network_io: 812.0,
        };
        let mut metrics = [obs(0.1, 0.5, 0.5); 4];
        metrics[3].expected = 420.0;
        metrics[3].spread = 60.0;
        let drivers = vec![
            Driver {
                metric: Metric::Cpu,
                share: 0.55,
                z: 5.0,
            },
            Driver {
                metric: Metric::NetworkIo,
                share: 0.35,
                z: 6.5,
            },
            Driver {
                metric: Metric::Memory,
                share: 0.06,
                z: 0.1,
            },
            Driver {
                metric: Metric::DiskIo,
                share: 0.04,
                z: 0.1,
            },
        ];
        let i = multi_metric_insight(&sample, Severity::Warning, 0.81, 0.7, &metrics, drivers);
        assert_eq!(i.kind, InsightType::MultiMetricAnomaly);
        assert_eq!((i.metric, i.value, i.expected), (Metric::Cpu, 71.24, 41.0));
        assert_eq!(i.detector, "isolation_forest");
        assert_eq!(
            i.message,
            "unusual combination of metrics on db-1 (isolation score 0.81, highest in training 0.70): \
             cpuUsage 71.2% (expected 41±6%) 55% of the score, networkIO 812.0 (expected 420±60) 35% of the score"
        );
        let json: serde_json::Value = serde_json::from_str(&i.to_json()).unwrap();
        assert_eq!(json["drivers"][1]["metric"], "networkIO");
        assert_eq!(json["type"], "multi_metric_anomaly");
    }

    #[test]
    fn impact_rules() {
        let p = EngineParams::default();
        let (info, calm): (Option<Severity>, Option<Severity>) = (Some(Severity::Info), None);
        let (sat, out, no) = (Some(Impact::Saturation), Some(Impact::Outage), None);
        // (metric, value, expected, severity by score, sustained at the ceiling, impact)
        let rows = [
            // sustained saturation: critical even when the models expect it
            (Metric::Cpu, 96.0, 95.0, calm, true, sat),
            (Metric::Memory, 99.0, 98.0, calm, true, sat),
            (Metric::Cpu, 96.0, 95.0, calm, false, no),
            // surprising and at or above 90 %
            (Metric::Cpu, 92.0, 32.0, info, false, sat),
            (Metric::Memory, 90.0, 40.0, info, false, sat),
            (Metric::Cpu, 89.9, 32.0, info, false, no),
            (Metric::Cpu, 92.0, 32.0, calm, false, no),
            // outage: surprising and at most a tenth of the expected I/O
            (Metric::NetworkIo, 0.5, 28.0, info, false, out),
            (Metric::DiskIo, 2.0, 20.0, info, false, out),
            (Metric::NetworkIo, 3.0, 28.0, info, false, no),
            (Metric::NetworkIo, 0.5, 28.0, calm, false, no),
            (Metric::NetworkIo, 0.0, 0.0, info, false, no),
            // the saturation rules are CPU's and memory's; the outage rule I/O's
            (Metric::DiskIo, 99.0, 20.0, info, true, no),
            (Metric::Cpu, 0.5, 28.0, info, false, no),
        ];
        for (metric, value, expected, severity, sustained, want) in rows {
            assert_eq!(
                impact(metric, value, expected, severity, sustained, &p),
                want,
                "{metric} {value} (expected {expected}), {severity:?}, sustained {sustained}"
            );
        }
    }

    #[test]
    fn severity_cutoffs() {
        assert_eq!(severity(0.2, 0.3, 0.4, 0.55), None);
        assert_eq!(severity(0.3, 0.3, 0.4, 0.55), Some(Severity::Info));
        assert_eq!(severity(0.5, 0.3, 0.4, 0.55), Some(Severity::Warning));
        assert_eq!(severity(0.9, 0.3, 0.4, 0.55), Some(Severity::Critical));
    }
}
