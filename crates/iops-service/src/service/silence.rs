//! The sweep for silent hosts ([`iops_core::SilencePolicy`]): hosts that reported regularly and
//! stopped get a critical `host_stopped_reporting` incident, resolved by the sweep after
//! their samples return. A fleet from which nothing arrives at all gets one such incident
//! on the fleet ([`iops_core::SilencePolicy::judge_fleet`]), resolved when samples arrive
//! again. Run every minute (the Lambda by a scheduled rule, `iops serve` by a timer);
//! idempotent, so two sweeps at once store the same incidents.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use iops_core::{FleetArrivals, Incident, IncidentChange, Timestamp};
use iops_store::HostEntry;
use serde::Serialize;

use super::{decode_state, Service};
use crate::ServiceError;

/// What one sweep found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceSweep {
    /// Hosts the store knows.
    pub hosts: usize,
    /// The fleet's newest sample: the "now" silences are judged against (`None`: no
    /// host yet).
    pub fleet_now: Option<Timestamp>,
    /// Incidents this sweep opened.
    pub opened: Vec<Incident>,
    /// Silences this sweep resolved (their hosts report again).
    pub resolved: Vec<Incident>,
}

impl Service {
    /// Judges every host against the fleet's newest sample: opens an incident for each
    /// host newly silent ([`ServiceConfig::silence`](super::ServiceConfig::silence)),
    /// resolves the open ones whose hosts have sent a sample since they were judged
    /// silent, and stores both.
    pub async fn sweep_silent_hosts(&self) -> Result<SilenceSweep, ServiceError> {
        let policy = self.config.silence;
        let hosts = self.store.list_hosts().await?;
        let Some(fleet_now) = hosts.iter().map(|h| h.last_timestamp).max() else {
            return Ok(SilenceSweep::default());
        };
        let last_seen: HashMap<&str, Timestamp> = hosts
            .iter()
            .map(|h| (h.hostname.as_str(), h.last_timestamp))
            .collect();
        let open = self.open_incidents(None, None).await?;
        let (fleet_silences, host_silences): (Vec<Incident>, Vec<Incident>) = open
            .into_iter()
            .filter(Incident::is_silence)
            .partition(Incident::is_fleet);
        let (mut opened, mut resolved) =
            self.judge_fleet(&hosts, fleet_now, fleet_silences).await?;
        let mut silent = HashSet::new();
        for mut incident in host_silences {
            let back = last_seen
                .get(incident.hostname.as_str())
                .is_some_and(|last| *last >= incident.opened);
            if back {
                let at = self.first_sample_from(&incident).await?;
                incident.resolve(at);
                resolved.push(incident);
            } else {
                silent.insert(incident.hostname.clone());
            }
        }
        for HostEntry {
            hostname,
            last_timestamp,
            ..
        } in &hosts
        {
            let quiet_for = fleet_now.epoch_seconds() - last_timestamp.epoch_seconds();
            // the policy's floor first: most hosts are not near it, and their interval
            // may cost a state load
            if silent.contains(hostname)
                || quiet_for < policy.min_seconds
                || self.in_maintenance(hostname, fleet_now).await
            {
                continue;
            }
            let Some(interval) = self.host_interval(hostname).await? else {
                continue;
            };
            if let Some(incident) = policy.judge(hostname, *last_timestamp, interval, fleet_now) {
                opened.push(incident);
            }
        }
        // (counted before the notifications: fleet incidents read the fleet's size)
        self.fleet_hosts.store(hosts.len(), Ordering::Relaxed);
        self.record_sweep(&opened, &resolved).await?;
        Ok(SilenceSweep {
            hosts: hosts.len(),
            fleet_now: Some(fleet_now),
            opened,
            resolved,
        })
    }

    /// What a sweep opened and resolved: stored in one write, then logged (the openings)
    /// and sent as notifications.
    pub(super) async fn record_sweep(
        &self,
        opened: &[Incident],
        resolved: &[Incident],
    ) -> Result<(), ServiceError> {
        let changed: Vec<Incident> = opened.iter().chain(resolved).cloned().collect();
        if !changed.is_empty() {
            self.store.put_incidents(&changed).await?;
        }
        for incident in opened {
            tracing::warn!(incident_id = %incident.incident_id, "{}", incident.summary);
            self.incident_changed(Some(IncidentChange::Opened), Some(incident))
                .await;
        }
        for incident in resolved {
            self.incident_changed(Some(IncidentChange::Resolved), Some(incident))
                .await;
        }
        Ok(())
    }

    /// The fleet's silence: resolves the open ones if a sample arrived since they opened,
    /// else opens one if nothing arrived from any host for the threshold of the newest
    /// sample's host's interval. Arrivals are the newest of the store's (what every
    /// process saved: DynamoDB) and this process's own (`iops serve`).
    async fn judge_fleet(
        &self,
        hosts: &[HostEntry],
        newest_sample: Timestamp,
        open: Vec<Incident>,
    ) -> Result<(Vec<Incident>, Vec<Incident>), ServiceError> {
        let arrived = hosts
            .iter()
            .filter_map(|h| h.last_received)
            .max()
            .max(self.last_arrival());
        let (mut still_open, mut resolved) = (false, Vec::new());
        for mut incident in open {
            match arrived {
                Some(at) if at >= incident.opened => {
                    incident.resolve(at);
                    resolved.push(incident);
                }
                _ => still_open = true,
            }
        }
        let since = arrived.or(self.watch_from);
        let newest_host = hosts.iter().find(|h| h.last_timestamp == newest_sample);
        let (Some(last_arrival), Some(newest_host), false) = (since, newest_host, still_open)
        else {
            return Ok((Vec::new(), resolved));
        };
        let Some(interval) = self.host_interval(&newest_host.hostname).await? else {
            return Ok((Vec::new(), resolved));
        };
        let fleet = FleetArrivals {
            hosts: hosts.len(),
            last_arrival,
            newest_sample,
            interval,
            now: self.now(),
        };
        Ok((
            self.config
                .silence
                .judge_fleet(&fleet)
                .into_iter()
                .collect(),
            resolved,
        ))
    }

    /// The time of the host's first sample at or after its silence began (the sample that
    /// ended it).
    async fn first_sample_from(&self, silence: &Incident) -> Result<Timestamp, ServiceError> {
        let first = self
            .store
            .list_metrics(&silence.hostname, silence.opened, 1)
            .await?;
        Ok(first.first().map_or(silence.opened, |m| m.sample.timestamp))
    }

    /// Seconds between the host's samples, as its engine state observed them: from this
    /// process's memory, else from its stored state (decoded once; an interval does not
    /// change). `None` for a host whose models have not started (too few samples to call
    /// it regular).
    async fn host_interval(&self, hostname: &str) -> Result<Option<f64>, ServiceError> {
        if let Some(known) = self.known_interval(hostname) {
            return Ok(Some(known));
        }
        let interval = match self.store.load_state(hostname).await? {
            Some(stored) => decode_state(&stored.state).and_then(|s| s.cadence()),
            None => None,
        };
        if let Some(interval) = interval {
            let mut intervals = self.intervals.lock().unwrap_or_else(|e| e.into_inner());
            intervals.insert(hostname.to_owned(), interval);
        }
        Ok(interval)
    }

    fn known_interval(&self, hostname: &str) -> Option<f64> {
        let remembered = {
            let intervals = self.intervals.lock().unwrap_or_else(|e| e.into_inner());
            intervals.get(hostname).copied()
        };
        remembered
            .or_else(|| {
                let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
                states.get(hostname).and_then(|c| c.state.cadence())
            })
            .or_else(|| self.live_interval(hostname))
    }
}
