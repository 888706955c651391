"""Shared fixtures: the repository root and the shared data folder (IOPS_SHARED, else
../shared beside the repository). Tests that need shared data skip without it, except in CI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared() -> Path:
    path = Path(os.environ.get("IOPS_SHARED", ROOT.parent / "shared"))
    if not (path / "data").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path}/data missing in CI")
        pytest.skip(f"shared data not found at {path} (set IOPS_SHARED)")
    return path


@pytest.fixture()
def blobs() -> np.ndarray:
    """500 normal rows around the origin and 5 far away (the last 5 rows)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(505, 3))
    x[500:] = rng.normal(loc=8.0, size=(5, 3))
    return x


def golden_metrics(n: int) -> np.ndarray:
    """The training rows of tests/fixtures/model_v1.json (crates/iops-core/tests/forest_artifact.rs)."""
    i = np.arange(n, dtype=np.float64)
    k = np.arange(n)
    return np.column_stack(
        [
            40.0 + 10.0 * np.sin(i / 7.0) + (k % 13),
            60.0 + 5.0 * np.cos(i / 11.0) + (k % 7),
            200.0 + 30.0 * np.sin(i / 5.0) + (k % 17),
            150.0 + 20.0 * np.cos(i / 3.0) + (k % 19),
        ]
    )
