//! The peer sweep ([`iops_core::peers::PeerDeviationPolicy`]): with peer groups in the
//! fleet model, each group's reporting hosts are judged together; a host whose level moved
//! away from its group's (CPU or memory) while the group stayed where it was gets a
//! `peer_deviation` incident (warning), resolved by a later sweep once it is back with
//! its group. A host with an incident of its own open gets no second one: the deviation
//! joins that incident (its type, metric and a clause of its summary; nobody is paged
//! again), which resolves as the host's models say. Run with the silent-host sweep;
//! idempotent (an open deviation is not opened or joined twice), and every [`ServiceConfig::peer_sweep_every`](super::ServiceConfig::peer_sweep_every)
//! of the receiving clock only (it reads every reporting host's state).

use std::collections::{BTreeMap, HashMap};

use iops_core::engine::PeerShift;
use iops_core::peers::{Deviation, Member, PeerGroup};
use iops_core::{Incident, IncidentStatus, Metric};
use serde::Serialize;

use super::Service;
use crate::ServiceError;

/// Hosts whose newest sample is older than this behind the fleet's are not judged (their
/// level is not current).
const REPORTING_SECONDS: f64 = 3600.0;

/// What one peer sweep did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerSweep {
    /// Whether it ran (it runs once every `peer_sweep_every`, and only with peer groups).
    pub ran: bool,
    /// Hosts judged (reporting, in a group).
    pub hosts: usize,
    /// Deviations this sweep opened.
    pub opened: Vec<Incident>,
    /// Deviations this sweep resolved.
    pub resolved: Vec<Incident>,
    /// Hosts' own open incidents a deviation joined in this sweep.
    pub folded: Vec<Incident>,
}

impl Service {
    /// Judges each peer group's reporting hosts ([`PeerSweep`]); does nothing without
    /// groups in the model or outside its slot of the receiving clock.
    pub async fn sweep_peer_deviations(&self) -> Result<PeerSweep, ServiceError> {
        let every = self.config.peer_sweep_every.as_secs().max(60);
        let minute = self.now().epoch_seconds() as u64 / 60;
        if !minute.is_multiple_of(every / 60) {
            return Ok(PeerSweep::default());
        }
        self.judge_peers().await
    }

    /// The sweep itself, whatever the clock (tests, and the first sweep of a process).
    pub async fn judge_peers(&self) -> Result<PeerSweep, ServiceError> {
        let Some(peers) = self.scorer.peer_groups() else {
            return Ok(PeerSweep::default());
        };
        let policy = self.config.peer_deviation;
        let hosts = self.store.list_hosts().await?;
        let Some(fleet_now) = hosts.iter().map(|h| h.last_timestamp).max() else {
            return Ok(PeerSweep {
                ran: true,
                ..PeerSweep::default()
            });
        };
        // each reporting host's place in its group
        let mut by_group: BTreeMap<String, Vec<(String, PeerShift)>> = BTreeMap::new();
        for h in &hosts {
            if fleet_now.epoch_seconds() - h.last_timestamp.epoch_seconds() > REPORTING_SECONDS {
                continue;
            }
            if let Some(Some(s)) = self.read_state(&h.hostname, |s| s.peer_shift()).await? {
                by_group
                    .entry(s.group.clone())
                    .or_default()
                    .push((h.hostname.clone(), s));
            }
        }
        // the deviations open on their own, and the hosts' open incidents (a deviation
        // joined to one counts as open)
        let mut open: HashMap<(String, Metric), Incident> = HashMap::new();
        let mut own: HashMap<String, Incident> = HashMap::new();
        for incident in self.open_incidents(None, None).await? {
            if incident.is_peer_deviation() {
                if let Some(&metric) = incident.metrics.first() {
                    open.insert((incident.hostname.clone(), metric), incident);
                }
            } else if !incident.is_fleet() && !incident.is_silence() {
                own.insert(incident.hostname.clone(), incident);
            }
        }
        let (mut opened, mut resolved, mut folded, mut judged) =
            (Vec::new(), Vec::new(), Vec::new(), 0);
        for (name, members) in &by_group {
            let Some(group) = peers.groups().iter().find(|g| &g.name == name) else {
                continue;
            };
            let view: Vec<Member<'_>> = members
                .iter()
                .map(|(hostname, s)| Member {
                    hostname,
                    level: s.level,
                    shift: s.shift,
                    open: Metric::ALL.map(|m| deviating(&open, &own, hostname, m)),
                    own_incident: s.own_incident,
                })
                .collect();
            if view.len() < policy.min_hosts {
                continue;
            }
            judged += view.len();
            let found = policy.judge(group, &view);
            for d in &found {
                if d.into_own {
                    if let Some(incident) = own.get(&d.hostname) {
                        folded.push((incident.incident_id.clone(), group, d.clone()));
                    }
                } else if !deviating(&open, &own, &d.hostname, d.metric) {
                    opened.push(d.incident(group, fleet_now));
                }
            }
            for (hostname, ..) in members {
                for metric in iops_core::peers::JUDGED {
                    let still = found
                        .iter()
                        .any(|d| &d.hostname == hostname && d.metric == metric);
                    if still {
                        continue;
                    }
                    if let Some(mut incident) = open.remove(&(hostname.clone(), metric)) {
                        incident.resolve(fleet_now.max(incident.opened));
                        resolved.push(incident);
                    }
                }
            }
        }
        let folded = self.store_folds(folded, fleet_now).await?;
        self.record_sweep(&opened, &resolved).await?;
        Ok(PeerSweep {
            ran: true,
            hosts: judged,
            opened,
            resolved,
            folded,
        })
    }

    /// Stores the deviations joined to hosts' own incidents (an update: nobody is told),
    /// each incident read once and folded as stored now: an ingest may have changed it
    /// since the sweep read it (an insight, an escalation, its resolution), and that write
    /// stays; a host deviating on both CPU and memory gets both in one write.
    async fn store_folds(
        &self,
        folds: Vec<(String, &PeerGroup, Deviation)>,
        at: iops_core::Timestamp,
    ) -> Result<Vec<Incident>, ServiceError> {
        let mut by_incident: BTreeMap<String, Vec<(&PeerGroup, Deviation)>> = BTreeMap::new();
        for (incident_id, group, d) in folds {
            by_incident.entry(incident_id).or_default().push((group, d));
        }
        let mut stored = Vec::new();
        for (incident_id, deviations) in by_incident {
            let Some(mut incident) = self.store.get_incident(&incident_id).await? else {
                continue;
            };
            if incident.status != IncidentStatus::Open {
                continue;
            }
            let mut changed = false;
            for (group, d) in &deviations {
                changed |= d.fold_into(group, &mut incident, at);
            }
            if changed {
                stored.push(incident);
            }
        }
        if !stored.is_empty() {
            self.store.put_incidents(&stored).await?;
        }
        Ok(stored)
    }
}

/// Whether `hostname` has a peer deviation of `metric` open: on its own (`open`), or joined
/// to its own open incident (`own`).
fn deviating(
    open: &HashMap<(String, Metric), Incident>,
    own: &HashMap<String, Incident>,
    hostname: &str,
    metric: Metric,
) -> bool {
    open.contains_key(&(hostname.to_owned(), metric))
        || own
            .get(hostname)
            .is_some_and(|i| i.has_peer_deviation(metric))
}
