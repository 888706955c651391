//! Metric request bodies from `tests/fixtures/metrics`: valid ones parse to their canonical
//! shape, invalid ones are rejected with an error naming the field the file name says.

use std::fs;
use std::path::{Path, PathBuf};

use iops_core::{Error, MetricSample};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/metrics")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn valid_bodies_parse_to_their_canonical_json() {
    let files = fixtures("valid");
    assert!(
        files.len() >= 10,
        "expected the valid fixtures, found {files:?}"
    );
    for path in files {
        let body = fs::read(&path).unwrap();
        let sample = MetricSample::from_json(&body)
            .unwrap_or_else(|e| panic!("{} should parse: {e}", path.display()));
        let expected_path = path.with_extension("expected.json");
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert_eq!(sample.to_json(), expected.trim_end(), "{}", path.display());
        // The canonical form parses back to the same sample.
        let again = MetricSample::from_json(sample.to_json().as_bytes()).unwrap();
        assert_eq!(again, sample, "{}", path.display());
        sample.validate().unwrap();
    }
}

#[test]
fn invalid_bodies_name_their_field() {
    let files = fixtures("invalid");
    assert!(
        files.len() >= 30,
        "expected the invalid fixtures, found {files:?}"
    );
    let mut fields_seen = std::collections::BTreeSet::new();
    for path in files {
        let name = stem(&path);
        let (field, _case) = name
            .split_once("__")
            .unwrap_or_else(|| panic!("{name}: invalid fixtures are named <field>__<case>.json"));
        let body = fs::read(&path).unwrap();
        match MetricSample::from_json(&body) {
            Err(Error::InvalidField { field: got, reason }) => {
                assert_eq!(got, field, "{name}: {reason}");
                assert!(!reason.is_empty(), "{name}: empty reason");
                // The message a client sees names the field too.
                let msg = Error::InvalidField {
                    field: got.clone(),
                    reason: reason.clone(),
                }
                .to_string();
                assert!(msg.contains(field), "{name}: {msg}");
            }
            Err(other) => panic!("{name}: expected InvalidField({field}), got {other:?}"),
            Ok(sample) => panic!("{name}: should be rejected, parsed {sample:?}"),
        }
        fields_seen.insert(field.to_owned());
    }
    let all = [
        "body",
        "timestamp",
        "hostname",
        "cpuUsage",
        "memoryUsage",
        "diskIO",
        "networkIO",
    ];
    for f in all {
        assert!(fields_seen.contains(f), "no invalid fixture for {f}");
    }
}

#[test]
fn serialises_exactly_the_runbook_shape() {
    let runbook = r#"{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":75.5,"memoryUsage":82.3,"diskIO":200.5,"networkIO":150.2}"#;
    let sample = MetricSample::from_json(runbook.as_bytes()).unwrap();
    assert_eq!(sample.to_json(), runbook);
    assert_eq!(serde_json::to_string(&sample).unwrap(), runbook);
    // The serde derive reads the same shape back.
    let via_serde: MetricSample = serde_json::from_str(runbook).unwrap();
    assert_eq!(via_serde, sample);
}

#[test]
fn first_bad_field_in_wire_order_is_named() {
    let body = br#"{"networkIO":-1,"cpuUsage":"x","hostname":"web-1","timestamp":"2026-11-26T17:00:00Z","memoryUsage":1,"diskIO":1}"#;
    assert_eq!(
        MetricSample::from_json(body).unwrap_err().field(),
        Some("cpuUsage")
    );
}
