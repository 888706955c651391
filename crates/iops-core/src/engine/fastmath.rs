//! Division-free logarithms for the engine's hot path, with their tables built at compile
//! time.
//!
//! Why: every sample of every series turns two surprises into log-probabilities. With a
//! division and a long polynomial per logarithm, that chain of dependent operations was the
//! largest part of a sample's latency. Here:
//! - [`ln`]: the exponent from the bits, the top 7 mantissa bits pick a table entry
//!   (`ln c`, `1 / c` for the bin's centre `c`), and `ln(m / c)` is a 5-term series in
//!   `|r| < 1/256`: about 1e-15 relative error, no division.
//! - [`neg_ln_erfc`]: `-ln erfc(y)` as a cubic (Hermite) interpolation of
//!   [`neg_ln_erfc_exact`] on a grid of step 1/32 over [0, 27]; error below 1e-8 (the formula
//!   itself is only good to about 1.2e-7), three multiply-adds, no division. Beyond the grid,
//!   `-ln erfc(y) >= y^2 > 729` exceeds any log-surprise the engine keeps, but the formula
//!   is still used, so the function is defined everywhere.

use super::lanes::Lanes;

/// The larger of two numbers that are never NaN: one `maxsd`, where `f64::max` adds
/// instructions to return the non-NaN operand.
#[inline(always)]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// The smaller of two numbers that are never NaN (see [`max`]).
#[inline(always)]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// Mantissa bits indexing the logarithm table.
const LN_BITS: u32 = 7;
const LN_SIZE: usize = 1 << LN_BITS;

/// `(ln c, 1 / c)` for the centres `c = 1 + (i + 0.5) / 128` of the mantissa bins.
static LN_TABLE: [[f64; 2]; LN_SIZE] = ln_table();

/// `atanh` series: `ln x = 2 atanh((x - 1) / (x + 1))`, exact to rounding for x in [1, 2].
const fn ln_series(x: f64) -> f64 {
    let t = (x - 1.0) / (x + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    let mut k = 0;
    while k < 40 {
        sum += term / (2 * k + 1) as f64;
        term *= t2;
        k += 1;
    }
    2.0 * sum
}

const fn ln_table() -> [[f64; 2]; LN_SIZE] {
    let mut table = [[0.0; 2]; LN_SIZE];
    let mut i = 0;
    while i < LN_SIZE {
        let c = 1.0 + (i as f64 + 0.5) / LN_SIZE as f64;
        table[i] = [ln_series(c), 1.0 / c];
        i += 1;
    }
    table
}

/// Natural logarithm of a positive, normal f64 (about 1e-15 relative error). Zero,
/// subnormal, negative and non-finite inputs give finite nonsense, never a panic.
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let index = ((bits >> (52 - LN_BITS)) & (LN_SIZE as u64 - 1)) as usize;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let [ln_c, inv_c] = LN_TABLE.get(index).copied().unwrap_or([0.0, 1.0]);
    // the bin's centre 1 + (index + 0.5) / 128: the mantissa's top bits, then a one
    let centre_bits = (m.to_bits() & !((1u64 << (52 - LN_BITS)) - 1)) | (1u64 << (51 - LN_BITS));
    let c = f64::from_bits(centre_bits);
    let r = (m - c) * inv_c;
    // ln(1 + r), |r| < 1/256
    let r2 = r * r;
    let series = r - r2 * (0.5 - r * (1.0 / 3.0)) + r2 * r2 * (-0.25 + r * 0.2);
    exponent as f64 * std::f64::consts::LN_2 + (ln_c + series)
}

/// An upper bound of `ln x` for each lane's positive, normal f64, at most one mantissa bin
/// (1/128) above it: [`ln`] without its series (the exponent, the table's logarithm of the
/// bin's centre, plus the bin's half width). Settles `min(-ln p, g)` without the logarithm
/// whenever `-ln p` exceeds `g` by more than 1/128. The exponent goes through i32, which
/// SSE2 converts two lanes at a time.
#[inline(always)]
pub(crate) fn ln_upper_bound<const L: usize>(x: Lanes<f64, L>) -> Lanes<f64, L> {
    let bits = x.map(f64::to_bits);
    let exponent = bits.map(|b| ((b >> 52) as i32 & 0x7ff) - 1023);
    let ln_c: Lanes<f64, L> = Lanes::from_fn(|l| {
        let index = ((bits[l] >> (52 - LN_BITS)) & (LN_SIZE as u64 - 1)) as usize;
        LN_TABLE.get(index).map_or(0.0, |e| e[0])
    });
    // ln(1 + h / c) <= h / c <= h for the half width h = 1/256 of a bin, plus the rounding
    // of the table and of this sum (far below 1e-12)
    Lanes::from_fn(|l| {
        f64::from(exponent[l]) * std::f64::consts::LN_2 + ln_c[l] + (1.0 / 256.0 + 1e-12)
    })
}

/// `-ln erfc(y)` for y >= 0 without underflow (Numerical Recipes `erfcc` in log form,
/// relative error of erfc below 1.2e-7): the Gaussian tail P(|Z| >= z) is erfc(z / sqrt 2).
/// The reference [`neg_ln_erfc`] interpolates; usable in constants.
pub(crate) const fn neg_ln_erfc_exact(y: f64) -> f64 {
    // |y|, capped so that z * z stays finite (the result is then about 1e300)
    let z = if y < 0.0 { -y } else { y };
    let z = if z > 1e150 { 1e150 } else { z };
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // -ln t = ln(1 + z / 2), with the exponent split off so the series converges fast
    let u = 1.0 + 0.5 * z;
    let bits = u.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let ln_u = exponent as f64 * std::f64::consts::LN_2 + ln_series(m);
    z * z - poly + ln_u
}

/// Grid step of the `-ln erfc` table is 1 / ERFC_STEPS_PER_UNIT.
const ERFC_STEPS_PER_UNIT: f64 = 32.0;
/// The table covers y in [0, ERFC_MAX].
const ERFC_MAX: f64 = 27.0;
const ERFC_INTERVALS: usize = 27 * 32;

/// 1.5 * 2^52: a float in (-2^51, 2^51) plus this is rounded to an integer, held in the
/// low bits (from 2^52 on, floats are integers).
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Cubic coefficients (in the position within the interval) of `-ln erfc` per interval.
static ERFC_TABLE: [[f64; 4]; ERFC_INTERVALS] = erfc_table();

/// Slope of [`neg_ln_erfc_exact`] (of the formula, so the interpolation follows it):
/// central differences, one-sided second order at 0.
const fn neg_ln_erfc_slope(y: f64) -> f64 {
    let d = 1e-5;
    if y < d {
        let (f0, f1, f2) = (
            neg_ln_erfc_exact(y),
            neg_ln_erfc_exact(y + d),
            neg_ln_erfc_exact(y + 2.0 * d),
        );
        (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * d)
    } else {
        (neg_ln_erfc_exact(y + d) - neg_ln_erfc_exact(y - d)) / (2.0 * d)
    }
}

const fn erfc_table() -> [[f64; 4]; ERFC_INTERVALS] {
    let h = 1.0 / ERFC_STEPS_PER_UNIT;
    let mut table = [[0.0; 4]; ERFC_INTERVALS];
    let mut i = 0;
    while i < ERFC_INTERVALS {
        let (y0, y1) = (i as f64 * h, (i + 1) as f64 * h);
        let (f0, f1) = (neg_ln_erfc_exact(y0), neg_ln_erfc_exact(y1));
        let (d0, d1) = (h * neg_ln_erfc_slope(y0), h * neg_ln_erfc_slope(y1));
        table[i] = [
            f0,
            d0,
            3.0 * (f1 - f0) - 2.0 * d0 - d1,
            2.0 * (f0 - f1) + d0 + d1,
        ];
        i += 1;
    }
    table
}

/// `-ln erfc(y)` for each lane's y >= 0 (negative y: as |y|), interpolated; see the module
/// docs. In phases over the lanes (positions, table reads, the cubic), so the arithmetic is
/// SIMD; a lane beyond the table (rare: 57 sigma or more at the default `gaussian_scale`)
/// sends all lanes through the scalar path.
#[inline(always)]
pub(crate) fn neg_ln_erfc<const L: usize>(y: Lanes<f64, L>) -> Lanes<f64, L> {
    let y = y.map(f64::abs);
    // one compare for all lanes, on the largest (a NaN, which the callers never pass, would
    // read a wrong table entry: nonsense, not a panic)
    let largest = y.iter().fold(0.0, |m, &y| max(m, y));
    if largest >= ERFC_MAX {
        return y.map(neg_ln_erfc_one);
    }
    let t = y.map(|y| y * ERFC_STEPS_PER_UNIT);
    // The interval, without a float-to-int cast (saturating: seven instructions a lane):
    // t - 1/2 + 1.5 * 2^52 holds t - 1/2 rounded to an integer in its low bits: floor(t)
    // (or floor(t) - 1 when t is an integer, where that interval's end is the same value).
    let nearest = t.map(|t| (t - 0.5) + ROUND);
    let floor = nearest.map(|n| n - ROUND);
    let c: Lanes<[f64; 4], L> = Lanes::from_fn(|l| {
        let i = (nearest[l].to_bits() & 0xffff) as usize;
        ERFC_TABLE.get(i).copied().unwrap_or([0.0; 4])
    });
    Lanes::from_fn(|l| {
        let s = t[l] - floor[l];
        let [c0, c1, c2, c3] = c[l];
        c0 + s * (c1 + s * (c2 + s * c3))
    })
}

/// [`neg_ln_erfc`] of one value.
#[inline(never)]
fn neg_ln_erfc_one(y: f64) -> f64 {
    let y = y.abs();
    if y < ERFC_MAX {
        let t = y * ERFC_STEPS_PER_UNIT;
        // 0 <= t < 864: the (cheap, signed) cast truncates toward zero
        let i = t as i32;
        if let Some(&[c0, c1, c2, c3]) = ERFC_TABLE.get(i as usize) {
            let s = t - f64::from(i);
            return c0 + s * (c1 + s * (c2 + s * c3));
        }
    }
    neg_ln_erfc_exact(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_is_accurate() {
        let mut x = f64::MIN_POSITIVE;
        while x < 1e300 {
            for f in [1.0, 1.0039, 1.3, std::f64::consts::SQRT_2, 1.7, 1.99999] {
                let v = x * f;
                let (got, want) = (ln(v), v.ln());
                assert!(
                    (got - want).abs() <= 4e-15 * want.abs().max(1.0),
                    "ln({v}): {got} vs {want}"
                );
            }
            x *= 1e3;
        }
        assert!(ln(1.0).abs() < 1e-15);
    }

    #[test]
    fn ln_upper_bound_is_an_upper_bound_within_a_bin() {
        let mut x = f64::MIN_POSITIVE;
        while x < 1e300 {
            // edges and centres of mantissa bins, where the bound is tightest and loosest
            for k in 0..=256 {
                let v = x * (1.0 + f64::from(k) / 256.0);
                let (bound, exact) = (ln_upper_bound(Lanes([v]))[0], v.ln());
                assert!(bound >= exact, "ln({v}): bound {bound} below {exact}");
                assert!(bound - exact <= 1.0 / 128.0 + 1e-9, "ln({v}): loose bound");
            }
            x *= 7.3e2;
        }
    }

    #[test]
    fn neg_ln_erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207, erfc(3) = 2.209049700e-5, erfc(10) = 2.088487583e-45
        for (y, erfc) in [
            (0.0, 1.0),
            (1.0, 0.157_299_207),
            (3.0, 2.209_049_7e-5),
            (10.0, 2.088_487_583e-45),
        ] {
            let want = -f64::ln(erfc);
            for f in [neg_ln_erfc_one, neg_ln_erfc_exact] {
                assert!((f(y) - want).abs() < 2e-7 * (1.0 + want), "y={y}");
            }
        }
        // far tails stay finite (erfc itself underflows there)
        assert!(neg_ln_erfc(Lanes([1e6, f64::MAX, 1.0]))
            .iter()
            .all(|v| v.is_finite()));
    }

    #[test]
    fn interpolation_follows_the_formula() {
        let mut worst: f64 = 0.0;
        for k in 0..300_000 {
            let y = f64::from(k) * 1e-4 + 1.3e-5;
            let (got, want) = (neg_ln_erfc(Lanes([y]))[0], neg_ln_erfc_exact(y));
            worst = worst.max((got - want).abs() / (1.0 + want));
        }
        assert!(worst < 1e-8, "worst relative error {worst}");
    }

    #[test]
    fn interpolation_is_right_on_grid_points_and_near_zero() {
        // grid points (where t - 1/2 is a tie and picks either neighbouring interval), and
        // values far below the first step
        let grid = (0..ERFC_INTERVALS).map(|k| k as f64 / ERFC_STEPS_PER_UNIT);
        for y in grid.chain([0.0, 1e-300, 1e-12, 0.49 / 32.0, 0.51 / 32.0]) {
            let (got, want) = (neg_ln_erfc(Lanes([y]))[0], neg_ln_erfc_exact(y));
            assert!(
                (got - want).abs() <= 1e-8 * (1.0 + want),
                "y = {y}: {got} vs {want}"
            );
        }
    }
}
