#!/usr/bin/env python3
"""How much of a context model's NAB score comes from knowing each file's range in advance.

CAD OSE (NAB's contextOSE) discretises every value into 8 bins between the file's minimum and
maximum, which NAB's runner passes in before the first row, and scores how new the current
bin's transition from the last few bins is, silent for a rest period after a high score. This
script scores the same idea, written here from that description (an n-gram of 8 bins, orders
1-3; novelty = the share of known contexts never followed by this bin; the rest period of
NAB's runner) with the file's range and with causal ranges (the range seen so far, or that of
a warm-up day widened by a margin), alone and multiplied into the engine's scores.

Usage (numpy and pandas from target/peers-venv, made by `make bench-peers`):
  target/release/iops detect --data ../shared/data/nab-full --out target/nab-results
  target/peers-venv/bin/python scripts/context-novelty.py ../shared/data/nab-full target/nab-results
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

BINS, ORDER, DAY = 8, 3, 86400


def transition_novelty(values, seconds, range_of):
    """Per-row novelty in [0, 1]; range_of(i, value, seconds) -> (lo, hi) or None (no score)."""
    out = np.zeros(len(values))
    counts, recent = {}, []
    for i, x in enumerate(values):
        bounds = range_of(i, x, seconds[i])
        if bounds is None:
            continue
        lo, hi = bounds
        b = int((x - lo) / (hi - lo) * BINS) if hi > lo else 0
        b = min(max(b, 0), BINS - 1)
        new = known = 0
        for k in range(1, min(ORDER, len(recent)) + 1):
            ctx = tuple(recent[-k:])
            seen = counts.get((ctx, b), 0)
            total = counts.get(ctx, 0)
            if total:
                known += 1
                new += seen == 0
            counts[(ctx, b)] = seen + 1
            counts[ctx] = total + 1
        out[i] = new / known if known else 0.0
        recent = (recent + [b])[-ORDER:]
    return out


def file_range(values):
    lo, hi = float(values.min()), float(values.max())
    return lambda i, x, t: (lo, hi)


def seen_so_far():
    state = {}

    def rng(i, x, t):
        state["lo"] = min(state.get("lo", x), x)
        state["hi"] = max(state.get("hi", x), x)
        return state["lo"], state["hi"]
    return rng


def warmup_day(margin):
    state = {"lo": None, "hi": None, "t0": None, "fixed": False}

    def rng(i, x, t):
        s = state
        if s["t0"] is None:
            s["t0"], s["lo"], s["hi"] = t, x, x
        if s["fixed"]:
            s["lo"], s["hi"] = min(s["lo"], x), max(s["hi"], x)
            return s["lo"], s["hi"]
        s["lo"], s["hi"] = min(s["lo"], x), max(s["hi"], x)
        if t - s["t0"] < DAY:
            return None
        r = s["hi"] - s["lo"]
        s["lo"], s["hi"], s["fixed"] = s["lo"] - margin * r, s["hi"] + margin * r, True
        return s["lo"], s["hi"]
    return rng


def rest(scores, threshold=0.75):
    """NAB's runner: silent for probation/5 rows after a score at the threshold."""
    period = max(1, int(min(0.15 * len(scores), 750) / 5))
    out, last = scores.copy(), -10**9
    for i, s in enumerate(scores):
        if i - last <= period:
            out[i] = 0.0
        elif s >= threshold:
            last = i
    return out


def main():
    nab, res = sys.argv[1], sys.argv[2]
    windows = json.load(open(os.path.join(nab, "labels", "combined_windows.json")))
    profiles = json.load(open(os.path.join(nab, "config", "profiles.json")))
    files = []
    for rel in sorted(windows):
        cat, f = rel.split("/")
        df = pd.read_csv(os.path.join(res, "iops", cat, f"iops_{f}"))
        ts = list(pd.to_datetime(df["timestamp"]))
        secs = np.array([t.timestamp() for t in ts])
        files.append((rel, ts, secs, df["value"].to_numpy(float), df["anomaly_score"].to_numpy(float)))
    variants = {
        "engine alone": lambda v, s, e: e,
        "novelty, file range (CAD OSE's input), rest": lambda v, s, e: rest(transition_novelty(v, s, file_range(v))),
        "novelty, range seen so far, rest": lambda v, s, e: rest(transition_novelty(v, s, seen_so_far())),
        "novelty, first day's range +50 %, then widened, rest":
            lambda v, s, e: rest(transition_novelty(v, s, warmup_day(0.5))),
        "engine x (0.7 + 0.3 novelty seen so far)":
            lambda v, s, e: e * (0.7 + 0.3 * transition_novelty(v, s, seen_so_far())),
    }
    n_total = sum(len(w) for w in windows.values())
    print("| variant | " + " | ".join(profiles) + " |")
    print("|---|" + "---|" * len(profiles))
    for name, fn in variants.items():
        scored = [fn(v, secs, e) for _, _, secs, v, e in files]
        cells = []
        for prof, cfg in profiles.items():
            cm = cfg["CostMatrix"]
            per_file = []
            for (rel, ts, _, _, _), s in zip(files, scored):
                w, g, sc, _ = ns.file_rows(ts, windows[rel], cm["tpWeight"], cm["fpWeight"])
                per_file.append((s, w, g, sc))
            _, raw, _, _ = ns.best_threshold(ns.corpus_sweep(per_file, cm["fnWeight"]))
            null, perfect = -cm["fnWeight"] * n_total, cm["tpWeight"] * n_total
            cells.append(f"{100 * (raw - null) / (perfect - null):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
