//! One alarm per episode: the scores a series' samples get while an incident of it is open.
//!
//! A sample scoring at the info cut-off opens an incident; the incident stays open until
//! its scores have stayed below [`RELEASE_FRACTION`] of that cut-off for the cooldown time.
//! Inside it, a sample is news only when it makes the incident critical; every other one is
//! part of the incident already reported and is damped. An escalating burst (each sample a
//! little more surprising than the last) is one alarm, as it is one insight for an operator.

use serde::{Deserialize, Serialize};

use super::lanes::Lanes;

/// An open incident is released below this fraction of the info cut-off (hysteresis: a
/// score wobbling around the cut-off is one incident, not many).
pub(crate) const RELEASE_FRACTION: f64 = 0.9;

/// "Calm since": the incident is not calm (finite, for JSON).
const NOT_CALM: f64 = f64::MIN;

/// No incident is open.
const CLOSED: u8 = 0;
/// An incident is open below critical.
const OPEN: u8 = 1;
/// An incident is open and has been critical.
const CRITICAL: u8 = 2;

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

/// Each lane's open incident, if any.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Episodes<const L: usize> {
    state: Lanes<u8, L>,
    calm_since: Lanes<f64, L>,
}

impl<const L: usize> Episodes<L> {
    pub(crate) fn new() -> Self {
        Episodes {
            state: Lanes::splat(CLOSED),
            calm_since: Lanes::splat(NOT_CALM),
        }
    }

    /// Advances lane `l`'s episode by a sample scoring `score` at time `t`.
    #[inline(always)]
    pub(crate) fn step(&mut self, l: usize, score: f64, t: f64, cuts: &EpisodeCuts) -> Alarm {
        let level = if score >= cuts.critical {
            CRITICAL
        } else if score >= cuts.info {
            OPEN
        } else {
            CLOSED
        };
        let state = self.state[l];
        if state == CLOSED {
            self.state[l] = level;
            self.calm_since[l] = NOT_CALM;
            return if level == CLOSED {
                Alarm::Quiet
            } else {
                Alarm::News
            };
        }
        let news = level > state;
        if news {
            self.state[l] = level;
        }
        if score < RELEASE_FRACTION * cuts.info {
            if self.calm_since[l] == NOT_CALM {
                self.calm_since[l] = t;
            }
            if t - self.calm_since[l] >= cuts.cooldown_seconds {
                self.state[l] = CLOSED;
                self.calm_since[l] = NOT_CALM;
            }
        } else {
            self.calm_since[l] = NOT_CALM;
        }
        if news {
            Alarm::News
        } else {
            Alarm::Repeat
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
