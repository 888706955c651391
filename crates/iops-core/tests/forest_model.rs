//! IsolationForest through the public API: parameter rules, determinism, scoring, errors.

use iops_core::forest::{
    average_path_length, IsolationForest, IsolationForestParams, IsolationForestValidParams,
    MaxFeatures, Threshold,
};
use iops_core::ndarray::{array, Array2, ShapeBuilder};
use iops_core::{Error, ParamGuard};

/// `n` rows of 3 features from a fixed pseudo-random sequence, plus `k` far outliers at the end.
fn data(n: usize, k: usize) -> Array2<f64> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n + k, 3), |(i, j)| {
        if i >= n {
            8.0 + j as f64
        } else {
            next() * 2.0 - 1.0
        }
    })
}

fn rejected(p: IsolationForestParams, name: &str) {
    match p.check() {
        Err(Error::InvalidParam { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected InvalidParam({name}), got {other:?}"),
    }
}

#[test]
fn defaults_are_scikit_learns() {
    let p = IsolationForestParams::new().check().unwrap();
    assert_eq!(p.n_trees(), 100);
    assert_eq!(p.max_samples(), iops_core::forest::MaxSamples::Count(256));
    assert_eq!(p.max_features(), MaxFeatures::Fraction(1.0));
    assert!(!p.bootstrap());
    assert_eq!(p.threshold(), Threshold::Score(0.5));
}

#[test]
fn n_trees_must_be_positive_and_bounded() {
    rejected(IsolationForestParams::new().n_trees(0), "n_trees");
    rejected(IsolationForestParams::new().n_trees(100_001), "n_trees");
}

#[test]
fn max_samples_count_must_be_at_least_one() {
    rejected(IsolationForestParams::new().max_samples(0), "max_samples");
    assert!(IsolationForestParams::new().max_samples(1).check().is_ok());
    rejected(
        IsolationForestParams::new().max_samples(1 << 25),
        "max_samples",
    );
}

#[test]
fn max_samples_fraction_must_be_in_unit_interval() {
    rejected(
        IsolationForestParams::new().max_samples_fraction(0.0),
        "max_samples",
    );
    rejected(
        IsolationForestParams::new().max_samples_fraction(1.5),
        "max_samples",
    );
    rejected(
        IsolationForestParams::new().max_samples_fraction(f64::NAN),
        "max_samples",
    );
    assert!(IsolationForestParams::new()
        .max_samples_fraction(1.0)
        .check()
        .is_ok());
}

#[test]
fn max_features_must_be_in_unit_interval() {
    rejected(
        IsolationForestParams::new().max_features(0.0),
        "max_features",
    );
    rejected(
        IsolationForestParams::new().max_features(1.01),
        "max_features",
    );
    rejected(
        IsolationForestParams::new().max_features(f64::NAN),
        "max_features",
    );
    rejected(
        IsolationForestParams::new().max_features_count(0),
        "max_features",
    );
}

#[test]
fn a_max_features_count_is_at_most_the_feature_count() {
    let x = data(200, 0); // 3 features
    let p = IsolationForestParams::new()
        .max_features_count(4)
        .check()
        .unwrap();
    match p.fit(x.view()) {
        Err(Error::InvalidParam { name, value, .. }) => {
            assert_eq!((name, value.as_str()), ("max_features", "4"))
        }
        other => panic!("{other:?}"),
    }
    // A count of 2 of 3 features is the fraction whose int(f * 3) is 2: the same trees.
    let count = IsolationForestParams::new()
        .max_features_count(2)
        .seed(8)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let fraction = IsolationForestParams::new()
        .max_features(0.7)
        .seed(8)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_eq!(
        count.score_samples(x.view()).unwrap(),
        fraction.score_samples(x.view()).unwrap()
    );
}

#[test]
fn one_row_per_tree_scores_one_half_as_scikit_learn() {
    // ψ = 1 (a count, a fraction of 1.5 rows, or a one-row training set): every tree is one
    // leaf and c(1) = 0; scikit-learn scores 2^-1 everywhere.
    let x = data(15, 0);
    for p in [
        IsolationForestParams::new().max_samples(1),
        IsolationForestParams::new().max_samples_fraction(0.1),
    ] {
        let f = p.n_trees(9).check().unwrap().fit(x.view()).unwrap();
        assert_eq!(f.samples_per_tree(), 1);
        assert!(f.score_samples(x.view()).unwrap().iter().all(|&s| s == 0.5));
        assert_eq!(f.score_one(&[9.0, -9.0, 0.0]).unwrap(), 0.5);
    }
    let one = IsolationForestParams::new()
        .check()
        .unwrap()
        .fit(
            Array2::from_shape_vec((1, 3), x.row(0).to_vec())
                .unwrap()
                .view(),
        )
        .unwrap();
    assert_eq!(one.score_one(&[1.0, 2.0, 3.0]).unwrap(), 0.5);
}

#[test]
fn a_fraction_selecting_no_rows_is_refused() {
    let x = data(15, 0);
    let p = IsolationForestParams::new()
        .max_samples_fraction(0.05)
        .check()
        .unwrap();
    assert!(matches!(
        p.fit(x.view()),
        Err(Error::InvalidParam {
            name: "max_samples",
            ..
        })
    ));
}

#[test]
fn bootstrap_trees_grow_on_the_distinct_rows_of_their_draws() {
    use iops_core::artifact::{ModelArtifact, OffsetDateTime};
    // Rows per tree, as model.json's leaf sizes add up per tree.
    let tree_rows = |p: IsolationForestParams, x: &Array2<f64>| -> Vec<u64> {
        let names = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let m = ModelArtifact::train(
            &p.check().unwrap(),
            x.view(),
            names,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&m.to_json().unwrap()).unwrap();
        json["payload"]["trees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t["leaf_size"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .sum()
            })
            .collect()
    };
    let x = data(500, 3);
    let with = tree_rows(
        IsolationForestParams::new()
            .bootstrap(true)
            .n_trees(20)
            .seed(3),
        &x,
    );
    let without = tree_rows(IsolationForestParams::new().n_trees(20).seed(3), &x);
    assert!(without.iter().all(|&r| r == 256));
    // 256 draws of 503 rows with replacement repeat rows (about 205 distinct expected).
    assert!(with.iter().all(|&r| (150..256).contains(&r)), "{with:?}");
    // The model.json of a bootstrap forest loads (its trees hold fewer than 256 rows).
    let f = IsolationForestParams::new()
        .bootstrap(true)
        .seed(3)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_eq!(f.samples_per_tree(), 256);
    assert!(f.score_samples(x.view()).unwrap()[500] > 0.6);
}

#[test]
fn contamination_must_be_in_zero_half() {
    rejected(
        IsolationForestParams::new().contamination(0.0),
        "contamination",
    );
    rejected(
        IsolationForestParams::new().contamination(0.6),
        "contamination",
    );
}

#[test]
fn threshold_must_be_strictly_inside_unit_interval() {
    rejected(IsolationForestParams::new().threshold(0.0), "threshold");
    rejected(IsolationForestParams::new().threshold(1.0), "threshold");
    rejected(
        IsolationForestParams::new().threshold(f64::INFINITY),
        "threshold",
    );
}

#[test]
fn types_are_send_and_sync() {
    fn ok<T: Send + Sync>() {}
    ok::<IsolationForestParams>();
    ok::<IsolationForestValidParams>();
    ok::<IsolationForest>();
}

#[test]
fn average_path_length_matches_the_paper() {
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    // c(256) = 2 H(255) - 2*255/256 with H(i) ≈ ln(i) + γ
    assert!((average_path_length(256) - 10.244_770_920_095_7).abs() < 1e-9);
}

#[test]
fn same_seed_same_forest_other_seed_other_forest() {
    let x = data(2000, 5);
    let p = IsolationForestParams::new()
        .n_trees(50)
        .seed(7)
        .check()
        .unwrap();
    let a = p.fit(x.view()).unwrap();
    let b = p.fit(x.view()).unwrap();
    assert_eq!(a, b);
    // Independent of the thread pool size: fit on one thread gives the same forest.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = pool.install(|| p.fit(x.view()).unwrap());
    assert_eq!(a, c);
    let d = IsolationForestParams::new()
        .n_trees(50)
        .seed(8)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_ne!(a, d);
}

#[test]
fn outliers_score_high_and_scores_are_normalised() {
    let x = data(3000, 5);
    let f = IsolationForestParams::new()
        .seed(1)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let s = f.score_samples(x.view()).unwrap();
    assert!(s.iter().all(|&v| v > 0.0 && v <= 1.0));
    let inlier_max = s.iter().take(3000).cloned().fold(0.0, f64::max);
    let outlier_min = s.iter().skip(3000).cloned().fold(1.0, f64::min);
    assert!(outlier_min > 0.7, "outliers {outlier_min}");
    assert!(outlier_min > inlier_max, "{outlier_min} vs {inlier_max}");
    let mean = s.iter().take(3000).sum::<f64>() / 3000.0;
    assert!((0.35..0.5).contains(&mean), "inlier mean {mean}");
    let flags = f.predict(x.view()).unwrap();
    assert!(flags.iter().skip(3000).all(|&b| b));
    let dec = f.decision_function(x.view()).unwrap();
    assert!((dec[3000] - (s[3000] - 0.5)).abs() < 1e-15);
}

#[test]
fn score_one_equals_batch_for_every_layout() {
    let x = data(500, 3);
    let f = IsolationForestParams::new()
        .n_trees(37)
        .seed(3)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let s = f.score_samples(x.view()).unwrap();
    for (r, row) in x.outer_iter().enumerate() {
        assert_eq!(f.score_one(row.as_slice().unwrap()).unwrap(), s[r]);
    }
    // Column-major input scores the same.
    let mut xf = Array2::zeros(x.dim().f());
    xf.assign(&x);
    assert_eq!(f.score_samples(xf.view()).unwrap(), s);
    assert_eq!(f.score_samples(x.t().t()).unwrap(), s);
}

#[test]
fn contamination_sets_the_training_quantile() {
    let x = data(1000, 0);
    let f = IsolationForestParams::new()
        .contamination(0.1)
        .seed(2)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let flagged = f.predict(x.view()).unwrap().iter().filter(|&&b| b).count();
    assert!((95..=105).contains(&flagged), "{flagged}");
}

#[test]
fn max_samples_and_features_are_honoured() {
    let x = data(1000, 0);
    let f = IsolationForestParams::new()
        .max_samples_fraction(0.1)
        .max_features(0.5)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_eq!(f.samples_per_tree(), 100);
    let small = array![[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]];
    let f = IsolationForestParams::new()
        .check()
        .unwrap()
        .fit(small.view())
        .unwrap();
    assert_eq!(f.samples_per_tree(), 3);
    assert!(f.score_one(&[1.0, 1.0]).unwrap() > 0.0);
}

#[test]
fn constant_data_scores_one_half_everywhere_in_sample() {
    let x = Array2::from_elem((100, 2), 3.0);
    let f = IsolationForestParams::new()
        .max_samples(64)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    // Every tree is a single leaf of 64 rows: E[h] = c(64) = c(ψ), s = 0.5.
    assert!((f.score_one(&[3.0, 3.0]).unwrap() - 0.5).abs() < 1e-12);
}

#[test]
fn shape_and_non_finite_errors_name_the_input() {
    let x = data(100, 0);
    let f = IsolationForestParams::new()
        .n_trees(10)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert!(matches!(
        f.score_one(&[1.0, 2.0]),
        Err(Error::Shape {
            name: "n_features",
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        f.score_samples(Array2::zeros((4, 5)).view()),
        Err(Error::Shape {
            name: "n_features",
            expected: 3,
            got: 5
        })
    ));
    match f.score_one(&[0.0, f64::NAN, 0.0]) {
        Err(Error::NonFinite { field, .. }) => assert!(field.contains("feature 1"), "{field}"),
        other => panic!("{other:?}"),
    }
    let mut bad = data(50, 0);
    bad[[17, 2]] = f64::INFINITY;
    match f.score_samples(bad.view()) {
        Err(Error::NonFinite { field, .. }) => assert_eq!(field, "feature 2 (row 17)"),
        other => panic!("{other:?}"),
    }
    let p = IsolationForestParams::new().check().unwrap();
    assert!(matches!(p.fit(bad.view()), Err(Error::NonFinite { .. })));
    assert!(matches!(
        p.fit(Array2::zeros((0, 3)).view()),
        Err(Error::Shape {
            name: "rows",
            expected: 1,
            got: 0
        })
    ));
    assert!(matches!(
        p.fit(Array2::zeros((10, 0)).view()),
        Err(Error::Shape {
            name: "n_features",
            ..
        })
    ));
    // Empty batch is fine.
    assert_eq!(
        f.score_samples(Array2::zeros((0, 3)).view()).unwrap().len(),
        0
    );
}

#[test]
fn linfa_fit_and_predict() {
    use linfa::traits::{Fit, Predict};
    use linfa::DatasetBase;
    let x = data(400, 2);
    let ds = DatasetBase::from(x.clone());
    let via_linfa: IsolationForest = IsolationForestParams::new().seed(4).fit(&ds).unwrap();
    let direct = IsolationForestParams::new()
        .seed(4)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_eq!(via_linfa, direct);
    let scores: iops_core::ndarray::Array1<f64> = Predict::predict(&via_linfa, &x);
    assert_eq!(scores, direct.score_samples(x.view()).unwrap());
    let bad: Result<IsolationForest, Error> = IsolationForestParams::new().n_trees(0).fit(&ds);
    assert!(matches!(
        bad,
        Err(Error::InvalidParam {
            name: "n_trees",
            ..
        })
    ));
    let wrong: iops_core::ndarray::Array1<f64> =
        Predict::predict(&via_linfa, &Array2::<f64>::zeros((2, 4)));
    assert!(wrong.iter().all(|v| v.is_nan()));
}
