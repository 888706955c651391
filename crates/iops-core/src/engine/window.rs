//! Mean and sample spread of the values of the last stretch of time, for each of `L` series
//! sampled together.
//!
//! The window is a queue of time buckets (a 48th of its span each), each holding its count
//! and the sums of its values and their squares, less a shift (the window's mean as of the
//! last refresh); the window's sums are updated with every value and every bucket that
//! leaves, and recomputed around the current mean once a span of buckets has left, which
//! keeps them exact to rounding whatever the level. Memory is bounded by the number of
//! buckets, not by the cadence.
//!
//! Time, not samples, decides what leaves: a bucket leaves once it is older than the span,
//! but only while the window still holds its nominal count of samples without it, so a gap
//! in the data does not leave a window of a handful of samples.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::lanes::Lanes;
use crate::Error;

/// Values beyond ± this count as ± this: no metric comes near it, and below it no sum,
/// square or ratio the models form can overflow, so the hot path needs no saturation.
pub(crate) const INPUT_LIMIT: f64 = 1e100;

/// A bucket older than this many spans leaves whatever the count.
const MAX_AGE_SPANS: i64 = 64;
/// A window keeps at most this many spans' worth of buckets.
const MAX_SPANS_KEPT: usize = 4;

/// Count and sums of a set of values, per lane, relative to the window's shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Sums<const L: usize> {
    n: f64,
    /// `Σ (x - shift)`.
    s1: Lanes<f64, L>,
    /// `Σ (x - shift)²`.
    s2: Lanes<f64, L>,
}

impl<const L: usize> Sums<L> {
    const EMPTY: Self = Sums {
        n: 0.0,
        s1: Lanes([0.0; L]),
        s2: Lanes([0.0; L]),
    };

    /// Adds one shifted value per lane (bounded by the pipeline's input limit, so the sums
    /// of any window stay finite).
    #[inline(always)]
    fn add(&mut self, d: Lanes<f64, L>) {
        self.n += 1.0;
        for l in 0..L {
            self.s1[l] += d[l];
            self.s2[l] += d[l] * d[l];
        }
    }

    fn plus(&mut self, o: &Sums<L>) {
        self.n += o.n;
        for l in 0..L {
            self.s1[l] += o.s1[l];
            self.s2[l] += o.s2[l];
        }
    }

    fn minus(&mut self, o: &Sums<L>) {
        self.n -= o.n;
        for l in 0..L {
            self.s1[l] -= o.s1[l];
            self.s2[l] -= o.s2[l];
        }
    }

    /// The same values relative to a shift larger by `delta`.
    fn reshift(&mut self, delta: Lanes<f64, L>) {
        for l in 0..L {
            let d = delta[l];
            // Σ (x - s - d)² = Σ (x - s)² - 2 d Σ (x - s) + n d²
            self.s2[l] += self.n * d * d - 2.0 * d * self.s1[l];
            self.s1[l] -= self.n * d;
        }
    }

    fn is_valid(&self) -> bool {
        self.n.is_finite()
            && self.n >= 0.0
            && self.s1.iter().all(|v| v.is_finite())
            && self.s2.iter().all(|v| v.is_finite())
    }
}

/// One bucket of a [`TimeWindow`]: the values whose time fell in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket<const L: usize> {
    /// `floor(t / width)` of the bucket's time.
    index: i64,
    sums: Sums<L>,
}

/// `floor(q)` for the bucket and slot indices, without a call into libm (x86-64 before
/// SSE4.1 has no rounding instruction); saturating for any finite `q`.
#[inline(always)]
pub(crate) fn floor_index(q: f64) -> i64 {
    let i = q as i64;
    if (i as f64) > q {
        i - 1
    } else {
        i
    }
}

/// The values of the last `span` buckets of time (and at least `keep` samples).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "WindowState<L>")]
pub(crate) struct TimeWindow<const L: usize> {
    /// Seconds per bucket.
    width: f64,
    /// Buckets in the span.
    span: i64,
    /// Samples the window holds at least (while they are not too old).
    keep: f64,
    /// Samples before the window is warm.
    min: f64,
    buckets: VecDeque<Bucket<L>>,
    /// Subtracted from every value before summing (the window's mean as of the last
    /// refresh), so the sums stay small beside the spread.
    shift: Lanes<f64, L>,
    total: Sums<L>,
    /// Buckets that left since the sums were last recomputed and shifted.
    left: i64,
    /// End time of the newest bucket (derived, rebuilt on decode).
    #[serde(skip)]
    back_end: f64,
    /// `1 / width` (derived).
    #[serde(skip)]
    inv_width: f64,
    /// Mean and spread of the values held (derived from the sums, rebuilt on decode).
    #[serde(skip)]
    mean: Lanes<f64, L>,
    #[serde(skip)]
    spread: Lanes<f64, L>,
}

/// Equal when what is stored is (the derived mean and spread are rebuilt before use).
impl<const L: usize> PartialEq for TimeWindow<L> {
    fn eq(&self, o: &Self) -> bool {
        self.width == o.width
            && self.span == o.span
            && self.keep == o.keep
            && self.min == o.min
            && self.buckets == o.buckets
            && self.shift == o.shift
            && self.total == o.total
            && self.left == o.left
    }
}

/// Serde form of a [`TimeWindow`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowState<const L: usize> {
    width: f64,
    span: i64,
    keep: f64,
    min: f64,
    buckets: VecDeque<Bucket<L>>,
    shift: Lanes<f64, L>,
    total: Sums<L>,
    left: i64,
}

impl<const L: usize> TryFrom<WindowState<L>> for TimeWindow<L> {
    type Error = Error;

    fn try_from(s: WindowState<L>) -> Result<Self, Error> {
        let ok = s.width.is_finite()
            && s.width > 0.0
            && s.span > 0
            && s.keep.is_finite()
            && s.min.is_finite()
            && s.shift.iter().all(|v| v.is_finite())
            && s.total.is_valid()
            && s.buckets.iter().all(|b| b.sums.is_valid())
            && s.buckets
                .iter()
                .zip(s.buckets.iter().skip(1))
                .all(|(a, b)| a.index < b.index);
        if !ok {
            return Err(Error::Decode {
                what: "engine window state",
                reason: "bucket width, span, order or sums out of range".into(),
            });
        }
        let mut w = TimeWindow {
            width: s.width,
            span: s.span,
            keep: s.keep,
            min: s.min,
            buckets: s.buckets,
            shift: s.shift,
            total: s.total,
            left: s.left,
            back_end: f64::MIN,
            inv_width: 1.0 / s.width,
            mean: Lanes::splat(0.0),
            spread: Lanes::splat(0.0),
        };
        w.back_end = w
            .buckets
            .back()
            .map_or(f64::MIN, |b| (b.index + 1) as f64 * w.width);
        w.derive();
        Ok(w)
    }
}

impl<const L: usize> TimeWindow<L> {
    /// A window over `seconds` in `buckets` buckets, keeping at least `keep` samples and
    /// warm from `min` samples.
    pub(crate) fn new(seconds: f64, buckets: u32, keep: f64, min: f64) -> Self {
        TimeWindow {
            width: seconds / f64::from(buckets.max(1)),
            span: i64::from(buckets.max(1)),
            keep,
            min,
            buckets: VecDeque::new(),
            shift: Lanes::splat(0.0),
            total: Sums::EMPTY,
            left: 0,
            back_end: f64::MIN,
            // (as decoding derives it, bit for bit)
            inv_width: 1.0 / (seconds / f64::from(buckets.max(1))),
            mean: Lanes::splat(0.0),
            spread: Lanes::splat(0.0),
        }
    }

    /// Mean and spread from the sums.
    fn derive(&mut self) {
        let n = self.total.n;
        let (inv_n, inv_n1) = (
            if n > 0.0 { 1.0 / n } else { 0.0 },
            if n > 1.0 { 1.0 / (n - 1.0) } else { 0.0 },
        );
        for l in 0..L {
            let d = self.total.s1[l] * inv_n;
            self.mean[l] = self.shift[l] + d;
            let m2 = self.total.s2[l] - self.total.s1[l] * d;
            self.spread[l] = (if m2 > 0.0 { m2 } else { 0.0 } * inv_n1).sqrt();
        }
    }

    /// Lets the buckets that are too old at time `t` leave, and derives the mean and spread
    /// of what is held (call before [`TimeWindow::mean`] and [`TimeWindow::spread`]).
    #[inline(always)]
    pub(crate) fn advance(&mut self, t: f64) {
        // (the oldest bucket is older than the span from this time on: before it, nothing
        // can leave)
        let front_old_at = self
            .buckets
            .front()
            .map_or(f64::MAX, |b| (b.index + self.span) as f64 * self.width);
        if t >= front_old_at {
            let now = floor_index(t * self.inv_width);
            if self.leaves(now) {
                self.evict(now);
            }
        }
        self.derive();
    }

    /// True when the oldest bucket leaves at bucket `now`: it is older than the span and
    /// the window holds enough samples without it (or too many buckets), or it is ancient.
    #[inline(always)]
    fn leaves(&self, now: i64) -> bool {
        let Some(front) = self.buckets.front() else {
            return false;
        };
        let old = front.index <= now.saturating_sub(self.span);
        let spare = self.total.n - front.sums.n >= self.keep
            || self.buckets.len() > MAX_SPANS_KEPT * self.span as usize;
        (old && spare) || front.index <= now.saturating_sub(MAX_AGE_SPANS * self.span)
    }

    #[cold]
    fn evict(&mut self, now: i64) {
        while self.leaves(now) {
            if let Some(front) = self.buckets.pop_front() {
                self.total.minus(&front.sums);
                self.left += 1;
            }
        }
        if self.left >= self.span || self.buckets.is_empty() {
            self.refresh();
        }
    }

    /// Sums again from the buckets, around the current mean (once per span of buckets
    /// gone: subtracting leaves rounding behind, and the level drifts from the shift).
    fn refresh(&mut self) {
        // (the mean from the sums, not the derived one: that may predate the last value)
        let inv_n = if self.total.n > 0.0 {
            1.0 / self.total.n
        } else {
            0.0
        };
        let delta = Lanes::from_fn(|l| self.total.s1[l] * inv_n);
        let mut total = Sums::EMPTY;
        for b in self.buckets.iter_mut() {
            b.sums.reshift(delta);
            total.plus(&b.sums);
        }
        self.shift = if self.buckets.is_empty() {
            Lanes::splat(0.0)
        } else {
            Lanes::from_fn(|l| self.shift[l] + delta[l])
        };
        self.total = total;
        self.left = 0;
    }

    /// Adds one value per lane at time `t` (a late value joins the newest bucket).
    #[inline(always)]
    pub(crate) fn add(&mut self, t: f64, x: Lanes<f64, L>) {
        if self.total.n == 0.0 {
            // the first value of an empty window is its shift
            self.shift = x;
        }
        let d = Lanes::from_fn(|l| x[l] - self.shift[l]);
        // the newest bucket takes the values before its end (late ones too)
        match self.buckets.back_mut() {
            Some(b) if t < self.back_end => b.sums.add(d),
            _ => {
                let i = floor_index(t * self.inv_width);
                let mut sums = Sums::EMPTY;
                sums.add(d);
                match self.buckets.back_mut() {
                    // (a value at the very edge of the newest bucket)
                    Some(b) if b.index >= i => b.sums.add(d),
                    _ => self.buckets.push_back(Bucket { index: i, sums }),
                }
                self.back_end = self
                    .buckets
                    .back()
                    .map_or(f64::MIN, |b| (b.index + 1) as f64 * self.width);
            }
        }
        self.total.add(d);
    }

    /// Index of the bucket the newest value joined (none while empty).
    pub(crate) fn newest_bucket(&self) -> Option<i64> {
        self.buckets.back().map(|b| b.index)
    }

    /// Replaces values of lane `l` in bucket `index`, if it is still held, by others of the
    /// same count: `d1 = Σ (x - m)` and `d2 = Σ (x² - m²)` over the values `x` that replace
    /// the values `m` learned.
    pub(crate) fn replace(&mut self, l: usize, index: i64, d1: f64, d2: f64) {
        if let Ok(k) = self.buckets.binary_search_by_key(&index, |b| b.index) {
            // Σ (x - s)² - Σ (m - s)² around the window's shift s
            let d2 = d2 - 2.0 * self.shift[l] * d1;
            let b = &mut self.buckets[k].sums;
            b.s1[l] += d1;
            b.s2[l] += d2;
            self.total.s1[l] += d1;
            self.total.s2[l] += d2;
        }
    }

    /// True once the window holds `min` samples.
    #[inline(always)]
    pub(crate) fn is_warm(&self) -> bool {
        self.total.n >= self.min
    }

    /// Mean of each lane's values (0 while empty).
    #[inline(always)]
    pub(crate) fn mean(&self) -> Lanes<f64, L> {
        self.mean
    }

    /// Sample standard deviation of each lane's values (0 below two).
    #[inline(always)]
    pub(crate) fn spread(&self) -> Lanes<f64, L> {
        self.spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact mean and sample spread of the values a window should hold.
    fn exact(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn holds_the_last_span_of_time() {
        // 1-minute values over a 1-hour window of 12 buckets of 5 minutes, keeping 60
        let mut w = TimeWindow::<1>::new(3600.0, 12, 60.0, 10.0);
        let value = |i: u32| 1e6 + f64::from(i % 17) * 3.0 + f64::from(i / 500);
        // the reference: whole buckets of values, the oldest leaving as the rules say
        let mut held: VecDeque<(i64, Vec<f64>)> = VecDeque::new();
        for i in 0..2000u32 {
            let t = f64::from(i) * 60.0;
            let now = i64::from(i / 5);
            while let Some((b, v)) = held.front() {
                let count: usize = held.iter().map(|(_, v)| v.len()).sum();
                if *b <= now - 12 && count - v.len() >= 60 {
                    held.pop_front();
                } else {
                    break;
                }
            }
            w.advance(t);
            let values: Vec<f64> = held.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            if values.len() > 2 {
                let (m, s) = exact(&values);
                assert!((w.mean()[0] - m).abs() < 1e-9 * m, "mean at {i}");
                assert!(
                    (w.spread()[0] - s).abs() < 1e-6 * s.max(1.0),
                    "spread at {i}"
                );
            }
            if i > 100 {
                assert!(values.len() >= 60, "{}", values.len());
            }
            w.add(t, Lanes([value(i)]));
            match held.back_mut() {
                Some((b, v)) if *b == now => v.push(value(i)),
                _ => held.push_back((now, vec![value(i)])),
            }
        }
    }

    #[test]
    fn replaced_values_are_as_if_they_had_been_learned() {
        // 1-minute values of two lanes; in lane 1, minutes 30..50 were learned as 50.0 in
        // place of what was seen, then put back bucket by bucket
        let mut w = TimeWindow::<2>::new(3600.0, 12, 60.0, 10.0);
        let seen = |i: u32| 40.0 + f64::from(i % 9) * 1.5 + if i >= 30 { 25.0 } else { 0.0 };
        let mut d: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
        for i in 0..50u32 {
            let t = 60.0 * f64::from(i);
            w.advance(t);
            let (x, m) = (seen(i), if i >= 30 { 50.0 } else { seen(i) });
            w.add(t, Lanes([seen(i), m]));
            let e = d.entry(w.newest_bucket().unwrap()).or_default();
            e.0 += x - m;
            e.1 += (x - m) * (x + m);
        }
        for (b, (d1, d2)) in d {
            w.replace(1, b, d1, d2);
        }
        w.advance(60.0 * 50.0);
        let values: Vec<f64> = (0..50).map(seen).collect();
        let (mean, spread) = exact(&values);
        for l in 0..2 {
            assert!(
                (w.mean()[l] - mean).abs() < 1e-9,
                "lane {l}: {}",
                w.mean()[l]
            );
            assert!(
                (w.spread()[l] - spread).abs() < 1e-9,
                "lane {l}: {}",
                w.spread()[l]
            );
        }
        // a bucket that has left is not touched
        w.replace(1, -5, 1e6, 1e12);
        w.advance(60.0 * 50.0);
        assert!((w.mean()[1] - mean).abs() < 1e-9);
    }

    #[test]
    fn a_gap_does_not_empty_the_window() {
        let mut w = TimeWindow::<1>::new(3600.0, 12, 60.0, 10.0);
        for i in 0..120 {
            w.add(f64::from(i) * 60.0, Lanes([f64::from(i)]));
        }
        // ten hours without data: the window keeps its 60 samples
        let t = 120.0 * 60.0 + 36_000.0;
        w.advance(t);
        assert!(w.spread()[0] > 0.0);
        assert!(w.is_warm() && w.total.n >= 60.0, "{}", w.total.n);
        // but not for ever
        w.advance(t + 64.0 * 3600.0);
        assert_eq!(w.total.n, 0.0);
    }

    #[test]
    fn stays_finite_at_the_input_limit_and_survives_a_round_trip() {
        let mut w = TimeWindow::<2>::new(600.0, 6, 10.0, 2.0);
        for i in 0..100 {
            let x = if i % 7 == 0 {
                INPUT_LIMIT
            } else {
                -INPUT_LIMIT
            };
            w.advance(f64::from(i));
            assert!(w
                .mean()
                .iter()
                .chain(w.spread().iter())
                .all(|v| v.is_finite()));
            w.add(f64::from(i), Lanes([x, 1.0]));
        }
        let back: TimeWindow<2> =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        let bad =
            serde_json::to_string(&w)
                .unwrap()
                .replacen("\"width\":100.0", "\"width\":-1.0", 1);
        assert!(serde_json::from_str::<TimeWindow<2>>(&bad).is_err());
    }
}
