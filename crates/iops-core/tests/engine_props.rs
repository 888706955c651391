//! Properties of the insight engine that must hold for any input.

use iops_core::engine::{EngineConfig, EngineParams, HostState, SeriesScorer};
use iops_core::{MetricSample, Timestamp};
use proptest::prelude::*;

/// Small windows so that short generated series exercise warm-up, calibration, seasonality
/// and suppression.
fn small_config() -> EngineConfig {
    EngineParams {
        window: 16,
        season: 8,
        season_jitter: 1,
        short_mean: 3,
        baseline: 60,
        min_samples: 4,
        calibration_min_samples: 10,
        suppression: 5,
        cooldown: 5,
        ..EngineParams::default()
    }
    .check()
    .expect("valid config")
}

/// Any finite f64, biased towards the awkward ones.
fn any_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3..1e3f64,
        1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => Just(0.0),
    ]
}

fn sample(i: usize, v: [f64; 4]) -> MetricSample {
    MetricSample {
        timestamp: Timestamp::from_epoch_seconds(1.7e9 + 60.0 * i as f64).expect("valid time"),
        hostname: "prop-1".into(),
        cpu_usage: v[0],
        memory_usage: v[1],
        disk_io: v[2],
        network_io: v[3],
    }
}

fn valid_values() -> impl Strategy<Value = [f64; 4]> {
    (
        0.0..=100.0f64,
        0.0..=100.0f64,
        0.0..1e12f64,
        prop_oneof![Just(0.0), 0.0..1e9f64],
    )
        .prop_map(|(a, b, c, d)| [a, b, c, d])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn scores_are_finite_and_in_range(values in prop::collection::vec(any_finite(), 1..400)) {
        let mut s = SeriesScorer::new(&small_config()).expect("valid");
        for x in values {
            let o = s.observe(x).expect("finite input");
            prop_assert!(o.score.is_finite() && (0.0..1.0).contains(&o.score), "score {} for {x}", o.score);
            prop_assert!(o.surprise.is_finite() && o.surprise >= 0.0);
        }
    }

    #[test]
    fn default_config_scores_are_finite_and_in_range(values in prop::collection::vec(any_finite(), 1..600)) {
        let mut s = SeriesScorer::new(&EngineConfig::default()).expect("valid");
        for x in values {
            let o = s.observe(x).expect("finite input");
            prop_assert!(o.score.is_finite() && (0.0..1.0).contains(&o.score));
        }
    }

    #[test]
    fn series_snapshot_restores_identical_scores(
        values in prop::collection::vec(any_finite(), 2..300),
        split in 0.0..1.0f64,
    ) {
        let config = small_config();
        let cut = ((values.len() as f64) * split) as usize;
        let mut live = SeriesScorer::new(&config).expect("valid");
        for &x in &values[..cut] {
            live.observe(x).expect("finite");
        }
        let json = serde_json::to_string(&live).expect("serialises");
        let mut restored: SeriesScorer = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(&restored, &live);
        for &x in &values[cut..] {
            let (a, b) = (live.observe(x).expect("finite"), restored.observe(x).expect("finite"));
            prop_assert_eq!(a.score.to_bits(), b.score.to_bits());
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn host_snapshot_restores_identical_assessments(
        rows in prop::collection::vec(valid_values(), 2..200),
        split in 0.0..1.0f64,
    ) {
        let config = small_config();
        let cut = ((rows.len() as f64) * split) as usize;
        let mut live = HostState::new(&config).expect("valid");
        for (i, v) in rows[..cut].iter().enumerate() {
            live.process(&config, &sample(i, *v)).expect("valid sample");
        }
        let json = serde_json::to_string(&live).expect("serialises");
        let mut restored: HostState = serde_json::from_str(&json).expect("deserialises");
        for (i, v) in rows.iter().enumerate().skip(cut) {
            let s = sample(i, *v);
            let (a, b) = (live.process(&config, &s).expect("valid"), restored.process(&config, &s).expect("valid"));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn non_finite_input_is_an_error_and_changes_nothing(
        values in prop::collection::vec(-1e3..1e3f64, 0..100),
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        let mut s = SeriesScorer::new(&small_config()).expect("valid");
        for x in values {
            s.observe(x).expect("finite");
        }
        let before = s.clone();
        prop_assert!(s.observe(bad).is_err());
        prop_assert_eq!(s, before);
    }
}
