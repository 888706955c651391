"""model.json round trips: the golden fixture written by Rust, the Rust CLI's output, and
Python's own files, all read by the same core loader."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import iops
from conftest import golden_metrics

PROBES = np.array([[45.0, 62.0, 210.0, 155.0], [99.0, 99.0, 900.0, 0.0], [30.0, 55.0, 170.0, 130.0]])
# crates/iops-core/tests/forest_artifact.rs: the fixture's scores, bit-exact.
GOLDEN_SCORES = [0.5008107967473715, 0.613812479350635, 0.5716533977217673]
GOLDEN_THRESHOLD = 0.5920389804038348
NAMES = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]


def payload(text: str) -> dict:
    doc = json.loads(text)
    assert doc["format_version"] in (1, 2)  # the fixture's, and what this build writes
    p = doc["payload"]
    del p["created_at"]
    return p


def test_golden_fixture_loads_and_scores_bit_exactly(root: Path) -> None:
    est = iops.load_model(root / "tests/fixtures/model_v1.json")
    assert isinstance(est, iops.IsolationForest)
    assert est.anomaly_score(PROBES).tolist() == GOLDEN_SCORES
    assert est.threshold_ == GOLDEN_THRESHOLD
    assert list(est.feature_names_in_) == NAMES
    assert est.model_.training["rows"] == 300
    assert est.model_.created_at == "2026-01-02T03:04:05Z"
    assert est.get_params() == {
        "n_estimators": 12,
        "max_samples": 32,
        "max_features": 1.0,
        "bootstrap": False,
        "contamination": 0.05,
        "threshold": None,
        "random_state": 2024,
        "n_jobs": None,
        "verbose": 0,
        "warm_start": False,
    }
    # a loaded model's offset_ is its threshold's
    assert est.offset_ == -GOLDEN_THRESHOLD and est.seed_ == 2024


def test_python_fit_of_the_fixtures_data_grows_scikit_learns_trees(root: Path) -> None:
    """Same data, same parameters as the golden fixture: the payload matches it except for
    what the trees decide. The fixture's trees came from the random stream used before the
    forest grew scikit-learn's trees; a fit now grows exactly scikit-learn's for the seed."""
    params = iops.load_model(root / "tests/fixtures/model_v1.json").get_params()
    est = iops.IsolationForest(**params)
    import pandas as pd

    x = golden_metrics(300)
    est.fit(pd.DataFrame(x, columns=NAMES))
    fixture = payload((root / "tests/fixtures/model_v1.json").read_text())
    ours = payload(est.model_.to_json())
    decided_by_trees = {"trees", "threshold", "training"}
    assert {k: v for k, v in ours.items() if k not in decided_by_trees} == {
        k: v for k, v in fixture.items() if k not in decided_by_trees
    }
    assert len(ours["trees"]) == len(fixture["trees"]) == 12
    sklearn = pytest.importorskip("sklearn")
    if sklearn.__version__ != "1.9.1":
        pytest.skip(f"replicates scikit-learn 1.9.1, found {sklearn.__version__}")
    from sklearn.ensemble import IsolationForest as SkForest
    from test_sklearn_trees import sklearn_trees

    sk = SkForest(n_estimators=12, max_samples=32, random_state=params["random_state"]).fit(x)
    assert ours["trees"] == sklearn_trees(sk)


def test_save_load_round_trip(tmp_path: Path, blobs: np.ndarray, root: Path) -> None:
    est = iops.IsolationForest(n_estimators=25, max_samples=0.5, max_features=0.7, threshold=0.62, random_state=11).fit(blobs)
    path = iops.save_model(est, tmp_path / "model.json")
    assert path == tmp_path / "model.json"
    back = iops.load_model(path)
    assert back.get_params() == est.get_params()
    assert back.model_.to_json() == est.model_.to_json() == path.read_text()
    np.testing.assert_array_equal(back.predict(blobs), est.predict(blobs))
    # a directory means dir/model.json (SageMaker's /opt/ml/model layout)
    assert iops.save_model(est.model_, tmp_path) == path
    assert iops.load_model(tmp_path).model_.to_json() == est.model_.to_json()
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary left behind
    # a model loaded from model.json names its features, and scores plain rows without
    # scikit-learn's feature-name warning (the runtimes send plain rows), pickled too
    named = iops.load_model(root / "tests/fixtures/model_v1.json")
    assert list(named.feature_names_in_) == NAMES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        named.predict(PROBES)
        pickle.loads(pickle.dumps(named)).predict(PROBES)


def test_reindented_artifact_still_loads(tmp_path: Path, blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_estimators=5).fit(blobs)
    (tmp_path / "m.json").write_text(json.dumps(json.loads(est.model_.to_json()), indent=2))
    np.testing.assert_array_equal(iops.load_model(tmp_path / "m.json").anomaly_score(blobs), est.anomaly_score(blobs))


def test_rust_cli_model_loads_in_python(tmp_path: Path, root: Path) -> None:
    """`iops train` (Rust CLI) writes model.json; Python loads it, scores identically to its
    own fit with the same parameters, and both payloads are equal."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo not on PATH")
    x = golden_metrics(400)
    csv = tmp_path / "train.csv"
    np.savetxt(csv, x, delimiter=",", fmt="%.17g", header=",".join(NAMES), comments="")
    out = tmp_path / "rust-model.json"
    subprocess.run(
        [cargo, "run", "-q", "-p", "iops-cli", "--", "train", "--input", str(csv), "--out", str(out),
         "--n-trees", "20", "--max-samples", "64", "--contamination", "0.02", "--seed", "7",
         "--features", "raw"],
        cwd=root, check=True, capture_output=True,
    )
    rust = iops.load_model(out)
    mine = iops.IsolationForest(n_estimators=20, max_samples=64, contamination=0.02, random_state=7)
    import pandas as pd

    df = pd.DataFrame(x, columns=NAMES)
    mine.fit(df)
    assert payload(out.read_text()) == payload(mine.model_.to_json())
    np.testing.assert_array_equal(rust.anomaly_score(x), mine.anomaly_score(df))
    np.testing.assert_array_equal(rust.predict(PROBES), mine.predict(pd.DataFrame(PROBES, columns=NAMES)))


def test_fit_leaves_the_summary_until_the_model_is_used(blobs: np.ndarray) -> None:
    """IsolationForest.fit does not score the training rows; model_ (save_model, pickling,
    the engine) computes the summary from them on first use: the same file as a fit that
    summarizes at once (what `iops train` and ForestModel.fit do)."""
    X = blobs.copy()
    est = iops.IsolationForest(n_estimators=20, random_state=3).fit(X)
    assert not est.__dict__["_forest"].summarized  # nothing scored the rows
    assert est.__dict__["_training_rows"] is X  # kept by reference, not copied
    at_once = iops.ForestModel.fit(X, n_trees=20, seed=3)
    assert at_once.summarized
    model = est.model_
    assert model.summarized and "_training_rows" not in est.__dict__
    assert model.training == at_once.training
    assert payload(model.to_json()) == payload(at_once.to_json())


def test_rows_changed_after_fit_are_refused_when_saving(tmp_path: Path, blobs: np.ndarray) -> None:
    X = blobs.copy()
    est = iops.IsolationForest(random_state=0).fit(X)
    X[3, 1] += 1.0
    with pytest.raises(iops.InvalidFieldError, match="not the rows the forest was fitted on") as e:
        iops.save_model(est, tmp_path)
    assert e.value.field == "x"
    assert list(tmp_path.iterdir()) == []


def test_a_contamination_fit_has_its_summary_at_once(blobs: np.ndarray) -> None:
    # the native fit scores the rows for the threshold, and summarizes from those scores
    est = iops.IsolationForest(contamination=0.05, random_state=0).fit(blobs)
    assert est.__dict__["_forest"].summarized and "_training_rows" not in est.__dict__
    assert est.model_.training == iops.ForestModel.fit(blobs, contamination=0.05, seed=0).training


def test_an_unsummarized_native_model_is_neither_written_nor_run(blobs: np.ndarray) -> None:
    m = iops.ForestModel.fit(blobs, seed=1, summarize=False)
    assert not m.summarized and m.training["score_quantiles"] == []
    with pytest.raises(iops.InvalidFieldError) as e:
        m.to_json()
    assert e.value.field == "training.score_quantiles"
    with pytest.raises(iops.InvalidFieldError) as e:
        iops.InsightEngine(model=m)
    assert e.value.field == "model"
    with pytest.raises(iops.InvalidFieldError):
        iops.IsolationForest.from_model(m)
    with pytest.raises(iops.ShapeError) as e:
        m.summarize(blobs[:10])
    assert (e.value.name, e.value.expected, e.value.got) == ("rows", 505, 10)
    done = m.summarize(blobs)
    assert done.summarized and not m.summarized  # a new model; this one is unchanged
    assert done.summarize(blobs) is done
    assert done.training == iops.ForestModel.fit(blobs, seed=1).training
    np.testing.assert_array_equal(done.score_samples(blobs), m.score_samples(blobs))
