//! The one loader of the built-in engine's forest: a file or a directory holding
//! `model.json`; what is not a verified host forest is an error naming the file.

use iops_core::artifact::{ModelArtifact, OffsetDateTime};
use iops_core::engine::EngineConfig;
use iops_core::engine::HOST_FEATURES;
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::ParamGuard;
use iops_service::{load_forest, read_model, BuiltinScorer};

fn artifact(names: [&str; 4]) -> ModelArtifact {
    let x = Array2::from_shape_fn((256, 4), |(i, j)| ((i * (j + 3)) % 17) as f64 / 4.0 - 2.0);
    let params = IsolationForestParams::new()
        .n_trees(10)
        .seed(1)
        .check()
        .unwrap();
    let names = names.map(String::from).to_vec();
    ModelArtifact::train(&params, x.view(), names, OffsetDateTime::UNIX_EPOCH).unwrap()
}

#[test]
fn a_host_forest_loads_from_a_file_or_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let model = artifact(HOST_FEATURES);
    let file = dir.path().join("model.json");
    std::fs::write(&file, model.to_json().unwrap()).unwrap();
    assert!(load_forest(None).unwrap().is_none());
    let plain = BuiltinScorer::new(EngineConfig::default()).with_forest(None);
    assert_eq!(
        plain.version(),
        concat!("builtin-", env!("CARGO_PKG_VERSION"))
    );
    for path in [dir.path(), file.as_path()] {
        let forest = load_forest(Some(path)).unwrap().expect("a forest");
        let loaded = forest.model().clone();
        assert_eq!(loaded.to_json().unwrap(), model.to_json().unwrap());
        assert_eq!(read_model(path).unwrap().checksum(), loaded.checksum());
        let scorer = BuiltinScorer::new(EngineConfig::default()).with_forest(Some(forest));
        assert!(scorer.forest().is_some());
        let version = scorer.version().to_owned();
        let prefix = concat!("builtin-", env!("CARGO_PKG_VERSION"), "+forest-sha256:");
        assert!(version.starts_with(prefix), "{version}");
        assert!(version.ends_with(loaded.checksum().unwrap()), "{version}");
    }
}

#[test]
fn what_is_not_a_verified_host_forest_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.json");
    let raw_model = artifact(["cpuUsage", "memoryUsage", "diskIO", "networkIO"]);
    std::fs::write(&raw, raw_model.to_json().unwrap()).unwrap();
    let edited = dir.path().join("edited.json");
    let json = artifact(HOST_FEATURES).to_json().unwrap();
    let tampered = json.replacen("\"n_trees\":10", "\"n_trees\":11", 1);
    assert_ne!(tampered, json);
    std::fs::write(&edited, tampered).unwrap();
    let missing = dir.path().join("missing.json");
    for (path, says) in [(&raw, "feature_names"), (&edited, ""), (&missing, "")] {
        let e = load_forest(Some(path)).unwrap_err();
        assert_eq!(&e.path, path);
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
        assert!(e.reason.contains(says), "{e}");
    }
    // a raw-feature forest is still a model artifact
    assert!(read_model(&raw).is_ok());
}
