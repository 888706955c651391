//! Turns a raw surprise (an absolute z-score) into a tail probability calibrated on the
//! series' own recent history, so one threshold means the same thing on every series.
//!
//! Why: a 5-sigma point is routine on a spiky disk-I/O series and unheard of on a smooth CPU
//! series. The calibrator keeps an exponentially forgetting histogram of past surprises (log2
//! bins, memory of about `memory` samples) and answers "how often did we see a surprise at
//! least this large?". A value beyond everything seen is extrapolated (from the spread of the
//! top surprises, or a Pareto tail), so record-breaking values still get distinct, ever
//! smaller probabilities. The Gaussian tail of the z-score is a floor: rare-in-history but
//! small deviations are never alarming.
//!
//! Cost: bins come from the float's exponent and top mantissa bits (no logarithm), and the
//! histogram is kept as suffix sums, so a query is O(1) and an update touches only the bins
//! below the new value's, branch-free over the first 12 with a mask. The sums are single
//! precision, so the masked update does four bins per SSE2 instruction; 7 digits are plenty
//! for a tail probability (weights are rescaled well before f32 overflows, and the memory is
//! capped so that the newest weight still registers in the sums).
//!
//! A query is on the critical path of every sample (four calibrators per metric), so it
//! reads a cache: per lane and bin, `-ln P` at the bin's lower edge (f32), interpolated
//! between the two edges of the surprise's bin in log space; the result is the smaller of
//! that and the Gaussian floor. No division and no logarithm per query. The cache covers the
//! first `CACHED` bins (surprises up to 47); larger surprises and records (above the
//! forgotten maximum, where the record tail applies) are answered exactly from the suffix
//! sums.
//!
//! The cache is refreshed (every lane's `CACHED + 1` edges, with a SIMD f32 logarithm) once
//! the samples learned since the last refresh reach `n / STALE_DIV`, `n = min(n_seen,
//! memory)`: every `memory / 32` learns when warm, every learn for the first 32. Each learn
//! adds at most one count (of the newest sample's weight) to an edge's tail and the total,
//! so a cached probability misses at most the samples since the refresh: within `n / 32`
//! counts of the exact one, a few percent of a common surprise's probability, but up to
//! `ln 2` nats for a once-seen one until the next refresh (tested). Inside a bin, log-space
//! interpolation gives the geometric mean of the edges' probabilities where the exact query
//! gives the arithmetic one, so a little more surprise (the same at the edges). The
//! schedule depends only on the number of samples, never on other lanes, so a lane of `L`
//! equals a lane of one. docs/performance.md has what these choices were measured against.

use serde::{Deserialize, Serialize};

use super::fastmath::{ln, ln_upper_bound, max, min, neg_ln_erfc};
use super::lanes::Lanes;

/// Mantissa bits that split each octave into bins (1 bit: 2 bins per octave): as good as
/// finer bins on NAB, and the update touches 12 bins instead of 32.
const SUB_BITS: u32 = 1;
/// Smallest surprise with a bin of its own is 2^LOW_EXP (smaller ones share bin 0).
const LOW_EXP: i64 = -4;
/// Number of bins: covers surprises up to 2^34 (flat series give z near 1e9).
const N_BINS: usize = 2 * 38;
/// Bins updated without a data-dependent loop (surprises below 2^(FIXED / 2 + LOW_EXP) = 4).
const FIXED: usize = 12;
/// 0.0, 1.0, ..., the indices of the fixed bins as floats.
const BIN_INDEX: [f32; FIXED] = {
    let mut index = [0.0; FIXED];
    let mut i = 0;
    while i < FIXED {
        index[i] = i as f32;
        i += 1;
    }
    index
};
/// Longest memory of a calibrator (samples; 9.5 years of 5-minute samples): the suffix
/// sums hold about `memory` newest weights, which f32 must still resolve and not overflow.
const MAX_MEMORY: f64 = 1e6;
/// Bins answered from the cache of log-probabilities (surprises below 2^(CACHED / 2 +
/// LOW_EXP) * 1.5 = 48): the cache holds their `CACHED + 1` lower edges per lane.
const CACHED: usize = 19;
/// Surprises up to this are in the cached bins (the lower edge of bin `CACHED - 1` is
/// 2^(9 - 4) = 32, of bin `CACHED` 48).
const CACHED_UP_TO: f64 = 47.0;
/// Cached edges per lane (a multiple of 4: the refresh is whole SSE2 vectors).
const EDGES: usize = CACHED + 1;
/// The cache is refreshed once the samples learned since the last refresh reach
/// `n / STALE_DIV`, `n = min(n_seen, memory)` the effective sample count (see the module
/// docs for the staleness this allows).
const STALE_DIV: f64 = 32.0;
/// Rescale the weights before they overflow: the suffix sums are f32 (below 3.4e38), and at
/// most `memory` times the newest weight.
const RESCALE_AT: f64 = 1e28;

/// Calibrators of surprises for one feature of `L` series learning in lock step (one
/// surprise per lane per update): the forgetting weights are shared, the histograms are not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurpriseCalibrator<const L: usize> {
    /// Forgetting weight: each new sample weighs `growth` times the previous one.
    growth: f64,
    /// Weight of the next sample (the newest sample's weight times `growth`).
    weight: f64,
    /// Weight of the newest sample (`weight / growth`): counts are in this unit.
    unit: f64,
    /// Lane `l`'s `N_BINS + 1` suffix sums, one lane after another: `tail[b]` is the total
    /// weight of the lane's surprises in bins `b` and above (`tail[0]` is the total).
    /// Single precision: four bins per SSE2 instruction in the update, which adds to every
    /// bin below the surprise's; 7 digits are plenty for a tail probability.
    tail: Vec<f32>,
    /// Largest surprise seen per lane, slowly forgotten.
    max_seen: Lanes<f64, L>,
    n_seen: u64,
    memory: f64,
    min_samples: u64,
    /// `1 / (gaussian_scale * sqrt 2)`: turns a z-score into the argument of erfc.
    gaussian_factor: f64,
    /// Lane `l`'s `EDGES` cached log-probabilities, one lane after another: entry `b` is
    /// `-ln P` at the lower edge of bin `b`, as of the last refresh.
    cache: Vec<f32>,
    /// `n_seen` at the last refresh of the cache.
    refreshed_at: u64,
    /// Most samples a probability's denominator counts (`horizon` newest weights): beyond
    /// it, a surprise is rare by how often it was seen, not by how long the history is.
    horizon: f64,
    /// Records beyond the forgotten maximum extrapolate an exponential tail through the top
    /// `record_tail` samples (0: a Pareto tail of exponent 2).
    record_tail: f64,
}

/// Suffix sums per lane.
const ROW: usize = N_BINS + 1;

impl<const L: usize> SurpriseCalibrator<L> {
    /// `memory`: effective number of past samples remembered (> 1); `min_samples`: samples
    /// before any calibrated probability is given; `gaussian_scale`: the z-score is divided
    /// by this before its Gaussian tail is used as the probability floor.
    /// `memory` is capped at 1e6 samples.
    pub(crate) fn new(memory: f64, min_samples: u64, gaussian_scale: f64) -> Self {
        let memory = memory.clamp(2.0, MAX_MEMORY);
        let growth = 1.0 / (1.0 - 1.0 / memory);
        SurpriseCalibrator {
            growth,
            weight: 1.0,
            unit: 1.0 / growth,
            tail: vec![0.0; ROW * L],
            max_seen: Lanes::splat(0.0),
            n_seen: 0,
            memory,
            min_samples,
            gaussian_factor: 1.0 / (gaussian_scale * std::f64::consts::SQRT_2),
            cache: vec![0.0; EDGES * L],
            refreshed_at: 0,
            horizon: memory,
            record_tail: 0.0,
        }
    }

    /// This calibrator with a horizon: probabilities count at most the `horizon` newest
    /// samples (clamped to `[1, memory]`), while surprises are remembered over `memory`.
    pub(crate) fn with_horizon(mut self, horizon: f64) -> Self {
        self.horizon = horizon.clamp(1.0, self.memory);
        self
    }

    /// This calibrator extrapolating records with an exponential tail fitted through its
    /// top `samples` surprises (see [`SurpriseCalibrator::record_surprise`]).
    pub(crate) fn with_record_tail(mut self, samples: f64) -> Self {
        self.record_tail = samples.max(0.0);
        self
    }

    /// The total weight a probability's denominator counts: the lane's total, at most
    /// `horizon` newest weights.
    #[inline(always)]
    fn counted(&self, total: f64) -> f64 {
        min(total, self.horizon * self.unit)
    }

    /// Bin index and the position inside the bin in [0, 1), from the float's bits:
    /// monotone in the surprise, log-spaced between octaves, linear within one. Surprises
    /// below 2^LOW_EXP (and NaN) are (0, 0.0), beyond the last bin (N_BINS - 1, 0.0).
    /// Branch-free, and in operations SSE2 has for two lanes at once: the exponent and the
    /// top mantissa bits, read together, are the bin (below 2^13, so an i32); the rest of
    /// the mantissa, put under the exponent of 1.0, is 1 + the position, exactly.
    #[inline(always)]
    fn locate(surprise: f64) -> (usize, f64) {
        // NaN and negatives count as 0 (the comparison is false for NaN)
        let bits = max(surprise, 0.0).to_bits();
        let raw = (bits >> (52 - SUB_BITS)) as i32 - ((1023 + LOW_EXP as i32) << SUB_BITS);
        const MANTISSA: u64 = (1 << 52) - 1;
        let frac = f64::from_bits(((bits << SUB_BITS) & MANTISSA) | 1.0f64.to_bits()) - 1.0;
        let last = N_BINS as i32 - 1;
        let inside = (0..last).contains(&raw);
        let bin = raw.clamp(0, last) as usize;
        (bin, if inside { frac } else { 0.0 })
    }

    /// Log-surprise of each lane's surprise (see [`SurpriseCalibrator::log_surprise`]), and
    /// their bins for [`SurpriseCalibrator::learn`] (located once for both).
    #[inline(always)]
    pub(crate) fn score(&self, surprise: Lanes<f64, L>) -> (Lanes<f64, L>, Lanes<usize, L>) {
        let mut bin: Lanes<usize, L> = Lanes::splat(0);
        let mut frac: Lanes<f64, L> = Lanes::splat(0.0);
        for l in 0..L {
            (bin[l], frac[l]) = Self::locate(surprise[l]);
        }
        (self.query(bin, frac, surprise), bin)
    }

    /// Log-surprise of a value: `-ln P(surprise at least this large)`, in nats, >= 0.
    /// 0.0 until warm. The probability is the larger of the calibrated empirical tail and
    /// the Gaussian tail of `surprise / gaussian_scale`.
    #[cfg(test)]
    pub(crate) fn log_surprise(&self, surprise: Lanes<f64, L>) -> Lanes<f64, L> {
        self.score(surprise).0
    }

    /// Whether it gives calibrated probabilities yet (`min_samples` learned).
    pub(crate) fn is_speaking(&self) -> bool {
        self.n_seen >= self.min_samples
    }

    /// Learns one surprise per lane.
    #[cfg(test)]
    pub(crate) fn update(&mut self, surprise: Lanes<f64, L>) {
        let (_, bin) = self.score(surprise);
        self.learn(bin, surprise);
    }

    /// [`SurpriseCalibrator::log_surprise`] of located surprises: from the cache, in log
    /// space, for the common case; exactly for large surprises and records.
    #[inline(always)]
    fn query(
        &self,
        bin: Lanes<usize, L>,
        frac: Lanes<f64, L>,
        surprise: Lanes<f64, L>,
    ) -> Lanes<f64, L> {
        if self.n_seen < self.min_samples {
            return Lanes::splat(0.0);
        }
        let gaussian = self.gaussian_floor(surprise);
        // beyond the cached bins, or a record (where the record tail may apply): exactly
        let exact: Lanes<bool, L> =
            Lanes::from_fn(|l| surprise[l] > min(self.max_seen[l], CACHED_UP_TO));
        let fast: Lanes<f64, L> = Lanes::from_fn(|l| {
            let read = |b: usize| f64::from(self.cache.get(l * EDGES + b).copied().unwrap_or(0.0));
            let b = bin[l].min(CACHED - 1);
            let (lo, hi) = (read(b), read(b + 1));
            let e = lo + (hi - lo) * frac[l];
            max(min(e, gaussian[l]), 0.0)
        });
        if !exact.any() {
            return fast;
        }
        // (lane by lane: usually one lane is a record, not four)
        Lanes::from_fn(|l| {
            if exact[l] {
                self.query_exact(l, bin[l], frac[l], surprise[l], gaussian[l])
            } else {
                fast[l]
            }
        })
    }

    /// Refreshes the cache of log-probabilities from the suffix sums.
    fn refresh(&mut self) {
        let unit = self.unit as f32;
        let counted = (self.horizon * self.unit) as f32;
        for (lane, cache) in self
            .tail
            .chunks_exact(ROW)
            .zip(self.cache.chunks_exact_mut(EDGES))
        {
            let total = lane.first().copied().unwrap_or(0.0);
            let total = ln_f32(if total < counted { total } else { counted } + unit);
            for (e, &t) in cache.iter_mut().zip(lane.iter()) {
                // (a tail above the counted total is as common as can be: probability 1)
                let d = total - ln_f32(t + unit);
                *e = if d > 0.0 { d } else { 0.0 };
            }
        }
        self.refreshed_at = self.n_seen;
    }

    /// The Gaussian floor of each lane's surprise: `-ln` of the Gaussian tail of
    /// `surprise / gaussian_scale`. -ln erfc(y) >= y^2 (the max only irons out the
    /// formula's 1e-7 error), so when y^2 >= -ln p the calibrated value is the empirical one.
    #[inline(always)]
    fn gaussian_floor(&self, surprise: Lanes<f64, L>) -> Lanes<f64, L> {
        let y = surprise.map(|s| s * self.gaussian_factor);
        let erfc = neg_ln_erfc(y);
        Lanes::from_fn(|l| max(erfc[l], y[l] * y[l]))
    }

    /// [`SurpriseCalibrator::log_surprise`] of lane `l`'s located surprise `s` in a warm
    /// calibrator, from the suffix sums, given its Gaussian floor.
    fn query_exact(&self, l: usize, bin: usize, frac: f64, s: f64, gaussian: f64) -> f64 {
        // Counts in units of the newest sample's weight: `above / unit` samples of the
        // `total / unit` were at least this surprising. The probability (above + 1) /
        // (total + 1) in those units is (above + unit) / (total + unit) in raw weights.
        let unit = self.unit;
        let read = |b: usize| f64::from(self.tail.get(l * ROW + b).copied().unwrap_or(0.0));
        let (total, at, over) = (self.counted(read(0)) + unit, read(bin), read(bin + 1));
        let above = over + (at - over) * (1.0 - frac);
        let max_seen = self.max_seen[l];
        let numerator = if above < unit && s > max_seen {
            // a record beyond every bin's history: the fitted tail
            let ratio = if max_seen <= 0.0 {
                1e-6
            } else if self.record_tail > 0.0 {
                self.record_ratio(l, s)
            } else {
                (max_seen / s).powi(2)
            };
            ratio * unit
        } else {
            above + unit
        };
        // (no NaN here: the weights are finite and total > 0)
        let empirical = min(max(numerator / total, f64::MIN_POSITIVE), 1.0);
        // against the Gaussian floor, which often binds: when a cheap lower bound of -ln p
        // (within 1/128 of it) is above it already, the result is the floor, bit for bit,
        // without the logarithm
        if -ln_upper_bound(Lanes([empirical]))[0] >= gaussian {
            return gaussian;
        }
        max(min(max(-ln(empirical), 0.0), gaussian), 0.0)
    }

    /// How much rarer than the largest surprise remembered lane `l`'s record `s` is: an
    /// exponential tail, `exp(-(s - max) / theta)`, whose scale `theta` spreads the log-count
    /// of the top `record_tail` samples over the distance from their bin to the maximum.
    /// A series whose large surprises are rare and close together makes a record beyond
    /// them very rare; a heavy-tailed one (bursts of every size) much less so.
    fn record_ratio(&self, l: usize, s: f64) -> f64 {
        let lane = self.tail.get(l * ROW..(l + 1) * ROW).unwrap_or(&[]);
        let k = self.record_tail * self.unit;
        // the highest bin with at least k samples at or above it (suffix sums decrease)
        let top = lane.iter().rposition(|&t| f64::from(t) >= k).unwrap_or(0);
        let count = f64::from(lane.get(top).copied().unwrap_or(0.0)) / self.unit;
        let max_seen = self.max_seen[l];
        let spread = max(max_seen - bin_floor(top), 0.05 * max_seen);
        let theta = spread / max(count.ln(), 1.0);
        (-(s - max_seen) / theta).exp()
    }

    /// Learns one surprise per lane, located in `bin` (by [`SurpriseCalibrator::score`]).
    #[inline(always)]
    pub(crate) fn learn(&mut self, bin: Lanes<usize, L>, surprise: Lanes<f64, L>) {
        // (below RESCALE_AT, so finite in f32)
        let w = self.weight as f32;
        for (l, lane) in self.tail.chunks_exact_mut(ROW).enumerate().take(L) {
            let bin = bin[l];
            // The common surprises (below 4) fall in the first FIXED bins: add to those
            // with a mask, branch-free, since a loop whose length varies with the data
            // mispredicts its exit; larger ones loop over the rest.
            if let Some(head) = lane.get_mut(..FIXED) {
                // float comparisons (the index as f64) vectorise on every x86-64; 64-bit
                // integer ones do not before SSE4.2
                let last = bin as i32 as f32;
                for (t, &i) in head.iter_mut().zip(BIN_INDEX.iter()) {
                    *t += if i <= last { w } else { 0.0 };
                }
            }
            if bin >= FIXED {
                if let Some(rest) = lane.get_mut(FIXED..=bin) {
                    rest.iter_mut().for_each(|t| *t += w);
                }
            }
        }
        self.weight *= self.growth;
        if self.weight > RESCALE_AT {
            let k = 1.0 / self.weight;
            self.tail
                .iter_mut()
                .for_each(|t| *t = (f64::from(*t) * k) as f32);
            self.weight = 1.0;
        }
        self.unit = self.weight / self.growth;
        self.n_seen += 1;
        // (through i64: the unsigned conversion is several instructions on x86-64)
        let n = (self.n_seen.min(1 << 53) as i64 as f64).min(self.memory);
        let keep = 1.0 - 1.0 / n;
        for l in 0..L {
            // (finite, so the state survives JSON: an infinite surprise counts as f64::MAX)
            self.max_seen[l] = min(max(surprise[l], self.max_seen[l] * keep), f64::MAX);
        }
        // stale by at most 1/STALE_DIV of the counts a probability divides by
        if (self.n_seen - self.refreshed_at) as i64 as f64 * STALE_DIV >= min(n, self.horizon) {
            self.refresh();
        }
    }
}

/// The smallest surprise of bin `b` (the inverse of [`SurpriseCalibrator::locate`] at
/// position 0): `2^(b / 2 + LOW_EXP)`, times 1.5 in the upper half of the octave.
fn bin_floor(b: usize) -> f64 {
    // (two bins per octave, split at 1.5: `locate` reads one mantissa bit)
    const _: () = assert!(SUB_BITS == 1);
    let octave = (b >> SUB_BITS) as i32 + LOW_EXP as i32;
    let half = if b & 1 == 1 { 1.5 } else { 1.0 };
    half * 2f64.powi(octave)
}

/// Natural logarithm of a positive, finite f32, within about 1e-6 relative; branch-free
/// and in basic operations only, so the refresh loop is SIMD (4 lanes per SSE2 vector).
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    // mantissa in [sqrt(1/2), sqrt(2)): the series below converges fast there
    let shifted = bits.wrapping_sub(0x3f35_04f3);
    let exponent = (shifted as i32 >> 23) as f32;
    let m = f32::from_bits((shifted & 0x007f_ffff).wrapping_add(0x3f35_04f3));
    // ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0))));
    exponent * std::f32::consts::LN_2 + series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_calibrator_says_nothing() {
        let c = SurpriseCalibrator::<1>::new(100.0, 10, 1.0);
        assert_eq!(c.log_surprise(Lanes([1e9]))[0], 0.0);
    }

    #[test]
    fn p_value_falls_with_surprise_and_records_keep_falling() {
        let mut c = SurpriseCalibrator::<1>::new(1000.0, 10, 1.5);
        for i in 0..500 {
            c.update(Lanes([f64::from(i % 10) * 0.3])); // surprises 0 .. 2.7
        }
        let ls: Vec<f64> = [0.5, 2.0, 2.8, 5.0, 50.0]
            .iter()
            .map(|&z| c.log_surprise(Lanes([z]))[0])
            .collect();
        for w in ls.windows(2) {
            assert!(w[1] > w[0], "surprise not increasing: {ls:?}");
        }
        // a record is rarer than one in the ~500 samples seen
        assert!(ls[3] > f64::ln(500.0), "{ls:?}");
    }

    #[test]
    fn routine_surprises_are_not_rare() {
        // On a series where |z| = 6 happens every tenth sample, z = 6 is routine.
        let mut c = SurpriseCalibrator::<1>::new(2000.0, 10, 1.5);
        for i in 0..1000 {
            c.update(Lanes([if i % 10 == 0 { 6.0 } else { 0.5 }]));
        }
        let p = (-c.log_surprise(Lanes([6.0]))[0]).exp();
        assert!(p > 0.05 && p < 0.2, "p = {p}");
    }

    #[test]
    fn forgets_old_history() {
        let mut c = SurpriseCalibrator::<1>::new(100.0, 10, 1.5);
        for _ in 0..200 {
            c.update(Lanes([8.0]));
        }
        let routine = (-c.log_surprise(Lanes([8.0]))[0]).exp();
        for _ in 0..2000 {
            c.update(Lanes([0.5]));
        }
        let rare = (-c.log_surprise(Lanes([8.0]))[0]).exp();
        assert!(
            routine > 0.5 && rare < 0.02,
            "routine {routine} rare {rare}"
        );
    }

    #[test]
    fn survives_any_value() {
        let mut c = SurpriseCalibrator::<1>::new(50.0, 1, 1.5);
        for x in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e308, 1e-320] {
            c.update(Lanes([x]));
            let s = c.log_surprise(Lanes([x]))[0];
            assert!(s.is_finite() && s >= 0.0, "{x} -> {s}");
        }
        for _ in 0..100_000 {
            c.update(Lanes([1.0]));
        }
        assert!(c.weight.is_finite() && c.tail.iter().all(|t| t.is_finite()));
        let back: SurpriseCalibrator<1> =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    /// Exact `-ln P` at the lower edge of each cached bin of lane `l`, from the suffix sums.
    fn exact_edges<const L: usize>(c: &SurpriseCalibrator<L>, l: usize) -> Vec<f64> {
        let lane = &c.tail[l * ROW..(l + 1) * ROW];
        let total = f64::from(lane[0]) + c.unit;
        (0..EDGES)
            .map(|b| -((f64::from(lane[b]) + c.unit) / total).ln())
            .collect()
    }

    /// Largest distance between lane `l`'s cached and exact edge probabilities, in counts
    /// of the newest sample (the probability times the total count).
    fn stale_counts<const L: usize>(c: &SurpriseCalibrator<L>, l: usize) -> f64 {
        let cache = &c.cache[l * EDGES..(l + 1) * EDGES];
        let total = (f64::from(c.tail[l * ROW]) + c.unit) / c.unit;
        exact_edges(c, l)
            .iter()
            .zip(cache)
            .map(|(e, &k)| ((-e).exp() - (-f64::from(k)).exp()).abs() * total)
            .fold(0.0, f64::max)
    }

    /// Surprises spread over the cached bins (most below 2, a few up to ~30), repeatable.
    fn stream(n: usize) -> impl Iterator<Item = f64> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..n).map(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            // exponential tail: P(s > x) = exp(-x / 2) for x > 0
            -2.0 * (1.0 - u).ln()
        })
    }

    #[test]
    fn ln_f32_is_accurate() {
        for x in [1e-30f32, 0.3, 0.7, 1.0, 1.5, 2.0, 3.0, 1e3, 1e30, 3e38] {
            let err = (f64::from(ln_f32(x)) - f64::from(x).ln()).abs();
            assert!(err < 2e-6 * f64::from(x).ln().abs().max(1.0), "{x}: {err}");
        }
    }

    #[test]
    fn cache_misses_at_most_the_samples_since_its_refresh() {
        let memory = 2000.0;
        let mut c = SurpriseCalibrator::<1>::new(memory, 10, 1.5);
        let (mut worst, mut refreshes) = (0.0f64, 0);
        for (i, s) in stream(10_000).enumerate() {
            c.update(Lanes([s]));
            let since = (c.n_seen - c.refreshed_at) as f64;
            let stale = stale_counts(&c, 0);
            if since == 0.0 {
                refreshes += 1;
                // only the f32 sums and logarithm
                assert!(
                    stale < 1e-2,
                    "sample {i}: {stale} counts right after a refresh"
                );
            }
            // each learn adds at most one count (and forgets a little of every count)
            assert!(
                stale <= since + 0.1,
                "sample {i}: {stale} counts, {since} learns"
            );
            if i > 4000 {
                worst = worst.max(stale / (since + 1.0));
            }
        }
        // a refresh about every memory / STALE_DIV samples when warm
        let expected = 10_000.0 / (memory / STALE_DIV);
        assert!(
            f64::from(refreshes) > expected && f64::from(refreshes) < expected + 200.0,
            "{refreshes} refreshes"
        );
        assert!(worst > 0.0, "never stale");
    }

    #[test]
    fn fresh_cache_interpolates_the_exact_edges_in_log_space() {
        // a tiny gaussian_scale puts the floor far above, so the calibrated value shows
        let mut c = SurpriseCalibrator::<1>::new(2000.0, 10, 1e-3);
        for s in stream(5000) {
            c.update(Lanes([s]));
        }
        c.refresh();
        let edges = exact_edges(&c, 0);
        for i in 0..400 {
            let s = 0.05 * f64::from(i) + 0.01;
            let (bin, frac) = SurpriseCalibrator::<1>::locate(s);
            let cached = c.log_surprise(Lanes([s]))[0];
            let exact = c.query_exact(0, bin, frac, s, c.gaussian_floor(Lanes([s]))[0]);
            if s > c.max_seen[0] || bin >= CACHED {
                assert_eq!(cached, exact, "{s}: exact path");
            } else {
                let log_lerp = edges[bin] + (edges[bin + 1] - edges[bin]) * frac;
                assert!(
                    (cached - log_lerp).abs() < 1e-5,
                    "{s}: {cached} vs {log_lerp}"
                );
                // the geometric mean of the edges' probabilities is below the linear one
                assert!(cached > exact - 1e-5, "{s}: {cached} vs {exact}");
            }
        }
        // at an edge both are the edge
        let s = 2.0;
        let (bin, frac) = SurpriseCalibrator::<1>::locate(s);
        assert_eq!(frac, 0.0);
        let exact = c.query_exact(0, bin, frac, s, c.gaussian_floor(Lanes([s]))[0]);
        assert!((c.log_surprise(Lanes([s]))[0] - exact).abs() < 1e-5);
    }

    #[test]
    fn refresh_schedule_does_not_depend_on_other_lanes() {
        let mut one = SurpriseCalibrator::<1>::new(300.0, 10, 1.5);
        let mut four = SurpriseCalibrator::<4>::new(300.0, 10, 1.5);
        for (i, s) in stream(3000).enumerate() {
            let other = if i % 97 == 0 { 1e6 } else { s * 0.5 };
            one.update(Lanes([s]));
            four.update(Lanes([other, s, other * 3.0, 0.0]));
            assert_eq!(one.cache[..EDGES], four.cache[EDGES..2 * EDGES]);
            let q = Lanes([s * 1.3]);
            let q4 = Lanes([1e9, s * 1.3, 0.1, 7.0]);
            assert_eq!(
                one.log_surprise(q)[0].to_bits(),
                four.log_surprise(q4)[1].to_bits()
            );
        }
    }
}
