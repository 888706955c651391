//! Cold start: MODEL_PATH loading, and the real `bootstrap` exiting non-zero with a message
//! naming the variable when the configuration is bad.

use std::process::Command;

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::{EngineConfig, HOST_FEATURES};
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::ParamGuard;
use iops_lambda::{load_forest, StartupError};

fn artifact(names: [&str; 4]) -> String {
    let x = Array2::from_shape_fn((256, 4), |(i, j)| ((i * (j + 3)) % 17) as f64 / 4.0 - 2.0);
    let params = IsolationForestParams::new()
        .n_trees(10)
        .seed(1)
        .check()
        .unwrap();
    ModelArtifact::train(
        &params,
        x.view(),
        names.map(String::from).to_vec(),
        OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap()
    .to_json()
    .unwrap()
}

#[test]
fn model_path_loads_a_host_forest_from_a_file_or_directory() {
    let dir = tempfile::tempdir().unwrap();
    let json = artifact(HOST_FEATURES);
    std::fs::write(dir.path().join("model.json"), &json).unwrap();
    let written: serde_json::Value = serde_json::from_str(&json).unwrap();
    for path in [dir.path().to_path_buf(), dir.path().join("model.json")] {
        let forest = load_forest(Some(&path)).unwrap();
        assert!(forest.is_some());
        // the insights' model version names the forest by the file's checksum
        let version = iops_service::BuiltinScorer::new(EngineConfig::default())
            .with_forest(forest)
            .version()
            .to_owned();
        let checksum = written["checksum"].as_str().unwrap();
        assert!(checksum.starts_with("sha256:"));
        assert!(
            version.ends_with(&format!("+forest-{checksum}")),
            "{version}"
        );
    }
    assert!(load_forest(None).unwrap().is_none());
}

#[test]
fn model_path_errors_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.json");
    std::fs::write(
        &raw,
        artifact(["cpuUsage", "memoryUsage", "diskIO", "networkIO"]),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format_version\":").unwrap();
    for path in [raw, garbage, dir.path().join("missing.json")] {
        let e = load_forest(Some(&path)).unwrap_err();
        assert!(matches!(e, StartupError::Model { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("environment variable MODEL_PATH: "),
            "{e}"
        );
    }
}

#[test]
fn bootstrap_exits_non_zero_naming_the_bad_variable() {
    let cases = [
        (
            vec![("IOPS_STORE", "memory"), ("CANARY_PERCENTAGE", "150")],
            "CANARY_PERCENTAGE",
        ),
        (
            vec![("IOPS_STORE", "memory"), ("USE_SAGEMAKER", "yes")],
            "USE_SAGEMAKER",
        ),
        (vec![], "METRICS_TABLE"),
        (
            vec![
                ("IOPS_STORE", "memory"),
                ("MODEL_PATH", "/nonexistent/model.json"),
            ],
            "MODEL_PATH",
        ),
        (
            vec![("METRICS_TABLE", "m"), ("INSIGHTS_TABLE", "i")],
            "STATE_TABLE",
        ),
    ];
    for (vars, name) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{vars:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("bootstrap: environment variable {name}")),
            "{vars:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no EMF line before serving");
    }
}
