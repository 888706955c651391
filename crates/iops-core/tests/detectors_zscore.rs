//! Integration tests for the rolling-window `ZScore` detector: against naive recomputation,
//! edge cases (constant windows, non-finite input, huge magnitudes) and snapshots.

use iops_core::detector::{StreamingDetector, ZScore, ZScoreParams, ZScoreValidParams};
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

/// A noisy series with level shifts, spikes and constant stretches.
fn series(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = XorShift(seed);
    (0..n)
        .map(|i| {
            let level = if (i / 500) % 2 == 0 { 50.0 } else { 80.0 };
            if (i / 250) % 7 == 3 {
                return 42.0; // constant stretch
            }
            let spike = if rng.next_f64() < 0.01 { 40.0 } else { 0.0 };
            level + 5.0 * (rng.next_f64() - 0.5) + spike
        })
        .collect()
}

fn naive_mean_std(w: &[f64]) -> (f64, f64) {
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn naive_median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

fn naive_median_mad(w: &[f64]) -> (f64, f64) {
    let med = naive_median(&mut w.to_vec());
    let mut dev: Vec<f64> = w.iter().map(|x| (x - med).abs()).collect();
    (med, 1.4826 * naive_median(&mut dev))
}

fn naive_score(x: f64, loc: f64, spread: f64) -> f64 {
    if spread == 0.0 {
        if x == loc {
            0.0
        } else {
            ZScore::MAX_SCORE.copysign(x - loc)
        }
    } else {
        (x - loc) / spread
    }
}

fn check_against_naive(robust: bool, window: usize, min_samples: usize) {
    let xs = series(7, 4000);
    let mut z = ZScore::params()
        .window(window)
        .min_samples(min_samples)
        .robust(robust)
        .build()
        .unwrap();
    for (i, &x) in xs.iter().enumerate() {
        let seen = &xs[i.saturating_sub(window)..i];
        let got = z.score_and_update(x).unwrap();
        if seen.len() < min_samples {
            assert_eq!(got, 0.0, "step {i}: not warm");
            continue;
        }
        let (loc, spread) = if robust {
            naive_median_mad(seen)
        } else {
            naive_mean_std(seen)
        };
        let want = naive_score(x, loc, spread);
        let tol = 1e-7 * want.abs().max(1.0);
        assert!(
            (got - want).abs() <= tol,
            "step {i}: got {got}, want {want} (loc {loc}, spread {spread})"
        );
    }
}

#[test]
fn mean_std_matches_naive_recomputation() {
    check_against_naive(false, 20, 5);
}

#[test]
fn robust_matches_naive_recomputation() {
    check_against_naive(true, 21, 5);
    check_against_naive(true, 20, 20);
}

#[test]
fn expected_and_spread_report_the_window() {
    let mut z = ZScore::params().window(4).min_samples(2).build().unwrap();
    for x in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] {
        z.update(x).unwrap();
    }
    assert_eq!(z.len(), 4);
    assert_eq!(z.n_seen(), 6);
    assert_eq!(z.expected(), 4.5);
    assert!((z.spread() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);

    let mut r = ZScore::params()
        .window(5)
        .robust(true)
        .min_samples(2)
        .build()
        .unwrap();
    for x in [1.0, 100.0, 2.0, 3.0, 4.0] {
        r.update(x).unwrap();
    }
    // median 3, |deviations| = 2, 97, 1, 0, 1 -> MAD 1
    assert_eq!(r.expected(), 3.0);
    assert!((r.spread() - ZScore::MAD_TO_SIGMA).abs() < 1e-15);
}

#[test]
fn scores_zero_until_warm() {
    let mut z = ZScore::params().window(10).min_samples(4).build().unwrap();
    for x in [1.0, 5.0, -3.0] {
        assert_eq!(z.score_and_update(x).unwrap(), 0.0);
        assert!(!z.is_warm());
    }
    z.update(2.0).unwrap();
    assert!(z.is_warm());
    assert!(z.score(1000.0).unwrap() > 10.0);
}

#[test]
fn score_and_update_scores_before_learning() {
    for robust in [false, true] {
        let mut z = ZScore::params()
            .window(8)
            .min_samples(3)
            .robust(robust)
            .build()
            .unwrap();
        for x in [1.0, 2.0, 1.5, 1.8] {
            z.update(x).unwrap();
        }
        let before = z.clone();
        let s = z.score_and_update(50.0).unwrap();
        assert_eq!(s, before.score(50.0).unwrap());
        assert_ne!(
            s,
            z.score(50.0).unwrap(),
            "the value was learned afterwards"
        );
    }
}

#[test]
fn constant_window_scores_zero_or_max() {
    for robust in [false, true] {
        let mut z = ZScore::params()
            .window(10)
            .min_samples(3)
            .robust(robust)
            .build()
            .unwrap();
        for _ in 0..10 {
            z.update(0.1).unwrap();
        }
        assert_eq!(z.spread(), 0.0);
        assert_eq!(z.expected(), 0.1);
        assert_eq!(z.score(0.1).unwrap(), 0.0);
        assert_eq!(z.score(0.2).unwrap(), ZScore::MAX_SCORE);
        assert_eq!(z.score(-7.0).unwrap(), -ZScore::MAX_SCORE);
    }
}

#[test]
fn window_is_exactly_constant_again_after_a_spike_leaves() {
    // Running sums drift; the detector must notice that the window became constant.
    let mut z = ZScore::params().window(10).min_samples(3).build().unwrap();
    let mut rng = XorShift(3);
    for _ in 0..37 {
        z.update(1e3 * rng.next_f64()).unwrap();
    }
    for _ in 0..10 {
        z.update(0.3).unwrap();
    }
    assert_eq!(z.spread(), 0.0);
    assert_eq!(z.expected(), 0.3);
    assert_eq!(z.score(0.3).unwrap(), 0.0);
}

#[test]
fn min_spread_floors_the_scale() {
    let mut z = ZScore::params()
        .window(10)
        .min_samples(3)
        .min_spread(2.0)
        .build()
        .unwrap();
    for _ in 0..10 {
        z.update(5.0).unwrap();
    }
    assert_eq!(z.spread(), 2.0);
    assert_eq!(z.score(9.0).unwrap(), 2.0);
    assert_eq!(z.score(5.0).unwrap(), 0.0);
}

#[test]
fn non_finite_input_is_an_error_and_changes_nothing() {
    for robust in [false, true] {
        let mut z = ZScore::params()
            .window(5)
            .min_samples(2)
            .robust(robust)
            .build()
            .unwrap();
        for x in [1.0, 2.0, 3.0] {
            z.update(x).unwrap();
        }
        let before = z.clone();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(z.update(bad), Err(Error::NonFinite { .. })));
            assert!(matches!(z.score(bad), Err(Error::NonFinite { .. })));
            assert!(matches!(
                z.score_and_update(bad),
                Err(Error::NonFinite { .. })
            ));
            assert_eq!(z, before);
        }
    }
}

#[test]
fn huge_magnitudes_give_finite_scores() {
    for robust in [false, true] {
        let mut z = ZScore::params()
            .window(6)
            .min_samples(2)
            .robust(robust)
            .build()
            .unwrap();
        let xs = [
            1e300,
            -1e300,
            f64::MAX,
            -f64::MAX,
            0.0,
            1e-300,
            5.0,
            -f64::MAX,
            1e200,
        ];
        for _ in 0..3 {
            for &x in &xs {
                let s = z.score_and_update(x).unwrap();
                assert!(s.is_finite() && s.abs() <= ZScore::MAX_SCORE, "{x} -> {s}");
                assert!(z.expected().is_finite() && z.spread().is_finite());
            }
        }
        // Once the huge values leave the window, the detector is accurate again.
        for x in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] {
            z.update(x).unwrap();
        }
        let (loc, spread) = if robust {
            naive_median_mad(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        } else {
            naive_mean_std(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        };
        assert!(
            (z.expected() - loc).abs() < 1e-12,
            "{} vs {loc}",
            z.expected()
        );
        assert!(
            (z.spread() - spread).abs() < 1e-12,
            "{} vs {spread}",
            z.spread()
        );
    }
}

#[test]
fn reset_forgets_everything() {
    let mut z = ZScore::params()
        .window(5)
        .min_samples(2)
        .robust(true)
        .build()
        .unwrap();
    let fresh = z.clone();
    for x in [1.0, 2.0, 3.0] {
        z.update(x).unwrap();
    }
    z.reset();
    assert_eq!(z, fresh);
    assert!(z.is_empty() && !z.is_warm() && z.n_seen() == 0);
}

#[test]
fn snapshot_restores_bit_identical_scores() {
    let xs = series(11, 600);
    for robust in [false, true] {
        let mut a = ZScore::params().window(50).robust(robust).build().unwrap();
        for &x in &xs[..275] {
            a.update(x).unwrap();
        }
        let json = serde_json::to_string(&a).unwrap();
        let mut b: ZScore = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b);
        for &x in &xs[275..] {
            let (sa, sb) = (
                a.score_and_update(x).unwrap(),
                b.score_and_update(x).unwrap(),
            );
            assert_eq!(sa.to_bits(), sb.to_bits());
        }
    }
}

#[test]
fn corrupt_snapshots_are_rejected() {
    let mut z = ZScore::params().window(3).min_samples(2).build().unwrap();
    for x in [1.0, 2.0, 3.0, 4.0] {
        z.update(x).unwrap();
    }
    let good: serde_json::Value = serde_json::to_value(&z).unwrap();
    let tamper = |field: &str, v: serde_json::Value| {
        let mut j = good.clone();
        j[field] = v;
        serde_json::from_value::<ZScore>(j)
    };
    assert!(tamper("values", serde_json::json!([1.0, 2.0, 3.0, 4.0])).is_err());
    assert!(tamper("values", serde_json::json!([null, 2.0, 3.0])).is_err());
    assert!(tamper("head", serde_json::json!(3)).is_err());
    assert!(tamper("m2", serde_json::json!(-1.0)).is_err());
    assert!(tamper("params", serde_json::json!({"window": 1})).is_err());
    let text = good.to_string();
    let huge = text.replace("\"values\":[4.0,", "\"values\":[1e999,");
    assert_ne!(huge, text);
    assert!(serde_json::from_str::<ZScore>(&huge).is_err());
    let ok = tamper("values", serde_json::json!([2.0, 3.0, 4.0])).unwrap();
    assert_eq!(ok.len(), 3);
}

#[test]
fn params_deserialise_with_defaults_and_checks() {
    let p: ZScoreParams = serde_json::from_str(r#"{"window": 50, "robust": true}"#).unwrap();
    let v = p.check().unwrap();
    assert_eq!((v.window(), v.min_samples(), v.robust()), (50, 30, true));
    assert!(serde_json::from_str::<ZScoreValidParams>(r#"{"window": 1}"#).is_err());
    assert!(serde_json::from_str::<ZScoreParams>(r#"{"windw": 5}"#).is_err());
    // Unchecked params may hold invalid values; checking catches them.
    let bad: ZScoreParams = serde_json::from_str(r#"{"min_samples": 1}"#).unwrap();
    assert!(bad.check().is_err());
    let round: ZScoreValidParams =
        serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(round, v);
}
