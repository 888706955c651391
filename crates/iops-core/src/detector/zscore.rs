//! Rolling-window z-score: mean/standard deviation, or median/MAD when `robust`.

use serde::{Deserialize, Serialize};

use super::StreamingDetector;
use crate::{finite, Error, ParamGuard, Result};

/// Largest magnitude a score can take; also the score of a value off a zero-spread baseline.
pub(super) const MAX_SCORE: f64 = 1e6;
/// Consistency constant: 1.4826·MAD estimates σ for normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;
/// Largest accepted window (2^20), so a parameter typo cannot ask for gigabytes.
const MAX_WINDOW: usize = 1 << 20;
const DEFAULT_WINDOW: usize = 100;
const DEFAULT_MIN_SAMPLES: usize = 30;
/// Refresh the running sums when the variance is within this factor of their error bound.
const REFRESH_MARGIN: f64 = 64.0;

/// Clamps to the finite range so that no intermediate can become infinite (and then NaN).
pub(super) fn sat(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-f64::MAX, f64::MAX)
    }
}

/// `(x - location) / spread`, clamped to ±[`MAX_SCORE`]. A zero spread gives 0.0 when `x`
/// equals the location and ±`MAX_SCORE` otherwise, so scores are always finite.
pub(super) fn standardise(x: f64, location: f64, spread: f64) -> f64 {
    let diff = x - location;
    if diff == 0.0 {
        return 0.0;
    }
    if spread.is_nan() || spread <= 0.0 {
        return MAX_SCORE.copysign(diff);
    }
    let z = diff / spread;
    if z.is_nan() {
        0.0
    } else {
        z.clamp(-MAX_SCORE, MAX_SCORE)
    }
}

/// Serde form of the parameters: every field optional, defaults filled in.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawZScoreParams {
    window: usize,
    min_samples: Option<usize>,
    robust: bool,
    min_spread: f64,
}

impl Default for RawZScoreParams {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            min_samples: None,
            robust: false,
            min_spread: 0.0,
        }
    }
}

/// Checked parameters of a [`ZScore`] detector; obtain them with [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawZScoreParams")]
pub struct ZScoreValidParams {
    window: usize,
    min_samples: Option<usize>,
    robust: bool,
    min_spread: f64,
}

impl ZScoreValidParams {
    /// Number of most recent values the baseline is computed from.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Values needed in the window before the detector is warm (default `min(window, 30)`).
    pub fn min_samples(&self) -> usize {
        self.min_samples
            .unwrap_or(DEFAULT_MIN_SAMPLES.min(self.window))
    }

    /// True for median / 1.4826·MAD, false for mean / sample standard deviation.
    pub fn robust(&self) -> bool {
        self.robust
    }

    /// Absolute floor on the spread (scale) estimate.
    pub fn min_spread(&self) -> f64 {
        self.min_spread
    }
}

impl TryFrom<RawZScoreParams> for ZScoreValidParams {
    type Error = Error;

    fn try_from(raw: RawZScoreParams) -> Result<Self> {
        ZScoreParams::from(raw).check()
    }
}

/// Unchecked parameters of a [`ZScore`] detector (a builder; setters take and return `self`).
///
/// Defaults: `window = 100`, `min_samples = min(window, 30)`, `robust = false`,
/// `min_spread = 0.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawZScoreParams")]
pub struct ZScoreParams(ZScoreValidParams);

impl From<RawZScoreParams> for ZScoreParams {
    fn from(raw: RawZScoreParams) -> Self {
        Self(ZScoreValidParams {
            window: raw.window,
            min_samples: raw.min_samples,
            robust: raw.robust,
            min_spread: raw.min_spread,
        })
    }
}

impl Default for ZScoreParams {
    fn default() -> Self {
        Self::from(RawZScoreParams::default())
    }
}

impl ZScoreParams {
    /// Parameters with every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of most recent values to keep (≥ 2, ≤ 2^20).
    pub fn window(mut self, window: usize) -> Self {
        self.0.window = window;
        self
    }

    /// Values needed before the detector is warm (≥ 2, ≤ `window`).
    pub fn min_samples(mut self, min_samples: usize) -> Self {
        self.0.min_samples = Some(min_samples);
        self
    }

    /// Use median and 1.4826·MAD instead of mean and standard deviation.
    pub fn robust(mut self, robust: bool) -> Self {
        self.0.robust = robust;
        self
    }

    /// Absolute floor on the spread estimate (finite, ≥ 0).
    pub fn min_spread(mut self, min_spread: f64) -> Self {
        self.0.min_spread = min_spread;
        self
    }

    /// Checks the parameters and builds the detector.
    pub fn build(self) -> Result<ZScore> {
        Ok(ZScore::new(self.check()?))
    }
}

impl ParamGuard for ZScoreParams {
    type Checked = ZScoreValidParams;

    fn check_ref(&self) -> Result<&ZScoreValidParams> {
        let p = &self.0;
        if p.window < 2 {
            Err(Error::param("window", p.window, "must be at least 2"))
        } else if p.window > MAX_WINDOW {
            Err(Error::param("window", p.window, "must be at most 1048576"))
        } else if p.min_samples() < 2 {
            Err(Error::param(
                "min_samples",
                p.min_samples(),
                "must be at least 2",
            ))
        } else if p.min_samples() > p.window {
            Err(Error::param(
                "min_samples",
                p.min_samples(),
                "must not exceed window",
            ))
        } else if !(p.min_spread.is_finite() && p.min_spread >= 0.0) {
            Err(Error::param(
                "min_spread",
                p.min_spread,
                "must be finite and >= 0",
            ))
        } else {
            Ok(p)
        }
    }

    fn check(self) -> Result<ZScoreValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Rolling-window z-score detector.
///
/// Scores a value by how many spreads it lies from the location of the last `window` values:
/// mean and sample standard deviation, or with `robust(true)` median and 1.4826·MAD.
///
/// ```
/// use iops_core::detector::{StreamingDetector, ZScore};
///
/// let mut z = ZScore::params().window(5).min_samples(3).build()?;
/// for x in [10.0, 12.0, 11.0, 13.0] {
///     z.update(x)?;
/// }
/// assert!(z.is_warm());
/// assert_eq!(z.expected(), 11.5);
/// // Sample standard deviation of the window is sqrt(5/3).
/// let s = z.score_and_update(20.0)?;
/// assert!((s - 8.5 / (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// # Ok::<(), iops_core::Error>(())
/// ```
///
/// # Cost
///
/// The buffers are allocated once, at construction; no update allocates.
/// - mean/std: O(1) per update. The running mean and sum of squared deviations are updated
///   with the sliding-window Welford recurrence, and recomputed from the buffer in one O(w)
///   pass every `window` updates (amortised O(1)) or when the variance sinks to the level of
///   their accumulated rounding error (for instance when a spike leaves an otherwise
///   constant window), so a constant window has exactly zero spread.
/// - robust: a sorted copy of the window is maintained by binary search and one `copy_within`
///   (O(log w + w) memmove), and the MAD is found by a merge walk outward from the median
///   over the sorted copy (O(w), no scratch buffer). Scores are O(1) (cached).
///
/// # Scores
///
/// Always finite and within ±[`ZScore::MAX_SCORE`]. When the spread is zero (constant
/// window and `min_spread = 0`), a value equal to the location scores 0.0 and any other
/// value scores ±`MAX_SCORE`. Intermediates saturate at ±`f64::MAX`, so inputs of huge
/// magnitude (beyond ~1e154, whose squares overflow) give finite but less accurate scores;
/// while the variance is saturated the sums are recomputed on every update (O(w)).
///
/// # Snapshots
///
/// The detector serialises with serde; a restored detector produces bit-identical scores
/// (tested through serde_json). Decoding validates the state ([`Error::Decode`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ZScoreState")]
pub struct ZScore {
    params: ZScoreValidParams,
    /// Ring buffer of the window; once full, `head` is the oldest value.
    values: Vec<f64>,
    head: usize,
    n_seen: u64,
    mean: f64,
    /// Sum of squared deviations from the mean (mean/std path).
    m2: f64,
    /// Running bound on the rounding error accumulated in `m2` since the last refresh.
    m2_error: f64,
    since_refresh: usize,
    /// Sorted copy of the window (robust path only); rebuilt on decode.
    #[serde(skip)]
    sorted: Vec<f64>,
    /// Cached median (robust path).
    #[serde(skip)]
    median: f64,
    /// Cached 1.4826·MAD (robust path).
    #[serde(skip)]
    mad_scale: f64,
}

/// Serde form of a [`ZScore`], validated before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZScoreState {
    params: ZScoreValidParams,
    values: Vec<f64>,
    head: usize,
    n_seen: u64,
    mean: f64,
    m2: f64,
    m2_error: f64,
    since_refresh: usize,
}

impl TryFrom<ZScoreState> for ZScore {
    type Error = Error;

    fn try_from(s: ZScoreState) -> Result<Self> {
        let bad = |reason: &str| Error::Decode {
            what: "zscore state",
            reason: reason.to_owned(),
        };
        let w = s.params.window();
        let len = s.values.len();
        if len > w {
            return Err(bad("more values than the window holds"));
        }
        if s.values.iter().any(|v| !v.is_finite()) {
            return Err(bad("non-finite value in the window"));
        }
        if (len < w && s.head != 0) || s.head >= w {
            return Err(bad("ring buffer head out of range"));
        }
        if (s.n_seen as u128) < len as u128 {
            return Err(bad("n_seen smaller than the window length"));
        }
        if !(s.mean.is_finite() && s.m2.is_finite() && s.m2 >= 0.0) {
            return Err(bad("mean and m2 must be finite, m2 >= 0"));
        }
        if !(s.m2_error.is_finite() && s.m2_error >= 0.0) {
            return Err(bad("m2_error must be finite and >= 0"));
        }
        if s.since_refresh > w {
            return Err(bad("since_refresh exceeds the window"));
        }
        let mut values = s.values;
        values.reserve_exact(w - len);
        let mut z = ZScore {
            sorted: Vec::with_capacity(if s.params.robust() { w } else { 0 }),
            params: s.params,
            values,
            head: s.head,
            n_seen: s.n_seen,
            mean: s.mean,
            m2: s.m2,
            m2_error: s.m2_error,
            since_refresh: s.since_refresh,
            median: 0.0,
            mad_scale: 0.0,
        };
        if z.params.robust() {
            z.sorted.extend_from_slice(&z.values);
            z.sorted.sort_unstable_by(f64::total_cmp);
            z.refresh_robust();
        }
        Ok(z)
    }
}

impl Default for ZScore {
    fn default() -> Self {
        Self::new(ZScoreParams::default().0)
    }
}

impl ZScore {
    /// Largest magnitude of a score, and the score of any value off a zero-spread baseline.
    pub const MAX_SCORE: f64 = MAX_SCORE;
    /// Largest accepted `window`.
    pub const MAX_WINDOW: usize = MAX_WINDOW;
    /// Factor turning the MAD into a standard-deviation estimate (robust path).
    pub const MAD_TO_SIGMA: f64 = MAD_TO_SIGMA;

    /// A parameter builder with every default.
    pub fn params() -> ZScoreParams {
        ZScoreParams::default()
    }

    /// A detector for checked parameters; allocates its window here, once.
    pub fn new(params: ZScoreValidParams) -> Self {
        let w = params.window();
        Self {
            values: Vec::with_capacity(w),
            sorted: Vec::with_capacity(if params.robust() { w } else { 0 }),
            params,
            head: 0,
            n_seen: 0,
            mean: 0.0,
            m2: 0.0,
            m2_error: 0.0,
            since_refresh: 0,
            median: 0.0,
            mad_scale: 0.0,
        }
    }

    /// The checked parameters this detector runs with.
    pub fn hyperparams(&self) -> &ZScoreValidParams {
        &self.params
    }

    /// Number of values currently in the window.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True before the first value was learned (or after [`ZScore::reset`]).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of values learned since construction or the last reset.
    pub fn n_seen(&self) -> u64 {
        self.n_seen
    }

    /// Forgets everything learned; keeps the parameters and the allocations.
    pub fn reset(&mut self) {
        self.values.clear();
        self.sorted.clear();
        self.head = 0;
        self.n_seen = 0;
        self.mean = 0.0;
        self.m2 = 0.0;
        self.m2_error = 0.0;
        self.since_refresh = 0;
        self.median = 0.0;
        self.mad_scale = 0.0;
    }

    /// Location and unfloored scale of the window.
    fn location_scale(&self) -> (f64, f64) {
        if self.params.robust {
            (self.median, self.mad_scale)
        } else if self.values.len() < 2 {
            (self.mean, 0.0)
        } else {
            let n1 = (self.values.len() - 1) as f64;
            (self.mean, sat((self.m2 / n1).sqrt()))
        }
    }

    /// Writes `x` into the ring buffer; returns the value it evicted, if the window was full.
    fn push(&mut self, x: f64) -> Option<f64> {
        let w = self.params.window;
        if self.values.len() < w {
            self.values.push(x);
            return None;
        }
        let slot = self.values.get_mut(self.head)?;
        let old = std::mem::replace(slot, x);
        self.head = (self.head + 1) % w;
        Some(old)
    }

    fn update_moments(&mut self, x: f64, evicted: Option<f64>) {
        let n = self.values.len() as f64;
        let old_mean = self.mean;
        let inc = match evicted {
            None => welford_add(&mut self.mean, &mut self.m2, x, n),
            Some(y) => {
                let d = x - y;
                self.mean = if d.is_finite() {
                    sat(old_mean + d / n)
                } else {
                    sat(old_mean + (x / n - y / n))
                };
                let inc = sat(sat(d) * sat(sat(x - self.mean) + sat(y - old_mean)));
                self.m2 = sat(self.m2 + inc).max(0.0);
                inc
            }
        };
        self.m2_error = sat(self.m2_error + 4.0 * f64::EPSILON * (self.m2 + inc.abs()));
        self.since_refresh += 1;
        let noisy = self.m2_error > 0.0 && self.m2 <= REFRESH_MARGIN * self.m2_error;
        if self.since_refresh >= self.params.window || noisy || self.m2 >= f64::MAX {
            self.refresh_moments();
        }
    }

    /// Recomputes mean and m2 from the buffer, oldest to newest, in one Welford pass.
    fn refresh_moments(&mut self) {
        let (mut mean, mut m2, mut n) = (0.0, 0.0, 0.0);
        let (newer, older) = self.values.split_at(self.head.min(self.values.len()));
        for &x in older.iter().chain(newer) {
            n += 1.0;
            welford_add(&mut mean, &mut m2, x, n);
        }
        self.mean = mean;
        self.m2 = m2;
        self.m2_error = 0.0;
        self.since_refresh = 0;
    }

    fn update_sorted(&mut self, x: f64, evicted: Option<f64>) {
        let ins = self.sorted.partition_point(|&v| v < x);
        match evicted {
            None => self.sorted.insert(ins, x),
            Some(y) => {
                let rem = self.sorted.partition_point(|&v| v < y);
                if rem >= self.sorted.len() {
                    // Unreachable while the invariant holds; rebuild rather than panic.
                    self.sorted.clear();
                    self.sorted.extend_from_slice(&self.values);
                    self.sorted.sort_unstable_by(f64::total_cmp);
                } else if ins <= rem {
                    self.sorted.copy_within(ins..rem, ins + 1);
                    if let Some(slot) = self.sorted.get_mut(ins) {
                        *slot = x;
                    }
                } else {
                    self.sorted.copy_within(rem + 1..ins, rem);
                    if let Some(slot) = self.sorted.get_mut(ins - 1) {
                        *slot = x;
                    }
                }
            }
        }
    }

    fn refresh_robust(&mut self) {
        self.median = median_sorted(&self.sorted);
        self.mad_scale = sat(MAD_TO_SIGMA * mad_sorted(&self.sorted, self.median));
    }
}

/// One Welford step for the `n`-th value; returns the increment added to `m2`.
fn welford_add(mean: &mut f64, m2: &mut f64, x: f64, n: f64) -> f64 {
    let old = *mean;
    let d = x - old;
    *mean = if d.is_finite() {
        sat(old + d / n)
    } else {
        sat(old - old / n + x / n)
    };
    let inc = sat(sat(d) * sat(x - *mean));
    *m2 = sat(*m2 + inc).max(0.0);
    inc
}

fn midpoint(a: f64, b: f64) -> f64 {
    if a == b {
        return a;
    }
    let m = (a + b) / 2.0;
    if m.is_finite() {
        m
    } else {
        a / 2.0 + b / 2.0
    }
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    match (s.get(n.saturating_sub(1) / 2), s.get(n / 2)) {
        (Some(&a), Some(&b)) => midpoint(a, b),
        _ => 0.0,
    }
}

/// Median of |s_i - med| over a sorted slice: the deviations left of the median and right of
/// it are each sorted, so merging them outward from the median yields them in order. O(n).
fn mad_sorted(s: &[f64], med: f64) -> f64 {
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    let (lo_k, hi_k) = ((n - 1) / 2, n / 2);
    let (left, right) = s.split_at(s.partition_point(|&v| v < med));
    let mut l = left.iter().rev().map(|&v| sat(med - v)).peekable();
    let mut r = right.iter().map(|&v| sat(v - med)).peekable();
    let mut lo_val = 0.0;
    for k in 0..=hi_k {
        let next = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) if a <= b => l.next(),
            (_, Some(_)) => r.next(),
            (Some(_), None) => l.next(),
            (None, None) => None,
        };
        let Some(d) = next else { break };
        if k == lo_k {
            lo_val = d;
        }
        if k == hi_k {
            return midpoint(lo_val, d);
        }
    }
    lo_val
}

impl StreamingDetector for ZScore {
    fn update(&mut self, x: f64) -> Result<()> {
        // `+ 0.0` turns -0.0 into 0.0, so the sorted copy and the buffer hold the same bits.
        let x = finite("value", x)? + 0.0;
        let evicted = self.push(x);
        self.n_seen = self.n_seen.saturating_add(1);
        if self.params.robust {
            self.update_sorted(x, evicted);
            self.refresh_robust();
        } else {
            self.update_moments(x, evicted);
        }
        Ok(())
    }

    fn score(&self, x: f64) -> Result<f64> {
        let x = finite("value", x)? + 0.0;
        if !self.is_warm() {
            return Ok(0.0);
        }
        let (location, scale) = self.location_scale();
        Ok(standardise(x, location, scale.max(self.params.min_spread)))
    }

    fn is_warm(&self) -> bool {
        self.values.len() >= self.params.min_samples()
    }

    /// Mean (or median) of the window; 0.0 while empty.
    fn expected(&self) -> f64 {
        self.location_scale().0
    }

    /// Standard deviation (or 1.4826·MAD) of the window, never below `min_spread`.
    fn spread(&self) -> f64 {
        self.location_scale().1.max(self.params.min_spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_param(r: Result<ZScoreValidParams>, name: &str) {
        match r {
            Err(Error::InvalidParam { name: n, .. }) => assert_eq!(n, name),
            other => panic!("expected InvalidParam for {name}, got {other:?}"),
        }
    }

    #[test]
    fn autotraits() {
        fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}
        has_autotraits::<ZScore>();
        has_autotraits::<ZScoreParams>();
        has_autotraits::<ZScoreValidParams>();
    }

    #[test]
    fn defaults_are_valid() {
        let p = ZScore::params().check().unwrap();
        assert_eq!(p.window(), 100);
        assert_eq!(p.min_samples(), 30);
        assert!(!p.robust());
        assert_eq!(p.min_spread(), 0.0);
        assert_eq!(
            ZScore::params().window(10).check().unwrap().min_samples(),
            10
        );
    }

    #[test]
    fn window_must_be_at_least_two() {
        invalid_param(ZScore::params().window(1).min_samples(2).check(), "window");
        invalid_param(ZScore::params().window(0).check(), "window");
    }

    #[test]
    fn window_must_be_at_most_max_window() {
        invalid_param(ZScore::params().window(MAX_WINDOW + 1).check(), "window");
        assert!(ZScore::params().window(MAX_WINDOW).check().is_ok());
    }

    #[test]
    fn min_samples_must_be_at_least_two() {
        invalid_param(ZScore::params().min_samples(1).check(), "min_samples");
    }

    #[test]
    fn min_samples_must_not_exceed_window() {
        invalid_param(
            ZScore::params().window(10).min_samples(11).check(),
            "min_samples",
        );
        assert!(ZScore::params().window(10).min_samples(10).check().is_ok());
    }

    #[test]
    fn min_spread_must_be_finite_and_non_negative() {
        invalid_param(ZScore::params().min_spread(-1.0).check(), "min_spread");
        invalid_param(ZScore::params().min_spread(f64::NAN).check(), "min_spread");
        invalid_param(
            ZScore::params().min_spread(f64::INFINITY).check(),
            "min_spread",
        );
    }

    #[test]
    fn check_ref_agrees_with_check() {
        let p = ZScore::params().window(7).robust(true);
        assert_eq!(p.check_ref().unwrap(), &p.clone().check().unwrap());
    }

    #[test]
    fn updates_never_reallocate() {
        for robust in [false, true] {
            let mut z = ZScore::params().window(64).robust(robust).build().unwrap();
            let (pv, ps) = (z.values.as_ptr(), z.sorted.as_ptr());
            let (cv, cs) = (z.values.capacity(), z.sorted.capacity());
            for i in 0..1000 {
                z.update(((i * 37) % 101) as f64).unwrap();
            }
            assert_eq!((z.values.as_ptr(), z.values.capacity()), (pv, cv));
            assert_eq!((z.sorted.as_ptr(), z.sorted.capacity()), (ps, cs));
            assert_eq!(z.values.len(), 64);
            assert_eq!(z.sorted.len(), if robust { 64 } else { 0 });
        }
    }

    #[test]
    fn restored_detector_keeps_full_capacity() {
        let mut z = ZScore::params().window(16).robust(true).build().unwrap();
        for x in [1.0, 2.0, 3.0] {
            z.update(x).unwrap();
        }
        let r: ZScore = serde_json::from_str(&serde_json::to_string(&z).unwrap()).unwrap();
        assert!(r.values.capacity() >= 16 && r.sorted.capacity() >= 16);
    }

    #[test]
    fn mad_matches_naive() {
        let mut s = [3.0, -1.0, 7.5, 2.0, 2.0, 10.0, -4.0, 0.5];
        s.sort_unstable_by(f64::total_cmp);
        for len in 1..=s.len() {
            let w = &s[..len];
            let med = median_sorted(w);
            let mut dev: Vec<f64> = w.iter().map(|v| (v - med).abs()).collect();
            dev.sort_unstable_by(f64::total_cmp);
            assert_eq!(mad_sorted(w, med), median_sorted(&dev), "len {len}");
        }
    }
}
