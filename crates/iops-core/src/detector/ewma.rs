//! Exponentially weighted moving mean and variance.

use std::f64::consts::LN_2;

use serde::{Deserialize, Serialize};

use super::zscore::{sat, standardise, MAX_SCORE};
use super::StreamingDetector;
use crate::{finite, Error, ParamGuard, Result};

/// Half-life, in samples, used when neither `alpha` nor `half_life` is set.
const DEFAULT_HALF_LIFE: f64 = 30.0;

/// `alpha = 1 - 2^(-1/h)`, computed without cancellation for large `h`.
fn alpha_from_half_life(h: f64) -> f64 {
    -(-LN_2 / h).exp_m1()
}

/// Serde form of the parameters: every field optional, defaults filled in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEwmaParams {
    alpha: Option<f64>,
    half_life: Option<f64>,
    warmup: Option<usize>,
    min_spread: f64,
}

/// Checked parameters of an [`Ewma`] detector; obtain them with [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEwmaParams")]
pub struct EwmaValidParams {
    alpha: Option<f64>,
    half_life: Option<f64>,
    warmup: Option<usize>,
    min_spread: f64,
}

impl EwmaValidParams {
    /// Smoothing factor in (0, 1]: the weight of the newest sample.
    pub fn alpha(&self) -> f64 {
        match (self.alpha, self.half_life) {
            (Some(a), _) => a,
            (None, Some(h)) => alpha_from_half_life(h),
            (None, None) => alpha_from_half_life(DEFAULT_HALF_LIFE),
        }
    }

    /// Half-life in samples: after it, a sample's weight has halved (0.0 for `alpha = 1`).
    pub fn half_life(&self) -> f64 {
        match (self.alpha, self.half_life) {
            (Some(a), _) => -LN_2 / (-a).ln_1p(),
            (None, Some(h)) => h,
            (None, None) => DEFAULT_HALF_LIFE,
        }
    }

    /// Samples needed before the detector is warm (default: the half-life rounded, at least 1).
    pub fn warmup(&self) -> usize {
        // `as` saturates, so a huge half-life gives usize::MAX rather than wrapping.
        self.warmup
            .unwrap_or_else(|| (self.half_life().round() as usize).max(1))
    }

    /// Absolute floor on the spread (standard deviation) estimate.
    pub fn min_spread(&self) -> f64 {
        self.min_spread
    }
}

impl TryFrom<RawEwmaParams> for EwmaValidParams {
    type Error = Error;

    fn try_from(raw: RawEwmaParams) -> Result<Self> {
        EwmaParams::from(raw).check()
    }
}

/// Unchecked parameters of an [`Ewma`] detector (a builder; setters take and return `self`).
///
/// Set at most one of `alpha` and `half_life`; with neither, the half-life is 30 samples.
/// `warmup` defaults to the half-life rounded (at least 1), `min_spread` to 0.0.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "RawEwmaParams")]
pub struct EwmaParams(EwmaValidParams);

impl Default for EwmaValidParams {
    fn default() -> Self {
        Self {
            alpha: None,
            half_life: None,
            warmup: None,
            min_spread: 0.0,
        }
    }
}

impl From<RawEwmaParams> for EwmaParams {
    fn from(raw: RawEwmaParams) -> Self {
        Self(EwmaValidParams {
            alpha: raw.alpha,
            half_life: raw.half_life,
            warmup: raw.warmup,
            min_spread: raw.min_spread,
        })
    }
}

impl EwmaParams {
    /// Parameters with every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Smoothing factor, 0 < alpha ≤ 1 (exclusive with `half_life`).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = Some(alpha);
        self
    }

    /// Half-life in samples, > 0 (exclusive with `alpha`): alpha = 1 - 2^(-1/half_life).
    pub fn half_life(mut self, half_life: f64) -> Self {
        self.0.half_life = Some(half_life);
        self
    }

    /// Samples needed before the detector is warm (≥ 1).
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.0.warmup = Some(warmup);
        self
    }

    /// Absolute floor on the spread estimate (finite, ≥ 0).
    pub fn min_spread(mut self, min_spread: f64) -> Self {
        self.0.min_spread = min_spread;
        self
    }

    /// Checks the parameters and builds the detector.
    pub fn build(self) -> Result<Ewma> {
        Ok(Ewma::new(self.check()?))
    }
}

impl ParamGuard for EwmaParams {
    type Checked = EwmaValidParams;

    fn check_ref(&self) -> Result<&EwmaValidParams> {
        let p = &self.0;
        if let (Some(_), Some(h)) = (p.alpha, p.half_life) {
            return Err(Error::param(
                "half_life",
                h,
                "set either alpha or half_life, not both",
            ));
        }
        if let Some(a) = p.alpha {
            if !(a > 0.0 && a <= 1.0) {
                return Err(Error::param("alpha", a, "must be in (0, 1]"));
            }
        }
        if let Some(h) = p.half_life {
            if !(h.is_finite() && h > 0.0) {
                return Err(Error::param("half_life", h, "must be finite and > 0"));
            }
        }
        if p.warmup == Some(0) {
            return Err(Error::param("warmup", 0, "must be at least 1"));
        }
        if !(p.min_spread.is_finite() && p.min_spread >= 0.0) {
            return Err(Error::param(
                "min_spread",
                p.min_spread,
                "must be finite and >= 0",
            ));
        }
        Ok(p)
    }

    fn check(self) -> Result<EwmaValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Exponentially weighted z-score detector.
///
/// Keeps an exponentially weighted mean and variance (the incremental form of Finch 2009,
/// "Incremental calculation of weighted mean and variance") and scores a value by how many
/// standard deviations it lies from the mean. O(1) time and no allocation per sample.
///
/// ```
/// use iops_core::detector::{Ewma, StreamingDetector};
///
/// let mut e = Ewma::params().alpha(0.5).warmup(2).build()?;
/// e.update(10.0)?; // mean 10, variance 0
/// e.update(12.0)?; // mean 11, variance 0.5 * (0 + 2 * 1) = 1
/// assert_eq!((e.expected(), e.spread()), (11.0, 1.0));
/// assert_eq!(e.score_and_update(13.0)?, 2.0);
/// # Ok::<(), iops_core::Error>(())
/// ```
///
/// # Scores
///
/// Always finite and within ±[`Ewma::MAX_SCORE`]. When the spread is zero (constant input
/// and `min_spread = 0`), a value equal to the mean scores 0.0 and any other value scores
/// ±`MAX_SCORE`. Intermediates saturate at ±`f64::MAX`, so inputs of huge magnitude (beyond
/// ~1e154, whose squares overflow) give finite but less accurate scores.
///
/// # Snapshots
///
/// The detector serialises with serde; a restored detector produces bit-identical scores
/// (tested through serde_json). Decoding validates the state ([`Error::Decode`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EwmaState")]
pub struct Ewma {
    params: EwmaValidParams,
    mean: f64,
    var: f64,
    n_seen: u64,
    /// Resolved smoothing factor, derived from `params`.
    #[serde(skip)]
    alpha: f64,
}

/// Serde form of an [`Ewma`], validated before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EwmaState {
    params: EwmaValidParams,
    mean: f64,
    var: f64,
    n_seen: u64,
}

impl TryFrom<EwmaState> for Ewma {
    type Error = Error;

    fn try_from(s: EwmaState) -> Result<Self> {
        if !(s.mean.is_finite() && s.var.is_finite() && s.var >= 0.0) {
            return Err(Error::Decode {
                what: "ewma state",
                reason: "mean and var must be finite, var >= 0".to_owned(),
            });
        }
        let mut e = Ewma::new(s.params);
        e.mean = s.mean;
        e.var = s.var;
        e.n_seen = s.n_seen;
        Ok(e)
    }
}

impl Default for Ewma {
    fn default() -> Self {
        Self::new(EwmaValidParams::default())
    }
}

impl Ewma {
    /// Largest magnitude of a score, and the score of any value off a zero-spread baseline.
    pub const MAX_SCORE: f64 = MAX_SCORE;

    /// A parameter builder with every default.
    pub fn params() -> EwmaParams {
        EwmaParams::default()
    }

    /// A detector for checked parameters.
    pub fn new(params: EwmaValidParams) -> Self {
        Self {
            alpha: params.alpha(),
            params,
            mean: 0.0,
            var: 0.0,
            n_seen: 0,
        }
    }

    /// The checked parameters this detector runs with.
    pub fn hyperparams(&self) -> &EwmaValidParams {
        &self.params
    }

    /// Number of values learned since construction or the last reset.
    pub fn n_seen(&self) -> u64 {
        self.n_seen
    }

    /// The exponentially weighted variance (before the `min_spread` floor).
    pub fn variance(&self) -> f64 {
        self.var
    }

    /// Forgets everything learned; keeps the parameters.
    pub fn reset(&mut self) {
        self.mean = 0.0;
        self.var = 0.0;
        self.n_seen = 0;
    }
}

impl StreamingDetector for Ewma {
    fn update(&mut self, x: f64) -> Result<()> {
        let x = finite("value", x)? + 0.0;
        let a = self.alpha;
        if self.n_seen == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let diff = x - self.mean;
            if diff.is_finite() {
                let incr = a * diff;
                self.mean = sat(self.mean + incr);
                self.var = sat((1.0 - a) * sat(self.var + sat(diff * incr)));
            } else {
                // |x - mean| overflowed: the convex form cannot, and the variance saturates.
                self.mean = sat((1.0 - a) * self.mean + a * x);
                self.var = sat((1.0 - a) * f64::MAX);
            }
        }
        self.n_seen = self.n_seen.saturating_add(1);
        Ok(())
    }

    fn score(&self, x: f64) -> Result<f64> {
        let x = finite("value", x)? + 0.0;
        if !self.is_warm() {
            return Ok(0.0);
        }
        Ok(standardise(x, self.mean, self.spread()))
    }

    fn is_warm(&self) -> bool {
        self.n_seen > 0 && self.n_seen >= self.params.warmup() as u64
    }

    /// The exponentially weighted mean; 0.0 before the first value.
    fn expected(&self) -> f64 {
        self.mean
    }

    /// The exponentially weighted standard deviation, never below `min_spread`.
    fn spread(&self) -> f64 {
        self.var.sqrt().max(self.params.min_spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_param(r: Result<EwmaValidParams>, name: &str) {
        match r {
            Err(Error::InvalidParam { name: n, .. }) => assert_eq!(n, name),
            other => panic!("expected InvalidParam for {name}, got {other:?}"),
        }
    }

    #[test]
    fn autotraits() {
        fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}
        has_autotraits::<Ewma>();
        has_autotraits::<EwmaParams>();
        has_autotraits::<EwmaValidParams>();
    }

    #[test]
    fn defaults_are_valid() {
        let p = Ewma::params().check().unwrap();
        assert_eq!(p.half_life(), 30.0);
        assert!((p.alpha() - (1.0 - 2f64.powf(-1.0 / 30.0))).abs() < 1e-15);
        assert_eq!(p.warmup(), 30);
        assert_eq!(p.min_spread(), 0.0);
    }

    #[test]
    fn half_life_and_alpha_agree() {
        let p = Ewma::params().half_life(10.0).check().unwrap();
        let q = Ewma::params().alpha(p.alpha()).check().unwrap();
        assert!((q.half_life() - 10.0).abs() < 1e-9);
        assert_eq!(Ewma::params().alpha(1.0).check().unwrap().warmup(), 1);
    }

    #[test]
    fn alpha_and_half_life_are_exclusive() {
        invalid_param(
            Ewma::params().alpha(0.1).half_life(5.0).check(),
            "half_life",
        );
    }

    #[test]
    fn alpha_must_be_in_zero_one() {
        invalid_param(Ewma::params().alpha(0.0).check(), "alpha");
        invalid_param(Ewma::params().alpha(-0.5).check(), "alpha");
        invalid_param(Ewma::params().alpha(1.5).check(), "alpha");
        invalid_param(Ewma::params().alpha(f64::NAN).check(), "alpha");
        assert!(Ewma::params().alpha(1.0).check().is_ok());
    }

    #[test]
    fn half_life_must_be_finite_and_positive() {
        invalid_param(Ewma::params().half_life(0.0).check(), "half_life");
        invalid_param(Ewma::params().half_life(-3.0).check(), "half_life");
        invalid_param(Ewma::params().half_life(f64::INFINITY).check(), "half_life");
        invalid_param(Ewma::params().half_life(f64::NAN).check(), "half_life");
        // The largest finite half-life still yields a usable alpha.
        assert!(Ewma::params().half_life(f64::MAX).check().unwrap().alpha() > 0.0);
    }

    #[test]
    fn warmup_must_be_at_least_one() {
        invalid_param(Ewma::params().warmup(0).check(), "warmup");
    }

    #[test]
    fn min_spread_must_be_finite_and_non_negative() {
        invalid_param(Ewma::params().min_spread(-0.1).check(), "min_spread");
        invalid_param(Ewma::params().min_spread(f64::NAN).check(), "min_spread");
        invalid_param(
            Ewma::params().min_spread(f64::INFINITY).check(),
            "min_spread",
        );
    }

    #[test]
    fn check_ref_agrees_with_check() {
        let p = Ewma::params().half_life(12.0).warmup(3);
        assert_eq!(p.check_ref().unwrap(), &p.clone().check().unwrap());
    }
}
