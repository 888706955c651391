"""Every core error kind raises its own exception class, with the variant's fields."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import iops

KINDS = [
    iops.InvalidParamError,
    iops.NonFiniteError,
    iops.InvalidFieldError,
    iops.DecodeError,
    iops.EvaluationError,
    iops.ShapeError,
    iops.ArtifactError,
    iops.ArtifactChecksumError,
    iops.ArtifactTooLargeError,
    iops.ArtifactVersionError,
    iops.LinfaError,
]

METRIC = {
    "timestamp": "2026-11-26T17:00:00Z",
    "hostname": "web-1",
    "cpuUsage": 75.5,
    "memoryUsage": 82.3,
    "diskIO": 200.5,
    "networkIO": 150.2,
}


def test_hierarchy() -> None:
    assert issubclass(iops.IopsError, ValueError)
    assert iops.IopsError.__module__ == "iops"
    for cls in KINDS:
        assert issubclass(cls, iops.IopsError), cls
    assert len(set(KINDS)) == len(KINDS)
    for cls in (iops.ArtifactChecksumError, iops.ArtifactTooLargeError, iops.ArtifactVersionError):
        assert issubclass(cls, iops.ArtifactError)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"n_estimators": -1}, "n_estimators"),
        ({"n_estimators": 2.0}, "n_estimators"),
        ({"n_trees": 0}, "n_estimators"),  # the alias sets n_estimators
        ({"max_samples": 0}, "max_samples"),
        ({"max_samples": 1.5}, "max_samples"),
        ({"max_samples": 0.05}, "max_samples"),  # selects no row of 10 (native check)
        ({"max_features": 0.0}, "max_features"),
        ({"max_features": 3}, "max_features"),  # more than the 2 features (native check)
        ({"contamination": 0.6}, "contamination"),
        ({"contamination": "high"}, "contamination"),
        ({"threshold": 1.0}, "threshold"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": 2**64}, "random_state"),
        ({"random_state": "fixed"}, "random_state"),
        ({"random_state": np.random.default_rng(0)}, "random_state"),
        ({"seed": -1}, "random_state"),
        ({"bootstrap": "yes"}, "bootstrap"),
        ({"n_jobs": "all"}, "n_jobs"),
        ({"verbose": -1}, "verbose"),
        ({"warm_start": True}, "warm_start"),
        ({"warm_start": 1}, "warm_start"),
        ({"contamination": 0.1, "threshold": 0.6}, "contamination"),
        ({"n_estimators": 50, "n_trees": 60}, "n_trees"),
        ({"random_state": 1, "seed": 2}, "seed"),
    ],
)
def test_invalid_forest_params(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(iops.InvalidParamError) as e:
        iops.IsolationForest(**kwargs).fit(np.zeros((10, 2)))
    assert e.value.name == name and e.value.field == name
    assert isinstance(e.value.reason, str) and e.value.reason


def test_invalid_detector_and_engine_params() -> None:
    with pytest.raises(iops.InvalidParamError) as e:
        iops.ZScore(window=1)
    assert e.value.name == "window"
    with pytest.raises(iops.InvalidParamError) as e:
        iops.Ewma(alpha=0.5, half_life=3.0)
    assert e.value.name == "half_life"
    with pytest.raises(iops.InvalidParamError) as e:
        iops.InsightEngine(info_score=2.0)
    assert e.value.name == "info_score"
    with pytest.raises(iops.InvalidParamError) as e:
        iops.InsightEngine(window_seconds="long")
    assert e.value.name == "window_seconds"
    with pytest.raises(TypeError, match="unexpected keyword argument 'windw'"):
        iops.InsightEngine(windw=3)


def test_non_finite() -> None:
    x = np.zeros((10, 2))
    x[7, 1] = math.nan
    with pytest.raises(iops.NonFiniteError) as e:
        iops.IsolationForest().fit(x)
    assert e.value.field == "feature 1 (row 7)" and math.isnan(e.value.value)
    est = iops.IsolationForest(n_trees=5).fit(np.arange(20.0).reshape(10, 2))
    for rows in (3, 100):  # small batch (calling thread) and large batch (parallel)
        y = np.zeros((rows, 2))
        y[2, 0] = math.inf
        with pytest.raises(iops.NonFiniteError) as e:
            est.predict(y)
        assert e.value.field == "feature 0 (row 2)" and e.value.value == math.inf
    z = iops.ZScore()
    with pytest.raises(iops.NonFiniteError):
        z.update(math.nan)
    assert z.n_seen == 0


def test_invalid_field() -> None:
    engine = iops.InsightEngine()
    with pytest.raises(iops.InvalidFieldError) as e:
        engine.process({**METRIC, "cpuUsage": 140.0})
    assert e.value.field == "cpuUsage" and "between 0 and 100" in e.value.reason
    with pytest.raises(iops.InvalidFieldError) as e:
        engine.process({k: v for k, v in METRIC.items() if k != "hostname"})
    assert e.value.field == "hostname"
    with pytest.raises(iops.InvalidFieldError) as e:
        engine.process("not json")
    assert e.value.field == "body"
    assert engine.hosts() == []  # nothing learned from bad input


def test_decode() -> None:
    with pytest.raises(iops.DecodeError) as e:
        iops.ForestModel.from_json('{"format_version": 1, "checksum": "sha256:00"')
    assert e.value.what == "model artifact" and "truncated" in e.value.reason
    with pytest.raises(iops.DecodeError):
        iops.ZScore.from_json('{"params": {}}')
    with pytest.raises(iops.DecodeError):
        iops.InsightEngine().restore_host("web-1", "[]")


def test_evaluation() -> None:
    with pytest.raises(iops.EvaluationError):
        iops.roc_auc([0.1, 0.2], [0, 0])
    with pytest.raises(iops.EvaluationError):
        iops.score_series(np.zeros(3), np.zeros(4))


def _artifact() -> str:
    return iops.IsolationForest(n_trees=3, max_samples=8).fit(np.arange(40.0).reshape(20, 2)).model_.to_json()


def test_artifact_checksum() -> None:
    doc = json.loads(_artifact())
    doc["payload"]["threshold"] = 0.6
    with pytest.raises(iops.ArtifactChecksumError) as e:
        iops.ForestModel.from_json(json.dumps(doc))
    assert e.value.expected == doc["checksum"] and e.value.actual != e.value.expected


def test_artifact_version() -> None:
    doc = json.loads(_artifact())
    doc["format_version"] = 99
    with pytest.raises(iops.ArtifactVersionError) as e:
        iops.ForestModel.from_json(json.dumps(doc))
    assert (e.value.found, e.value.supported) == (99, 2)


def test_artifact_too_large() -> None:
    with pytest.raises(iops.ArtifactTooLargeError) as e:
        iops.ForestModel.from_json(b" " * ((64 << 20) + 1))
    assert (e.value.size, e.value.limit) == ((64 << 20) + 1, 64 << 20)


def test_messages_are_the_core_messages() -> None:
    with pytest.raises(
        iops.InvalidParamError, match=r"^invalid parameter `max_features` = 3: must be at most the number of features$"
    ):
        iops.IsolationForest(max_features=3).fit(np.zeros((4, 1)))
    # the estimator's own checks (scikit-learn's parameter names) read the same way
    with pytest.raises(iops.InvalidParamError, match=r"^invalid parameter `n_estimators` = 0: must be an int in 1..=100000$"):
        iops.IsolationForest(n_estimators=0).fit(np.zeros((4, 1)))
