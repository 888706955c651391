//! What happens after an incident changes: fleet grouping ([`FleetPolicy`]) and the
//! notification of the transition. A host incident that opens beside enough others of its
//! kind joins (or makes) a fleet incident, and people are told of the fleet incident
//! instead of each host's; a member's later transitions are told only through it (it
//! escalates with them and resolves with the last of them). Best effort after the sample is
//! stored: a store error here is logged, never the ingest's failure.

use std::sync::atomic::Ordering;

use iops_core::{Incident, IncidentChange, IncidentStatus, Notification, FLEET};
use iops_store::{IncidentQuery, StoredInsight};

use super::Service;
use crate::{Scored, ServiceError};

/// An incident's place in the fleet after a change.
enum Grouping {
    /// Not a fleet's member: people are told of it.
    Alone,
    /// A member of this fleet incident: people are told of the fleet incident's change,
    /// if any.
    Fleet(Option<IncidentChange>, Box<Incident>),
}

impl Service {
    /// The incident a scoring changed, as it is stored: with the ids of its insights, this
    /// sample's added to those stored before, or to those of its version in `unsaved` (the
    /// incidents a batch changed before this sample, not yet written), and with what the
    /// peer sweep folded into that version (`None`: the sample changed no incident).
    pub(super) async fn recorded_incident(
        &self,
        scored: &Scored,
        insights: &[StoredInsight],
        unsaved: &[Incident],
    ) -> Result<Option<Incident>, ServiceError> {
        let Some(mut incident) = scored.assessment.incident.clone() else {
            return Ok(None);
        };
        if let Some(earlier) = unsaved
            .iter()
            .find(|i| i.incident_id == incident.incident_id)
        {
            incident.insight_ids.clone_from(&earlier.insight_ids);
            incident.keep_folded(earlier);
        } else if scored.assessment.incident_change != Some(IncidentChange::Opened) {
            if let Some(stored) = self.store.get_incident(&incident.incident_id).await? {
                incident.keep_folded(&stored);
                incident.insight_ids = stored.insight_ids;
            }
        }
        for i in insights {
            let ours = i.insight.incident_id.as_deref() == Some(incident.incident_id.as_str());
            if ours && !incident.insight_ids.contains(&i.insight_id) {
                incident.insight_ids.push(i.insight_id.clone());
            }
        }
        Ok(Some(incident))
    }

    /// Groups and tells of `change` to `incident` (both from one scoring or sweep).
    pub(super) async fn incident_changed(
        &self,
        change: Option<IncidentChange>,
        incident: Option<&Incident>,
    ) {
        let (Some(change), Some(incident)) = (change, incident) else {
            return;
        };
        if change == IncidentChange::Updated {
            return;
        }
        match self.fleet_change(change, incident).await {
            Ok(Grouping::Alone) => self.notify(Some(change), incident).await,
            Ok(Grouping::Fleet(told, fleet)) => self.notify(told, &fleet).await,
            Err(e) => {
                tracing::warn!(error = %e, incident_id = %incident.incident_id, "fleet grouping failed; told of the host's incident alone");
                self.notify(Some(change), incident).await;
            }
        }
    }

    /// Whether the incident belongs to a fleet incident, and what this change did to it
    /// (the fleet incident is stored when it changed).
    async fn fleet_change(
        &self,
        change: IncidentChange,
        incident: &Incident,
    ) -> Result<Grouping, ServiceError> {
        if incident.is_fleet() {
            return Ok(Grouping::Alone);
        }
        let policy = self.config.fleet;
        if change == IncidentChange::Opened {
            let since = incident
                .opened
                .plus_seconds(-policy.window_seconds)
                .unwrap_or(incident.opened);
            let open = self.open_incidents(None, Some(since)).await?;
            let fleet_size = self.fleet_size();
            let Some(fleet) = policy.group(incident, &open, fleet_size) else {
                return Ok(Grouping::Alone);
            };
            let before = open.iter().find(|i| i.incident_id == fleet.incident_id);
            let told = match before {
                None => Some(IncidentChange::Opened),
                Some(b) if fleet.severity > b.severity => Some(IncidentChange::Escalated),
                Some(_) => None,
            };
            self.store
                .put_incidents(std::slice::from_ref(&fleet))
                .await?;
            return Ok(Grouping::Fleet(told, Box::new(fleet)));
        }
        let Some(mut fleet) = self.fleet_of(incident).await? else {
            return Ok(Grouping::Alone);
        };
        if fleet.status == IncidentStatus::Resolved {
            return Ok(Grouping::Fleet(None, Box::new(fleet)));
        }
        let told = if change == IncidentChange::Escalated && incident.severity > fleet.severity {
            fleet.severity = incident.severity;
            fleet.updated = fleet.updated.max(incident.updated);
            IncidentChange::Escalated
        } else if change == IncidentChange::Resolved && self.all_resolved(&fleet, incident).await? {
            fleet.resolve(incident.resolved.unwrap_or(incident.updated));
            IncidentChange::Resolved
        } else {
            // a member's transition that changes nothing for the fleet: nobody is told
            return Ok(Grouping::Fleet(None, Box::new(fleet)));
        };
        self.store
            .put_incidents(std::slice::from_ref(&fleet))
            .await?;
        Ok(Grouping::Fleet(Some(told), Box::new(fleet)))
    }

    /// The fleet incident `incident` is a member of (open, or resolved since it opened: a
    /// member's later changes stay with its fleet).
    pub(super) async fn fleet_of(
        &self,
        incident: &Incident,
    ) -> Result<Option<Incident>, ServiceError> {
        let fleets = self
            .store
            .list_incidents(&IncidentQuery {
                status: None,
                hostname: Some(FLEET.to_owned()),
                since: Some(incident.opened),
                limit: self.config.max_list_limit,
            })
            .await?;
        Ok(fleets
            .into_iter()
            .find(|f| f.members.contains(&incident.incident_id)))
    }

    /// True when every member of `fleet` but `resolved_now` (just resolved) is resolved.
    async fn all_resolved(
        &self,
        fleet: &Incident,
        resolved_now: &Incident,
    ) -> Result<bool, ServiceError> {
        for id in fleet
            .members
            .iter()
            .filter(|id| **id != resolved_now.incident_id)
        {
            match self.store.get_incident(id).await? {
                Some(m) if m.status == IncidentStatus::Open => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }

    /// The open incidents, of `hostname` if named, changed since `since` if given.
    pub(super) async fn open_incidents(
        &self,
        hostname: Option<&str>,
        since: Option<iops_core::Timestamp>,
    ) -> Result<Vec<Incident>, ServiceError> {
        Ok(self
            .store
            .list_incidents(&IncidentQuery {
                status: Some(IncidentStatus::Open),
                hostname: hostname.map(str::to_owned),
                since,
                limit: self.config.max_list_limit,
            })
            .await?)
    }

    /// Hosts in the fleet, as this process's last silence sweep counted them; 0 before
    /// one (then the fleet's share is not judged, only the count of hosts: listing the
    /// hosts on DynamoDB is a query per shard of its hosts index, too dear for an ingest).
    fn fleet_size(&self) -> usize {
        self.fleet_hosts.load(Ordering::Relaxed)
    }

    /// Queues the notification of `change` to `incident`, if anyone is told of it, after
    /// writing it to the outbox (so it is sent again if this process stops before it is
    /// delivered); a host's waits there first if the fleet policy holds them.
    async fn notify(&self, change: Option<IncidentChange>, incident: &Incident) {
        let (Some(dispatcher), Some(change)) = (&self.notifications, change) else {
            return;
        };
        let Some(n) = Notification::of(change, incident) else {
            return;
        };
        if self.muted(incident).await {
            tracing::info!(incident_id = %incident.incident_id, change = ?change, "notification muted");
            return;
        }
        let kept = self.store.put_outbox(self.now(), &n).await;
        if let Err(e) = &kept {
            // sent all the same; only its second chance (or its hold) is lost
            tracing::warn!(error = %e, key = %n.idempotency_key, "notification not written to the outbox");
        }
        // a host's page waits in the outbox for a fleet incident to take it in
        // (`FleetPolicy::hold_seconds`); the sweep sends it if none does
        if kept.is_ok() && self.held(&n) {
            return;
        }
        dispatcher.send(n);
    }

    /// True for a notification that waits out the fleet hold before it is sent.
    pub(super) fn held(&self, n: &Notification) -> bool {
        self.config.fleet.hold_seconds > 0.0 && !n.incident.is_fleet()
    }
}
