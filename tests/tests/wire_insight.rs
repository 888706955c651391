//! Insight records from `tests/fixtures/insights` round-trip byte for byte.

use std::fs;
use std::path::Path;

use iops_core::{Insight, InsightType, Metric, Severity};

const KEYS: [&str; 10] = [
    "type",
    "severity",
    "message",
    "hostname",
    "timestamp",
    "metric",
    "value",
    "expected",
    "score",
    "detector",
];

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/insights")
        .join(name);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim_end()
        .to_owned()
}

#[test]
fn cpu_spike_fixture_round_trips() {
    let text = fixture("cpu_spike.json");
    let insight: Insight = serde_json::from_str(&text).unwrap();
    assert_eq!(insight.kind, InsightType::CpuSpike);
    assert_eq!(insight.severity, Severity::Critical);
    assert_eq!(insight.metric, Metric::Cpu);
    assert_eq!(insight.hostname, "web-1");
    assert_eq!(insight.value, 97.0);
    assert_eq!(insight.expected, 41.0);
    assert_eq!(insight.score, 0.93);
    assert_eq!(insight.detector, "zscore+ewma");
    assert_eq!(insight.timestamp.to_string(), "2026-11-26T17:00:00Z");
    assert_eq!(insight.to_json(), text);
}

#[test]
fn every_insight_fixture_has_the_wire_keys_in_order() {
    for name in ["cpu_spike.json", "network_anomaly.json"] {
        let text = fixture(name);
        let insight: Insight = serde_json::from_str(&text).unwrap();
        let out = insight.to_json();
        assert_eq!(out, text, "{name}");
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted_expected = KEYS.to_vec();
        sorted_expected.sort_unstable();
        // serde_json::Map is sorted by key without preserve_order; compare as sets here
        // and check the order on the text itself.
        assert_eq!(keys, sorted_expected, "{name}");
        let positions: Vec<usize> = KEYS
            .iter()
            .map(|k| out.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{name}: {out}");
        assert!(out.contains(&format!("\"severity\":\"{}\"", insight.severity)));
    }
}

#[test]
fn unknown_severity_is_rejected() {
    let text = fixture("cpu_spike.json").replace("\"critical\"", "\"fatal\"");
    assert!(serde_json::from_str::<Insight>(&text).is_err());
}
