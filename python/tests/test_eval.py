"""Evaluation metrics: ROC AUC and average precision vs scikit-learn, NAB scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import iops


def test_roc_auc_and_ap_match_scikit_learn_with_ties() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(2000), 2)  # many ties
    labels = rng.random(2000) < 0.1
    assert iops.roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)
    assert iops.average_precision(scores, labels) == pytest.approx(
        metrics.average_precision_score(labels, scores), abs=1e-12
    )
    assert iops.roc_auc(scores, labels.astype(int)) == iops.roc_auc(scores, labels)
    assert iops.roc_auc(scores.tolist(), labels.tolist()) == iops.roc_auc(scores, labels)


def test_nab_doc_example_is_perfect() -> None:
    labels = {"cat/a.csv": [["2024-01-01 00:00:05", "2024-01-01 00:00:06"]]}
    t = 1_704_067_200.0 + np.arange(10.0)
    s = np.zeros(10)
    s[5] = 0.9
    r = iops.nab_score({"cat/a.csv": (t, s)}, labels)
    assert (r["tp"], r["fp"]) == (1, 0)
    assert r["score"] == pytest.approx(100.0, abs=1e-9)
    assert iops.nab_timestamp("2024-01-01 00:00:05") == t[5]
    with pytest.raises(iops.EvaluationError):
        iops.nab_score({"cat/b.csv": (t, s)}, labels)


def test_nab_profiles_and_engine_on_shared_corpus(shared: Path) -> None:
    nab = shared / "data/nab"
    profiles = iops.nab_profiles(nab / "config/profiles.json")
    assert list(profiles)[0] == "standard"
    assert profiles["standard"] == {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}
    labels = (nab / "labels/combined_windows.json").read_text()
    import json

    files = {}
    for name in json.loads(labels):
        rows = (nab / "data" / name).read_text().splitlines()[1:]
        t = np.array([iops.nab_timestamp(r.split(",")[0]) for r in rows])
        v = np.array([float(r.split(",")[1]) for r in rows])
        files[name] = (t, iops.score_series(t, v))
    r = iops.nab_score(files, labels, profiles["standard"])
    # the engine's NAB standard score (README: 69.53); a detector that learned nothing
    # scores about 0, so 60 is a real bar
    assert r["score"] > 60.0, r
