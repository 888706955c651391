//! Rolling mean and sample standard deviation of the last `window` values, for the engine's
//! hot path.
//!
//! Shifted running sums: `s1 = Σ (v - shift)`, `s2 = Σ (v - shift)²` over the window, with
//! `shift` a recent value, so an update is a handful of multiply-adds and no division (the
//! reciprocals of the window length are cached). The sums are recomputed exactly from the
//! buffer (one vectorisable pass, new shift = the newest value) every `window` updates, when
//! a value that dominated them leaves, and when the variance `m2 = s2 - s1²/n` falls below
//! [`REFRESH_RATIO`] of `s2`: then the offset of the mean from the shift dominates the sums,
//! and their rounding (a few ulps of `s2` per update) would be a visible fraction of the
//! variance. Below that ratio the relative error of the variance stays under about
//! `window · 4ε / REFRESH_RATIO` (1e-10 for a day of samples). The same rule makes a window
//! that becomes constant exact: its `m2` sinks to rounding noise while `s2` holds the squared
//! offset from the shift, so it is recomputed around its value, with exactly zero spread
//! and its value as mean, as with the [`crate::detector::ZScore`] detector (a window
//! constant at the shift itself is exact already, but for the rounding left by values near
//! it that left without dominating: that is cleared at the next periodic recomputation);
//! elsewhere the two agree to rounding (about 1e-12 of the spread).
//!
//! Values beyond ±1e150, whose squares could overflow the sums, switch to a saturating
//! recomputation of mean and spread on every update (O(window)) while one is in the window:
//! results stay finite on any finite input.

use serde::{Deserialize, Serialize};

use super::fastmath::max;
use super::lanes::Lanes;
use crate::Error;

/// Refresh the running sums when the variance falls below this fraction of `s2` (the mean
/// has drifted about 30 spreads from the shift, or the window has become flat).
const REFRESH_RATIO: f64 = 1e-3;
/// Recompute when a value leaves whose square exceeds this multiple of the remaining `s2`.
const SPIKE_EXIT: f64 = 1e3;

/// Clamps to the finite range so that no intermediate can become infinite (and then NaN).
#[inline(always)]
pub(super) fn sat(v: f64) -> f64 {
    // one compare on the hot path (NaN and infinities fail it)
    if v.abs() <= f64::MAX {
        v
    } else {
        sat_rare(v)
    }
}

/// [`sat`] of every lane, checked once for all of them: the sum of the magnitudes is finite
/// when every lane is (or overflows, and then each lane is checked).
#[inline(always)]
pub(super) fn sat_lanes<const L: usize>(v: Lanes<f64, L>) -> Lanes<f64, L> {
    let total: f64 = v.iter().map(|x| x.abs()).sum();
    if total <= f64::MAX {
        v
    } else {
        v.map(sat)
    }
}

/// [`sat`] of a NaN (0.0) or an infinity (±f64::MAX).
#[cold]
#[inline(never)]
fn sat_rare(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else if v > 0.0 {
        f64::MAX
    } else {
        -f64::MAX
    }
}

/// One Welford step for the `n`-th value; returns the increment added to `m2`.
#[inline(always)]
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

/// Magnitude beyond which a value is summed with saturating arithmetic instead.
const HUGE: f64 = 1e150;

/// Rolling mean and sample standard deviation of the last `window` finite values, for each
/// of `L` series updated in lock step (one value per lane per update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RollingState<L>")]
pub(crate) struct Rolling<const L: usize> {
    window: usize,
    min_samples: usize,
    /// Ring buffer of the window; once full, `head` is the oldest row.
    values: Vec<Lanes<f64, L>>,
    head: usize,
    /// Reference subtracted before summing (the newest value at the last recomputation).
    shift: Lanes<f64, L>,
    /// `Σ (v - shift)` over the window.
    s1: Lanes<f64, L>,
    /// `Σ (v - shift)²` over the window.
    s2: Lanes<f64, L>,
    /// Updates since each lane's sums were last recomputed (u32: one SSE2 compare for
    /// four lanes; the window is at most 2^20).
    since_refresh: Lanes<u32, L>,
    /// Values in each lane's window beyond ±[`HUGE`].
    n_huge: Lanes<u32, L>,
    /// Mean of the window (0 while empty); derived, rebuilt on decode.
    #[serde(skip)]
    mean: Lanes<f64, L>,
    /// Sample standard deviation (0 below two values); derived, rebuilt on decode.
    #[serde(skip)]
    spread: Lanes<f64, L>,
    /// `1 / len` and `1 / (len - 1)`; derived, rebuilt on decode.
    #[serde(skip)]
    inv_n: f64,
    #[serde(skip)]
    inv_n1: f64,
}

/// Serde form of a [`Rolling`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollingState<const L: usize> {
    window: usize,
    min_samples: usize,
    values: Vec<Lanes<f64, L>>,
    head: usize,
    shift: Lanes<f64, L>,
    s1: Lanes<f64, L>,
    s2: Lanes<f64, L>,
    since_refresh: Lanes<u32, L>,
    n_huge: Lanes<u32, L>,
}

impl<const L: usize> TryFrom<RollingState<L>> for Rolling<L> {
    type Error = Error;

    fn try_from(s: RollingState<L>) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Decode {
            what: "engine rolling state",
            reason: reason.to_owned(),
        };
        let len = s.values.len();
        if s.window < 2 || s.window > MAX_WINDOW || s.min_samples < 2 || s.min_samples > s.window {
            return Err(bad(
                "window must be in 2..=1048576 and min_samples in 2..=window",
            ));
        }
        if len > s.window || (len < s.window && s.head != 0) || s.head >= s.window {
            return Err(bad("ring buffer length or head out of range"));
        }
        if s.values
            .iter()
            .any(|row| row.iter().any(|v| !v.is_finite()))
        {
            return Err(bad("non-finite value in the window"));
        }
        for l in 0..L {
            let huge = s.values.iter().filter(|row| row[l].abs() > HUGE).count();
            if huge != s.n_huge[l] as usize {
                return Err(bad("n_huge does not match the window"));
            }
            let sums_ok = s.shift[l].is_finite()
                && s.s1[l].is_finite()
                && s.s2[l].is_finite()
                && s.s2[l] >= 0.0;
            if !sums_ok || s.since_refresh[l] as usize > s.window {
                return Err(bad("sums or since_refresh out of range"));
            }
        }
        let mut values = s.values;
        values.reserve_exact(s.window - len);
        let mut r = Rolling {
            window: s.window,
            min_samples: s.min_samples,
            values,
            head: s.head,
            shift: s.shift,
            s1: s.s1,
            s2: s.s2,
            since_refresh: s.since_refresh,
            n_huge: s.n_huge,
            mean: Lanes::splat(0.0),
            spread: Lanes::splat(0.0),
            inv_n: 0.0,
            inv_n1: 0.0,
        };
        r.set_reciprocals();
        for l in 0..L {
            r.derive(l);
        }
        Ok(r)
    }
}

/// Largest window (as the [`crate::detector::ZScore`] detector's): the counters are u32.
const MAX_WINDOW: usize = 1 << 20;

impl<const L: usize> Rolling<L> {
    /// An empty window; `2 <= min_samples <= window <= 2^20` is the caller's (checked
    /// config's) job.
    pub(crate) fn new(window: usize, min_samples: usize) -> Self {
        let window = window.clamp(2, MAX_WINDOW);
        Rolling {
            window,
            min_samples: min_samples.clamp(2, window),
            values: Vec::with_capacity(window),
            head: 0,
            shift: Lanes::splat(0.0),
            s1: Lanes::splat(0.0),
            s2: Lanes::splat(0.0),
            since_refresh: Lanes::splat(0),
            n_huge: Lanes::splat(0),
            mean: Lanes::splat(0.0),
            spread: Lanes::splat(0.0),
            inv_n: 0.0,
            inv_n1: 0.0,
        }
    }

    /// True once `min_samples` values are in the window.
    #[inline]
    pub(crate) fn is_warm(&self) -> bool {
        self.values.len() >= self.min_samples
    }

    /// Mean of each lane's window (0.0 while empty).
    #[inline]
    pub(crate) fn mean(&self) -> Lanes<f64, L> {
        self.mean
    }

    /// Sample standard deviation of each lane's window (0.0 below two values).
    #[inline]
    pub(crate) fn spread(&self) -> Lanes<f64, L> {
        self.spread
    }

    fn set_reciprocals(&mut self) {
        let n = self.values.len();
        self.inv_n = if n > 0 { 1.0 / n as f64 } else { 0.0 };
        self.inv_n1 = if n > 1 { 1.0 / (n - 1) as f64 } else { 0.0 };
    }

    /// Lane `l`'s mean and spread from its sums (or, with huge values about, from the
    /// buffer).
    fn derive(&mut self, l: usize) {
        if self.n_huge[l] > 0 {
            self.derive_saturating(l);
            return;
        }
        let d = self.s1[l] * self.inv_n;
        let m2 = self.s2[l] - self.s1[l] * d;
        self.mean[l] = self.shift[l] + d;
        // m2 > 0 here (above the rounding bound); sqrt of a negative would be NaN
        self.spread[l] = (if m2 > 0.0 { m2 } else { 0.0 } * self.inv_n1).sqrt();
    }

    /// Learns one finite value per lane.
    #[inline(always)]
    pub(crate) fn update(&mut self, x: Lanes<f64, L>) {
        // `+ 0.0` turns -0.0 into 0.0, as the detector does.
        let x = x.map(|v| v + 0.0);
        // The hot path: a full window, no huge value in or out, no refresh due in any lane.
        // One (predictable) branch leads to everything else, and the arithmetic is the slow
        // path's, in the same order, so both give bit-identical sums.
        let full = self.values.len() == self.window;
        let head = self.head;
        let Some(slot) = self.values.get_mut(head).filter(|_| full) else {
            self.update_slow(x);
            return;
        };
        let y = *slot;
        let window = self.window as u32;
        let rare: Lanes<bool, L> = Lanes::from_fn(|l| {
            (max(x[l].abs(), y[l].abs()) > HUGE)
                | (self.n_huge[l] > 0)
                | (self.since_refresh[l] + 1 >= window)
        });
        if rare.any() {
            self.update_slow(x);
            return;
        }
        *slot = x;
        self.head = if head + 1 == self.window { 0 } else { head + 1 };
        let mut refresh: Lanes<bool, L> = Lanes::splat(false);
        for l in 0..L {
            self.since_refresh[l] += 1;
            let u = x[l] - self.shift[l];
            let v = y[l] - self.shift[l];
            let (du, du2, v2) = (u - v, u * u - v * v, v * v);
            self.s1[l] += du;
            self.s2[l] += du2;
            let d = self.s1[l] * self.inv_n;
            let m2 = self.s2[l] - self.s1[l] * d;
            // (`|`, not `||`: see update_slow for the why)
            refresh[l] = (v2 > SPIKE_EXIT * self.s2[l]) | (m2 < REFRESH_RATIO * self.s2[l]);
            self.mean[l] = self.shift[l] + d;
            self.spread[l] = (if m2 > 0.0 { m2 } else { 0.0 } * self.inv_n1).sqrt();
        }
        if refresh.any() {
            self.refresh_where(refresh, x);
        }
    }

    /// Recomputes the lanes marked in `which` around their newest values `x`.
    #[cold]
    #[inline(never)]
    fn refresh_where(&mut self, which: Lanes<bool, L>, x: Lanes<f64, L>) {
        for l in 0..L {
            if which[l] {
                self.refresh(l, x[l]);
            }
        }
    }

    /// [`Rolling::update`] while the window fills, with huge values about, or when a
    /// refresh is due in some lane.
    #[cold]
    #[inline(never)]
    fn update_slow(&mut self, x: Lanes<f64, L>) {
        let evicted = if self.values.len() < self.window {
            self.values.push(x);
            self.set_reciprocals();
            None
        } else if let Some(slot) = self.values.get_mut(self.head) {
            let old = std::mem::replace(slot, x);
            self.head += 1;
            if self.head == self.window {
                self.head = 0;
            }
            Some(old)
        } else {
            // Unreachable while the invariants hold (checked on decode).
            None
        };
        for l in 0..L {
            let (x, evicted) = (x[l], evicted.map(|row| row[l]));
            let was_huge = self.n_huge[l] > 0;
            if x.abs() > HUGE {
                self.n_huge[l] += 1;
            }
            if evicted.is_some_and(|y| y.abs() > HUGE) {
                self.n_huge[l] = self.n_huge[l].saturating_sub(1);
            }
            self.since_refresh[l] += 1;
            if self.n_huge[l] > 0 || was_huge || self.since_refresh[l] as usize >= self.window {
                self.refresh(l, x);
                continue;
            }
            let u = x - self.shift[l];
            let (du, du2, v2) = match evicted {
                None => (u, u * u, 0.0),
                Some(y) => {
                    let v = y - self.shift[l];
                    (u - v, u * u - v * v, v * v)
                }
            };
            self.s1[l] += du;
            self.s2[l] += du2;
            let d = self.s1[l] * self.inv_n;
            let m2 = self.s2[l] - self.s1[l] * d;
            // A value that dominated the sums has just left (a spike leaving): its rounding
            // would linger in the sums, so start afresh; likewise when the variance is a
            // small fraction of s2 (strictly: exact zero sums of a flat window need nothing).
            let dominant_left = v2 > SPIKE_EXIT * self.s2[l];
            if dominant_left || m2 < REFRESH_RATIO * self.s2[l] {
                self.refresh(l, x);
                continue;
            }
            self.mean[l] = self.shift[l] + d;
            // m2 > 0 here (above the rounding bound); sqrt of a negative would be NaN
            self.spread[l] = (if m2 > 0.0 { m2 } else { 0.0 } * self.inv_n1).sqrt();
        }
    }

    /// Recomputes lane `l`'s sums from the buffer around its newest value `x`.
    #[cold]
    fn refresh(&mut self, l: usize, x: f64) {
        self.since_refresh[l] = 0;
        if self.n_huge[l] > 0 {
            (self.shift[l], self.s1[l], self.s2[l]) = (0.0, 0.0, 0.0);
            self.derive_saturating(l);
            return;
        }
        // four independent accumulators, so the pass is not one long chain of additions
        let (mut s1, mut s2) = ([0.0; 4], [0.0; 4]);
        let chunks = self.values.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for ((a, b), row) in s1.iter_mut().zip(s2.iter_mut()).zip(c) {
                let u = row[l] - x;
                *a += u;
                *b += u * u;
            }
        }
        for (a, (b, row)) in s1.iter_mut().zip(s2.iter_mut().zip(rest)) {
            let u = row[l] - x;
            *a += u;
            *b += u * u;
        }
        let s1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
        let s2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
        (self.shift[l], self.s1[l], self.s2[l]) = (x, s1, s2);
        self.derive(l);
    }

    /// Lane `l`'s mean and spread by a saturating Welford pass over the buffer (huge values
    /// about).
    #[cold]
    fn derive_saturating(&mut self, l: usize) {
        let (mut mean, mut m2, mut n) = (0.0, 0.0, 0.0);
        for row in &self.values {
            n += 1.0;
            welford_add(&mut mean, &mut m2, row[l], n);
        }
        self.mean[l] = mean;
        self.spread[l] = sat((m2 * self.inv_n1).sqrt());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{StreamingDetector, ZScore};

    #[test]
    fn agrees_with_the_zscore_detector() {
        let mut z = ZScore::params().window(50).min_samples(5).build().unwrap();
        // lane 0 is checked against the detector; lane 1 carries another series (spikes,
        // huge values and flat stretches at other times), which must not change lane 0,
        // and is itself what a one-lane window gives, bit for bit
        let mut r = Rolling::<2>::new(50, 5);
        let mut alone = Rolling::<1>::new(50, 5);
        let mut recent = std::collections::VecDeque::new();
        let mut state = 7u64;
        for i in 0..6000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64;
            // noise on a large level, flat stretches with spikes (exact-zero spread once the
            // spike has left), drifts, and magnitudes near f64::MAX
            let x = match (i / 500) % 6 {
                0 => 1e6 + noise,
                1 => 3.0,
                2 => {
                    if i % 97 == 0 {
                        1e6
                    } else {
                        -0.0
                    }
                }
                3 => f64::from(u32::try_from(i).unwrap()) * 0.01 + noise * 1e-3,
                4 => noise * 1e200,
                _ => 0.1,
            };
            assert_eq!(z.is_warm(), r.is_warm(), "step {i}");
            let (zm, zs) = (z.expected(), z.spread());
            // Both accumulate rounding in proportion to the largest squared deviation in
            // the window (a 1e6 spike over a spread of 5 costs digits in both).
            let window: Vec<f64> = recent.iter().copied().collect();
            let big = window.iter().map(|v| (v - zm).powi(2)).fold(0.0, f64::max);
            let rel = if big > 1e6 * zs * zs { 1e-5 } else { 1e-9 };
            let tol = rel * zs + 1e-15 * zm.abs();
            assert!(
                (zm - r.mean()[0]).abs() <= tol,
                "mean at step {i}: {zm} vs {}",
                r.mean()[0]
            );
            // the reference: two passes over the window
            let n = window.len() as f64;
            let mean = window.iter().sum::<f64>() / n;
            let exact = if window.len() > 1 {
                (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            // (beyond f64 the reference overflows; the saturating detector is the reference)
            let exact = if exact.is_finite() { exact } else { zs };
            assert!(
                (exact - r.spread()[0]).abs() <= tol,
                "spread at step {i}: {} vs exact {exact} (detector {zs})",
                r.spread()[0]
            );
            if zs == 0.0 && window.len() > 1 {
                assert_eq!(r.spread()[0], 0.0, "flat window at step {i}");
                assert_eq!(
                    zm.to_bits(),
                    r.mean()[0].to_bits(),
                    "flat window mean at step {i}"
                );
            }
            recent.push_back(x + 0.0);
            if recent.len() > 50 {
                recent.pop_front();
            }
            z.update(x).unwrap();
            let other = if (i / 700) % 3 == 1 {
                1e300
            } else {
                -f64::from(u32::try_from(i % 13).unwrap())
            };
            r.update(Lanes([x, other]));
            alone.update(Lanes([other]));
            assert_eq!(r.mean()[1].to_bits(), alone.mean()[0].to_bits(), "step {i}");
            assert_eq!(
                r.spread()[1].to_bits(),
                alone.spread()[0].to_bits(),
                "step {i}"
            );
        }
    }

    #[test]
    fn restores_identically_and_rejects_corrupt_state() {
        let mut r = Rolling::<2>::new(8, 2);
        for i in 0..13 {
            r.update(Lanes([f64::from(i) * 1.5, 1.0]));
        }
        let json = serde_json::to_string(&r).unwrap();
        let back: Rolling<2> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let corrupt = json.replace("\"head\":5", "\"head\":9");
        assert_ne!(corrupt, json);
        assert!(serde_json::from_str::<Rolling<2>>(&corrupt).is_err());
        // fields must match what is written, one for one: binary formats (the service stores
        // states as postcard) have no field names to skip an extra one by
        let unknown = json.replace("\"n_huge\":[0,0]", "\"n_huge\":[0,0],\"errr\":1e-12");
        assert!(serde_json::from_str::<Rolling<2>>(&unknown).is_err());
    }
}
