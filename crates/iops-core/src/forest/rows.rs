//! One parallel pass over the training rows: the finite check every fit needs and, when the
//! artifact will want to recognise the rows later, their fingerprint.

use ndarray::{ArrayView2, Axis, Slice};
use rayon::prelude::*;

use crate::{Error, Result};

/// Rows per parallel work item.
const ROWS: usize = 4096;

/// A [`Error::NonFinite`] for the first non-finite value of row `r`.
pub(crate) fn check_row(r: usize, row: impl Iterator<Item = f64>) -> Result<()> {
    for (c, v) in row.enumerate() {
        if !v.is_finite() {
            return Err(Error::NonFinite {
                field: format!("feature {c} (row {r})"),
                value: v,
            });
        }
    }
    Ok(())
}

/// What [`scan`] does besides reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Fail on the first non-finite value (in row order), naming its row and feature.
    Check,
    /// [`Scan::Check`], and return the fingerprint.
    CheckAndFingerprint,
    /// Only the fingerprint (the values may be anything).
    Fingerprint,
}

/// Scans `x` in parallel. The fingerprint (0 unless asked for) is the wrapping sum of each
/// value's bits times the odd weight `2k + 1` of its row-major position `k`, so it does not
/// depend on the memory layout, and changing any one value changes it: it tells whether rows
/// are the ones seen before, not a cryptographic hash.
pub(crate) fn scan(x: &ArrayView2<'_, f64>, what: Scan) -> Result<u64> {
    let (n, d) = x.dim();
    let parts: Vec<Result<u64>> = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .map(|chunk| {
            let start = chunk * ROWS;
            let rows = x.slice_axis(Axis(0), Slice::from(start..(start + ROWS).min(n)));
            let first = (start * d) as u64;
            let (finite, hash) = match (rows.as_slice(), what) {
                (Some(s), Scan::Check) => (all_finite(s), 0),
                (Some(s), Scan::CheckAndFingerprint) => finite_and_hash(s.iter().copied(), first),
                (Some(s), Scan::Fingerprint) => (true, finite_and_hash(s.iter().copied(), first).1),
                (None, Scan::Check) => (rows.iter().all(|v| v.is_finite()), 0),
                (None, _) => finite_and_hash(rows.iter().copied(), first),
            };
            if !finite && what != Scan::Fingerprint {
                for (k, row) in rows.outer_iter().enumerate() {
                    check_row(start + k, row.iter().copied())?;
                }
            }
            Ok(hash)
        })
        .collect();
    let mut hash = 0u64;
    for p in parts {
        hash = hash.wrapping_add(p?); // the first error in row order
    }
    Ok(hash)
}

/// Whether every value is finite, without early exit so the loop vectorises.
fn all_finite(s: &[f64]) -> bool {
    s.chunks(256)
        .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()))
}

/// Whether every value is finite, and the fingerprint's share of these values (`first`: the
/// row-major position of the first).
fn finite_and_hash(values: impl Iterator<Item = f64>, first: u64) -> (bool, u64) {
    let (mut ok, mut h, mut w) = (true, 0u64, 2 * first + 1);
    for v in values {
        ok &= v.is_finite();
        h = h.wrapping_add(v.to_bits().wrapping_mul(w));
        w = w.wrapping_add(2);
    }
    (ok, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use ndarray::{Array2, ShapeBuilder};

    fn rows(n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f64 * 0.25 - 7.0)
    }

    #[test]
    fn the_fingerprint_is_the_weighted_sum_whatever_the_layout() {
        let x = rows(10_000); // several work items
        let want = x.iter().enumerate().fold(0u64, |h, (k, v)| {
            h.wrapping_add(v.to_bits().wrapping_mul(2 * k as u64 + 1))
        });
        assert_eq!(scan(&x.view(), Scan::CheckAndFingerprint).unwrap(), want);
        assert_eq!(scan(&x.view(), Scan::Fingerprint).unwrap(), want);
        let mut f = Array2::zeros(x.dim().f());
        f.assign(&x);
        assert_eq!(scan(&f.view(), Scan::CheckAndFingerprint).unwrap(), want);
        let mut y = x.clone();
        y[[9_999, 2]] = 0.0;
        assert_ne!(scan(&y.view(), Scan::Fingerprint).unwrap(), want);
        // swapping two values is a change too
        let mut z = x.clone();
        z.swap([5, 0], [5, 1]);
        assert_ne!(scan(&z.view(), Scan::Fingerprint).unwrap(), want);
        assert_eq!(scan(&x.view(), Scan::Check).unwrap(), 0);
    }

    #[test]
    fn the_first_non_finite_value_in_row_order_is_named() {
        for layout_f in [false, true] {
            let mut x = rows(9_000);
            x[[8_500, 1]] = f64::NAN;
            x[[5_000, 2]] = f64::INFINITY;
            x[[5_000, 0]] = f64::NEG_INFINITY;
            let x = if layout_f {
                let mut f = Array2::zeros(x.dim().f());
                f.assign(&x);
                f
            } else {
                x
            };
            for what in [Scan::Check, Scan::CheckAndFingerprint] {
                match scan(&x.view(), what) {
                    Err(Error::NonFinite { field, value }) => {
                        assert_eq!(field, "feature 0 (row 5000)");
                        assert_eq!(value, f64::NEG_INFINITY);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert!(scan(&x.view(), Scan::Fingerprint).is_ok());
        }
    }
}
