#!/usr/bin/env python3
"""Batch scoring from Python vs the Rust batch figure (issue 4: within 10%).

    .venv/bin/python python/bench/score_batch.py [--repeat N] [--no-cargo]

Python: `IsolationForest.anomaly_score(x)` on 1 000 000 x 4 float64 rows (C-contiguous, read in
place; the GIL is released and the rows are scored in parallel, as in Rust). The forest is
benches/benches/forest.rs's: 100 trees x 256 samples, seed 0, fitted on the first 100 000
rows of standard-normal data (numpy's generator here, xorshift there: the same distribution,
so the same tree shapes in expectation). Reports the median of N runs.

Rust, in the same run: `cargo bench -p iops-benches --bench forest -- forest_score_samples/1000000
--noplot` (criterion), then its mean from target/criterion/forest_score_samples/1000000/new/
estimates.json. `--no-cargo` only reads an estimate left by an earlier cargo bench.
Wall-clock on a shared machine: noisy; the ratio of one run is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import iops

ROOT = Path(__file__).resolve().parents[2]
ESTIMATES = Path("criterion/forest_score_samples/1000000/new/estimates.json")


def python_seconds(repeat: int) -> list[float]:
    x = np.random.default_rng(42).standard_normal((1_000_000, 4))
    assert x.flags.c_contiguous and x.dtype == np.float64
    est = iops.IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x[:100_000])
    est.anomaly_score(x)  # warm-up: page in the output, start rayon's pool
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        est.anomaly_score(x)
        runs.append(time.perf_counter() - t)
    return runs


def target_dir() -> Path:
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return Path(json.loads(meta.stdout)["target_directory"])


def rust_seconds(run_cargo: bool) -> float:
    if run_cargo:
        subprocess.run(
            ["cargo", "bench", "-p", "iops-benches", "--bench", "forest", "--",
             "forest_score_samples/1000000", "--noplot"],
            cwd=ROOT, check=True, stdout=sys.stderr,
        )
    path = target_dir() / ESTIMATES
    if not path.exists():
        raise SystemExit(f"{path} not found: run without --no-cargo")
    return json.loads(path.read_text())["mean"]["point_estimate"] / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10, help="timed Python runs (default 10)")
    ap.add_argument("--no-cargo", action="store_true", help="read the last criterion estimate only")
    args = ap.parse_args()
    rust = rust_seconds(not args.no_cargo)
    runs = python_seconds(args.repeat)
    py = statistics.median(runs)
    print(f"rust  forest.score_samples 1M x 4 (criterion mean): {rust * 1e3:8.1f} ms")
    print(f"python anomaly_score 1M x 4 (median of {len(runs)}):   {py * 1e3:8.1f} ms "
          f"(min {min(runs) * 1e3:.1f}, max {max(runs) * 1e3:.1f})")
    print(f"ratio python / rust: {py / rust:.3f}")
    print(json.dumps({"rust_ms": rust * 1e3, "python_ms": py * 1e3, "ratio": py / rust}))


if __name__ == "__main__":
    main()
