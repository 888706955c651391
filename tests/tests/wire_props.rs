//! Property tests of the metric wire format: never panics on any bytes, and every valid
//! sample survives `to_json` → `from_json` unchanged.

use iops_core::{Error, MetricSample, Timestamp};
use proptest::prelude::*;

fn timestamp() -> impl Strategy<Value = Timestamp> {
    // Years 0000-9999, nanosecond precision.
    (-62_167_219_200i64..253_402_300_800i64, 0u32..1_000_000_000).prop_map(|(s, ns)| {
        let nanos = i128::from(s) * 1_000_000_000 + i128::from(ns);
        let dt = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
        Timestamp::from(dt)
    })
}

fn percent() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..=100.0f64, Just(0.0), Just(100.0), Just(-0.0)]
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..1e6f64,
        proptest::num::f64::POSITIVE | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
    ]
}

fn sample() -> impl Strategy<Value = MetricSample> {
    (
        timestamp(),
        "[A-Za-z0-9._:-]{1,255}",
        percent(),
        percent(),
        rate(),
        rate(),
    )
        .prop_map(|(timestamp, hostname, cpu, mem, disk, net)| MetricSample {
            timestamp,
            hostname,
            cpu_usage: cpu,
            memory_usage: mem,
            disk_io: disk,
            network_io: net,
        })
}

/// Bodies that look like metric samples, so the fuzzing reaches the field checks.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<f64>().prop_map(|x| x.to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
        "\"[ -~]{0,30}\"",
        Just("\"2026-11-26T17:00:00Z\"".to_owned()),
        Just("1e999".to_owned()),
        Just("[1,{\"a\":[]}]".to_owned()),
    ];
    let key = prop_oneof![
        Just("timestamp"),
        Just("hostname"),
        Just("cpuUsage"),
        Just("memoryUsage"),
        Just("diskIO"),
        Just("networkIO"),
        Just("other"),
    ];
    proptest::collection::vec((key, value), 0..9).prop_map(|fields| {
        let body: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    })
}

fn check_error(e: &Error) {
    // Every failure of from_json names a field.
    match e {
        Error::InvalidField { field, reason } => {
            assert!(!field.is_empty() && !reason.is_empty(), "{e:?}")
        }
        other => panic!("from_json must return InvalidField, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = MetricSample::from_json(&bytes) {
            check_error(&e);
        }
    }

    #[test]
    fn jsonish_bodies_never_panic_and_round_trip(bytes in jsonish()) {
        match MetricSample::from_json(&bytes) {
            Ok(s) => {
                s.validate().unwrap();
                prop_assert_eq!(MetricSample::from_json(s.to_json().as_bytes()).unwrap(), s);
            }
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn valid_samples_round_trip(s in sample()) {
        prop_assert!(s.validate().is_ok());
        let json = s.to_json();
        let back = MetricSample::from_json(json.as_bytes());
        prop_assert_eq!(back.as_ref(), Ok(&s), "{}", json);
    }

    #[test]
    fn rfc3339_text_round_trips(t in timestamp()) {
        let text = t.to_string();
        prop_assert_eq!(Timestamp::parse_rfc3339(&text), Ok(t));
        // Epoch seconds as f64 lose sub-microsecond digits far from 1970; allow for that.
        let back = Timestamp::from_epoch_seconds(t.epoch_seconds()).unwrap();
        let diff = (back.epoch_nanos() - t.epoch_nanos()).abs() as f64;
        let tolerance = (t.epoch_seconds().abs() * 1e9 * 4.0 * f64::EPSILON).max(1.0);
        prop_assert!(diff <= tolerance, "{} -> {} ({} ns)", t, back, diff);
    }
}
