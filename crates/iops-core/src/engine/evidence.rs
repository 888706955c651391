//! Evidence of a persistent departure: a CUSUM of the point model's calibrated surprises,
//! itself calibrated on the series' own history, for each of `L` series sampled together.
//!
//! It finds what neither a sample nor a raw level shows: values that keep missing their
//! expectation by a little, where the expectation moves (the same hour yesterday). A day that
//! peaks at half its usual height, a holiday's traffic, a sensor drifting before a failure:
//! each sample surprises a little (2 to 6 nats), no one enough, and the raw mean of the last
//! half hour is nothing unusual for a series that swings through the day.
//!
//! Each sample adds its point surprise, at most [`STEP_CAP`], minus [`ALLOWANCE`]; the sum
//! never falls below 0. A calibrated surprise is about 1 nat on average when nothing is
//! wrong, so the sum drifts back to 0 and grows only while surprises keep coming. One sample
//! adds at most `STEP_CAP - ALLOWANCE`, so a single spike is the point model's news, not
//! this model's. Real series' surprises come in clusters, so how large a sum is unusual is
//! learned from the series' history (a calibrator), not from the independent case.
//!
//! The score of a sample is the evidence gathered before it: adding the sample's own
//! surprise would count it twice beside the point model's.

use serde::{Deserialize, Serialize};

use super::calibrate::SurpriseCalibrator;
use super::fastmath::{max, min};
use super::lanes::Lanes;
use crate::Error;

/// Nats a sample's surprise must exceed to add to the evidence: twice what a calibrated
/// surprise averages when nothing is wrong.
const ALLOWANCE: f64 = 2.0;
/// Most nats one sample adds (about half the surprise of a sample at the usual alert
/// threshold).
const STEP_CAP: f64 = 10.0;

/// What the evidence model concluded about one sample (before learning it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EvidenceScore<const L: usize> {
    /// Calibrated log-surprise of the evidence gathered before the sample (0 while not warm).
    pub(crate) surprise: Lanes<f64, L>,
    z: Lanes<f64, L>,
    bin: Lanes<usize, L>,
}

/// The evidence of persistent surprise of `L` series, and its calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EvidenceState<L>")]
pub(crate) struct Evidence<const L: usize> {
    /// Nats gathered per lane (>= 0).
    sum: Lanes<f64, L>,
    calibration: SurpriseCalibrator<L>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceState<const L: usize> {
    sum: Lanes<f64, L>,
    calibration: SurpriseCalibrator<L>,
}

impl<const L: usize> TryFrom<EvidenceState<L>> for Evidence<L> {
    type Error = Error;

    fn try_from(s: EvidenceState<L>) -> Result<Self, Error> {
        if !s.sum.iter().all(|v| v.is_finite() && *v >= 0.0) {
            return Err(Error::Decode {
                what: "engine evidence state",
                reason: "evidence sums must be finite and >= 0".into(),
            });
        }
        Ok(Evidence {
            sum: s.sum,
            calibration: s.calibration,
        })
    }
}

impl<const L: usize> Evidence<L> {
    /// Evidence whose calibration remembers `memory` samples, counts `horizon` of them, and
    /// waits for `min_samples`; records are extrapolated from the top `record_tail` sums.
    pub(crate) fn new(
        memory: f64,
        horizon: f64,
        min_samples: u64,
        gaussian_scale: f64,
        record_tail: f64,
    ) -> Self {
        Evidence {
            sum: Lanes::splat(0.0),
            calibration: SurpriseCalibrator::new(memory, min_samples, gaussian_scale)
                .with_horizon(horizon)
                .with_record_tail(record_tail),
        }
    }

    /// The surprise of the evidence gathered so far.
    #[inline(always)]
    pub(crate) fn score(&self) -> EvidenceScore<L> {
        // on the z scale (a tail of e^-s is a Gaussian z of about sqrt(2 s)), so the
        // calibrator's Gaussian floor means the same as for the other models
        let z = self.sum.map(|s| (2.0 * s).sqrt());
        let (surprise, bin) = self.calibration.score(z);
        EvidenceScore { surprise, z, bin }
    }

    /// Learns the evidence that was scored (`s`), then adds the sample's point surprises.
    #[inline(always)]
    pub(crate) fn learn(&mut self, s: &EvidenceScore<L>, point_surprise: Lanes<f64, L>) {
        self.calibration.learn(s.bin, s.z);
        for l in 0..L {
            self.sum[l] = max(
                self.sum[l] + min(point_surprise[l], STEP_CAP) - ALLOWANCE,
                0.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Evidence<1> {
        Evidence::new(10_000.0, 2_000.0, 100, 1.5, 10.0)
    }

    /// Surprises like a calibrated model's when nothing is wrong: mostly under 1 nat.
    fn calm(i: u32) -> f64 {
        [0.1, 0.3, 0.7, 1.2, 0.2, 2.5, 0.4, 0.9, 0.05, 1.6][(i % 10) as usize]
    }

    #[test]
    fn moderate_surprises_that_persist_add_up_a_spike_does_not() {
        let mut m = model();
        for i in 0..3000 {
            let s = m.score();
            m.learn(&s, Lanes([calm(i)]));
        }
        // one 300-nat spike, then calm again
        let mut spike = m.clone();
        let s = spike.score();
        spike.learn(&s, Lanes([300.0]));
        let after_spike = spike.score().surprise[0];
        // four nats a sample, twenty samples in a row
        let mut last = 0.0;
        for _ in 0..20 {
            let s = m.score();
            last = s.surprise[0];
            m.learn(&s, Lanes([4.0]));
        }
        // more than any one of those samples says (4 nats), and than the spike leaves
        assert!(last > 5.0, "persistent: {last}");
        assert_eq!(
            spike.sum[0],
            STEP_CAP - ALLOWANCE,
            "a spike adds one step at most"
        );
        assert!(after_spike < last - 1.0, "spike {after_spike} vs {last}");
    }

    #[test]
    fn a_stored_state_with_a_bad_sum_is_refused() {
        let mut m = model();
        let s = m.score();
        m.learn(&s, Lanes([7.0]));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Evidence<1>>(&json).unwrap(), m);
        let bad = json.replace("\"sum\":[5.0]", "\"sum\":[-1.0]");
        assert_ne!(bad, json);
        assert!(serde_json::from_str::<Evidence<1>>(&bad).is_err());
    }

    #[test]
    fn a_sample_is_scored_on_the_evidence_before_it() {
        let mut m = model();
        let s = m.score();
        assert_eq!(s.surprise[0], 0.0);
        m.learn(&s, Lanes([7.0]));
        assert_eq!(m.sum[0], 5.0);
        let s = m.score();
        m.learn(&s, Lanes([0.0]));
        assert_eq!(m.sum[0], 3.0);
        let s = m.score();
        m.learn(&s, Lanes([0.0]));
        let s = m.score();
        m.learn(&s, Lanes([0.0]));
        assert_eq!(m.sum[0], 0.0, "never below zero");
    }
}
