//! Peer deviation: a host whose level moved away from its peer group's while the group's
//! own level stayed where it was. Judged over a group's reporting hosts at once (the peer
//! sweep), on CPU and memory: the bounded metrics where "twice the CPU of the others" says
//! something about the host (I/O splits unevenly between healthy hosts all the time).

use crate::{
    incident_id, Error, Incident, IncidentStatus, InsightType, Metric, Peak, Result, Severity,
    Timestamp,
};

use super::PeerGroup;
use crate::stats::median;

/// The metrics judged: CPU and memory.
pub const JUDGED: [Metric; 2] = [Metric::Cpu, Metric::Memory];

/// When a host has departed from its group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerDeviationPolicy {
    /// A host deviates when its level relative to the group moved by at least this share
    /// of the group's level (0.5: a web server at 1.5× the others' CPU, where it used to
    /// be level with them)…
    pub min_share: f64,
    /// …and by at least this many percentage points (so 2 % against 1 % is nothing).
    pub min_points: f64,
    /// The group itself must be where it usually is: its hosts' typical move within this
    /// share of its level (else the fleet moved, which is not one host's deviation).
    pub group_share: f64,
    /// Hosts of the group reporting, at least (a typical move of fewer says little).
    pub min_hosts: usize,
    /// An open deviation resolves once the move is below this share of the threshold.
    pub release: f64,
}

impl Default for PeerDeviationPolicy {
    fn default() -> Self {
        PeerDeviationPolicy {
            min_share: 0.5,
            min_points: 10.0,
            group_share: 0.25,
            min_hosts: 3,
            release: 0.6,
        }
    }
}

/// A member of a group as the sweep sees it: its level relative to the group's hourly
/// median now (`level`) and how far that is from its usual one (`shift`), per metric in
/// [`Metric::ALL`] order ([`crate::engine::PeerShift`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    /// The host.
    pub hostname: &'a str,
    /// Its level relative to the group's hourly median now.
    pub level: [f64; 4],
    /// How far that is from its usual relative level.
    pub shift: [f64; 4],
    /// Per metric, whether it has a peer deviation open.
    pub open: [bool; 4],
    /// Whether the host has an incident of its own open: a departure it already reported
    /// (a spike, a shift, a leak) opens no second incident but joins that one
    /// ([`Deviation::into_own`]); it still counts in what its group does.
    pub own_incident: bool,
}

/// One host's departure from its group on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// The host.
    pub hostname: String,
    /// The metric.
    pub metric: Metric,
    /// The host's level (the group's daily level plus its relative level now).
    pub host_level: f64,
    /// The group's level now (its daily level plus its hosts' typical move).
    pub group_level: f64,
    /// How far the host moved relative to the group.
    pub moved: f64,
    /// The host has an incident of its own open and no deviation open on this metric: the
    /// deviation joins that incident ([`Deviation::fold_into`]) instead of opening one.
    pub into_own: bool,
}

/// Where a deviation folded into a host's own incident starts in its summary (kept when the
/// engine rewrites the summary: [`Incident::keep_folded`]).
const FOLDED: &str = " — from its peer group: ";

impl PeerDeviationPolicy {
    /// Checks the policy; an error names the field.
    pub fn validate(&self) -> Result<()> {
        let share = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::param(name, v, "must be finite and > 0"))
            }
        };
        share("peer_min_share", self.min_share)?;
        share("peer_group_share", self.group_share)?;
        if !(self.min_points.is_finite() && self.min_points >= 0.0) {
            return Err(Error::param(
                "peer_min_points",
                self.min_points,
                "must be finite and >= 0",
            ));
        }
        if self.min_hosts < 2 {
            return Err(Error::param(
                "peer_min_hosts",
                self.min_hosts,
                "must be >= 2",
            ));
        }
        if !(self.release > 0.0 && self.release <= 1.0) {
            return Err(Error::param(
                "peer_release",
                self.release,
                "must be in (0, 1]",
            ));
        }
        Ok(())
    }

    /// The group's reporting members that deviate now: for each judged metric, when the
    /// group's typical move (the median of its members' shifts) is within `group_share` of
    /// its daily level, each member whose shift differs from it by `min_share` of that
    /// level and `min_points` (an open one: by `release` of that). Nothing when fewer than
    /// `min_hosts` report. A member with its own incident open and none on the metric gets
    /// a deviation marked [`Deviation::into_own`].
    pub fn judge(&self, group: &PeerGroup, members: &[Member<'_>]) -> Vec<Deviation> {
        let mut out = Vec::new();
        if members.len() < self.min_hosts {
            return out;
        }
        for metric in JUDGED {
            let m = metric.index();
            let Some(baseline) = group.baseline.get(m) else {
                continue;
            };
            let daily = baseline.median.iter().sum::<f64>() / baseline.median.len().max(1) as f64;
            let typical = median(&mut members.iter().map(|h| h.shift[m]).collect::<Vec<_>>());
            let group_still = typical.abs() <= self.group_share * daily.abs();
            if !group_still {
                continue; // the group moved (or its level is not a number)
            }
            let usual = median(
                &mut members
                    .iter()
                    .map(|h| h.level[m] - h.shift[m])
                    .collect::<Vec<_>>(),
            );
            let threshold = (self.min_share * daily.abs()).max(self.min_points);
            for h in members {
                let moved = h.shift[m] - typical;
                let needed = if h.open[m] {
                    self.release * threshold
                } else {
                    threshold
                };
                if moved.abs() >= needed {
                    out.push(Deviation {
                        hostname: h.hostname.to_owned(),
                        metric,
                        host_level: daily + h.level[m],
                        group_level: daily + usual + typical,
                        moved,
                        into_own: h.own_incident && !h.open[m],
                    });
                }
            }
        }
        out
    }
}

impl Deviation {
    /// The warning incident of this deviation, opened `at` (the fleet's newest sample).
    pub fn incident(&self, group: &PeerGroup, at: Timestamp) -> Incident {
        Incident {
            incident_id: incident_id(
                &format!("{}#peer#{}", self.hostname, self.metric.wire_name()),
                at,
            ),
            hostname: self.hostname.clone(),
            status: IncidentStatus::Open,
            severity: Severity::Warning,
            types: vec![InsightType::PeerDeviation],
            metrics: vec![self.metric],
            opened: at,
            updated: at,
            resolved: None,
            peak: Some(Peak {
                metric: self.metric,
                value: self.host_level,
                expected: self.group_level,
                score: 0.0,
                severity: Severity::Warning,
                timestamp: at,
            }),
            summary: self.describe(group),
            insights: 0,
            insight_ids: Vec::new(),
            hosts: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Adds this deviation to the host's own open incident `at` (the fleet's newest
    /// sample): its type and metric, and a clause to its summary; its severity and peak are
    /// the incident's. False when the incident already holds a peer deviation of the metric.
    pub fn fold_into(&self, group: &PeerGroup, incident: &mut Incident, at: Timestamp) -> bool {
        if incident.has_peer_deviation(self.metric) {
            return false;
        }
        incident.types.push(InsightType::PeerDeviation);
        if !incident.metrics.contains(&self.metric) {
            incident.metrics.push(self.metric);
        }
        let own = match incident.summary.find(FOLDED) {
            Some(i) => &incident.summary[..i],
            None => incident.summary.as_str(),
        };
        incident.summary = format!("{own}{FOLDED}{}", self.describe(group));
        incident.updated = incident.updated.max(at);
        true
    }

    /// "cpuUsage on web-3 is 1.9× its peer group web's (…)".
    fn describe(&self, group: &PeerGroup) -> String {
        let ratio = if self.group_level.abs() > f64::EPSILON {
            format!("{:.1}×", self.host_level / self.group_level)
        } else {
            "away from".into()
        };
        let (name, unit) = (
            self.metric.wire_name(),
            if self.metric.is_percent() { "%" } else { "" },
        );
        format!(
            "{name} on {} is {ratio} its peer group {}'s ({:.0}{unit} against {:.0}{unit} over the last hours) while the group's own level is as usual",
            self.hostname, group.name, self.host_level, self.group_level
        )
    }
}

impl Incident {
    /// True for a peer deviation's own incident (one the peer sweep opened and resolves).
    pub fn is_peer_deviation(&self) -> bool {
        self.types == [InsightType::PeerDeviation]
    }

    /// True when a peer deviation of `metric` was folded into this host incident (or it is
    /// that deviation's own incident).
    pub fn has_peer_deviation(&self, metric: Metric) -> bool {
        self.types.contains(&InsightType::PeerDeviation) && self.metrics.contains(&metric)
    }

    /// Keeps what the peer sweep folded into `earlier` (this incident's stored version)
    /// when the engine writes its next version, which knows nothing of it: the type, the
    /// metrics and the summary's clause.
    pub fn keep_folded(&mut self, earlier: &Incident) {
        if !earlier.types.contains(&InsightType::PeerDeviation)
            || self.types.contains(&InsightType::PeerDeviation)
        {
            return;
        }
        self.types.push(InsightType::PeerDeviation);
        for m in &earlier.metrics {
            if !self.metrics.contains(m) {
                self.metrics.push(*m);
            }
        }
        if let Some(i) = earlier.summary.find(FOLDED) {
            if !self.summary.contains(FOLDED) {
                self.summary.push_str(&earlier.summary[i..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::MetricBaseline;

    fn group() -> PeerGroup {
        let flat = |level: f64| MetricBaseline {
            median: vec![level; 24],
            spread: vec![2.0; 24],
            tail: Vec::new(),
        };
        PeerGroup {
            name: "web".into(),
            hosts: vec!["web-1".into(), "web-2".into(), "web-3".into()],
            offsets: vec![[0.0; 4]; 3],
            centroid: Vec::new(),
            baseline: vec![flat(30.0), flat(50.0), flat(100.0), flat(100.0)],
        }
    }

    fn member(hostname: &str, cpu_shift: f64, open: bool) -> Member<'_> {
        Member {
            hostname,
            level: [cpu_shift, 0.0, 0.0, 0.0],
            shift: [cpu_shift, 0.0, 0.0, 0.0],
            open: [open, false, false, false],
            own_incident: false,
        }
    }

    #[test]
    fn one_host_moving_away_deviates_and_a_group_moving_together_does_not() {
        let p = PeerDeviationPolicy::default();
        let g = group();
        // web-3 at 60 % against 30 %: twice its group
        let found = p.judge(
            &g,
            &[
                member("web-1", 1.0, false),
                member("web-2", -1.0, false),
                member("web-3", 30.0, false),
            ],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let d = &found[0];
        assert_eq!((d.hostname.as_str(), d.metric), ("web-3", Metric::Cpu));
        assert!(
            (d.host_level - 60.0).abs() < 1e-9 && (d.group_level - 31.0).abs() < 1e-9,
            "{d:?}"
        );
        let incident = d.incident(&g, Timestamp::from_epoch_seconds(1.7e9).unwrap());
        assert_eq!(incident.types, [InsightType::PeerDeviation]);
        assert!(
            incident
                .summary
                .starts_with("cpuUsage on web-3 is 1.9× its peer group web's (60% against 31%"),
            "{}",
            incident.summary
        );
        assert!(incident.is_peer_deviation() && !incident.is_silence());
        // below the threshold: 13 points is under half of 30 % (15)
        assert!(p
            .judge(
                &g,
                &[
                    member("web-1", 0.0, false),
                    member("web-2", 0.0, false),
                    member("web-3", 13.0, false)
                ]
            )
            .is_empty());
        // …unless it is open already (release at 0.6 × 15 = 9)
        assert_eq!(
            p.judge(
                &g,
                &[
                    member("web-1", 0.0, false),
                    member("web-2", 0.0, false),
                    member("web-3", 13.0, true)
                ]
            )
            .len(),
            1
        );
        // the whole group moved by +30: no one deviates from it
        let together = [
            member("web-1", 30.0, false),
            member("web-2", 28.0, false),
            member("web-3", 31.0, false),
        ];
        assert!(p.judge(&g, &together).is_empty());
        assert!(!d.into_own);
        // a host that reported its own incident gets no second one: the deviation joins it
        let mut busy = member("web-3", 30.0, false);
        busy.own_incident = true;
        let joined = p.judge(
            &g,
            &[
                member("web-1", 0.0, false),
                member("web-2", 0.0, false),
                busy.clone(),
            ],
        );
        assert_eq!(joined.len(), 1);
        assert!(joined[0].into_own);
        // …unless a deviation of its own is open on the metric already
        busy.open[0] = true;
        let kept = p.judge(
            &g,
            &[
                member("web-1", 0.0, false),
                member("web-2", 0.0, false),
                busy,
            ],
        );
        assert!(kept.len() == 1 && !kept[0].into_own, "{kept:?}");
        // two hosts are too few to say what the group does
        assert!(p
            .judge(
                &g,
                &[member("web-1", 0.0, false), member("web-3", 30.0, false)]
            )
            .is_empty());
    }

    #[test]
    fn a_deviation_folded_into_a_host_incident_survives_the_engines_next_version() {
        let g = group();
        let at = Timestamp::from_epoch_seconds(1.7e9).unwrap();
        let later = Timestamp::from_epoch_seconds(1.7e9 + 900.0).unwrap();
        let d = Deviation {
            hostname: "web-3".into(),
            metric: Metric::Cpu,
            host_level: 60.0,
            group_level: 31.0,
            moved: 29.0,
            into_own: true,
        };
        // the host's own incident, as the engine writes it: a level shift on memory
        let mut own = d.incident(&g, at);
        own.incident_id = incident_id("web-3", at);
        own.types = vec![InsightType::LevelShift];
        own.metrics = vec![Metric::Memory];
        own.summary = "memoryUsage shifted".into();
        let engine_version = own.clone();
        assert!(d.fold_into(&g, &mut own, later));
        assert!(!d.fold_into(&g, &mut own, later), "folded twice");
        assert_eq!(
            own.types,
            [InsightType::LevelShift, InsightType::PeerDeviation]
        );
        assert_eq!(own.metrics, [Metric::Memory, Metric::Cpu]);
        assert_eq!(own.updated, later);
        assert!(own.has_peer_deviation(Metric::Cpu) && !own.is_peer_deviation());
        assert!(
            own.summary.starts_with(
                "memoryUsage shifted — from its peer group: cpuUsage on web-3 is 1.9×"
            ),
            "{}",
            own.summary
        );
        // the engine's next version knows nothing of the fold; what is stored keeps it
        let mut next = engine_version.clone();
        next.summary = "memoryUsage shifted further".into();
        next.keep_folded(&own);
        assert_eq!(next.types, own.types);
        assert_eq!(next.metrics, own.metrics);
        assert!(next
            .summary
            .starts_with("memoryUsage shifted further — from its peer group: "));
        // kept once, however often the engine writes
        let again = next.clone();
        next.keep_folded(&again);
        assert_eq!(next, again);
        // an incident nothing was folded into is left as the engine wrote it
        let mut plain = engine_version.clone();
        plain.keep_folded(&engine_version);
        assert_eq!(plain, engine_version);
    }

    #[test]
    fn a_bad_policy_names_its_field() {
        let bad = |p: PeerDeviationPolicy| p.validate().unwrap_err().field().map(str::to_owned);
        let d = PeerDeviationPolicy::default();
        assert!(d.validate().is_ok());
        assert_eq!(
            bad(PeerDeviationPolicy {
                min_share: 0.0,
                ..d
            })
            .as_deref(),
            Some("peer_min_share")
        );
        assert_eq!(
            bad(PeerDeviationPolicy {
                min_points: f64::NAN,
                ..d
            })
            .as_deref(),
            Some("peer_min_points")
        );
        assert_eq!(
            bad(PeerDeviationPolicy { min_hosts: 1, ..d }).as_deref(),
            Some("peer_min_hosts")
        );
        assert_eq!(
            bad(PeerDeviationPolicy { release: 1.5, ..d }).as_deref(),
            Some("peer_release")
        );
        assert_eq!(
            bad(PeerDeviationPolicy {
                group_share: -1.0,
                ..d
            })
            .as_deref(),
            Some("peer_group_share")
        );
    }
}
