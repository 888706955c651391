//! Streaming detectors: O(1) work and no allocation per sample.
//!
//! Every detector follows the same contract: [`StreamingDetector::score`] judges a value
//! against what was learned so far, [`StreamingDetector::update`] learns it, and
//! [`StreamingDetector::score_and_update`] does both in that order, so an anomaly cannot
//! hide itself by being learned before it is judged.

mod ewma;
mod zscore;

pub use ewma::{Ewma, EwmaParams, EwmaValidParams};
pub use zscore::{ZScore, ZScoreParams, ZScoreValidParams};

use crate::Result;

/// A univariate streaming anomaly detector.
pub trait StreamingDetector {
    /// Learns `x`. Non-finite input is an error and leaves the state unchanged.
    fn update(&mut self, x: f64) -> Result<()>;
    /// Signed deviation of `x` from what was learned, in units of the learned spread
    /// (a z-score). 0.0 while the detector is not warm. Non-finite input is an error.
    fn score(&self, x: f64) -> Result<f64>;
    /// Scores `x`, then learns it.
    fn score_and_update(&mut self, x: f64) -> Result<f64> {
        let s = self.score(x)?;
        self.update(x)?;
        Ok(s)
    }
    /// True once enough samples were seen for scores to mean something.
    fn is_warm(&self) -> bool;
    /// The value the detector currently expects (its location estimate).
    fn expected(&self) -> f64;
    /// The spread the detector currently expects (its scale estimate, never below the floor).
    fn spread(&self) -> f64;
}
