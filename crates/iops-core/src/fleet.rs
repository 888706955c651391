//! Fleet incidents: when several hosts open incidents of the same kind within a short
//! window (a shared dependency failing), one incident with hostname `fleet` links them, and
//! people are told of it instead of each host's.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{incident_id, Error, Incident, IncidentStatus, InsightType, Peak, Result, Timestamp};

/// The hostname of a fleet incident.
pub const FLEET: &str = "fleet";

/// When host incidents make a fleet incident.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetPolicy {
    /// At least this many hosts... Default 3.
    pub min_hosts: usize,
    /// ... and at least this share of the fleet (0–1). Default 0.2.
    pub min_share: f64,
    /// ... opening incidents of the same kind within this many seconds. Default 600.
    pub window_seconds: f64,
    /// Seconds a host incident's notifications wait (receiving clock) before they go out,
    /// so that the first hosts of a fleet episode are told as the fleet incident, not one
    /// by one; 0 sends them at once. Default 0: waiting delays every host's page.
    pub hold_seconds: f64,
}

impl Default for FleetPolicy {
    fn default() -> Self {
        FleetPolicy {
            min_hosts: 3,
            min_share: 0.2,
            window_seconds: 600.0,
            hold_seconds: 0.0,
        }
    }
}

impl FleetPolicy {
    /// Checks every field; the error names `fleet_min_hosts`, `fleet_min_share`,
    /// `fleet_window_seconds` or `fleet_hold_seconds`.
    pub fn validate(&self) -> Result<()> {
        if !(2..=100_000).contains(&self.min_hosts) {
            return Err(Error::param(
                "fleet_min_hosts",
                self.min_hosts,
                "must be in 2..=100000",
            ));
        }
        if !(self.min_share.is_finite() && (0.0..=1.0).contains(&self.min_share)) {
            return Err(Error::param(
                "fleet_min_share",
                self.min_share,
                "must be in [0, 1]",
            ));
        }
        if !(self.window_seconds.is_finite() && (0.0..=86_400.0).contains(&self.window_seconds)) {
            return Err(Error::param(
                "fleet_window_seconds",
                self.window_seconds,
                "must be in [0, 86400]",
            ));
        }
        if !(self.hold_seconds.is_finite() && (0.0..=3600.0).contains(&self.hold_seconds)) {
            return Err(Error::param(
                "fleet_hold_seconds",
                self.hold_seconds,
                "must be in [0, 3600]",
            ));
        }
        Ok(())
    }

    /// The fleet incident `new` (a host incident that just opened) belongs to, given the
    /// incidents open now (`open`: host and fleet ones) and the number of hosts in the
    /// fleet: an open fleet incident of its kind that opened within the window before it
    /// (joined), or a new one when enough hosts opened incidents of its kind within the
    /// window before it. `None`: it stands alone. A `fleet_size` of 0 (unknown) judges the
    /// count of hosts alone.
    pub fn group(&self, new: &Incident, open: &[Incident], fleet_size: usize) -> Option<Incident> {
        let kind = *new.types.first()?;
        if new.is_fleet() {
            return None;
        }
        let within = |opened: Timestamp| {
            let gap = new.opened.epoch_seconds() - opened.epoch_seconds();
            (0.0..=self.window_seconds).contains(&gap)
        };
        if let Some(fleet) = open
            .iter()
            .find(|i| i.hostname == FLEET && i.types.first() == Some(&kind) && within(i.opened))
        {
            let mut fleet = fleet.clone();
            if !fleet.members.contains(&new.incident_id) {
                fleet.absorb(new);
                fleet.summary = summary(kind, &fleet, fleet_size);
            }
            return Some(fleet);
        }
        let mut members: Vec<&Incident> = open
            .iter()
            .filter(|i| {
                i.hostname != FLEET
                    && i.status == IncidentStatus::Open
                    && i.types.first() == Some(&kind)
                    && i.incident_id != new.incident_id
                    && within(i.opened)
            })
            .collect();
        members.push(new);
        let hosts: BTreeSet<&str> = members.iter().map(|i| i.hostname.as_str()).collect();
        let share = hosts.len() as f64 / fleet_size.max(hosts.len()).max(1) as f64;
        if hosts.len() < self.min_hosts || share < self.min_share {
            return None;
        }
        members.sort_by(|a, b| {
            (a.opened, &a.hostname, &a.incident_id).cmp(&(b.opened, &b.hostname, &b.incident_id))
        });
        let first = members[0];
        let mut fleet = Incident {
            incident_id: incident_id(&format!("{FLEET}/{kind}"), first.opened),
            hostname: FLEET.to_owned(),
            status: IncidentStatus::Open,
            severity: first.severity,
            types: vec![kind],
            metrics: Vec::new(),
            opened: first.opened,
            updated: first.updated,
            resolved: None,
            peak: None,
            summary: String::new(),
            insights: 0,
            insight_ids: Vec::new(),
            hosts: Vec::new(),
            members: Vec::new(),
        };
        for m in &members {
            fleet.absorb(m);
        }
        fleet.summary = summary(kind, &fleet, fleet_size);
        Some(fleet)
    }
}

/// "cpu_spike on 3 of 10 hosts at once: web-1, web-2, web-3".
fn summary(kind: InsightType, fleet: &Incident, fleet_size: usize) -> String {
    let hosts = &fleet.hosts;
    let listed = hosts.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    let more = if hosts.len() > 8 {
        format!(" and {} more", hosts.len() - 8)
    } else {
        String::new()
    };
    let of = match fleet_size {
        0 => String::new(),
        n => format!(" of {}", n.max(hosts.len())),
    };
    format!(
        "{kind} on {}{of} hosts at once: {listed}{more}",
        hosts.len()
    )
}

impl Incident {
    /// Takes a member into a fleet incident: its id and host, severity, metrics, peak and
    /// insights.
    fn absorb(&mut self, member: &Incident) {
        self.members.push(member.incident_id.clone());
        if !self.hosts.contains(&member.hostname) {
            self.hosts.push(member.hostname.clone());
        }
        self.severity = self.severity.max(member.severity);
        for m in &member.metrics {
            if !self.metrics.contains(m) {
                self.metrics.push(*m);
            }
        }
        if let Some(q) = member.peak {
            if Peak::is_beaten_by(self.peak.as_ref(), q.severity, q.score) {
                self.peak = Some(q);
            }
        }
        self.updated = self.updated.max(member.updated);
        self.insights = self.insights.saturating_add(member.insights);
    }

    /// True for a fleet incident.
    pub fn is_fleet(&self) -> bool {
        self.hostname == FLEET
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Insight, Metric, Severity};

    fn host_incident(host: &str, minute: f64, kind: InsightType, severity: Severity) -> Incident {
        Incident::open(&Insight {
            kind,
            severity,
            message: format!("{kind} on {host}"),
            hostname: host.into(),
            timestamp: Timestamp::from_epoch_seconds(1.7e9 + 60.0 * minute).unwrap(),
            metric: Metric::NetworkIo,
            value: 0.5,
            expected: 28.0,
            score: 0.6,
            detector: "zscore+ewma".into(),
            drivers: Vec::new(),
            incident_id: None,
            eta_seconds: None,
            eta_interval_seconds: None,
        })
    }

    #[test]
    fn three_hosts_of_ten_at_once_make_one_fleet_incident_that_later_hosts_join() {
        let p = FleetPolicy::default();
        let kind = InsightType::NetworkAnomaly;
        let a = host_incident("web-1", 0.0, kind, Severity::Warning);
        let b = host_incident("web-2", 2.0, kind, Severity::Critical);
        // two: not yet a fleet
        assert!(p.group(&b, std::slice::from_ref(&a), 10).is_none());
        let c = host_incident("web-3", 5.0, kind, Severity::Warning);
        let fleet = p.group(&c, &[a.clone(), b.clone()], 10).unwrap();
        assert!(fleet.is_fleet());
        assert_eq!(fleet.hostname, FLEET);
        assert_eq!(
            fleet.members,
            [
                a.incident_id.clone(),
                b.incident_id.clone(),
                c.incident_id.clone()
            ]
        );
        assert_eq!(fleet.hosts, ["web-1", "web-2", "web-3"]);
        assert_eq!(fleet.severity, Severity::Critical);
        assert_eq!(fleet.opened, a.opened);
        assert_eq!(
            fleet.summary,
            "network_anomaly on 3 of 10 hosts at once: web-1, web-2, web-3"
        );
        // a fourth joins the same record (same id), a different kind does not
        let d = host_incident("web-4", 9.0, kind, Severity::Info);
        let open = [a.clone(), b.clone(), c.clone(), fleet.clone()];
        let joined = p.group(&d, &open, 10).unwrap();
        assert_eq!(joined.incident_id, fleet.incident_id);
        assert_eq!(joined.hosts.len(), 4);
        let other = host_incident("web-5", 9.0, InsightType::CpuSpike, Severity::Info);
        assert!(p.group(&other, &open, 10).is_none());
        // the same three hosts are too small a share of a fleet of 100
        assert!(p.group(&c, &[a.clone(), b.clone()], 100).is_none());
        // nor do incidents further apart than the window group
        let late = host_incident("web-3", 11.0, kind, Severity::Warning);
        assert!(p.group(&late, &[a, b], 10).is_none());
    }

    #[test]
    fn bad_policies_name_their_field() {
        for (policy, field) in [
            (
                FleetPolicy {
                    min_hosts: 1,
                    ..FleetPolicy::default()
                },
                "fleet_min_hosts",
            ),
            (
                FleetPolicy {
                    min_share: 1.5,
                    ..FleetPolicy::default()
                },
                "fleet_min_share",
            ),
            (
                FleetPolicy {
                    window_seconds: f64::NAN,
                    ..FleetPolicy::default()
                },
                "fleet_window_seconds",
            ),
            (
                FleetPolicy {
                    hold_seconds: -1.0,
                    ..FleetPolicy::default()
                },
                "fleet_hold_seconds",
            ),
        ] {
            let err = policy.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        FleetPolicy::default().validate().unwrap();
    }
}
