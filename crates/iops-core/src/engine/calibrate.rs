//! Turns a raw surprise (an absolute z-score) into a tail probability calibrated on the
//! series' own recent history, so one threshold means the same thing on every series.
//!
//! Why: a 5-sigma point is routine on a spiky disk-I/O series and unheard of on a smooth CPU
//! series. The calibrator keeps an exponentially forgetting histogram of past surprises (log2
//! bins, memory of about `memory` samples) and answers "how often did we see a surprise at
//! least this large?". A value beyond everything seen is extrapolated with a Pareto tail, so
//! record-breaking values still get distinct, ever smaller probabilities. The Gaussian tail
//! of the z-score is a floor: rare-in-history but small deviations are never alarming.
//!
//! Cost: bins come from the float's exponent and top mantissa bits (no logarithm), and the
//! histogram is kept as suffix sums, so a query is O(1) and an update touches only the bins
//! below the new value's (a handful for typical, small surprises), branch-free over the first
//! 32 with a mask. The sums are single precision: the masked update then does four bins per
//! SSE2 instruction instead of two (-7% instructions per sample), and 7 digits are plenty
//! for a tail probability (weights are rescaled well before f32 overflows, and the memory is
//! capped so that the newest weight still registers in the sums). A query is on the critical
//! path of every sample, so it has one division: the probability is formed directly in raw
//! weights, and the logarithms are the division-free ones of [`super::fastmath`].

use serde::{Deserialize, Serialize};

use super::fastmath::{ln, ln_upper_bound, max, min, neg_ln_erfc};
use super::lanes::Lanes;

/// Mantissa bits that split each octave into bins (2 bits: 4 bins per octave).
const SUB_BITS: u32 = 2;
/// Smallest surprise with a bin of its own is 2^LOW_EXP (smaller ones share bin 0).
const LOW_EXP: i64 = -6;
/// Number of bins: covers surprises up to 2^34 (flat series give z near 1e9).
const N_BINS: usize = 4 * 40;
/// Bins updated without a data-dependent loop (surprises below 2^(FIXED / 4 + LOW_EXP)).
const FIXED: usize = 32;
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
}

/// Suffix sums per lane.
const ROW: usize = N_BINS + 1;

impl<const L: usize> SurpriseCalibrator<L> {
    /// `memory`: effective number of past samples remembered (> 1); `min_samples`: samples
    /// before any calibrated probability is given; `gaussian_scale`: the z-score is divided
    /// by this before its Gaussian tail is used as the probability floor.
    /// `memory` is capped at 1e6 samples.
    pub(crate) fn new(memory: f64, min_samples: u64, gaussian_scale: f64) -> Self {
        let memory = memory.min(MAX_MEMORY);
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
        }
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

    /// Learns one surprise per lane.
    #[cfg(test)]
    pub(crate) fn update(&mut self, surprise: Lanes<f64, L>) {
        let (_, bin) = self.score(surprise);
        self.learn(bin, surprise);
    }

    /// [`SurpriseCalibrator::log_surprise`] of located surprises.
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
        // Counts in units of the newest sample's weight: `above / unit` samples of the
        // `total / unit` were at least this surprising. The probability (above + 1) /
        // (total + 1) in those units is (above + unit) / (total + unit) in raw weights.
        // In phases, each one step on every lane, so the arithmetic is SIMD between the
        // table reads: the lanes' three suffix sums, ...
        let unit = self.unit;
        let (mut total, mut at, mut over) = ([0.0; L], [0.0; L], [0.0; L]);
        for l in 0..L {
            let read = |b: usize| f64::from(self.tail.get(l * ROW + b).copied().unwrap_or(0.0));
            (total[l], at[l], over[l]) = (read(0) + unit, read(bin[l]), read(bin[l] + 1));
        }
        // ... the empirical tail probability, ...
        let empirical: Lanes<f64, L> = Lanes::from_fn(|l| {
            let above = over[l] + (at[l] - over[l]) * (1.0 - frac[l]);
            let (s, max_seen) = (surprise[l], self.max_seen[l]);
            // a record beyond every bin's history: the Pareto tail (selects, not branches;
            // the unused ratio may be NaN, it is not selected)
            let record = (above < unit) & (s > max_seen);
            let ratio = if max_seen > 0.0 {
                (max_seen / s).powi(2)
            } else {
                1e-6
            };
            let numerator = if record { ratio * unit } else { above + unit };
            // (no NaN here: the weights are finite and total > 0)
            min(max(numerator / total[l], f64::MIN_POSITIVE), 1.0)
        });
        // ... and the Gaussian floor. -ln erfc(y) >= y^2 (the max only irons out the
        // formula's 1e-7 error), so when y^2 >= -ln p this is the empirical value.
        let y = surprise.map(|s| s * self.gaussian_factor);
        let erfc = neg_ln_erfc(y);
        let gaussian: Lanes<f64, L> = Lanes::from_fn(|l| max(erfc[l], y[l] * y[l]));
        // The floor binds on most queries (about 98% on the bench stream): when a cheap
        // lower bound of -ln p (within 1/128 of it) is above the floor already, the result
        // is the floor, bit for bit, without the logarithm.
        let bound = ln_upper_bound(empirical);
        let settled: Lanes<bool, L> = Lanes::from_fn(|l| -bound[l] >= gaussian[l]);
        if settled.all() {
            return gaussian;
        }
        Lanes::from_fn(|l| {
            if settled[l] {
                gaussian[l]
            } else {
                max(min(max(-ln(empirical[l]), 0.0), gaussian[l]), 0.0)
            }
        })
    }

    /// Learns one surprise per lane, located in `bin` (by [`SurpriseCalibrator::score`]).
    #[inline(always)]
    pub(crate) fn learn(&mut self, bin: Lanes<usize, L>, surprise: Lanes<f64, L>) {
        // (below RESCALE_AT, so finite in f32)
        let w = self.weight as f32;
        for (l, lane) in self.tail.chunks_exact_mut(ROW).enumerate().take(L) {
            let bin = bin[l];
            // The common surprises (below 2^2) fall in the first FIXED bins: add to those
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
    }
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
}
