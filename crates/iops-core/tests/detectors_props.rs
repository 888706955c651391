//! Property tests shared by the streaming detectors: finite scores for any finite input,
//! bit-identical snapshot/restore, invariance to shifting and scaling the series, and
//! non-finite input leaving the state untouched.

use iops_core::detector::{Ewma, StreamingDetector, ZScore};
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

/// The detector configurations under test, all warm after a few samples.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Mean,
    Robust,
    Ewma,
}

fn kinds() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Mean), Just(Kind::Robust), Just(Kind::Ewma)]
}

/// Runs `f` on the detector built for `kind` (a generic body, so no trait objects needed).
macro_rules! with_detector {
    ($kind:expr, |$d:ident| $body:expr) => {
        match $kind {
            Kind::Mean => {
                let mut $d = ZScore::params().window(8).min_samples(3).build().unwrap();
                $body
            }
            Kind::Robust => {
                let mut $d = ZScore::params()
                    .window(7)
                    .min_samples(3)
                    .robust(true)
                    .build()
                    .unwrap();
                $body
            }
            Kind::Ewma => {
                let mut $d = Ewma::params().alpha(0.2).warmup(3).build().unwrap();
                $body
            }
        }
    };
}

fn any_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        -1e300..1e300f64,
        -1e6..1e6f64,
        -1.0..1.0f64,
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(0.0),
        Just(-0.0),
    ]
}

fn scores<D: StreamingDetector>(d: &mut D, xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| d.score_and_update(x).unwrap()).collect()
}

fn round_trip<D: Serialize + DeserializeOwned>(d: &D) -> D {
    serde_json::from_str(&serde_json::to_string(d).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scores_are_finite_for_any_finite_input(
        kind in kinds(),
        xs in prop::collection::vec(any_finite(), 1..60),
    ) {
        with_detector!(kind, |d| {
            for &x in &xs {
                let s = d.score_and_update(x).unwrap();
                prop_assert!(s.is_finite() && s.abs() <= ZScore::MAX_SCORE, "{x} -> {s}");
                prop_assert!(d.expected().is_finite());
                prop_assert!(d.spread().is_finite() && d.spread() >= 0.0);
            }
        })
    }

    #[test]
    fn snapshot_restore_gives_identical_scores(
        kind in kinds(),
        xs in prop::collection::vec(any_finite(), 1..60),
        cut in 0usize..60,
    ) {
        let cut = cut.min(xs.len());
        with_detector!(kind, |d| {
            scores(&mut d, &xs[..cut]);
            let mut restored = round_trip(&d);
            prop_assert_eq!(&restored, &d);
            let a: Vec<u64> = scores(&mut d, &xs[cut..]).iter().map(|s| s.to_bits()).collect();
            let b: Vec<u64> =
                scores(&mut restored, &xs[cut..]).iter().map(|s| s.to_bits()).collect();
            prop_assert_eq!(a, b);
        })
    }

    #[test]
    fn scores_are_invariant_to_shift_and_scale(
        kind in kinds(),
        xs in prop::collection::vec(-100.0..100.0f64, 3..80),
        a in 0.01..100.0f64,
        b in -1e4..1e4f64,
    ) {
        let ys: Vec<f64> = xs.iter().map(|x| a * x + b).collect();
        with_detector!(kind, |d| {
            let mut e = d.clone();
            let (sx, sy) = (scores(&mut d, &xs), scores(&mut e, &ys));
            for (i, (p, q)) in sx.iter().zip(&sy).enumerate() {
                prop_assert!(close(*p, *q), "step {}: {} vs {}", i, p, q);
            }
        })
    }

    #[test]
    fn non_finite_input_leaves_state_unchanged(
        kind in kinds(),
        xs in prop::collection::vec(any_finite(), 0..30),
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        with_detector!(kind, |d| {
            scores(&mut d, &xs);
            let before = d.clone();
            prop_assert!(d.score_and_update(bad).is_err());
            prop_assert!(d.update(bad).is_err());
            prop_assert!(d.score(bad).is_err());
            prop_assert_eq!(&d, &before);
        })
    }
}
