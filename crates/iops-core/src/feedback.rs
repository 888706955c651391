//! An operator's verdict on an incident, kept as a label: `false_positive` and `expected`
//! make the engine less sensitive on that host's metrics of the incident, `real` undoes one
//! such step, within bounds that never silence what is critical by its impact.
//!
//! The bounds: each `false_positive` or `expected` label raises the host's `info_score` and
//! `warning_score` cut-offs for each metric of its incident just above the incident's peak
//! score (so the same surprise is not news again), and at least by [`DESENSITISE_STEP`]; in
//! all at most [`DESENSITISE_MAX`] above the configured cut-offs. A `real` label lowers them
//! by a step. `critical_score` stays, and so do the impact rules (a saturated CPU or memory,
//! an I/O outage) and silent hosts, which do not depend on the cut-offs.
//!
//! ```
//! use iops_core::{Label, Verdict};
//!
//! let body = br#"{"verdict":"false_positive","note":"nightly backup"}"#;
//! let (verdict, note) = Label::parse_request(body).unwrap();
//! assert_eq!((verdict, note.as_str()), (Verdict::FalsePositive, "nightly backup"));
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::request::{invalid, RequestFields};
use crate::{Incident, InsightType, Metric, Result, Timestamp};

/// The least one `false_positive` or `expected` label raises a metric's info and warning
/// cut-offs on its host, and what a `real` one lowers them by (anomaly-score units).
pub const DESENSITISE_STEP: f64 = 0.05;
/// How far above the incident's peak score a label lifts the info cut-off.
const ABOVE_PEAK: f64 = 0.01;
/// The most labels can raise them in all.
pub const DESENSITISE_MAX: f64 = 0.15;
/// Longest note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// What the operator says an incident was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing was wrong.
    FalsePositive,
    /// Something happened, but it was planned or normal for this host.
    Expected,
    /// A real problem.
    Real,
}

/// A verdict on one incident, with what the engine needs of the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    /// The incident judged (one label per incident: a later verdict replaces it).
    pub incident_id: String,
    /// Its host (`fleet` for a fleet incident).
    pub hostname: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The operator's words.
    pub note: String,
    /// The incident's metrics (the ones desensitised).
    pub metrics: Vec<Metric>,
    /// The incident's kinds.
    pub types: Vec<InsightType>,
    /// The incident's peak anomaly score (`None` for one no insight raised: a silent host).
    #[serde(default)]
    pub peak_score: Option<f64>,
    /// When the incident opened.
    pub opened: Timestamp,
    /// When it resolved, if it had.
    #[serde(default)]
    pub resolved: Option<Timestamp>,
    /// When the verdict was given (the receiving clock).
    pub created: Timestamp,
}

impl Label {
    /// Parses the body of a `POST /incidents/{id}/feedback`: `verdict` (`false_positive`,
    /// `expected` or `real`) and `note` (optional). Errors name the field (`body` when the
    /// body is not a JSON object); unknown fields are refused.
    pub fn parse_request(bytes: &[u8]) -> Result<(Verdict, String)> {
        let fields = RequestFields::parse(bytes, &["verdict", "note"], "verdict")?;
        let verdict = match fields.get("verdict") {
            None => return Err(invalid("verdict", "is required".into())),
            Some(v) => serde_json::from_value::<Verdict>(v.clone()).map_err(|_| {
                invalid(
                    "verdict",
                    format!("must be false_positive, expected or real, got {v}"),
                )
            })?,
        };
        Ok((verdict, fields.text("note", MAX_NOTE_CHARS)?))
    }

    /// The label of `verdict` on `incident`, given at `now`.
    pub fn new(incident: &Incident, verdict: Verdict, note: String, now: Timestamp) -> Self {
        Label {
            incident_id: incident.incident_id.clone(),
            hostname: incident.hostname.clone(),
            verdict,
            note,
            metrics: incident.metrics.clone(),
            types: incident.types.clone(),
            peak_score: incident.peak.as_ref().map(|p| p.score),
            opened: incident.opened,
            resolved: incident.resolved,
            created: now,
        }
    }
}

/// Each host's cut-off raise per metric (in [`Metric::ALL`] order) from `labels`, taken in
/// the order given (oldest verdict first), against the configured `info_score`:
/// `false_positive` and `expected` lift the cut-offs just above the incident's peak score
/// and at least a step, `real` lowers them a step; always within 0 and [`DESENSITISE_MAX`].
pub fn desensitisation<'a>(
    labels: impl IntoIterator<Item = &'a Label>,
    info_score: f64,
) -> HashMap<String, [f64; 4]> {
    let mut out: HashMap<String, [f64; 4]> = HashMap::new();
    for label in labels {
        let raise = out.entry(label.hostname.clone()).or_default();
        for metric in &label.metrics {
            let Some(i) = Metric::ALL.iter().position(|m| m == metric) else {
                continue;
            };
            let lifted = match label.verdict {
                Verdict::FalsePositive | Verdict::Expected => {
                    let above_peak = label
                        .peak_score
                        .filter(|s| s.is_finite())
                        .map_or(0.0, |s| s + ABOVE_PEAK - info_score);
                    (raise[i] + DESENSITISE_STEP).max(above_peak)
                }
                Verdict::Real => raise[i] - DESENSITISE_STEP,
            };
            raise[i] = lifted.clamp(0.0, DESENSITISE_MAX);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(host: &str, verdict: Verdict, metrics: Vec<Metric>) -> Label {
        let t = Timestamp::parse_rfc3339("2026-11-26T17:00:00Z").unwrap();
        Label {
            incident_id: format!("{host}-{verdict:?}"),
            hostname: host.into(),
            verdict,
            note: String::new(),
            metrics,
            types: Vec::new(),
            peak_score: Some(0.36),
            opened: t,
            resolved: None,
            created: t,
        }
    }

    #[test]
    fn bad_requests_name_their_field() {
        for (body, field) in [
            ("[]", "body"),
            ("{", "body"),
            ("{}", "verdict"),
            (r#"{"verdict":"wrong"}"#, "verdict"),
            (r#"{"verdict":1}"#, "verdict"),
            (r#"{"verdict":"real","note":5}"#, "note"),
            (r#"{"verdict":"real","by":"me"}"#, "by"),
            (r#"{"verdict":"real","":1}"#, "body"),
        ] {
            let err = Label::parse_request(body.as_bytes()).unwrap_err();
            assert_eq!(err.field(), Some(field), "{body}");
        }
        let long = format!(
            r#"{{"verdict":"real","note":"{}"}}"#,
            "x".repeat(MAX_NOTE_CHARS + 1)
        );
        assert_eq!(
            Label::parse_request(long.as_bytes()).unwrap_err().field(),
            Some("note")
        );
    }

    #[test]
    fn verdicts_raise_and_lower_the_cut_offs_within_bounds() {
        use Verdict::*;
        let labels = [
            label("db-1", FalsePositive, vec![Metric::DiskIo]),
            label("db-1", Expected, vec![Metric::DiskIo, Metric::Cpu]),
            label("db-1", FalsePositive, vec![Metric::DiskIo]),
            label("db-1", FalsePositive, vec![Metric::DiskIo]),
            label("db-1", Real, vec![Metric::Cpu]),
            label("db-1", Real, vec![Metric::Cpu]),
            label("web-1", Real, vec![Metric::Memory]),
        ];
        let d = desensitisation(&labels, 0.35);
        let db = d["db-1"];
        // disk: four steps, capped at three; CPU: one up, two down, floored at zero
        assert!((db[2] - DESENSITISE_MAX).abs() < 1e-12, "{db:?}");
        assert_eq!((db[0], db[1], db[3]), (0.0, 0.0, 0.0));
        assert_eq!(d["web-1"], [0.0; 4]);
        // a peak well above the cut-off: lifted just above it, within the bound
        let mut high = label("web-2", FalsePositive, vec![Metric::Cpu]);
        high.peak_score = Some(0.44);
        let cpu = desensitisation([&high], 0.35)["web-2"][0];
        assert!((cpu - 0.10).abs() < 1e-12, "{cpu}");
        high.peak_score = Some(0.9);
        let cpu = desensitisation([&high], 0.35)["web-2"][0];
        assert!((cpu - DESENSITISE_MAX).abs() < 1e-12, "{cpu}");
    }
}
