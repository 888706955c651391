//! Silent hosts: a host that reported regularly and stopped.
//!
//! Judged in event time, against the newest sample of the whole fleet rather than the
//! clock, so a replay or a backfill of a fleet behaves as it did live. A host is silent
//! once `max(intervals × its own interval, min_seconds)` has passed since its newest
//! sample; its incident is critical, opens at that moment (so every judge of the same
//! silence names the same incident) and resolves when a sample from then on arrives.
//!
//! A fleet that stops as a whole stops that clock too, so it is judged by when samples
//! arrived instead ([`SilencePolicy::judge_fleet`]): nothing received for the threshold of
//! the fleet's interval, while its newest sample is recent (a live fleet, not a backfill
//! of old data), is one critical incident on the fleet.

use serde::{Deserialize, Serialize};

use crate::{
    incident_id, Error, Incident, IncidentStatus, InsightType, Result, Severity, Timestamp, FLEET,
};

/// When a host counts as silent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilencePolicy {
    /// Silent after this many of the host's own intervals without a sample. Default 3.
    pub intervals: f64,
    /// ... and never before this many seconds. Default 600 (10 minutes).
    pub min_seconds: f64,
}

impl Default for SilencePolicy {
    fn default() -> Self {
        SilencePolicy {
            intervals: 3.0,
            min_seconds: 600.0,
        }
    }
}

/// A year: longer silences are not a threshold anyone means.
const MAX_SECONDS: f64 = 366.0 * 86_400.0;

/// A fleet whose newest sample is older than this (by the receiving clock) is not live:
/// data loaded after the fact stops arriving when the load ends, and that is no alarm.
pub const FLEET_LIVE_SECONDS: f64 = 86_400.0;

impl SilencePolicy {
    /// Checks both fields; the error names `silence_intervals` or `silence_min_seconds`.
    pub fn validate(&self) -> Result<()> {
        if !(self.intervals.is_finite() && (1.0..=1000.0).contains(&self.intervals)) {
            return Err(Error::param(
                "silence_intervals",
                self.intervals,
                "must be in [1, 1000]",
            ));
        }
        if !(self.min_seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&self.min_seconds)) {
            return Err(Error::param(
                "silence_min_seconds",
                self.min_seconds,
                "must be in [0, 31622400] (a year)",
            ));
        }
        Ok(())
    }

    /// Seconds without a sample after which a host sampled every `interval` seconds is
    /// silent.
    pub fn threshold_seconds(&self, interval: f64) -> f64 {
        (self.intervals * interval).max(self.min_seconds)
    }

    /// The incident of a host last seen at `last_seen`, sampled every `interval` seconds,
    /// when it is silent as of `fleet_now` (the fleet's newest sample); `None` while it is
    /// not (or its interval is not a positive number of seconds).
    pub fn judge(
        &self,
        hostname: &str,
        last_seen: Timestamp,
        interval: f64,
        fleet_now: Timestamp,
    ) -> Option<Incident> {
        if !(interval.is_finite() && interval > 0.0) {
            return None;
        }
        let threshold = self.threshold_seconds(interval);
        let silent_from = last_seen.plus_seconds(threshold)?;
        (fleet_now >= silent_from && silent_from > last_seen).then(|| {
            Incident::stopped_reporting(hostname, last_seen, silent_from, interval, threshold)
        })
    }
}

/// What the fleet-silence judge needs to know, all by the receiving clock except
/// `newest_sample` (event time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetArrivals {
    /// Hosts in the fleet.
    pub hosts: usize,
    /// When a sample last arrived from any host.
    pub last_arrival: Timestamp,
    /// The fleet's newest sample's own timestamp.
    pub newest_sample: Timestamp,
    /// The interval of the host that sent it (seconds).
    pub interval: f64,
    /// Now.
    pub now: Timestamp,
}

impl SilencePolicy {
    /// The fleet's incident when nothing has arrived from any host for the threshold of
    /// `interval` while the fleet was live (its newest sample at most
    /// [`FLEET_LIVE_SECONDS`] old); `None` otherwise. It opens when the threshold passed
    /// after the last arrival, so every judge of one silence names the same incident.
    pub fn judge_fleet(&self, fleet: &FleetArrivals) -> Option<Incident> {
        if fleet.hosts == 0 || !(fleet.interval.is_finite() && fleet.interval > 0.0) {
            return None;
        }
        let live = fleet.now.epoch_seconds() - fleet.newest_sample.epoch_seconds();
        if live > FLEET_LIVE_SECONDS {
            return None;
        }
        let threshold = self.threshold_seconds(fleet.interval);
        let silent_from = fleet.last_arrival.plus_seconds(threshold)?;
        (fleet.now >= silent_from && silent_from > fleet.last_arrival)
            .then(|| Incident::fleet_stopped_reporting(fleet, silent_from, threshold))
    }
}

impl Incident {
    /// The critical incident of a fleet from which nothing arrived since
    /// `fleet.last_arrival` (silent after `threshold` seconds, at `silent_from`).
    pub fn fleet_stopped_reporting(
        fleet: &FleetArrivals,
        silent_from: Timestamp,
        threshold: f64,
    ) -> Incident {
        let mut incident = Incident::stopped_reporting(
            FLEET,
            fleet.last_arrival,
            silent_from,
            fleet.interval,
            threshold,
        );
        incident.summary = format!(
            "the fleet stopped reporting: nothing has arrived from any of its {} hosts since \
             {} (newest sample {}; silent after {})",
            fleet.hosts,
            fleet.last_arrival,
            fleet.newest_sample,
            human_seconds(threshold)
        );
        incident
    }

    /// The critical incident of a host silent since `silent_from` (its newest sample at
    /// `last_seen`, sampled every `interval` seconds, silent after `threshold` seconds).
    pub fn stopped_reporting(
        hostname: &str,
        last_seen: Timestamp,
        silent_from: Timestamp,
        interval: f64,
        threshold: f64,
    ) -> Incident {
        Incident {
            incident_id: incident_id(hostname, silent_from),
            hostname: hostname.to_owned(),
            status: IncidentStatus::Open,
            severity: Severity::Critical,
            types: vec![InsightType::HostStoppedReporting],
            metrics: Vec::new(),
            opened: silent_from,
            updated: silent_from,
            resolved: None,
            peak: None,
            summary: format!(
                "{hostname} stopped reporting: no sample since {last_seen} \
                 (it reports every {}; silent after {})",
                human_seconds(interval),
                human_seconds(threshold)
            ),
            insights: 0,
            insight_ids: Vec::new(),
            hosts: Vec::new(),
            members: Vec::new(),
        }
    }

    /// True for a silent host's incident.
    pub fn is_silence(&self) -> bool {
        self.types.contains(&InsightType::HostStoppedReporting)
    }
}

/// "45 s", "5 min", "1.5 h", "2 d".
fn human_seconds(s: f64) -> String {
    let (value, unit) = if s < 120.0 {
        (s, "s")
    } else if s < 2.0 * 3600.0 {
        (s / 60.0, "min")
    } else if s < 2.0 * 86_400.0 {
        (s / 3600.0, "h")
    } else {
        (s / 86_400.0, "d")
    };
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0} {unit}")
    } else {
        format!("{rounded:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: f64) -> Timestamp {
        Timestamp::from_epoch_seconds(1.7e9 + 60.0 * minutes).unwrap()
    }

    #[test]
    fn a_host_is_silent_after_three_of_its_intervals_and_never_before_ten_minutes() {
        let p = SilencePolicy::default();
        // every minute: 10 minutes (the floor), not 3
        assert_eq!(p.threshold_seconds(60.0), 600.0);
        assert!(p.judge("web-1", at(0.0), 60.0, at(9.9)).is_none());
        let incident = p.judge("web-1", at(0.0), 60.0, at(10.0)).unwrap();
        assert_eq!(incident.opened, at(10.0));
        // every 5 minutes: 15
        assert!(p.judge("web-1", at(0.0), 300.0, at(14.0)).is_none());
        assert_eq!(
            p.judge("web-1", at(0.0), 300.0, at(40.0)).unwrap().opened,
            at(15.0)
        );
        // hourly: 3 hours
        assert!(p.judge("db-1", at(0.0), 3600.0, at(179.0)).is_none());
        assert!(p.judge("db-1", at(0.0), 3600.0, at(180.0)).is_some());
        // no usable interval: not judged
        assert!(p.judge("db-1", at(0.0), 0.0, at(1e5)).is_none());
        assert!(p.judge("db-1", at(0.0), f64::NAN, at(1e5)).is_none());
    }

    #[test]
    fn every_judge_of_one_silence_names_the_same_critical_incident() {
        let p = SilencePolicy::default();
        let a = p.judge("web-1", at(0.0), 60.0, at(11.0)).unwrap();
        let b = p.judge("web-1", at(0.0), 60.0, at(60.0)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.status, IncidentStatus::Open);
        assert!(a.is_silence() && a.peak.is_none() && a.metrics.is_empty());
        assert!(
            a.summary.contains("web-1 stopped reporting")
                && a.summary.contains("every 60 s")
                && a.summary.contains("silent after 10 min"),
            "{}",
            a.summary
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["types"][0], "host_stopped_reporting");
        assert!(json["peak"].is_null());
        // a later silence is another incident
        let later = p.judge("web-1", at(30.0), 60.0, at(45.0)).unwrap();
        assert_ne!(later.incident_id, a.incident_id);
    }

    fn fleet(last_arrival: f64, newest_sample: f64, now: f64) -> FleetArrivals {
        FleetArrivals {
            hosts: 50,
            last_arrival: at(last_arrival),
            newest_sample: at(newest_sample),
            interval: 60.0,
            now: at(now),
        }
    }

    #[test]
    fn a_live_fleet_from_which_nothing_arrives_is_one_critical_incident() {
        let p = SilencePolicy::default();
        assert!(p.judge_fleet(&fleet(0.0, 0.0, 9.9)).is_none());
        let a = p.judge_fleet(&fleet(0.0, 0.0, 10.0)).unwrap();
        let b = p.judge_fleet(&fleet(0.0, 0.0, 600.0)).unwrap();
        assert_eq!(a, b, "every sweep names the same incident");
        assert_eq!(a.opened, at(10.0));
        assert!(a.is_fleet() && a.is_silence());
        assert_eq!(a.severity, Severity::Critical);
        assert!(
            a.summary.contains("fleet stopped reporting") && a.summary.contains("50 hosts"),
            "{}",
            a.summary
        );
        // samples stamped a few minutes behind the receiving clock are still live
        assert!(p.judge_fleet(&fleet(0.0, -7.0, 10.0)).is_some());
        // the host incident of the same moment is another record
        assert_ne!(
            a.incident_id,
            p.judge("web-1", at(0.0), 60.0, at(10.0))
                .unwrap()
                .incident_id
        );
    }

    #[test]
    fn a_fleet_whose_newest_sample_is_old_is_not_judged() {
        let p = SilencePolicy::default();
        // a backfill of last month: it stops when the load ends
        let day = 24.0 * 60.0;
        assert!(p.judge_fleet(&fleet(0.0, -30.0 * day, 60.0)).is_none());
        // live until a day after its newest sample, then no longer opened
        assert!(p.judge_fleet(&fleet(0.0, 0.0, day)).is_some());
        assert!(p.judge_fleet(&fleet(0.0, 0.0, day + 1.0)).is_none());
        // no hosts, no interval
        let mut empty = fleet(0.0, 0.0, 60.0);
        empty.hosts = 0;
        assert!(p.judge_fleet(&empty).is_none());
        let mut unknown = fleet(0.0, 0.0, 60.0);
        unknown.interval = f64::NAN;
        assert!(p.judge_fleet(&unknown).is_none());
    }

    #[test]
    fn bad_policies_name_their_field() {
        for (policy, field) in [
            (
                SilencePolicy {
                    intervals: 0.5,
                    ..SilencePolicy::default()
                },
                "silence_intervals",
            ),
            (
                SilencePolicy {
                    intervals: f64::NAN,
                    ..SilencePolicy::default()
                },
                "silence_intervals",
            ),
            (
                SilencePolicy {
                    min_seconds: -1.0,
                    ..SilencePolicy::default()
                },
                "silence_min_seconds",
            ),
            (
                SilencePolicy {
                    min_seconds: f64::INFINITY,
                    ..SilencePolicy::default()
                },
                "silence_min_seconds",
            ),
        ] {
            let err = policy.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        SilencePolicy::default().validate().unwrap();
    }

    #[test]
    fn thresholds_near_the_end_of_time_do_not_overflow() {
        let p = SilencePolicy::default();
        assert!(p.judge("h", Timestamp::MAX, 60.0, Timestamp::MAX).is_none());
        let mut end = fleet(0.0, 0.0, 0.0);
        (end.last_arrival, end.newest_sample, end.now) =
            (Timestamp::MAX, Timestamp::MAX, Timestamp::MAX);
        assert!(p.judge_fleet(&end).is_none());
        let e = human_seconds(5400.0);
        assert_eq!(e, "90 min");
        assert_eq!(human_seconds(9000.0), "2.5 h");
    }
}
