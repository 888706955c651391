"""python/scripts/train.py on a small generated fleet, and the threshold it stores."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

import iops


def load_script(root: Path, name: str):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), root / "python/scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory, root) -> Path:
    out = tmp_path_factory.mktemp("data")
    subprocess.run(
        [sys.executable, str(root / "python/scripts/generate-training-data.py"), "--hosts", "4", "--days", "8",
         "--interval", "300", "--incident-rate", "2", "--seed", "5", "--output", str(out)],
        check=True, capture_output=True,
    )
    return out


@pytest.mark.parametrize("features", ["host", "raw"])
def test_train_script_fits_evaluates_and_writes_the_model(data, tmp_path, root, features) -> None:
    proc = subprocess.run(
        [sys.executable, str(root / "python/scripts/train.py"), "--data", str(data), "--output", str(tmp_path),
         "--test-days", "2", "--validation-days", "2", "--features", features, "--n-trees", "50"],
        check=True, capture_output=True, text=True,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "threshold" in proc.stderr and "precision" in proc.stderr
    rows = summary["rows"]
    per_day = 4 * 288
    assert rows["test"] == rows["validation"] == 2 * per_day
    assert 0 < rows["train"] <= 4 * per_day
    for part in ("validation", "test"):
        m = summary[part]
        assert m["positives"] > 0 and 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0
        assert m["tp"] + m["fn"] == m["positives"]
        # better than chance on incidents injected into the fleet
        assert m["roc_auc"] > 0.6, m

    model = iops.load_model(tmp_path / "model.json")
    assert model.threshold_ == summary["threshold"]
    assert model.model_.training["threshold"] == summary["threshold"]
    expected = list(iops.HOST_FEATURES) if features == "host" else ["cpuUsage", "memoryUsage", "diskIO", "networkIO"]
    assert model.model_.feature_names == expected == summary["feature_names"]
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert tar.getnames() == ["model.json"]
        assert tar.extractfile("model.json").read() == (tmp_path / "model.json").read_bytes()
    if features == "host":
        iops.InsightEngine(model=model)  # loads in the engine
        # the fleet's peer groups ride in the model: every host of the training days in one
        groups = model.model_.peer_groups
        assert groups is not None and "peer groups:" in proc.stderr
        assert sorted(h for g in groups.groups for h in g["hosts"]) == ["batch-1", "db-1", "web-1", "web-2"]
        assert summary["peer_groups"] == [{"name": g["name"], "hosts": len(g["hosts"])} for g in groups.groups]
    else:
        assert model.model_.peer_groups is None and summary["peer_groups"] is None


def test_best_f1_threshold_is_the_best_cut(root) -> None:
    train = load_script(root, "train")
    rng = np.random.default_rng(3)
    labels = rng.random(2000) < 0.1
    scores = np.clip(rng.normal(0.45, 0.05, 2000) + 0.15 * labels, 0.01, 0.99)
    t, f1 = train.best_f1_threshold(scores, labels)
    assert train.evaluate(scores, labels, t)["f1"] == pytest.approx(f1)
    for cut in np.unique(scores)[::7]:
        assert train.evaluate(scores, labels, float(cut))["f1"] <= f1 + 1e-12


def test_set_threshold_is_stored_in_the_model(blobs, tmp_path) -> None:
    est = iops.IsolationForest(seed=1, contamination=0.05).fit(blobs)
    before = est.model_.training["threshold"]
    assert est.set_threshold(0.7) is est
    assert est.threshold_ == 0.7 and est.offset_ == -0.7 and est.model_.threshold == 0.7
    assert est.get_params()["threshold"] == 0.7 and est.get_params()["contamination"] == "auto"
    assert before != 0.7 and est.model_.training["threshold"] == 0.7
    s = est.anomaly_score(blobs)
    np.testing.assert_array_equal(est.predict(blobs), np.where(s > 0.7, -1, 1))
    loaded = iops.load_model(iops.save_model(est, tmp_path))
    assert loaded.threshold_ == 0.7
    with pytest.raises(iops.InvalidParamError) as e:
        est.set_threshold(1.5)
    assert e.value.name == "threshold" and est.threshold_ == 0.7


def test_the_operators_verdicts_override_the_row_labels(data, tmp_path, root) -> None:
    """`--labels` (iops export-labels' JSON lines): a `real` verdict over a stretch of the
    test days marks its rows anomalous; a label of a host not in the data is counted, not
    fatal; a malformed line names its line."""
    table = iops.read_metrics_csv(data / "metrics.csv")
    end = float(table["timestamp"].max())
    host = table["hostnames"][0]
    stretch = (end - 6 * 3600, end - 3600)

    def rfc(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    rows = (table["host"] == 0) & (table["timestamp"] >= stretch[0]) & (table["timestamp"] <= stretch[1])
    already = int((rows & table["label"].astype(bool)).sum())
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        json.dumps({"incidentId": "a", "hostname": host, "verdict": "real", "opened": rfc(stretch[0]),
                    "resolved": rfc(stretch[1]), "metrics": ["cpuUsage"]}) + "\n"
        + json.dumps({"incidentId": "b", "hostname": "elsewhere", "verdict": "false_positive",
                      "opened": rfc(stretch[0]), "resolved": None}) + "\n"
    )

    def train(*extra: str) -> dict:
        proc = subprocess.run(
            [sys.executable, str(root / "python/scripts/train.py"), "--data", str(data), "--output", str(tmp_path),
             "--test-days", "2", "--validation-days", "2", "--n-trees", "30", *extra],
            check=True, capture_output=True, text=True,
        )
        return json.loads(proc.stdout.strip().splitlines()[-1])

    plain, verdicts = train(), train("--labels", str(labels))
    assert plain["labels"] is None
    counts = verdicts["labels"]
    assert (counts["labels"], counts["real"], counts["false_positive"], counts["unknown_hosts"]) == (2, 1, 1, 1)
    assert counts["rows_changed"] == int(rows.sum()) - already > 0
    assert verdicts["test"]["positives"] == plain["test"]["positives"] + counts["rows_changed"]

    labels.write_text('{"verdict": "real"}\n')
    bad = subprocess.run(
        [sys.executable, str(root / "python/scripts/train.py"), "--data", str(data), "--output", str(tmp_path),
         "--labels", str(labels)],
        capture_output=True, text=True, check=False,
    )
    assert bad.returncode != 0 and "labels.jsonl:1" in bad.stderr
