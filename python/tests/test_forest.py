"""IsolationForest: scikit-learn conventions and behaviour of the fitted model."""

from __future__ import annotations

import numpy as np
import pytest

import iops


def test_fit_returns_self_and_sets_fitted_attributes(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=50, random_state=3)
    assert not hasattr(est, "model_")
    assert est.fit(blobs) is est
    assert isinstance(est.model_, iops.ForestModel)
    assert est.n_features_in_ == 3
    assert est.threshold_ == 0.5 and est.offset_ == -0.5
    assert est.max_samples_ == 256 and est.seed_ == 3
    assert not hasattr(est, "feature_names_in_")
    assert est.model_.n_trees == 50


def test_constructor_only_stores_params() -> None:
    est = iops.IsolationForest(n_estimators=-5, max_samples="nonsense", contamination=7, warm_start=True)
    assert est.get_params() == {
        "bootstrap": False,
        "contamination": 7,
        "max_features": 1.0,
        "max_samples": "nonsense",
        "n_estimators": -5,
        "n_jobs": None,
        "random_state": None,
        "threshold": None,
        "verbose": 0,
        "warm_start": True,
    }


def test_get_set_params_and_repr() -> None:
    est = iops.IsolationForest()
    assert repr(est) == "IsolationForest()"
    assert est.set_params(n_estimators=10, contamination=0.1) is est
    assert est.get_params()["n_estimators"] == 10
    assert repr(est) == "IsolationForest(contamination=0.1, n_estimators=10)"
    with pytest.raises(ValueError, match="Invalid parameter 'n_treees'"):
        est.set_params(n_treees=3)


def test_sign_conventions_match_scikit_learn(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(random_state=1).fit(blobs)
    s = est.anomaly_score(blobs)  # paper score, higher = anomalous
    assert np.all((s > 0) & (s <= 1))
    # score_samples is -s(x) in numpy's arithmetic (scikit-learn's), s(x) in Rust's: the same
    # number up to the last bits of the double (exp2/ln against numpy's power/log)
    np.testing.assert_allclose(est.score_samples(blobs), -s, rtol=8 * np.finfo(float).eps, atol=0)
    np.testing.assert_array_equal(est.decision_function(blobs), est.score_samples(blobs) - est.offset_)
    assert est.offset_ == -est.threshold_ == -0.5
    pred = est.predict(blobs)
    assert set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, est.decision_function(blobs) < 0)
    # the five far rows are the outliers, and the most anomalous ones
    assert np.all(pred[500:] == -1)
    assert set(np.argsort(s)[-5:]) == set(range(500, 505))


def test_contamination_sets_the_training_quantile(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(contamination=0.1, random_state=0).fit(blobs)
    share = np.mean(est.predict(blobs) == -1)
    assert 0.09 <= share <= 0.11
    # the model's threshold: numpy's quantile of the native scores, as `iops train` computes it
    s = est.anomaly_score(blobs)
    assert est.threshold_ == np.quantile(s, 0.9) == est.model_.threshold
    # offset_: scikit-learn's, the percentile of score_samples
    assert est.offset_ == np.percentile(est.score_samples(blobs), 10.0)
    np.testing.assert_allclose(est.offset_, -est.threshold_, rtol=8 * np.finfo(float).eps, atol=0)
    assert est.model_.hyperparameters["contamination"] == 0.1


def test_fixed_threshold(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(threshold=0.7).fit(blobs)
    assert est.threshold_ == 0.7
    np.testing.assert_array_equal(est.predict(blobs) == -1, est.anomaly_score(blobs) > 0.7)


def test_seed_determines_the_forest(blobs: np.ndarray) -> None:
    a = iops.IsolationForest(n_estimators=30, random_state=5).fit(blobs).anomaly_score(blobs)
    b = iops.IsolationForest(n_estimators=30, random_state=5).fit(blobs).anomaly_score(blobs)
    c = iops.IsolationForest(n_estimators=30, random_state=6).fit(blobs).anomaly_score(blobs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("max_samples", "psi"), [("auto", 256), (100, 100), (0.5, 252), (1.0, 505), (1, 1)])
def test_max_samples_count_fraction_and_auto(blobs: np.ndarray, max_samples: object, psi: int) -> None:
    est = iops.IsolationForest(n_estimators=5, max_samples=max_samples).fit(blobs)
    assert est.max_samples_ == psi


def test_max_samples_above_the_rows_warns_as_scikit_learn_and_uses_them_all(blobs: np.ndarray) -> None:
    with pytest.warns(UserWarning, match=r"^max_samples \(10000\) is greater than the total number of samples \(505\)"):
        est = iops.IsolationForest(n_estimators=5, max_samples=10_000).fit(blobs)
    assert est.max_samples_ == 505


def test_input_layouts_are_scored_identically(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=20, random_state=0).fit(blobs)
    expected = est.anomaly_score(blobs)
    fortran = np.asfortranarray(blobs)
    np.testing.assert_array_equal(est.anomaly_score(fortran), expected)
    wide = np.hstack([blobs, blobs])[:, ::2]  # strided columns, not contiguous
    np.testing.assert_array_equal(est.anomaly_score(np.ascontiguousarray(wide)), est.anomaly_score(wide))
    np.testing.assert_array_equal(est.anomaly_score(blobs.tolist()), expected)
    np.testing.assert_array_equal(est.anomaly_score(blobs.astype(np.float32)), est.anomaly_score(blobs.astype(np.float32).astype(np.float64)))
    # small batches (scored on the calling thread) and large ones (in parallel) agree
    for i in (0, 17, 504):
        assert est.anomaly_score(blobs[i : i + 1])[0] == expected[i]
        assert est.model_.score_one(blobs[i]) == expected[i]
    # fitting on a Fortran-ordered copy grows the same trees
    np.testing.assert_array_equal(
        iops.IsolationForest(n_estimators=20, random_state=0).fit(fortran).anomaly_score(blobs), expected
    )
    np.testing.assert_array_equal(est.score_samples(fortran), est.score_samples(blobs))
    np.testing.assert_array_equal(est.score_samples(wide), est.score_samples(np.ascontiguousarray(wide)))


def test_large_batch_in_parallel_matches_rows(blobs: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10_000, 3))
    est = iops.IsolationForest(n_trees=20).fit(blobs)
    batch = est.anomaly_score(x)
    rows = np.array([est.model_.score_one(r) for r in x[:200]])
    np.testing.assert_array_equal(batch[:200], rows)


def test_dataframe_feature_names(blobs: np.ndarray) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=["cpuUsage", "memoryUsage", "diskIO"])
    est = iops.IsolationForest(n_estimators=10).fit(df)
    assert list(est.feature_names_in_) == ["cpuUsage", "memoryUsage", "diskIO"]
    assert est.model_.feature_names == ["cpuUsage", "memoryUsage", "diskIO"]
    # scikit-learn's rules: rows without names warn, other names (or order) are an error
    with pytest.warns(UserWarning, match="X does not have valid feature names, but IsolationForest was fitted with"):
        np.testing.assert_array_equal(est.predict(df), est.predict(blobs))
    with pytest.raises(iops.InvalidFieldError, match="The feature names should match") as e:
        est.predict(df[["memoryUsage", "cpuUsage", "diskIO"]])
    assert e.value.field == "feature_names"
    # refit on plain arrays drops the names
    assert not hasattr(est.fit(blobs), "feature_names_in_")
    assert est.model_.feature_names == ["x0", "x1", "x2"]
    with pytest.warns(UserWarning, match="X has feature names, but IsolationForest was fitted without"):
        est.predict(df)


def test_not_fitted() -> None:
    est = iops.IsolationForest()
    for method in (est.predict, est.decision_function, est.score_samples, est.anomaly_score):
        with pytest.raises(iops.NotFittedError, match="not fitted"):
            method(np.zeros((1, 2)))
    assert not hasattr(est, "model_")
    assert issubclass(iops.NotFittedError, iops.IopsError)
    assert issubclass(iops.NotFittedError, AttributeError)


def test_shapes_are_checked(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=5).fit(blobs)
    with pytest.raises(iops.ShapeError, match="2-d.*Reshape your data") as e:
        est.predict(blobs[0])
    assert (e.value.name, e.value.expected, e.value.got) == ("ndim", 2, 1)
    with pytest.raises(iops.ShapeError, match="^X has 4 features, but IsolationForest is expecting 3 features") as e:
        est.predict(np.zeros((3, 4)))
    assert (e.value.name, e.value.expected, e.value.got) == ("n_features", 3, 4)
    with pytest.raises(iops.ShapeError, match=r"0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1") as e:
        iops.IsolationForest().fit(np.zeros((0, 3)))
    assert (e.value.name, e.value.expected, e.value.got) == ("rows", 1, 0)
    with pytest.raises(iops.ShapeError, match=r"0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1") as e:
        iops.IsolationForest().fit(np.zeros((4, 0)))
    assert e.value.name == "n_features"
    # an empty batch scores to nothing
    assert est.score_samples(np.zeros((0, 3))).shape == (0,)


def test_fit_predict(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=10, random_state=2)
    np.testing.assert_array_equal(est.fit_predict(blobs), est.predict(blobs))


def test_training_summary(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=10).fit(blobs)
    t = est.model_.training
    assert t["rows"] == 505
    assert [q["q"] for q in t["score_quantiles"]] == [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]
    s = est.anomaly_score(blobs)
    assert t["score_quantiles"][-1]["score"] == s.max()
    assert t["threshold"] == est.threshold_
