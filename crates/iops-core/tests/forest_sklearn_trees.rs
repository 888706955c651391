//! Our isolation forest grows scikit-learn's trees: the fixture
//! `fixtures/sklearn_tiny_forest.json` holds the trees and scores scikit-learn 1.9.1 fits on
//! a 16-row set (written by `fixtures/sklearn_tiny_forest.py`; the versions are in the file).
//! Its columns: a spread-out one, a constant, one that is constant only in `f32` arithmetic
//! (1.0 and 1.0000001 differ by one `f32` ulp, below scikit-learn's 1e-7 tolerance), and a
//! small integer one; ψ = 8 of 16 rows (sampled through a permutation) with every feature,
//! and ψ = all rows (reservoir: no draws) with half the features.

use iops_core::artifact::ModelArtifact;
use iops_core::forest::IsolationForestParams;
use iops_core::ndarray::Array2;
use iops_core::ParamGuard;
use serde_json::Value;

#[test]
fn trees_and_scores_equal_scikit_learns() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/sklearn_tiny_forest.json")).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(fixture["x"].clone()).unwrap();
    let x = Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j]);
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let params = IsolationForestParams::new()
            .n_trees(case["n_trees"].as_u64().unwrap() as usize)
            .max_samples(case["max_samples"].as_u64().unwrap() as usize)
            .max_features(case["max_features"].as_f64().unwrap())
            .seed(case["seed"].as_u64().unwrap())
            .check()
            .unwrap();
        let names = (0..x.ncols()).map(|i| format!("x{i}")).collect();
        let model =
            ModelArtifact::train(&params, x.view(), names, time::OffsetDateTime::UNIX_EPOCH)
                .unwrap();
        let ours: Value = serde_json::from_str(&model.to_json().unwrap()).unwrap();
        // Node for node: split feature (null for a leaf), threshold bits, leaf sizes.
        assert_eq!(
            ours["payload"]["trees"], case["trees"],
            "seed {}",
            case["seed"]
        );
        // Scores of the rows as scikit-learn scores them (cast to f32).
        let x32 = x.mapv(|v| f64::from(v as f32));
        let scores = model.forest().score_samples(x32.view()).unwrap();
        let want: Vec<f64> = serde_json::from_value(case["scores"].clone()).unwrap();
        for (r, (&got, &want)) in scores.iter().zip(&want).enumerate() {
            assert!((got - want).abs() < 1e-12, "row {r}: {got} vs {want}");
        }
    }
}
