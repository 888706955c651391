//! Properties of the insight engine that must hold for any input.

use iops_core::engine::{EngineConfig, EngineParams, HostState, SeriesScorer};
use iops_core::{MetricSample, Timestamp};
use proptest::prelude::*;

/// Small windows (for 1-minute samples) so that short generated series exercise warm-up,
/// calibration, seasonality and suppression.
fn small_config() -> EngineConfig {
    EngineParams {
        window_seconds: 960.0,
        min_window_samples: 4,
        season_seconds: 480.0,
        season_slot_seconds: 60.0,
        season_jitter: 1,
        level_seconds: 180.0,
        volatility_seconds: 300.0,
        memory_seconds: 3600.0,
        calibration_horizon_seconds: 1800.0,
        warmup_seconds: 240.0,
        min_samples: 4,
        calibration_min_samples: 10,
        suppression_seconds: 300.0,
        cooldown_seconds: 300.0,
        ..EngineParams::default()
    }
    .check()
    .expect("valid config")
}

/// A time for sample `i`: 1-minute steps, with late, repeated and missing ones mixed in
/// when `jitter` picks them.
fn time(i: usize, jitter: u8) -> f64 {
    let t = 1.7e9 + 60.0 * i as f64;
    match (i + jitter as usize) % 7 {
        0 if jitter > 0 => t - 90.0,
        3 if jitter > 1 => t + 3600.0 * f64::from(jitter),
        5 if jitter > 2 => 1.7e9 + 60.0 * (i / 2) as f64,
        _ => t,
    }
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
    fn scores_are_finite_and_in_range(
        values in prop::collection::vec(any_finite(), 1..400),
        jitter in 0u8..4,
    ) {
        let mut s = SeriesScorer::new(&small_config()).expect("valid");
        for (i, x) in values.into_iter().enumerate() {
            let o = s.observe(time(i, jitter), x).expect("finite input");
            prop_assert!(o.score.is_finite() && (0.0..1.0).contains(&o.score), "score {} for {x}", o.score);
            prop_assert!(o.surprise.is_finite() && o.surprise >= 0.0);
        }
    }

    #[test]
    fn default_config_scores_are_finite_and_in_range(values in prop::collection::vec(any_finite(), 1..600)) {
        let mut s = SeriesScorer::new(&EngineConfig::default()).expect("valid");
        for (i, x) in values.into_iter().enumerate() {
            let o = s.observe(time(i, 0), x).expect("finite input");
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
        for (i, &x) in values[..cut].iter().enumerate() {
            live.observe(time(i, 2), x).expect("finite");
        }
        let json = serde_json::to_string(&live).expect("serialises");
        let mut restored: SeriesScorer = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(&restored, &live);
        for (i, &x) in values.iter().enumerate().skip(cut) {
            let t = time(i, 2);
            let (a, b) = (live.observe(t, x).expect("finite"), restored.observe(t, x).expect("finite"));
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
            live.process(&config, None, &sample(i, *v)).expect("valid sample");
        }
        let json = serde_json::to_string(&live).expect("serialises");
        let mut restored: HostState = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(&restored, &live);
        for (i, v) in rows.iter().enumerate().skip(cut) {
            let s = sample(i, *v);
            let (a, b) = (live.process(&config, None, &s).expect("valid"), restored.process(&config, None, &s).expect("valid"));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn non_finite_input_is_an_error_and_changes_nothing(
        values in prop::collection::vec(-1e3..1e3f64, 0..100),
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        let mut s = SeriesScorer::new(&small_config()).expect("valid");
        for (i, x) in values.iter().enumerate() {
            s.observe(time(i, 0), *x).expect("finite");
        }
        let before = s.clone();
        prop_assert!(s.observe(time(values.len(), 0), bad).is_err());
        prop_assert!(s.observe(bad, 1.0).is_err());
        prop_assert_eq!(s, before);
    }
}
