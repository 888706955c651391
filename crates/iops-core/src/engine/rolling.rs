//! Rolling mean and sample standard deviation of the last `window` values, for the engine's
//! hot path.
//!
//! It computes exactly what [`crate::detector::ZScore`] (mean/std) computes — the same
//! sliding-window Welford recurrence, the same saturation of intermediates, the same refresh
//! schedule (a full recomputation every `window` updates, or when the variance sinks to the
//! level of its rounding error) — so its mean and spread are bit-identical to the detector's.
//! What it leaves out is the detector's generality: no parameter builder, no robust path,
//! no input check (the caller passes finite values), no modulo per update, and the spread is
//! computed once per update instead of once per query.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Refresh the running sums when the variance is within this factor of their error bound.
const REFRESH_MARGIN: f64 = 64.0;

/// Clamps to the finite range so that no intermediate can become infinite (and then NaN).
#[inline(always)]
pub(super) fn sat(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-f64::MAX, f64::MAX)
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

/// Rolling mean and sample standard deviation of the last `window` finite values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RollingState")]
pub(crate) struct Rolling {
    window: usize,
    min_samples: usize,
    /// Ring buffer of the window; once full, `head` is the oldest value.
    values: Vec<f64>,
    head: usize,
    mean: f64,
    /// Sum of squared deviations from the mean.
    m2: f64,
    /// Running bound on the rounding error accumulated in `m2` since the last refresh.
    m2_error: f64,
    since_refresh: usize,
    /// Sample standard deviation of the window (0 below two values).
    #[serde(skip)]
    spread: f64,
}

/// Serde form of a [`Rolling`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollingState {
    window: usize,
    min_samples: usize,
    values: Vec<f64>,
    head: usize,
    mean: f64,
    m2: f64,
    m2_error: f64,
    since_refresh: usize,
}

impl TryFrom<RollingState> for Rolling {
    type Error = Error;

    fn try_from(s: RollingState) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Decode {
            what: "engine rolling state",
            reason: reason.to_owned(),
        };
        let len = s.values.len();
        if s.window < 2 || s.min_samples < 2 || s.min_samples > s.window {
            return Err(bad("window must be >= 2 and min_samples in 2..=window"));
        }
        if len > s.window || (len < s.window && s.head != 0) || s.head >= s.window {
            return Err(bad("ring buffer length or head out of range"));
        }
        if s.values.iter().any(|v| !v.is_finite()) {
            return Err(bad("non-finite value in the window"));
        }
        if !(s.mean.is_finite() && s.m2.is_finite() && s.m2 >= 0.0) {
            return Err(bad("mean and m2 must be finite, m2 >= 0"));
        }
        if !(s.m2_error.is_finite() && s.m2_error >= 0.0) || s.since_refresh > s.window {
            return Err(bad("m2_error or since_refresh out of range"));
        }
        let mut values = s.values;
        values.reserve_exact(s.window - len);
        let mut r = Rolling {
            window: s.window,
            min_samples: s.min_samples,
            values,
            head: s.head,
            mean: s.mean,
            m2: s.m2,
            m2_error: s.m2_error,
            since_refresh: s.since_refresh,
            spread: 0.0,
        };
        r.spread = r.compute_spread();
        Ok(r)
    }
}

impl Rolling {
    /// An empty window; `2 <= min_samples <= window` is the caller's (checked config's) job.
    pub(crate) fn new(window: usize, min_samples: usize) -> Self {
        let window = window.max(2);
        Rolling {
            window,
            min_samples: min_samples.clamp(2, window),
            values: Vec::with_capacity(window),
            head: 0,
            mean: 0.0,
            m2: 0.0,
            m2_error: 0.0,
            since_refresh: 0,
            spread: 0.0,
        }
    }

    /// True once `min_samples` values are in the window.
    #[inline]
    pub(crate) fn is_warm(&self) -> bool {
        self.values.len() >= self.min_samples
    }

    /// Mean of the window (0.0 while empty).
    #[inline]
    pub(crate) fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation of the window (0.0 below two values).
    #[inline]
    pub(crate) fn spread(&self) -> f64 {
        self.spread
    }

    fn compute_spread(&self) -> f64 {
        if self.values.len() < 2 {
            0.0
        } else {
            let n1 = (self.values.len() - 1) as f64;
            sat((self.m2 / n1).sqrt())
        }
    }

    /// Learns one finite value.
    #[inline]
    pub(crate) fn update(&mut self, x: f64) {
        // `+ 0.0` turns -0.0 into 0.0, as the detector does.
        let x = x + 0.0;
        let evicted = if self.values.len() < self.window {
            self.values.push(x);
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
        if self.since_refresh >= self.window || noisy || self.m2 >= f64::MAX {
            self.refresh();
        }
        self.spread = self.compute_spread();
    }

    /// Recomputes mean and m2 from the buffer, oldest to newest, in one Welford pass.
    #[cold]
    fn refresh(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{StreamingDetector, ZScore};

    #[test]
    fn bit_identical_to_the_zscore_detector() {
        let mut z = ZScore::params().window(50).min_samples(5).build().unwrap();
        let mut r = Rolling::new(50, 5);
        let mut state = 7u64;
        for i in 0..5000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64;
            // noise, flat stretches (exact-zero spread), spikes and huge magnitudes
            let x = match (i / 500) % 4 {
                0 => 10.0 + noise,
                1 => 3.0,
                2 => {
                    if i % 97 == 0 {
                        1e6
                    } else {
                        -0.0
                    }
                }
                _ => noise * 1e200,
            };
            assert_eq!(z.is_warm(), r.is_warm(), "step {i}");
            assert_eq!(z.expected().to_bits(), r.mean().to_bits(), "step {i}");
            assert_eq!(z.spread().to_bits(), r.spread().to_bits(), "step {i}");
            z.update(x).unwrap();
            r.update(x);
        }
    }

    #[test]
    fn restores_identically_and_rejects_corrupt_state() {
        let mut r = Rolling::new(8, 2);
        for i in 0..13 {
            r.update(f64::from(i) * 1.5);
        }
        let json = serde_json::to_string(&r).unwrap();
        let back: Rolling = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let corrupt = json.replace("\"head\":5", "\"head\":9");
        assert_ne!(corrupt, json);
        assert!(serde_json::from_str::<Rolling>(&corrupt).is_err());
    }
}
