//! Quiet windows an operator declares: maintenance (a host's samples are stored and shown,
//! but neither learned nor alerted on) and mutes (its incidents' notifications are not sent).
//!
//! ```
//! use iops_core::{QuietKind, QuietWindow, Timestamp};
//!
//! let now = Timestamp::parse_rfc3339("2026-11-26T17:00:00Z").unwrap();
//! let body = br#"{"hostname":"db-1","start":"2026-11-26T18:00:00Z",
//!                 "end":"2026-11-26T20:00:00Z","reason":"kernel upgrade"}"#;
//! let w = QuietWindow::from_request(QuietKind::Maintenance, body, now, 7.0 * 86_400.0).unwrap();
//! let at = |s| Timestamp::parse_rfc3339(s).unwrap();
//! assert!(w.covers("db-1", at("2026-11-26T19:00:00Z")));
//! assert!(!w.covers("db-1", at("2026-11-26T20:00:00Z")));
//! assert!(!w.covers("db-2", at("2026-11-26T19:00:00Z")));
//!
//! let bad = br#"{"hostname":"db-1","start":"2026-11-26T18:00:00Z","end":"2026-11-26T17:00:00Z"}"#;
//! let err = QuietWindow::from_request(QuietKind::Maintenance, bad, now, 86_400.0).unwrap_err();
//! assert_eq!(err.field(), Some("end"));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::{invalid, must_be, RequestFields};
use crate::{record_id, validate_hostname, Error, Incident, InsightType, Result};
use crate::{Timestamp, FLEET};

/// The hostname of a window that covers every host (and the fleet's incidents).
pub const EVERY_HOST: &str = "*";
/// Longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What a quiet window silences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietKind {
    /// Samples inside are stored and shown, but neither learned nor alerted on.
    Maintenance,
    /// Notifications of the host's incidents (of one type, or all) are not sent.
    Mute,
}

impl QuietKind {
    /// `maintenance` or `mute`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuietKind::Maintenance => "maintenance",
            QuietKind::Mute => "mute",
        }
    }
}

/// A maintenance window or a mute: from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuietWindow {
    /// `<13 hex digits: milliseconds of its creation>-<16 hex digits of hash>`: sorts by
    /// the time it was created.
    pub window_id: String,
    /// Maintenance or mute.
    pub kind: QuietKind,
    /// The host, or [`EVERY_HOST`].
    pub hostname: String,
    /// A mute's insight type (`None`: every type); a maintenance window has none.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub insight_type: Option<InsightType>,
    /// When it begins.
    pub start: Timestamp,
    /// When it ends (after `start`).
    pub end: Timestamp,
    /// Why, for the people who read the list.
    pub reason: String,
    /// When it was declared (the receiving clock).
    pub created: Timestamp,
}

impl QuietWindow {
    /// Parses the body of a `POST /maintenance` or `POST /mutes`: `hostname` (a host or
    /// `"*"`), `start` (RFC 3339 or epoch seconds; default `now`), `end`, `reason`
    /// (optional), and for a mute `type` (optional: an insight type). `end` must be after
    /// `start` and at most `max_seconds` later. Errors name the field (`body` when the body
    /// is not a JSON object); unknown fields are refused.
    pub fn from_request(
        kind: QuietKind,
        bytes: &[u8],
        now: Timestamp,
        max_seconds: f64,
    ) -> Result<Self> {
        let allowed: &[&str] = match kind {
            QuietKind::Maintenance => &["hostname", "start", "end", "reason"],
            QuietKind::Mute => &["hostname", "type", "start", "end", "reason"],
        };
        let fields = RequestFields::parse(bytes, allowed, kind.as_str())?;
        let hostname = match fields.get("hostname") {
            Some(Value::String(h)) => h.clone(),
            Some(other) => return Err(invalid("hostname", must_be("a string", other))),
            None => return Err(invalid("hostname", "is required (a host, or \"*\")".into())),
        };
        if hostname != EVERY_HOST {
            validate_hostname(&hostname)?;
        }
        let start = match fields.get("start") {
            Some(v) => time_field("start", v)?,
            None => now,
        };
        let end = match fields.get("end") {
            Some(v) => time_field("end", v)?,
            None => return Err(invalid("end", "is required".into())),
        };
        let length = end.epoch_seconds() - start.epoch_seconds();
        if length <= 0.0 {
            return Err(invalid("end", format!("must be after start ({start})")));
        }
        if length > max_seconds {
            return Err(invalid(
                "end",
                format!(
                    "is {:.1} h after start; at most {:.1} h is accepted",
                    length / 3600.0,
                    max_seconds / 3600.0
                ),
            ));
        }
        let insight_type = match fields.get("type") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<InsightType>(v.clone())
                    .map_err(|_| invalid("type", format!("must be an insight type, got {v}")))?,
            ),
        };
        let reason = fields.text("reason", MAX_REASON_CHARS)?;
        let window_id = quiet_window_id(kind, &hostname, start, end, now);
        Ok(QuietWindow {
            window_id,
            kind,
            hostname,
            insight_type,
            start,
            end,
            reason,
            created: now,
        })
    }

    /// True when the window covers `hostname` at `t`.
    pub fn covers(&self, hostname: &str, t: Timestamp) -> bool {
        (self.hostname == EVERY_HOST || self.hostname == hostname)
            && self.start <= t
            && t < self.end
    }

    /// True when this is a mute that silences `incident`'s notifications at `now`: its host
    /// (a fleet incident by a mute of every host, or of [`FLEET`]) and one of its types.
    pub fn mutes(&self, incident: &Incident, now: Timestamp) -> bool {
        let host = if incident.is_fleet() {
            FLEET
        } else {
            &incident.hostname
        };
        self.kind == QuietKind::Mute
            && self.covers(host, now)
            && self
                .insight_type
                .is_none_or(|t| incident.types.contains(&t))
    }
}

/// The id of a window: the creation time's 13 hex digits (so ids sort by creation), a
/// dash, and 16 hex digits of SHA-256 over what it is.
fn quiet_window_id(
    kind: QuietKind,
    hostname: &str,
    start: Timestamp,
    end: Timestamp,
    created: Timestamp,
) -> String {
    let hash = record_id::hash_hex(
        &[
            kind.as_str().as_bytes(),
            hostname.as_bytes(),
            &start.epoch_nanos().to_be_bytes(),
            &end.epoch_nanos().to_be_bytes(),
            &created.epoch_nanos().to_be_bytes(),
        ],
        8,
    );
    format!("{}-{hash}", record_id::time_prefix(created))
}

/// A time field (RFC 3339 or epoch seconds), its error naming `field`.
fn time_field(field: &str, value: &Value) -> Result<Timestamp> {
    Timestamp::from_json_value(value).map_err(|e| match e {
        Error::InvalidField { reason, .. } => invalid(field, reason),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn now() -> Timestamp {
        at("2026-11-26T17:00:00Z")
    }

    fn field_of(kind: QuietKind, body: &str) -> Option<String> {
        QuietWindow::from_request(kind, body.as_bytes(), now(), DAY)
            .err()
            .and_then(|e| e.field().map(str::to_owned))
    }

    /// Each bad request names its field.
    #[test]
    fn bad_requests_name_their_field() {
        let cases = [
            (QuietKind::Maintenance, "[]", "body"),
            (QuietKind::Maintenance, "{", "body"),
            (
                QuietKind::Maintenance,
                r#"{"end":"2026-11-26T18:00:00Z"}"#,
                "hostname",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":7,"end":"2026-11-26T18:00:00Z"}"#,
                "hostname",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"bad host","end":"2026-11-26T18:00:00Z"}"#,
                "hostname",
            ),
            (QuietKind::Maintenance, r#"{"hostname":"web-1"}"#, "end"),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"tomorrow"}"#,
                "end",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","start":true,"end":"2026-11-26T18:00:00Z"}"#,
                "start",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-26T16:00:00Z"}"#,
                "end",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-26T17:00:00Z"}"#,
                "end",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-28T17:00:00Z"}"#,
                "end",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z","reason":5}"#,
                "reason",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z","type":"cpu_spike"}"#,
                "type",
            ),
            (
                QuietKind::Maintenance,
                r#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z","until":1}"#,
                "until",
            ),
            (
                QuietKind::Mute,
                r#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z","type":"cpu"}"#,
                "type",
            ),
        ];
        for (kind, body, field) in cases {
            assert_eq!(field_of(kind, body).as_deref(), Some(field), "{body}");
        }
        let long = format!(
            r#"{{"hostname":"web-1","end":"2026-11-26T18:00:00Z","reason":"{}"}}"#,
            "x".repeat(MAX_REASON_CHARS + 1)
        );
        assert_eq!(field_of(QuietKind::Mute, &long).as_deref(), Some("reason"));
    }

    #[test]
    fn a_window_covers_its_hosts_from_start_to_end() {
        let body = br#"{"hostname":"*","start":1795712400,"end":"2026-11-26T18:00:00Z"}"#;
        let w = QuietWindow::from_request(QuietKind::Maintenance, body, now(), DAY).unwrap();
        assert_eq!(w.start, now());
        assert!(w.covers("web-1", now()));
        assert!(w.covers("db-9", at("2026-11-26T17:59:59Z")));
        assert!(!w.covers("web-1", at("2026-11-26T18:00:00Z")));
        assert!(!w.covers("web-1", at("2026-11-26T16:59:59Z")));
        // start defaults to now; the id sorts by creation
        let body = br#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z","reason":"deploy"}"#;
        let w = QuietWindow::from_request(QuietKind::Maintenance, body, now(), DAY).unwrap();
        assert_eq!((w.start, w.reason.as_str()), (now(), "deploy"));
        assert!(w.window_id.starts_with(&record_id::time_prefix(now())));
    }

    #[test]
    fn a_mute_silences_its_host_and_type_only() {
        let mute = |body: &str| {
            QuietWindow::from_request(QuietKind::Mute, body.as_bytes(), now(), DAY).unwrap()
        };
        let typed = mute(r#"{"hostname":"web-1","type":"cpu_spike","end":"2026-11-26T18:00:00Z"}"#);
        let every = mute(r#"{"hostname":"*","end":"2026-11-26T18:00:00Z"}"#);
        let incident = |host: &str, types: Vec<InsightType>| {
            let mut i: Incident = serde_json::from_value(serde_json::json!({
                "incidentId": "x", "hostname": host, "status": "open", "severity": "critical",
                "types": [], "metrics": [], "opened": "2026-11-26T17:00:00Z",
                "updated": "2026-11-26T17:00:00Z", "peak": null, "summary": "", "insights": 1
            }))
            .unwrap();
            i.types = types;
            i
        };
        let cpu = incident(
            "web-1",
            vec![InsightType::LevelShift, InsightType::CpuSpike],
        );
        let memory = incident("web-1", vec![InsightType::MemoryPressure]);
        let other = incident("web-2", vec![InsightType::CpuSpike]);
        assert!(typed.mutes(&cpu, now()));
        assert!(!typed.mutes(&memory, now()));
        assert!(!typed.mutes(&other, now()));
        assert!(!typed.mutes(&cpu, at("2026-11-26T18:00:00Z")));
        assert!(every.mutes(&other, now()));
        // a maintenance window is not a mute
        let body = br#"{"hostname":"web-1","end":"2026-11-26T18:00:00Z"}"#;
        let maintenance =
            QuietWindow::from_request(QuietKind::Maintenance, body, now(), DAY).unwrap();
        assert!(!maintenance.mutes(&cpu, now()));
    }

    #[test]
    fn a_window_round_trips_as_json() {
        let body = br#"{"hostname":"web-1","type":"cpu_spike","end":"2026-11-26T18:00:00Z"}"#;
        let w = QuietWindow::from_request(QuietKind::Mute, body, now(), DAY).unwrap();
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["type"], "cpu_spike");
        assert_eq!(json["kind"], "mute");
        assert_eq!(serde_json::from_value::<QuietWindow>(json).unwrap(), w);
    }
}
