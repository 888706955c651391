//! model.json: round trip, typed load errors, and the golden fixtures: v1 (a forest) and
//! v2 (a forest with a fleet's peer groups).

mod support {
    #[path = "noise.rs"]
    pub mod noise;
    #[path = "roles.rs"]
    pub mod roles;
}

use iops_core::artifact::{ModelArtifact, DEFAULT_MAX_BYTES, FORMAT_VERSION};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::peers::{PeerGroups, PeerParams};
use iops_core::{Error, ParamGuard};
use time::macros::datetime;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/model_v1.json"
);

fn metrics(n: usize) -> Array2<f64> {
    // cpu, memory, disk, network: deterministic, slightly correlated.
    Array2::from_shape_fn((n, 4), |(i, j)| {
        let t = i as f64;
        match j {
            0 => 40.0 + 10.0 * (t / 7.0).sin() + (i % 13) as f64,
            1 => 60.0 + 5.0 * (t / 11.0).cos() + (i % 7) as f64,
            2 => 200.0 + 30.0 * (t / 5.0).sin() + (i % 17) as f64,
            _ => 150.0 + 20.0 * (t / 3.0).cos() + (i % 19) as f64,
        }
    })
}

fn names() -> Vec<String> {
    ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
        .map(String::from)
        .to_vec()
}

fn small_model() -> ModelArtifact {
    let p = IsolationForestParams::new()
        .n_trees(12)
        .max_samples(32)
        .contamination(0.05)
        .seed(2024)
        .check()
        .unwrap();
    ModelArtifact::train(
        &p,
        metrics(300).view(),
        names(),
        datetime!(2026-01-02 03:04:05 UTC),
    )
    .unwrap()
}

/// Probe rows and the scores the golden model gave them when it was written (v1).
const PROBES: [[f64; 4]; 3] = [
    [45.0, 62.0, 210.0, 155.0],
    [99.0, 99.0, 900.0, 0.0],
    [30.0, 55.0, 170.0, 130.0],
];

#[test]
fn round_trip_is_identical() {
    let m = small_model();
    let json = m.to_json().unwrap();
    let back = ModelArtifact::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_json().unwrap(), json);
    let x = metrics(300);
    assert_eq!(
        back.forest().score_samples(x.view()).unwrap(),
        m.forest().score_samples(x.view()).unwrap()
    );
    let t = m.training();
    assert_eq!(t.rows, 300);
    assert_eq!(t.threshold, m.forest().threshold());
    assert!(t
        .score_quantiles
        .windows(2)
        .all(|w| w[0].score <= w[1].score));
    // Re-indenting keeps the checksum valid.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    assert_eq!(ModelArtifact::from_str(&pretty).unwrap(), m);
}

#[test]
fn tampered_payload_fails_the_checksum() {
    let json = small_model().to_json().unwrap();
    let tampered = json.replacen("\"seed\":2024", "\"seed\":2025", 1);
    assert_ne!(tampered, json);
    assert!(matches!(
        ModelArtifact::from_str(&tampered),
        Err(Error::ArtifactChecksum { .. })
    ));
}

#[test]
fn truncated_files_are_decode_errors() {
    let json = small_model().to_json().unwrap();
    for cut in [0, 1, 10, json.len() / 2, json.len() - 1] {
        match ModelArtifact::from_str(&json[..cut]) {
            Err(Error::Decode { reason, .. }) => {
                assert!(cut == 0 || reason.contains("truncated"), "{reason}")
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(matches!(
        ModelArtifact::from_str("[1,2,3]"),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        ModelArtifact::from_slice(&[0xff, 0xfe, 0x00]),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let json = small_model().to_json().unwrap();
    match ModelArtifact::from_slice_with_limit(json.as_bytes(), 100) {
        Err(Error::ArtifactTooLarge { size, limit }) => {
            assert_eq!((size, limit), (json.len() as u64, 100))
        }
        other => panic!("{other:?}"),
    }
    const { assert!(DEFAULT_MAX_BYTES >= 16 << 20) };
}

#[test]
fn newer_version_is_refused_with_its_number() {
    let json = small_model().to_json().unwrap();
    let newer = json.replacen("\"format_version\":2", "\"format_version\":3", 1);
    assert!(matches!(
        ModelArtifact::from_str(&newer),
        Err(Error::ArtifactVersion {
            found: 3,
            supported: FORMAT_VERSION
        })
    ));
    // Even when the rest of a future file looks nothing like v1.
    assert!(matches!(
        ModelArtifact::from_str(r#"{"format_version":7,"model":{}}"#),
        Err(Error::ArtifactVersion { found: 7, .. })
    ));
}

/// A payload edited consistently (checksum recomputed) must still pass structural checks.
#[test]
fn inconsistent_trees_are_refused_even_with_a_valid_checksum() {
    use sha2::{Digest, Sha256};
    let json = small_model().to_json().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<Edit> = vec![
        Box::new(|p| p["trees"][0]["feature"][0] = 9.into()),
        Box::new(|p| p["trees"][0]["feature"][0] = serde_json::Value::Null),
        Box::new(|p| p["trees"][0]["leaf_size"][0] = 0.into()),
        Box::new(|p| p["trees"][0]["threshold"] = serde_json::json!([])),
        Box::new(|p| p["trees"].as_array_mut().unwrap().truncate(3)),
        Box::new(|p| p["n_features"] = 3.into()),
        Box::new(|p| p["threshold"] = 1.5.into()),
        Box::new(|p| p["hyperparameters"]["n_trees"] = 0.into()),
        Box::new(|p| p["created_at"] = "yesterday".into()),
        Box::new(|p| p["kind"] = "pickle".into()),
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut payload = v["payload"].clone();
        edit(&mut payload);
        let text = serde_json::to_string(&payload).unwrap();
        let hex: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        v["checksum"] = format!("sha256:{hex}").into();
        v["payload"] = serde_json::from_str(&text).unwrap();
        let out = serde_json::to_string(&v).unwrap();
        let err = ModelArtifact::from_str(&out).unwrap_err();
        assert!(
            matches!(err, Error::Decode { .. } | Error::InvalidParam { .. }),
            "edit {i}: {err:?}"
        );
    }
}

#[test]
fn golden_v1_fixture_keeps_loading_and_scoring_identically() {
    let bytes = std::fs::read(GOLDEN).expect("tests/fixtures/model_v1.json");
    let m = ModelArtifact::from_slice(&bytes).unwrap();
    assert_eq!(m.feature_names(), names().as_slice());
    assert_eq!(m.forest().n_trees(), 12);
    assert_eq!(m.training().rows, 300);
    let got: Vec<f64> = PROBES
        .iter()
        .map(|r| m.forest().score_one(r).unwrap())
        .collect();
    // Scores of the fixture as written by format v1 (bit-exact: same trees, same arithmetic).
    let expected: [f64; 3] = GOLDEN_SCORES;
    assert_eq!(got, expected, "{got:?}");
    assert_eq!(m.forest().threshold(), GOLDEN_THRESHOLD);
}

const GOLDEN_SCORES: [f64; 3] = [0.5008107967473715, 0.613812479350635, 0.5716533977217673];
const GOLDEN_THRESHOLD: f64 = 0.5920389804038348;

const GOLDEN_V2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/model_v2_peer_groups.json"
);

/// The v1 fixture's model with the peer groups of a three-role fleet (2 hosts each, 2 days).
fn small_model_with_peers() -> ModelArtifact {
    let mut m = ModelArtifact::from_slice(&std::fs::read(GOLDEN).unwrap()).unwrap();
    let fleet = support::roles::fleet(2, 2.0);
    m.set_peer_groups(Some(
        PeerGroups::fit(&fleet, &PeerParams::default()).unwrap(),
    ));
    m
}

/// A new db host's first three samples at 14:00 UTC (epoch seconds, the four values).
fn newcomer() -> Vec<(f64, [f64; 4])> {
    support::roles::host(1, 5, 3.0 * 86_400.0 + 14.0 * 3600.0, 3, 300.0)
        .iter()
        .map(|s| (s.timestamp.epoch_seconds(), s.values()))
        .collect()
}

#[test]
fn golden_v2_fixture_keeps_its_forest_and_peer_groups() {
    let bytes = std::fs::read(GOLDEN_V2).expect("tests/fixtures/model_v2_peer_groups.json");
    let m = ModelArtifact::from_slice(&bytes).unwrap();
    // the same forest as the v1 fixture, scoring identically
    let got: Vec<f64> = PROBES
        .iter()
        .map(|r| m.forest().score_one(r).unwrap())
        .collect();
    assert_eq!(got, GOLDEN_SCORES);
    let groups = m.peer_groups().expect("v2 fixture has peer groups");
    let names: Vec<&str> = groups.groups().iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["batch", "db", "web"]);
    assert_eq!(groups.group_of("web-2"), Some(2));
    assert_eq!(groups.nearest(&newcomer()), Some(1));
    // the db group's expected diskIO at 14:00 UTC, as written (bit-exact)
    let (expected, spread) =
        groups.groups()[1].baseline[2].expected(support::roles::DAY0 + 14.0 * 3600.0);
    assert_eq!((expected, spread), GOLDEN_V2_DB_DISK_AT_14);
    // and fitting the same fleet today gives the same groups
    assert_eq!(Some(groups), small_model_with_peers().peer_groups());
    // the v1 fixture reads as a model without groups
    let v1 = ModelArtifact::from_slice(&std::fs::read(GOLDEN).unwrap()).unwrap();
    assert!(v1.peer_groups().is_none());
}

const GOLDEN_V2_DB_DISK_AT_14: (f64, f64) = (288.69864175448697, 10.100445833733955);

#[test]
fn peer_groups_that_fail_their_check_are_refused_naming_the_field() {
    let json = small_model_with_peers().to_json().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["payload"]["peer_groups"]["groups"][1]["baseline"][0]["spread"][5] = serde_json::json!(-1.0);
    let payload = serde_json::to_string(&v["payload"]).unwrap();
    let digest = sha2_hex(payload.as_bytes());
    v["checksum"] = serde_json::json!(digest);
    let err = ModelArtifact::from_str(&serde_json::to_string(&v).unwrap()).unwrap_err();
    assert_eq!(
        err.field(),
        Some("peer_groups.groups[1].baseline[0].spread"),
        "{err}"
    );
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes the fixtures (run once with IOPS_WRITE_GOLDEN=1 or IOPS_WRITE_GOLDEN=v2; never
/// overwrites silently).
#[test]
fn write_golden_fixture_when_asked() {
    let Some(which) = std::env::var_os("IOPS_WRITE_GOLDEN") else {
        return;
    };
    if which == "v2" {
        let m = small_model_with_peers();
        std::fs::write(GOLDEN_V2, m.to_json().unwrap()).unwrap();
        let db = &m.peer_groups().unwrap().groups()[1].baseline[2];
        eprintln!(
            "GOLDEN_V2_DB_DISK_AT_14 = {:?}",
            db.expected(support::roles::DAY0 + 14.0 * 3600.0)
        );
        return;
    }
    let m = small_model();
    std::fs::write(GOLDEN, m.to_json().unwrap()).unwrap();
    let scores: Vec<f64> = PROBES
        .iter()
        .map(|r| m.forest().score_one(r).unwrap())
        .collect();
    eprintln!(
        "GOLDEN_SCORES = {scores:?}; GOLDEN_THRESHOLD = {:?}",
        m.forest().threshold()
    );
}

#[test]
fn a_threshold_chosen_after_training_is_saved_and_checked() {
    let mut m = small_model();
    let x = metrics(50);
    m.set_threshold(0.61).unwrap();
    assert_eq!(m.forest().threshold(), 0.61);
    assert_eq!(m.training().threshold, 0.61);
    let back = ModelArtifact::from_str(&m.to_json().unwrap()).unwrap();
    assert_eq!(back, m);
    let scores = back.forest().score_samples(x.view()).unwrap();
    let flagged = back.forest().predict(x.view()).unwrap();
    for (s, f) in scores.iter().zip(flagged) {
        assert_eq!(f, *s > 0.61);
    }
    for bad in [0.0, 1.0, f64::NAN, -0.2] {
        let err = m.set_threshold(bad).unwrap_err();
        assert_eq!(err.field(), Some("threshold"), "{bad}");
    }
    assert_eq!(
        m.forest().threshold(),
        0.61,
        "a refused threshold changes nothing"
    );
}
