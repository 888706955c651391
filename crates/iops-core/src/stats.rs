//! Order statistics the engine and the peer groups share: selections, not sorts.

/// The value of rank `k` (0-based, `k < values.len()`), reordering `values` (a selection,
/// not a sort).
pub(crate) fn ranked(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Median of `values` (reordered); NaN when empty.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let upper = ranked(values, values.len() / 2);
    middle(values, upper)
}

/// The median, given the upper middle value in place (rank `len / 2`).
pub(crate) fn middle(values: &[f64], upper: f64) -> f64 {
    let m = values.len();
    if m % 2 == 1 {
        upper
    } else {
        // the lower middle is the largest of the values below the upper one
        let lower = values[..m / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_of_odd_and_even_counts_and_nan_of_none() {
        assert!(median(&mut []).is_nan());
        assert_eq!(median(&mut [3.0]), 3.0);
        assert_eq!(median(&mut [4.0, 1.0]), 2.5);
        assert_eq!(median(&mut [5.0, 1.0, 9.0, 2.0, 7.0]), 5.0);
        assert_eq!(median(&mut [10.0, 11.0, 9.0, 10.0, 1e9]), 10.0);
    }
}
