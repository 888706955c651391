"""Evaluation metrics (iops_eval): ROC AUC, average precision, NAB score."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from iops import _native

__all__ = ["average_precision", "nab_profiles", "nab_score", "nab_timestamp", "roc_auc"]


def _scores(scores: Any) -> np.ndarray:
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def _labels(labels: Any) -> np.ndarray:
    a = np.asarray(labels)
    return (a if a.dtype == np.bool_ else a != 0).reshape(-1)


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) against ``labels``
    (truthy = anomaly); ties count half. EvaluationError without both classes."""
    return _native.roc_auc(_scores(scores), _labels(labels))


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision (scikit-learn's ``average_precision_score``)."""
    return _native.average_precision(_scores(scores), _labels(labels))


def _json_arg(value: Any) -> Any:
    """A path to a JSON file is read; text, bytes and dicts pass through."""
    if isinstance(value, Path):
        return value.read_bytes()
    return value


def nab_score(
    files: Mapping[str, tuple[Any, Any]],
    labels: str | bytes | os.PathLike[str] | Mapping[str, Any],
    costs: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """NAB score of one detector over a corpus (NAB v1 rules, one threshold optimised over
    every file). ``files`` maps ``category/file.csv`` to ``(timestamps, scores)`` (epoch
    seconds, one score per row); ``labels`` is combined_windows.json (a Path, its text or the
    parsed dict); ``costs`` a profile's CostMatrix (default standard: tpWeight 1,
    fpWeight 0.11, fnWeight 1). Returns ``{"score", "raw", "threshold", "tp", "fp"}``."""
    arrays = {name: (_scores(t), _scores(s)) for name, (t, s) in files.items()}
    return _native.nab_score(arrays, _json_arg(labels), None if costs is None else dict(costs))


def nab_profiles(profiles: str | bytes | os.PathLike[str] | Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """NAB's profiles.json (a Path, its text or the parsed dict) as ``{name: CostMatrix}``."""
    return _native.nab_profiles(_json_arg(profiles))


def nab_timestamp(text: str) -> float:
    """A NAB timestamp (``2014-02-14 14:30:00[.ffffff]``, naive UTC) as epoch seconds."""
    return _native.nab_timestamp(text)
