"""Pickling: estimators through model.json text, detectors and engines through serde state."""

from __future__ import annotations

import pickle

import numpy as np

import iops
from test_errors import METRIC


def test_fitted_forest_pickles_as_artifact_json(blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=20, contamination=0.05, random_state=9).fit(blobs)
    state = est.__getstate__()
    assert isinstance(state["model_"], str) and state["model_"] == est.model_.to_json()
    back = pickle.loads(pickle.dumps(est))
    assert back.get_params() == est.get_params()
    assert back.threshold_ == est.threshold_ and back.offset_ == est.offset_ and back.n_features_in_ == 3
    assert back.seed_ == est.seed_ == 9
    np.testing.assert_array_equal(back.decision_function(blobs), est.decision_function(blobs))
    np.testing.assert_array_equal(back.score_samples(blobs), est.score_samples(blobs))
    assert back.model_.to_json() == est.model_.to_json()


def test_unfitted_forest_pickles() -> None:
    back = pickle.loads(pickle.dumps(iops.IsolationForest(n_estimators=7)))
    assert back.n_estimators == 7 and not hasattr(back, "model_")


def test_native_model_pickles(blobs: np.ndarray) -> None:
    model = iops.IsolationForest(n_estimators=5).fit(blobs).model_
    back = pickle.loads(pickle.dumps(model))
    assert isinstance(back, iops.ForestModel)
    np.testing.assert_array_equal(back.score_samples(blobs), model.score_samples(blobs))


def test_detectors_continue_identically_after_pickling() -> None:
    xs = np.sin(np.arange(300) / 5.0) * 10 + np.arange(300) % 3
    for make in (lambda: iops.ZScore(window=50, robust=True), lambda: iops.Ewma(half_life=12.0)):
        a = make()
        a.score_and_update_many(xs[:150])
        b = pickle.loads(pickle.dumps(a))
        assert type(b) is type(a) and b.n_seen == 150
        np.testing.assert_array_equal(a.score_and_update_many(xs[150:]), b.score_and_update_many(xs[150:]))


def test_engine_continues_identically_after_pickling() -> None:
    a = iops.InsightEngine(window_seconds=9000, season_seconds=0, min_samples=5, calibration_min_samples=10)
    samples = [
        {**METRIC, "timestamp": 1_764_000_000 + 300 * i, "cpuUsage": 40.0 + i % 5} for i in range(60)
    ]
    a.process_many(samples[:40])
    b = pickle.loads(pickle.dumps(a))
    assert b.params == a.params and b.hosts() == ["web-1"]
    sa, ia = a.process_many(samples[40:])
    sb, ib = b.process_many(samples[40:])
    np.testing.assert_array_equal(sa, sb)
    assert ia == ib
