//! One alarm per episode: the incident hysteresis of host insights ([`OpenIncident`]), and
//! the scores a series' samples get while an incident of it is open.
//!
//! A sample scoring at the info cut-off opens an incident; the incident stays open until
//! its scores have stayed below [`RELEASE_FRACTION`] of that cut-off for the cooldown time.
//! Inside it, a sample is news only when it makes the incident critical; every other one is
//! part of the incident already reported and is damped. An escalating burst (each sample a
//! little more surprising than the last) is one alarm, as it is one insight for an operator.

use serde::{Deserialize, Serialize};

use super::lanes::Lanes;
use crate::Severity;

/// An open incident is released below this fraction of the info cut-off (hysteresis: a
/// score wobbling around the cut-off is one incident, not many).
pub(crate) const RELEASE_FRACTION: f64 = 0.9;

/// An incident open on one metric: it opens with a severity, is news again only when it
/// becomes more severe, and closes once its samples have stayed calm (below the release
/// score) for the cooldown time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpenIncident {
    severity: Severity,
    /// Time of the first of the calm samples in a row (none while not calm).
    calm_since: Option<f64>,
}

impl OpenIncident {
    /// Advances the incident slot by one sample of `severity` at time `t` (`calm`: the
    /// sample is below the release score); returns the severity it opened or escalated to.
    pub(crate) fn step(
        slot: &mut Option<OpenIncident>,
        severity: Option<Severity>,
        calm: bool,
        t: f64,
        cooldown: f64,
    ) -> Option<Severity> {
        match (slot.as_mut(), severity) {
            (None, Some(s)) => {
                *slot = Some(OpenIncident {
                    severity: s,
                    calm_since: None,
                });
                Some(s)
            }
            (None, None) => None,
            (Some(open), s) => {
                open.calm_since = if calm {
                    Some(open.calm_since.unwrap_or(t))
                } else {
                    None
                };
                let escalated = s.filter(|&s| s > open.severity);
                if let Some(s) = escalated {
                    open.severity = s;
                }
                if open.calm_since.is_some_and(|since| t - since >= cooldown) {
                    *slot = None;
                }
                escalated
            }
        }
    }
}

/// A surprise below critical on a metric of a host with no incident open, waiting to be
/// confirmed: a lone tail of the noise is not an incident; one that goes on is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Unconfirmed {
    since: f64,
    severity: Severity,
}

impl Unconfirmed {
    /// The severity a sample of `severity` at `t` may open an incident with: a critical
    /// one at once; one below critical only when an earlier one waits in `slot` from at
    /// most `window` seconds before and this sample confirms it (it surprises too, or its
    /// value is still `outside` the expected band): the higher of the two. A surprise
    /// that confirms nothing waits there itself. A `window` of 0 opens every one at once.
    pub(crate) fn confirm(
        slot: &mut Option<Unconfirmed>,
        severity: Option<Severity>,
        outside: bool,
        t: f64,
        window: f64,
    ) -> Option<Severity> {
        let waiting = slot.take().filter(|u| t - u.since <= window);
        match (severity, waiting) {
            (Some(s), _) if s == Severity::Critical || window <= 0.0 => Some(s),
            (Some(s), Some(u)) => Some(s.max(u.severity)),
            (None, Some(u)) if outside => Some(u.severity),
            (None, waiting) => {
                *slot = waiting;
                None
            }
            (Some(s), None) => {
                *slot = Some(Unconfirmed {
                    since: t,
                    severity: s,
                });
                None
            }
        }
    }
}

/// The score cut-offs and the cooldown an episode is judged with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct EpisodeCuts {
    pub(crate) info: f64,
    pub(crate) critical: f64,
    pub(crate) cooldown_seconds: f64,
}

/// What a sample is to its series' episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alarm {
    /// No incident is open, nor does the sample open one.
    Quiet,
    /// The sample opens an incident, or makes the open one critical.
    News,
    /// The sample is part of an open incident reported already.
    Repeat,
}

/// Each lane's open incident, if any: the host's hysteresis on two severities, open
/// (info) and critical.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Episodes<const L: usize> {
    open: Lanes<Option<OpenIncident>, L>,
}

impl<const L: usize> Episodes<L> {
    pub(crate) fn new() -> Self {
        Episodes {
            open: Lanes::splat(None),
        }
    }

    /// Advances lane `l`'s episode by a sample scoring `score` at time `t`.
    #[inline(always)]
    pub(crate) fn step(&mut self, l: usize, score: f64, t: f64, cuts: &EpisodeCuts) -> Alarm {
        let severity = if score >= cuts.critical {
            Some(Severity::Critical)
        } else if score >= cuts.info {
            Some(Severity::Info)
        } else {
            None
        };
        let was_open = self.open[l].is_some();
        let calm = score < RELEASE_FRACTION * cuts.info;
        match OpenIncident::step(&mut self.open[l], severity, calm, t, cuts.cooldown_seconds) {
            Some(_) => Alarm::News,
            None if was_open => Alarm::Repeat,
            None => Alarm::Quiet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUTS: EpisodeCuts = EpisodeCuts {
        info: 0.35,
        critical: 0.5,
        cooldown_seconds: 3600.0,
    };

    /// The news flags of one lane fed `(time, score)` in order.
    fn news(samples: &[(f64, f64)]) -> Vec<bool> {
        let mut e = Episodes::<1>::new();
        samples
            .iter()
            .map(|&(t, s)| e.step(0, s, t, &CUTS) == Alarm::News)
            .collect()
    }

    /// What each of `(time, severity, outside the band)` opens through one slot.
    fn confirmed(samples: &[(f64, Option<Severity>, bool)], window: f64) -> Vec<Option<Severity>> {
        let mut slot = None;
        samples
            .iter()
            .map(|&(t, s, outside)| Unconfirmed::confirm(&mut slot, s, outside, t, window))
            .collect()
    }

    #[test]
    fn a_surprise_below_critical_opens_only_when_confirmed_in_time() {
        use Severity::{Critical, Info, Warning};
        // a lone surprise opens nothing; one that surprises again within the window opens,
        // at the higher of the two severities
        let lone = [
            (0.0, Some(Warning), true),
            (300.0, None, false),
            (600.0, None, false),
        ];
        assert_eq!(confirmed(&lone, 600.0), [None, None, None]);
        let again = [
            (0.0, Some(Warning), true),
            (300.0, None, false),
            (600.0, Some(Info), true),
        ];
        assert_eq!(confirmed(&again, 600.0), [None, None, Some(Warning)]);
        // a value still outside the band confirms it too; outside alone opens nothing
        let stays = [(0.0, Some(Info), true), (300.0, None, true)];
        assert_eq!(confirmed(&stays, 600.0), [None, Some(Info)]);
        assert_eq!(confirmed(&[(0.0, None, true)], 600.0), [None]);
        // too late: the second one waits in its turn, and a third confirms it
        let late = [
            (0.0, Some(Info), true),
            (900.0, Some(Info), true),
            (1200.0, None, true),
        ];
        assert_eq!(confirmed(&late, 600.0), [None, None, Some(Info)]);
        // critical opens at once, and so does everything with the confirmation off
        assert_eq!(
            confirmed(&[(0.0, Some(Critical), true)], 600.0),
            [Some(Critical)]
        );
        assert_eq!(confirmed(&[(0.0, Some(Info), true)], 0.0), [Some(Info)]);
    }

    #[test]
    fn an_escalating_burst_is_one_alarm_and_critical_is_news_once() {
        let burst = [(0.0, 0.1), (60.0, 0.36), (120.0, 0.42), (180.0, 0.48)];
        assert_eq!(news(&burst), [false, true, false, false]);
        let critical = [(0.0, 0.36), (60.0, 0.55), (120.0, 0.6), (180.0, 0.4)];
        assert_eq!(news(&critical), [true, true, false, false]);
        // a sample critical at once opens the incident; nothing above critical is news
        assert_eq!(news(&[(0.0, 0.7), (60.0, 0.9)]), [true, false]);
    }

    #[test]
    fn the_incident_closes_after_the_cooldown_below_the_release_score() {
        // calm (below 0.9 × info) for 3,540 s: still open; for 3,600 s: closed
        let open = [(0.0, 0.4), (60.0, 0.2), (3600.0, 0.2), (3660.0, 0.4)];
        assert_eq!(news(&open), [true, false, false, false]);
        let closed = [(0.0, 0.4), (60.0, 0.2), (3660.0, 0.2), (3720.0, 0.4)];
        assert_eq!(news(&closed), [true, false, false, true]);
        // a score between the release and the info cut-off is not calm: the clock restarts
        let wobble = [
            (0.0, 0.4),
            (60.0, 0.2),
            (3000.0, 0.33),
            (3700.0, 0.2),
            (3760.0, 0.4),
        ];
        assert_eq!(news(&wobble), [true, false, false, false, false]);
    }

    #[test]
    fn lanes_are_independent() {
        let mut e = Episodes::<2>::new();
        assert_eq!(e.step(0, 0.4, 0.0, &CUTS), Alarm::News);
        assert_eq!(e.step(1, 0.1, 0.0, &CUTS), Alarm::Quiet);
        assert_eq!(e.step(0, 0.45, 60.0, &CUTS), Alarm::Repeat);
        assert_eq!(e.step(1, 0.6, 60.0, &CUTS), Alarm::News);
    }
}
