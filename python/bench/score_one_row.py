"""One-row scoring cost from Python, iops vs scikit-learn (issue 4's figure: <= 5 us per call).

    .venv/bin/python python/bench/score_one_row.py [--repeat N]

Both forests: 100 trees, 256 samples, fitted on the same 10 000 x 4 rows; the call timed is
`est.score_samples(row)` with `row` a (1, 4) float64 array (and, for iops, also
`anomaly_score(row)`, the native score through the same input checks, and the native
`model_.score_one(row[0])`). iops' score_samples is scikit-learn's bit for bit: its last
step is numpy's power, as in scikit-learn, which anomaly_score does not pay. Reports the median over 7 runs of N calls each, in us/call.
Wall-clock on a shared machine: noisy, compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

import iops


def per_call(fn, number: int) -> float:
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20_000, help="calls per run for iops")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 4))
    row = x[:1].copy()

    ours = iops.IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x)
    ours.score_samples(row)  # builds the scorer (first use)
    results = {
        "iops IsolationForest.score_samples (1 row)": per_call(lambda: ours.score_samples(row), args.repeat),
        "iops IsolationForest.anomaly_score (1 row)": per_call(lambda: ours.anomaly_score(row), args.repeat),
        "iops ForestModel.score_one": per_call(lambda: ours.model_.score_one(row[0]), args.repeat),
    }
    try:
        from sklearn.ensemble import IsolationForest as SkIsolationForest
    except ImportError:
        print("scikit-learn not installed: iops only")
    else:
        sk = SkIsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x)
        results["scikit-learn IsolationForest.score_samples (1 row)"] = per_call(
            lambda: sk.score_samples(row), max(10, args.repeat // 1000)
        )
    width = max(map(len, results))
    for name, us in results.items():
        print(f"{name:{width}}  {us:10.2f} us/call")


if __name__ == "__main__":
    main()
