"""ROC AUC parity with scikit-learn's IsolationForest on the tabular outlier sets, through the
Python binding: 100 trees, 256 samples, fit and score on all rows, mean of seeds 0–4, against
scikit-learn's mean in shared/data/README.md, within the issue's 0.01 on every set (as
crates/iops-eval/tests/forest_parity.rs). The forest grows scikit-learn's own trees for a
seed (test_sklearn_trees.py), so the means agree to the README's rounding."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import iops


def reference_table(readme: str) -> list[tuple[str, float]]:
    rows = []
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5:
            continue
        try:
            rows.append((cells[0], float(cells[4])))
        except ValueError:
            continue
    return rows


def read_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as f:
        data = np.array([[float(v) for v in row] for row in list(csv.reader(f))[1:] if row])
    return np.ascontiguousarray(data[:, 1:]), data[:, 0] != 0


def test_roc_auc_matches_scikit_learn_within_0_01(shared: Path) -> None:
    table = reference_table((shared / "data/README.md").read_text())
    assert len(table) >= 10
    failures = []
    for name, reference in table:
        x, labels = read_set(shared / "data/tabular" / f"{name}.csv")
        aucs = []
        for seed in range(5):
            est = iops.IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(x)
            aucs.append(iops.roc_auc(est.anomaly_score(x), labels))
        auc = float(np.mean(aucs))
        print(f"{name:12} ours {auc:.4f}  scikit-learn {reference:.4f}  delta {auc - reference:+.5f}")
        if abs(auc - reference) > 0.01:
            failures.append(f"{name}: {auc:.4f} vs {reference:.4f}")
    assert not failures, failures


def test_sklearn_metrics_agree_on_our_scores(shared: Path) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    x, labels = read_set(shared / "data/tabular/pima.csv")
    s = iops.IsolationForest(random_state=0).fit(x).anomaly_score(x)
    assert iops.roc_auc(s, labels) == pytest.approx(metrics.roc_auc_score(labels, s), abs=1e-12)
    assert iops.average_precision(s, labels) == pytest.approx(metrics.average_precision_score(labels, s), abs=1e-12)
