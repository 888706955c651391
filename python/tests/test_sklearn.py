"""Drop-in use with scikit-learn: clone, Pipeline, model selection, tags."""

from __future__ import annotations

import numpy as np
import pytest

import iops

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone, is_outlier_detector  # noqa: E402
from sklearn.metrics import make_scorer, roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402
from sklearn.exceptions import NotFittedError as SkNotFitted  # noqa: E402


def test_clone_copies_params_not_fit(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=15, max_samples=0.8, contamination=0.05, random_state=4).fit(blobs)
    c = clone(est)
    assert c is not est and c.get_params() == est.get_params()
    assert not hasattr(c, "model_")
    np.testing.assert_array_equal(c.fit(blobs).predict(blobs), est.predict(blobs))


def test_check_is_fitted_and_tags(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=5)
    with pytest.raises(SkNotFitted):
        check_is_fitted(est)
    check_is_fitted(est.fit(blobs))
    assert is_outlier_detector(est)


def test_pipeline(blobs: np.ndarray) -> None:
    pipe = make_pipeline(StandardScaler(), iops.IsolationForest(n_estimators=30, random_state=1))
    pipe.fit(blobs)
    pred = pipe.predict(blobs)
    assert np.all(pred[500:] == -1)
    scaled = StandardScaler().fit_transform(blobs)
    alone = iops.IsolationForest(n_estimators=30, random_state=1).fit(scaled)
    np.testing.assert_array_equal(pipe.decision_function(blobs), alone.decision_function(scaled))
    np.testing.assert_array_equal(pipe.score_samples(blobs), alone.score_samples(scaled))


def test_grid_search_over_params(blobs: np.ndarray) -> None:
    y = np.r_[np.zeros(500), np.ones(5)]  # 1 = anomaly

    def auc(est: iops.IsolationForest, X: np.ndarray, y: np.ndarray) -> float:
        return roc_auc_score(y, -est.score_samples(X))

    search = GridSearchCV(
        iops.IsolationForest(random_state=0),
        {"n_estimators": [5, 40], "max_samples": [32, "auto"]},
        scoring=auc,
        cv=[(np.arange(505), np.arange(505))],
    )
    search.fit(blobs, y)
    assert set(search.best_params_) == {"n_estimators", "max_samples"}
    assert search.best_score_ > 0.99
    assert isinstance(search.best_estimator_, iops.IsolationForest)
    assert make_scorer  # imported API exists in this scikit-learn
