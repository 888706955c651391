//! The incident record: one per episode of a host's trouble, however many insights it raises.
//!
//! An incident opens with a host's first insight, takes in every later insight of the host
//! while it is open (its severity is the highest so far, its types and metrics the union),
//! and resolves once every metric of the host has been calm for the cooldown
//! (`EngineParams::cooldown_seconds`). Its id is a function of the host and the time it
//! opened, so a retried request names the same incident.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::timestamp::Shorten;
use crate::{record_id, Error, Insight, InsightType, Metric, Result, Severity, Timestamp};

/// Whether an incident is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Insights are still being raised, or the host is not calm for long enough yet.
    Open,
    /// Every metric has been calm for the cooldown.
    Resolved,
}

impl IncidentStatus {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(IncidentStatus::Open),
            "resolved" => Ok(IncidentStatus::Resolved),
            _ => Err(Error::InvalidField {
                field: "status".into(),
                reason: format!("must be open or resolved, got {:?}", Shorten(s)),
            }),
        }
    }
}

/// What a sample (or a sweep) did to an incident: the transitions a person is told of
/// (opened, escalated, resolved), and the updates they are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentChange {
    /// The incident began.
    Opened,
    /// Its severity rose.
    Escalated,
    /// It took in another insight at a severity it had already reached.
    Updated,
    /// It is over.
    Resolved,
}

impl IncidentChange {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentChange::Opened => "opened",
            IncidentChange::Escalated => "escalated",
            IncidentChange::Updated => "updated",
            IncidentChange::Resolved => "resolved",
        }
    }
}

/// The most anomalous moment of an incident: the insight with the highest severity, then
/// the highest score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peak {
    /// The metric.
    pub metric: Metric,
    /// Its observed value.
    pub value: f64,
    /// The value the model expected.
    pub expected: f64,
    /// The insight's anomaly score.
    pub score: f64,
    /// The insight's severity.
    pub severity: Severity,
    /// When it was observed.
    pub timestamp: Timestamp,
}

/// One episode of a host's trouble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// `<13 hex digits: milliseconds of the opening>-<16 hex digits of hash>`: sorts by the
    /// time it opened ([`incident_id`]).
    pub incident_id: String,
    /// The host.
    pub hostname: String,
    /// Open or resolved.
    pub status: IncidentStatus,
    /// The highest severity of its insights so far.
    pub severity: Severity,
    /// The kinds of its insights, in the order they first appeared.
    pub types: Vec<InsightType>,
    /// The metrics of its insights, in the order they first appeared.
    pub metrics: Vec<Metric>,
    /// The sample that raised its first insight.
    pub opened: Timestamp,
    /// The sample that last changed it (an insight, or its resolution).
    pub updated: Timestamp,
    /// The sample that resolved it (null while open; always written, as the state's compact
    /// positional encoding needs every field).
    #[serde(default)]
    pub resolved: Option<Timestamp>,
    /// Its most anomalous moment (null for an incident no insight raised: a silent host).
    pub peak: Option<Peak>,
    /// A sentence for a person: the peak insight's message.
    pub summary: String,
    /// How many insights it holds.
    pub insights: u32,
    /// The ids of its insights, oldest first, as the service stored them (the engine
    /// leaves it empty: ids are the store's; a fleet incident lists `members` instead).
    #[serde(default)]
    pub insight_ids: Vec<String>,
    /// A fleet incident's hosts, in the order they joined (empty for a host's incident).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// A fleet incident's member incidents (host incidents), in the order they joined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// The id of the incident of `hostname` that opened at `opened`: 13 hex digits of the
/// milliseconds since 0000-01-01 (so ids sort by opening time, as text too), a dash, and
/// 16 hex digits of SHA-256 over the host and the exact opening time.
pub fn incident_id(hostname: &str, opened: Timestamp) -> String {
    let hash = record_id::hash_hex(
        &[
            b"incident",
            hostname.as_bytes(),
            &opened.epoch_nanos().to_be_bytes(),
        ],
        8,
    );
    format!("{}-{hash}", record_id::time_prefix(opened))
}

impl Peak {
    fn of(insight: &Insight) -> Self {
        Peak {
            metric: insight.metric,
            value: insight.value,
            expected: insight.expected,
            score: insight.score,
            severity: insight.severity,
            timestamp: insight.timestamp,
        }
    }

    /// True when a moment of `severity` and `score` is more anomalous than `peak` (or
    /// there is none): the higher severity, then the higher score.
    pub(crate) fn is_beaten_by(peak: Option<&Self>, severity: Severity, score: f64) -> bool {
        peak.is_none_or(|p| (severity, score) > (p.severity, p.score))
    }
}

impl Incident {
    /// The incident `first` opens.
    pub fn open(first: &Insight) -> Self {
        Incident {
            incident_id: incident_id(&first.hostname, first.timestamp),
            hostname: first.hostname.clone(),
            status: IncidentStatus::Open,
            severity: first.severity,
            types: vec![first.kind],
            metrics: vec![first.metric],
            opened: first.timestamp,
            updated: first.timestamp,
            resolved: None,
            peak: Some(Peak::of(first)),
            summary: first.message.clone(),
            insights: 1,
            insight_ids: Vec::new(),
            hosts: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Takes in a later insight of the same host: escalates in place.
    pub fn join(&mut self, insight: &Insight) {
        self.severity = self.severity.max(insight.severity);
        if !self.types.contains(&insight.kind) {
            self.types.push(insight.kind);
        }
        if !self.metrics.contains(&insight.metric) {
            self.metrics.push(insight.metric);
        }
        if Peak::is_beaten_by(self.peak.as_ref(), insight.severity, insight.score) {
            self.peak = Some(Peak::of(insight));
            self.summary.clone_from(&insight.message);
        }
        self.updated = self.updated.max(insight.timestamp);
        self.insights = self.insights.saturating_add(1);
    }

    /// Takes in a revision of one of its insights (a capacity forecast whose crossing time
    /// moved): not a new insight, but the incident is updated, escalates if the revision
    /// is more severe and, with `summarise`, is summarised by it.
    pub fn revise(&mut self, insight: &Insight, summarise: bool) {
        self.severity = self.severity.max(insight.severity);
        if summarise {
            self.summary.clone_from(&insight.message);
        }
        self.updated = self.updated.max(insight.timestamp);
    }

    /// Marks it resolved by the sample at `at`.
    pub fn resolve(&mut self, at: Timestamp) {
        self.status = IncidentStatus::Resolved;
        self.resolved = Some(at);
        self.updated = self.updated.max(at);
    }
}

/// How a host's open incident is written inside its engine state
/// (`#[serde(with = "in_host_state")]`): the layout from before silent hosts, whose peak
/// is not optional. A host's own incident always has a peak (insights open it), so states
/// saved before still decode and new ones are byte-for-byte what they were.
pub(crate) mod in_host_state {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Incident, IncidentStatus, Peak};
    use crate::{InsightType, Metric, Severity, Timestamp};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct V1 {
        incident_id: String,
        hostname: String,
        status: IncidentStatus,
        severity: Severity,
        types: Vec<InsightType>,
        metrics: Vec<Metric>,
        opened: Timestamp,
        updated: Timestamp,
        #[serde(default)]
        resolved: Option<Timestamp>,
        peak: Peak,
        summary: String,
        insights: u32,
    }

    pub(crate) fn serialize<S: Serializer>(
        incident: &Option<Incident>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let v1 = match incident {
            None => None,
            Some(i) => {
                let peak = i.peak.ok_or_else(|| {
                    serde::ser::Error::custom("a host's own incident always has a peak")
                })?;
                Some(V1 {
                    incident_id: i.incident_id.clone(),
                    hostname: i.hostname.clone(),
                    status: i.status,
                    severity: i.severity,
                    types: i.types.clone(),
                    metrics: i.metrics.clone(),
                    opened: i.opened,
                    updated: i.updated,
                    resolved: i.resolved,
                    peak,
                    summary: i.summary.clone(),
                    insights: i.insights,
                })
            }
        };
        v1.serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Incident>, D::Error> {
        Ok(Option::<V1>::deserialize(deserializer)?.map(|v| Incident {
            incident_id: v.incident_id,
            hostname: v.hostname,
            status: v.status,
            severity: v.severity,
            types: v.types,
            metrics: v.metrics,
            opened: v.opened,
            updated: v.updated,
            resolved: v.resolved,
            peak: Some(v.peak),
            summary: v.summary,
            insights: v.insights,
            insight_ids: Vec::new(),
            hosts: Vec::new(),
            members: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insight(minute: u32, kind: InsightType, metric: Metric, severity: Severity) -> Insight {
        let score = match severity {
            Severity::Info => 0.36,
            Severity::Warning => 0.42,
            Severity::Critical => 0.6,
        };
        Insight {
            kind,
            severity,
            message: format!("{metric} at minute {minute}"),
            hostname: "web-1".into(),
            timestamp: Timestamp::from_epoch_seconds(1.7e9 + 60.0 * f64::from(minute)).unwrap(),
            metric,
            value: 90.0,
            expected: 30.0,
            score,
            detector: "zscore+ewma".into(),
            drivers: Vec::new(),
            incident_id: None,
            eta_seconds: None,
            eta_interval_seconds: None,
        }
    }

    #[test]
    fn an_incident_escalates_in_place_and_resolves() {
        let first = insight(0, InsightType::CpuSpike, Metric::Cpu, Severity::Info);
        let mut incident = Incident::open(&first);
        assert_eq!(incident.status, IncidentStatus::Open);
        assert_eq!(incident.incident_id, incident_id("web-1", first.timestamp));
        incident.join(&insight(
            5,
            InsightType::MemoryPressure,
            Metric::Memory,
            Severity::Critical,
        ));
        incident.join(&insight(
            9,
            InsightType::CpuSpike,
            Metric::Cpu,
            Severity::Warning,
        ));
        assert_eq!(incident.severity, Severity::Critical);
        assert_eq!(
            incident.types,
            [InsightType::CpuSpike, InsightType::MemoryPressure]
        );
        assert_eq!(incident.metrics, [Metric::Cpu, Metric::Memory]);
        assert_eq!(incident.insights, 3);
        // the peak is the critical insight, not the later warning
        assert_eq!(incident.peak.map(|p| p.metric), Some(Metric::Memory));
        assert_eq!(incident.summary, "memoryUsage at minute 5");
        assert_eq!(incident.opened, first.timestamp);
        let end = Timestamp::from_epoch_seconds(1.7e9 + 3600.0).unwrap();
        incident.resolve(end);
        assert_eq!(
            (incident.status, incident.resolved, incident.updated),
            (IncidentStatus::Resolved, Some(end), end)
        );
    }

    #[test]
    fn ids_are_stable_distinct_and_sort_by_opening_time() {
        let t = |s: f64| Timestamp::from_epoch_seconds(s).unwrap();
        let a = incident_id("web-1", t(1.7e9));
        assert_eq!(a, incident_id("web-1", t(1.7e9)));
        assert_ne!(a, incident_id("web-2", t(1.7e9)));
        let later = incident_id("web-1", t(1.7e9 + 0.001));
        assert!(
            later > a && later.len() == a.len() && a.len() == 30,
            "{a} {later}"
        );
        // the oldest valid timestamps still give fixed-width ids
        assert_eq!(incident_id("h", t(-6.2e10)).len(), 30);
    }

    #[test]
    fn the_wire_form_is_camel_case_and_round_trips() {
        let incident = Incident::open(&insight(
            0,
            InsightType::CpuSpike,
            Metric::Cpu,
            Severity::Info,
        ));
        let json = serde_json::to_value(&incident).unwrap();
        assert_eq!(json["status"], "open");
        assert_eq!(json["peak"]["metric"], "cpuUsage");
        assert!(json.get("incidentId").is_some() && json["resolved"].is_null());
        let back: Incident = serde_json::from_value(json).unwrap();
        assert_eq!(back, incident);
        assert_eq!(
            "resolved".parse::<IncidentStatus>().unwrap(),
            IncidentStatus::Resolved
        );
        let err = "closed".parse::<IncidentStatus>().unwrap_err().to_string();
        assert!(err.contains("status"), "{err}");
    }
}
