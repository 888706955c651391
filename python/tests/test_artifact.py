"""model.json round trips: the golden fixture written by Rust, the Rust CLI's output, and
Python's own files, all read by the same core loader."""

from __future__ import annotations

import json
import shutil
import subprocess
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
    assert doc["format_version"] == 1
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
        "n_trees": 12,
        "max_samples": 32,
        "max_features": 1.0,
        "contamination": 0.05,
        "threshold": None,
        "seed": 2024,
    }


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

    sk = SkForest(n_estimators=12, max_samples=32, random_state=params["seed"]).fit(x)
    assert ours["trees"] == sklearn_trees(sk)


def test_save_load_round_trip(tmp_path: Path, blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_trees=25, max_samples=0.5, max_features=0.7, threshold=0.62, seed=11).fit(blobs)
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


def test_reindented_artifact_still_loads(tmp_path: Path, blobs: np.ndarray) -> None:
    est = iops.IsolationForest(n_trees=5).fit(blobs)
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
    mine = iops.IsolationForest(n_trees=20, max_samples=64, contamination=0.02, seed=7)
    import pandas as pd

    mine.fit(pd.DataFrame(x, columns=NAMES))
    assert payload(out.read_text()) == payload(mine.model_.to_json())
    np.testing.assert_array_equal(rust.anomaly_score(x), mine.anomaly_score(x))
    np.testing.assert_array_equal(rust.predict(PROBES), mine.predict(PROBES))
