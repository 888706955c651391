"""Fit cost from Python, iops vs scikit-learn, in the same run (issue 14, item 9).

    .venv/bin/python python/bench/fit.py [--rows 10000 100000 1000000] [--repeat 7]

Both: `IsolationForest(random_state=0).fit(X)` (100 trees, max_samples="auto" = 256,
contamination="auto") on the same n x 4 float64 rows (standard normal, C order), so both
grow the same trees. Also timed, for iops:

- `fit + save`: the fit, then `model_.to_json()`, which first computes the training summary
  the fit leaves out (scoring every training row once): what `save_model` costs in all.
- `ForestModel.fit(summarize=True)`: the native fit that scores the training rows at once,
  as `IsolationForest.fit` did before (the "before" figure).
- `contamination=0.01`, both libraries: the fit must score the training rows (the offset
  is their percentile), in scikit-learn as in iops.

Median of `--repeat` runs (scikit-learn: of min(3, repeat) at 1M rows, it takes seconds),
in ms. Wall-clock on a shared 2-core machine: compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Callable

import numpy as np

import iops


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=7, help="runs per figure (median)")
    args = ap.parse_args()
    try:
        from sklearn.ensemble import IsolationForest as SkIsolationForest
    except ImportError:
        SkIsolationForest = None
        print("scikit-learn not installed: iops only")

    rows = []
    for n in args.rows:
        X = np.random.default_rng(0).normal(size=(n, 4))
        sk_repeat = args.repeat if n < 1_000_000 else min(3, args.repeat)
        r: dict[str, float] = {}
        r["iops fit"] = median_ms(lambda: iops.IsolationForest(random_state=0).fit(X), args.repeat)
        r["iops fit + save"] = median_ms(
            lambda: iops.IsolationForest(random_state=0).fit(X).model_.to_json(), args.repeat
        )
        r["iops ForestModel.fit(summarize=True)"] = median_ms(
            lambda: iops.ForestModel.fit(X, seed=0, summarize=True), args.repeat
        )
        r["iops fit, contamination=0.01"] = median_ms(
            lambda: iops.IsolationForest(random_state=0, contamination=0.01).fit(X), args.repeat
        )
        if SkIsolationForest is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r["scikit-learn fit"] = median_ms(lambda: SkIsolationForest(random_state=0).fit(X), sk_repeat)
                r["scikit-learn fit, contamination=0.01"] = median_ms(
                    lambda: SkIsolationForest(random_state=0, contamination=0.01).fit(X), sk_repeat
                )
        rows.append((n, r))

    names = list(rows[0][1])
    width = max(map(len, names))
    print(f"{'ms (median)':{width}}  " + "  ".join(f"{n:>12,}" for n, _ in rows))
    for name in names:
        print(f"{name:{width}}  " + "  ".join(f"{r[name]:12.1f}" for _, r in rows))
    if SkIsolationForest is not None:
        ratios = "  ".join(f"{r['scikit-learn fit'] / r['iops fit']:11.0f}x" for _, r in rows)
        print(f"{'scikit-learn / iops (fit)':{width}}  {ratios}")


if __name__ == "__main__":
    main()
