#!/usr/bin/env python3
"""Where a detector's NAB points go: per file, at the corpus threshold NAB's scorer picks.

For each file: the normalised points it loses against a perfect detector, its windows found,
the TP weight earned, and its false-positive rows (and their cost). Uses the independent
scorer's own functions (../shared/bench/nab_score.py); needs numpy and pandas
(target/peers-venv, made by `make bench-peers`).

Usage:
  target/release/iops detect --data ../shared/data/nab-full --out target/nab-results
  target/peers-venv/bin/python scripts/nab-per-file.py ../shared/data/nab-full target/nab-results [iops] [standard]
"""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(os.environ.get("IOPS_SHARED", ROOT.parent / "shared")) / "bench"))
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import nab_score as ns  # noqa: E402


def main():
    nab, res = sys.argv[1], sys.argv[2]
    det = sys.argv[3] if len(sys.argv) > 3 else "iops"
    prof = sys.argv[4] if len(sys.argv) > 4 else "standard"
    windows = json.load(open(os.path.join(nab, "labels", "combined_windows.json")))
    cm = json.load(open(os.path.join(nab, "config", "profiles.json")))[prof]["CostMatrix"]
    per_file, names = [], []
    for rel in sorted(windows):
        cat, f = rel.split("/")
        ts = list(pd.to_datetime(pd.read_csv(os.path.join(nab, "data", rel))["timestamp"]))
        s = pd.read_csv(os.path.join(res, det, cat, f"{det}_{f}"))["anomaly_score"].to_numpy(float)
        w, g, sc, _ = ns.file_rows(ts, windows[rel], cm["tpWeight"], cm["fpWeight"])
        per_file.append((s, w, g, sc))
        names.append(rel)
    thr, score, tp, fp = ns.best_threshold(ns.corpus_sweep(per_file, cm["fnWeight"]))
    n_total = sum(len(v) for v in windows.values())
    perfect, null = n_total * cm["tpWeight"], -cm["fnWeight"] * n_total
    scale = 100.0 / (perfect - null)
    print(f"threshold {thr:.4f}, score {(score - null) * scale:.2f}, TP rows {tp}, FP rows {fp}")
    print("| points lost | file | windows found | TP weight | FP rows (cost) |")
    print("|---|---|---|---|---|")
    rows = []
    for rel, (s, w, g, sc) in zip(names, per_file):
        m = sc & (s >= thr)
        fp_mask = m & (g < 0)
        wins = np.unique(g[sc & (g >= 0)])
        found = [k for k in wins if (m & (g == k)).any()]
        tp_sum = sum(w[m & (g == k)].max() for k in found)
        contrib = tp_sum + float(w[fp_mask].sum()) - cm["fnWeight"] * (len(wins) - len(found))
        lost = (cm["tpWeight"] * len(wins) - contrib) * scale
        rows.append((lost, rel, len(found), len(wins), tp_sum, int(fp_mask.sum()), float(w[fp_mask].sum())))
    for lost, rel, nf, nw, tps, nfp, fpc in sorted(rows, reverse=True):
        if lost > 0.005:
            print(f"| {lost:.2f} | {rel} | {nf}/{nw} | {tps:.2f} | {nfp} ({fpc:.2f}) |")


if __name__ == "__main__":
    main()
