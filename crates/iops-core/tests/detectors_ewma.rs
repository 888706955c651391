//! Integration tests for the `Ewma` detector: against the explicit weighted sums, edge cases
//! (constant input, non-finite input, huge magnitudes) and snapshots.

use iops_core::detector::{Ewma, EwmaParams, EwmaValidParams, StreamingDetector};
use iops_core::{Error, ParamGuard};

/// Tiny deterministic generator (xorshift64*), uniform in [0, 1).
struct XorShift(u64);

impl XorShift {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Mean and variance as explicit weighted sums: sample i of n gets weight a(1-a)^(n-1-i),
/// and the first sample (which initialises the mean) gets (1-a)^(n-1).
fn weighted_mean_var(xs: &[f64], a: f64) -> (f64, f64) {
    let n = xs.len();
    let w = |i: usize| {
        let decay = (1.0 - a).powi((n - 1 - i) as i32);
        if i == 0 {
            decay
        } else {
            a * decay
        }
    };
    let mean: f64 = xs.iter().enumerate().map(|(i, x)| w(i) * x).sum();
    let var: f64 = xs
        .iter()
        .enumerate()
        .map(|(i, x)| w(i) * (x - mean).powi(2))
        .sum();
    (mean, var)
}

#[test]
fn matches_explicit_weighted_sums() {
    let mut rng = XorShift(5);
    let xs: Vec<f64> = (0..200)
        .map(|i| 10.0 + (i % 17) as f64 + rng.next_f64())
        .collect();
    for a in [0.05, 0.3, 1.0] {
        let mut e = Ewma::params().alpha(a).warmup(1).build().unwrap();
        for (i, &x) in xs.iter().enumerate() {
            e.update(x).unwrap();
            let (mean, var) = weighted_mean_var(&xs[..=i], a);
            assert!((e.expected() - mean).abs() < 1e-9, "a={a} step {i}");
            assert!(
                (e.variance() - var).abs() < 1e-8 * var.max(1.0),
                "a={a} step {i}"
            );
            assert!((e.spread() - var.sqrt()).abs() < 1e-8 * var.sqrt().max(1.0));
        }
    }
}

#[test]
fn score_is_the_z_score_against_the_state_before_the_value() {
    let mut e = Ewma::params().half_life(5.0).warmup(3).build().unwrap();
    for x in [1.0, 3.0, 2.0, 4.0] {
        e.update(x).unwrap();
    }
    let before = e.clone();
    let s = e.score_and_update(10.0).unwrap();
    assert_eq!(s, (10.0 - before.expected()) / before.spread());
    assert_eq!(s, before.score(10.0).unwrap());
    assert_ne!(e, before);
}

#[test]
fn scores_zero_until_warm() {
    let mut e = Ewma::params().alpha(0.5).warmup(3).build().unwrap();
    for x in [1.0, 5.0] {
        assert_eq!(e.score_and_update(x).unwrap(), 0.0);
        assert!(!e.is_warm());
    }
    e.update(3.0).unwrap();
    assert!(e.is_warm());
    assert_ne!(e.score(100.0).unwrap(), 0.0);
    // Default warm-up is the half-life rounded.
    assert_eq!(Ewma::params().half_life(7.4).check().unwrap().warmup(), 7);
}

#[test]
fn constant_input_scores_zero_or_max() {
    let mut e = Ewma::params().alpha(0.2).warmup(2).build().unwrap();
    for _ in 0..50 {
        e.update(0.1).unwrap();
    }
    assert_eq!((e.expected(), e.spread()), (0.1, 0.0));
    assert_eq!(e.score(0.1).unwrap(), 0.0);
    assert_eq!(e.score(0.11).unwrap(), Ewma::MAX_SCORE);
    assert_eq!(e.score(0.0).unwrap(), -Ewma::MAX_SCORE);
}

#[test]
fn min_spread_floors_the_scale() {
    let mut e = Ewma::params()
        .alpha(0.2)
        .warmup(2)
        .min_spread(0.5)
        .build()
        .unwrap();
    for _ in 0..5 {
        e.update(3.0).unwrap();
    }
    assert_eq!(e.spread(), 0.5);
    assert_eq!(e.score(4.0).unwrap(), 2.0);
}

#[test]
fn non_finite_input_is_an_error_and_changes_nothing() {
    let mut e = Ewma::params().alpha(0.3).warmup(1).build().unwrap();
    e.update(2.0).unwrap();
    e.update(4.0).unwrap();
    let before = e.clone();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(e.update(bad), Err(Error::NonFinite { .. })));
        assert!(matches!(e.score(bad), Err(Error::NonFinite { .. })));
        assert!(matches!(
            e.score_and_update(bad),
            Err(Error::NonFinite { .. })
        ));
        assert_eq!(e, before);
    }
}

#[test]
fn huge_magnitudes_give_finite_scores() {
    for a in [0.1, 1.0] {
        let mut e = Ewma::params().alpha(a).warmup(1).build().unwrap();
        for &x in &[
            1e300,
            -1e300,
            f64::MAX,
            -f64::MAX,
            0.0,
            1e-300,
            -f64::MAX,
            f64::MAX,
        ] {
            let s = e.score_and_update(x).unwrap();
            assert!(s.is_finite() && s.abs() <= Ewma::MAX_SCORE, "{x} -> {s}");
            assert!(e.expected().is_finite() && e.spread().is_finite());
        }
    }
}

#[test]
fn reset_forgets_everything() {
    let mut e = Ewma::params().half_life(3.0).build().unwrap();
    let fresh = e.clone();
    e.update(1.0).unwrap();
    e.update(9.0).unwrap();
    e.reset();
    assert_eq!(e, fresh);
    assert_eq!(e.n_seen(), 0);
}

#[test]
fn snapshot_restores_bit_identical_scores() {
    let mut rng = XorShift(9);
    let xs: Vec<f64> = (0..400).map(|_| 100.0 * rng.next_f64()).collect();
    let mut a = Ewma::params().half_life(13.0).build().unwrap();
    for &x in &xs[..123] {
        a.update(x).unwrap();
    }
    let mut b: Ewma = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(a, b);
    for &x in &xs[123..] {
        let (sa, sb) = (
            a.score_and_update(x).unwrap(),
            b.score_and_update(x).unwrap(),
        );
        assert_eq!(sa.to_bits(), sb.to_bits());
    }
}

#[test]
fn corrupt_snapshots_are_rejected() {
    let e = Ewma::params().alpha(0.5).build().unwrap();
    let good = serde_json::to_value(&e).unwrap();
    let tamper = |field: &str, v: serde_json::Value| {
        let mut j = good.clone();
        j[field] = v;
        serde_json::from_value::<Ewma>(j)
    };
    assert!(tamper("var", serde_json::json!(-1.0)).is_err());
    assert!(tamper("mean", serde_json::json!(null)).is_err());
    assert!(tamper(
        "params",
        serde_json::json!({"alpha": 0.5, "half_life": 2.0})
    )
    .is_err());
    assert!(tamper("mean", serde_json::json!(3.5)).is_ok());
}

#[test]
fn params_deserialise_with_defaults_and_checks() {
    let p: EwmaParams = serde_json::from_str(r#"{"half_life": 10}"#).unwrap();
    let v = p.check().unwrap();
    assert_eq!((v.half_life(), v.warmup()), (10.0, 10));
    assert!(serde_json::from_str::<EwmaValidParams>(r#"{"alpha": 2.0}"#).is_err());
    assert!(serde_json::from_str::<EwmaParams>(r#"{"alpah": 0.1}"#).is_err());
    let round: EwmaValidParams = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(round, v);
}
