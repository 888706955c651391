"""iops.IsolationForest as a drop-in for sklearn.ensemble.IsolationForest: scikit-learn's own
estimator checks, a scikit-learn script run with either import, and every parameter either
honoured exactly or refused by name."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import iops

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import IsolationForest as SkForest  # noqa: E402
from sklearn.exceptions import NotFittedError as SkNotFitted  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

SAME_VERSION = pytest.mark.skipif(
    sklearn.__version__ != "1.9.1", reason=f"replicates scikit-learn 1.9.1, found {sklearn.__version__}"
)

# scikit-learn warns at collection that the estimator does not derive from its BaseEstimator
# (iops does not depend on scikit-learn); the checks themselves run under -W error.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Estimator IsolationForest does not inherit", category=UserWarning)
    _sklearn_checks = parametrize_with_checks([iops.IsolationForest()])


@_sklearn_checks
def test_scikit_learn_estimator_checks(estimator: iops.IsolationForest, check) -> None:  # noqa: ANN001
    check(estimator)


def _results(est: object) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {r["check_name"]: r["status"] for r in check_estimator(est, on_fail=None)}


@SAME_VERSION
def test_the_checks_ours_does_not_run_are_scikit_learns_sample_weight_checks() -> None:
    """check_estimator on both, in this environment: ours passes every check it runs;
    scikit-learn's own IsolationForest fails its two sample-weight equivalence checks. The
    checks run on scikit-learn's and not on ours are the sample_weight ones (fit takes no
    sample_weight); ours runs check_estimators_nan_inf, which scikit-learn's skips (it takes
    NaN)."""
    ours, theirs = _results(iops.IsolationForest()), _results(SkForest())
    assert {k for k, v in ours.items() if v not in ("passed", "skipped")} == set()
    assert {k for k, v in ours.items() if v == "skipped"} == {"check_array_api_input"}
    assert {k for k, v in theirs.items() if v == "failed"} == {
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    }
    assert set(theirs) - set(ours) == {
        "check_all_zero_sample_weights_error",
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
        "check_sample_weights_list",
        "check_sample_weights_not_an_array",
        "check_sample_weights_not_overwritten",
        "check_sample_weights_pandas_series",
        "check_sample_weights_shape",
    }
    assert set(ours) - set(theirs) == {"check_estimators_nan_inf"}


# A scikit-learn script, run as written and with the import swapped.
SCRIPT = '''
import pickle
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

rng = np.random.RandomState(42)
X = np.r_[rng.normal(size=(1500, 4)), rng.normal(4.0, 1.0, size=(40, 4))]
y = np.r_[np.zeros(1500), np.ones(40)]  # 1 = anomaly

def auc(est, X, y):
    return roc_auc_score(y, -est.score_samples(X))

pipe = Pipeline([("scale", StandardScaler()),
                 ("forest", IsolationForest(n_estimators=50, contamination=0.03, random_state=0))])
pipe.fit(X)
pipe_predict = pipe.predict(X)
pipe_scores = pipe.score_samples(X)
pipe_decision = pipe.decision_function(X)

search = GridSearchCV(IsolationForest(random_state=7),
                      {"n_estimators": [10, 60], "max_samples": [64, "auto"], "max_features": [2, 1.0]},
                      scoring=auc, cv=KFold(3, shuffle=True, random_state=1))
search.fit(X, y)
cv_table = search.cv_results_["mean_test_score"]
best = search.best_estimator_

cv_scores = cross_val_score(IsolationForest(n_estimators=30, bootstrap=True, random_state=3), X, y,
                            scoring=auc, cv=KFold(4, shuffle=True, random_state=2))

back = pickle.loads(pickle.dumps(best))
pickled_scores = back.score_samples(X)
fit_predict = IsolationForest(contamination=0.1, max_samples=0.5, random_state=11).fit_predict(X)
offset = IsolationForest(contamination=0.1, max_samples=0.5, random_state=11).fit(X).offset_
'''


def _run(script: str) -> dict[str, object]:
    ns: dict[str, object] = {}
    exec(compile(script, "<script>", "exec"), ns)  # noqa: S102 - our own test script
    return ns


@SAME_VERSION
def test_a_scikit_learn_script_gives_identical_results_with_the_import_swapped() -> None:
    swapped = SCRIPT.replace("from sklearn.ensemble import IsolationForest", "from iops import IsolationForest")
    assert swapped != SCRIPT
    theirs, ours = _run(SCRIPT), _run(swapped)
    assert isinstance(ours["best"], iops.IsolationForest) and isinstance(theirs["best"], SkForest)
    for name in ("pipe_predict", "pipe_scores", "pipe_decision", "cv_table", "cv_scores", "pickled_scores", "fit_predict"):
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert ours["offset"] == theirs["offset"]
    assert ours["search"].best_params_ == theirs["search"].best_params_
    # the script exercised what it should: outliers found, a real choice in the grid
    assert np.sum(ours["pipe_predict"] == -1) == 47  # the 3rd percentile of 1540 scores: 47 lie below
    assert len(set(np.round(ours["cv_table"], 12))) > 1


def _data() -> dict[str, np.ndarray]:
    rng = np.random.RandomState(5)
    return {
        "blobs": np.r_[rng.normal(size=(2000, 3)), rng.normal(6.0, 1.0, size=(20, 3))],
        "ties": rng.randint(0, 4, size=(800, 5)).astype(float),
        "tiny": rng.normal(size=(9, 2)),
        "wide": rng.uniform(size=(27_000, 6)),  # 256 of them: below 1%, scikit-learn's other draw
    }


PARAMS = [
    {},
    {"n_estimators": 37, "max_samples": 100},
    {"max_samples": 0.3, "max_features": 0.5},
    {"max_features": 2},
    {"bootstrap": True},
    {"bootstrap": True, "max_samples": 0.2, "contamination": 0.2},
    {"contamination": 0.01},
    {"max_samples": 1},
    {"n_jobs": 2, "verbose": 1},
]


@SAME_VERSION
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_scores_and_predictions_equal_scikit_learns_bit_for_bit(params: dict[str, object]) -> None:
    for name, X in _data().items():
        for seed in (0, 3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # max_samples > rows: both warn
                sk = SkForest(random_state=seed, **params).fit(X)
                ours = iops.IsolationForest(random_state=seed, **params).fit(X)
            where = f"{name}, seed {seed}"
            assert ours.offset_ == sk.offset_, where
            assert ours.max_samples_ == sk.max_samples_, where
            np.testing.assert_array_equal(ours.score_samples(X), sk.score_samples(X), err_msg=where)
            np.testing.assert_array_equal(ours.decision_function(X), sk.decision_function(X), err_msg=where)
            np.testing.assert_array_equal(ours.predict(X), sk.predict(X), err_msg=where)
            probe = X[:3] * 1.7 + 0.3
            np.testing.assert_array_equal(ours.score_samples(probe), sk.score_samples(probe), err_msg=where)


def test_a_fraction_selecting_no_rows_fails_in_both() -> None:
    X = _data()["tiny"]  # 0.05 of 9 rows is no row
    with pytest.raises(ValueError):
        SkForest(max_samples=0.05).fit(X)
    with pytest.raises(iops.InvalidParamError) as e:
        iops.IsolationForest(max_samples=0.05).fit(X)
    assert e.value.name == "max_samples"


def test_one_row_fits_as_in_scikit_learn() -> None:
    est = iops.IsolationForest(random_state=0).fit(np.array([[1.0, 2.0, 3.0]]))
    assert est.max_samples_ == 1
    np.testing.assert_array_equal(est.score_samples(np.array([[1.0, 2.0, 3.0], [9.0, 9.0, 9.0]])), [-0.5, -0.5])
    np.testing.assert_array_equal(est.predict(np.zeros((2, 3))), [1, 1])


def test_n_jobs_and_verbose_never_change_results() -> None:
    X = _data()["blobs"]
    base = iops.IsolationForest(random_state=4).fit(X).score_samples(X)
    for params in ({"n_jobs": 1}, {"n_jobs": -1}, {"n_jobs": 8}, {"verbose": 2}):
        np.testing.assert_array_equal(iops.IsolationForest(random_state=4, **params).fit(X).score_samples(X), base)


def test_random_state_none_or_a_randomstate_draws_the_seed_like_scikit_learn_would() -> None:
    X = _data()["blobs"]
    # None: numpy's global RandomState, as scikit-learn's check_random_state(None)
    np.random.seed(123)
    a = iops.IsolationForest().fit(X)
    np.random.seed(123)
    b = iops.IsolationForest().fit(X)
    assert a.seed_ == b.seed_ == np.random.RandomState(123).randint(2**31 - 1)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    c = iops.IsolationForest().fit(X)  # the global state moved on: another forest
    assert c.seed_ != a.seed_
    # a RandomState: drawn from it; the seed is recorded and refits to the same forest
    rs = np.random.RandomState(9)
    d = iops.IsolationForest(random_state=rs).fit(X)
    assert d.seed_ == np.random.RandomState(9).randint(2**31 - 1)
    e = iops.IsolationForest(random_state=d.seed_).fit(X)
    np.testing.assert_array_equal(d.score_samples(X), e.score_samples(X))
    assert d.model_.hyperparameters["seed"] == d.seed_
    assert d.get_params()["random_state"] is rs  # the parameter is left as given


def test_old_names_are_aliases() -> None:
    X = _data()["blobs"]
    old = iops.IsolationForest(n_trees=20, seed=3).fit(X)
    new = iops.IsolationForest(n_estimators=20, random_state=3).fit(X)
    assert old.get_params() == new.get_params()
    np.testing.assert_array_equal(old.score_samples(X), new.score_samples(X))
    est = iops.IsolationForest().set_params(n_trees=15, seed=2)
    assert (est.n_estimators, est.random_state) == (15, 2)
    # the same value twice is fine; two values are refused, naming the alias
    assert iops.IsolationForest(n_estimators=20, n_trees=20).n_estimators == 20
    with pytest.raises(iops.InvalidParamError) as e:
        iops.IsolationForest().set_params(n_estimators=5, n_trees=6)
    assert e.value.name == "n_trees"
    # a conflict from the constructor is cleared by setting either name
    est = iops.IsolationForest(random_state=1, seed=2).set_params(random_state=5)
    assert est.fit(X).seed_ == 5


def test_warm_start_is_refused_with_a_hint() -> None:
    with pytest.raises(iops.InvalidParamError, match="larger n_estimators") as e:
        iops.IsolationForest(warm_start=True).fit(_data()["tiny"])
    assert e.value.name == "warm_start"


def test_sample_weight_is_not_a_parameter() -> None:
    X = _data()["tiny"]
    with pytest.raises(TypeError, match="sample_weight"):
        iops.IsolationForest().fit(X, sample_weight=np.ones(len(X)))  # type: ignore[call-arg]


def test_not_fitted_is_scikit_learns_error_too() -> None:
    est = iops.IsolationForest()
    with pytest.raises(SkNotFitted) as e:
        est.decision_function(np.zeros((2, 2)))
    assert isinstance(e.value, iops.NotFittedError) and isinstance(e.value, iops.IopsError)
    assert type(e.value).__name__ == "NotFittedError"


def test_sparse_and_complex_input_are_refused_by_name() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    X = _data()["tiny"]
    for make in (sparse.csr_matrix, sparse.csc_array):
        with pytest.raises(iops.InvalidFieldError, match="sparse input is not supported") as e:
            iops.IsolationForest().fit(make(X))
        assert e.value.field == "X"
    est = iops.IsolationForest().fit(X)
    with pytest.raises(iops.InvalidFieldError, match="sparse"):
        est.predict(sparse.csr_matrix(X))
    with pytest.raises(iops.InvalidFieldError, match="Complex data not supported") as e:
        iops.IsolationForest().fit(X + 1j)
    assert e.value.field == "X"


def test_pickles_from_before_the_scikit_learn_names_still_load() -> None:
    X = _data()["blobs"]
    est = iops.IsolationForest(n_estimators=12, random_state=6, contamination=0.05).fit(X)
    old_state = {
        "n_trees": 12, "max_samples": "auto", "max_features": 1.0, "contamination": 0.05,
        "threshold": None, "seed": 6, "model_": est.model_.to_json(), "n_features_in_": 3,
        "threshold_": est.threshold_, "offset_": -est.threshold_, "max_samples_": 256,
    }
    back = iops.IsolationForest.__new__(iops.IsolationForest)
    back.__setstate__(old_state)
    assert back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.score_samples(X), est.score_samples(X))
    assert pickle.loads(pickle.dumps(back)).get_params() == est.get_params()
