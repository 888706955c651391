//! What a person is told when an incident opens, escalates or resolves: one message per
//! transition, with a key that names the transition, so a receiver that sees it twice (a
//! retry, a replay after a restart) can keep one.

use serde::{Deserialize, Serialize};

use crate::{Incident, IncidentChange};

/// One notification: the JSON body a webhook receives and an SNS message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `<incidentId>:<event>:<severity>` (`<incidentId>:resolved` for a resolution): the
    /// same for every delivery of the same transition, different for every transition.
    pub idempotency_key: String,
    /// `opened`, `escalated` or `resolved`.
    pub event: IncidentChange,
    /// One line for a chat channel (Slack's `text` field).
    pub text: String,
    /// The incident as of the transition.
    pub incident: Incident,
}

impl Notification {
    /// The notification of `change` to `incident`; `None` for a change nobody is told of
    /// ([`IncidentChange::Updated`]).
    pub fn of(change: IncidentChange, incident: &Incident) -> Option<Self> {
        let id = &incident.incident_id;
        let host = &incident.hostname;
        let severity = incident.severity;
        let (key, text) = match change {
            IncidentChange::Updated => return None,
            IncidentChange::Opened => (
                format!("{id}:opened:{severity}"),
                format!(
                    "[{severity}] {host}: {} (incident {id}, opened {})",
                    incident.summary, incident.opened
                ),
            ),
            IncidentChange::Escalated => (
                format!("{id}:escalated:{severity}"),
                format!(
                    "[{severity}] escalated on {host}: {} (incident {id}, opened {})",
                    incident.summary, incident.opened
                ),
            ),
            IncidentChange::Resolved => {
                let minutes = incident
                    .resolved
                    .map(|r| (r.epoch_seconds() - incident.opened.epoch_seconds()) / 60.0)
                    .unwrap_or(0.0);
                (
                    format!("{id}:resolved"),
                    format!(
                        "[resolved] {host}: {} (incident {id}, {severity} at its worst, over after {minutes:.0} min)",
                        incident.summary
                    ),
                )
            }
        };
        Some(Notification {
            idempotency_key: key,
            event: change,
            text,
            incident: incident.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SilencePolicy, Timestamp};

    #[test]
    fn each_transition_has_its_own_key_and_updates_are_not_told() {
        let at = |m: f64| Timestamp::from_epoch_seconds(1.7e9 + 60.0 * m).unwrap();
        let mut incident = SilencePolicy::default()
            .judge("web-3", at(0.0), 60.0, at(12.0))
            .unwrap();
        let opened = Notification::of(IncidentChange::Opened, &incident).unwrap();
        assert!(opened
            .text
            .starts_with("[critical] web-3: web-3 stopped reporting"));
        assert_eq!(
            opened.idempotency_key,
            format!("{}:opened:critical", incident.incident_id)
        );
        assert!(Notification::of(IncidentChange::Updated, &incident).is_none());
        incident.resolve(at(40.0));
        let resolved = Notification::of(IncidentChange::Resolved, &incident).unwrap();
        assert_eq!(
            resolved.idempotency_key,
            format!("{}:resolved", incident.incident_id)
        );
        assert!(
            resolved.text.contains("over after 30 min"),
            "{}",
            resolved.text
        );
        let json = serde_json::to_value(&resolved).unwrap();
        assert_eq!(json["event"], "resolved");
        assert_eq!(json["incident"]["status"], "resolved");
        assert!(json["idempotencyKey"].is_string() && json["text"].is_string());
    }
}
