#!/usr/bin/env python3
"""Leave-one-out check of the engine's parameters (issue 13): were they fitted to the corpora?

Also prints each parameter's neighbours one at a time, and the engine with each change from
the sample-counting engine reverted alone (ABLATIONS).

The selection procedure: greedy coordinate ascent from the defaults, one pass over GRID, on
the objective: the mean NAB standard score of the corpora counted. Units are the corpora (NAB, each ops
corpus) and, for NAB categories, the category alone (its own threshold).

For each fold (a corpus, or a NAB category, left out) the parameters are chosen without it,
and the left-out unit's score with them is compared with its score under the parameters
chosen with every unit. Prints a markdown table; caches every `iops eval corpora` run under
target/leave-one-out/.

Usage: scripts/leave-one-out.py [--iops target/release/iops] [--shared ../shared]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

H = 3600
DAY = 24 * H
# Each parameter's candidate values (its default among them).
GRID = {
    "window_seconds": [8 * H, 12 * H, 20 * H, DAY, 2 * DAY],
    "level_seconds": [H / 4, H / 2, H],
    "volatility_seconds": [H / 2, H, 2 * H],
    "memory_seconds": [14 * DAY, 28 * DAY, 56 * DAY],
    "calibration_horizon_seconds": [3 * DAY, 7 * DAY, 14 * DAY],
    "suppression_seconds": [6 * H, 12 * H, 24 * H],
    "guard_score": [0.5, 0.55, 0.6],
    "gaussian_scale": [1.25, 1.5, 2.0],
    "record_tail_samples": [5, 10, 20],
    "seasonal_preference": [0.5, 0.7, 0.9],
}
# Each change from the sample-counting engine (commit 9f0750b) reverted alone: what it buys.
# (The time-aware sizes, the seasonal slots, the volatility and evidence models and the
# guard's band hold and adoption have no off switch.)
ABLATIONS = {
    "memory of one week (the old 2016-sample baseline)": {"memory_seconds": 7 * DAY, "calibration_horizon_seconds": 7 * DAY},
    "no calibration horizon (= memory)": {"calibration_horizon_seconds": 28 * DAY},
    "Pareto record tail (record_tail_samples 0)": {"record_tail_samples": 0},
    "suppression over 3 hours (the old 36 samples)": {"suppression_seconds": 3 * H},
    "no guard (incidents learned at once: adoption 0)": {"adoption_seconds": 0},
}
CORPORA = ["nab-full", "ops/ms-cloud-monitoring", "ops/smd"]
NAB = "nab-full"
PROFILE = "standard"
# The engine's defaults (filled in from its report).
DEFAULTS = {}


def run(iops, shared, out, params):
    """The `iops eval corpora` report for these parameters (cached by their JSON)."""
    # (a rebuilt engine invalidates the cache)
    key = json.dumps({"params": params, "iops": os.stat(iops).st_mtime}, sort_keys=True)
    name = "defaults" if not params else "_".join(f"{k}={v:g}" for k, v in sorted(params.items()))
    path = out / f"{name}.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("_params") == key:
            return cached
    pfile = out / f"{name}.params.json"
    pfile.write_text(json.dumps(params))
    cmd = [iops, "eval", "corpora", "--params", str(pfile)] + [str(shared / "data" / c) for c in CORPORA]
    report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    report["_params"] = key
    path.write_text(json.dumps(report))
    return report


def units(report):
    """Unit name → standard score: each corpus, and each NAB category as `nab-full/<cat>`."""
    u = {}
    for name, c in report["corpora"].items():
        u[name] = c["profiles"][PROFILE]["score"]
        if name == NAB:
            for cat, r in c["categories"].items():
                u[f"{NAB}/{cat}"] = r["profiles"][PROFILE]["score"]
    return u


def objective(u, left_out):
    """Mean over corpora; with a NAB category left out, NAB counts as the mean of its other
    categories; with a corpus left out, that corpus does not count."""
    corpora = [k for k in u if "/" not in k]
    scores = []
    for c in corpora:
        if c == left_out:
            continue
        if c == NAB and left_out and left_out.startswith(NAB + "/"):
            cats = [v for k, v in u.items() if k.startswith(NAB + "/") and k != left_out]
            scores.append(sum(cats) / len(cats))
        else:
            scores.append(u[c])
    return sum(scores) / len(scores)


def choose(score, left_out):
    """Greedy coordinate ascent from the defaults: each parameter in turn takes the value
    that most improves the objective with the values chosen so far (one pass over GRID).
    `score(params)` gives a configuration's units."""
    chosen = {}
    best = objective(score(chosen), left_out)
    for param, values in GRID.items():
        pick = None
        for v in values:
            if v == DEFAULTS[param] or chosen.get(param) == v:
                continue
            o = objective(score({**chosen, param: v}), left_out)
            if o > best + 1e-9:
                pick, best = v, o
        if pick is not None:
            chosen[param] = pick
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("--iops", default=str(root / "target/release/iops"))
    ap.add_argument("--shared", default=os.environ.get("IOPS_SHARED", str(root.parent / "shared")))
    args = ap.parse_args()
    shared = Path(args.shared)
    out = root / "target/leave-one-out"
    out.mkdir(parents=True, exist_ok=True)

    def score(params):
        return units(run(args.iops, shared, out, params))

    defaults_report = run(args.iops, shared, out, {})
    DEFAULTS.update(defaults_report["engine_config"])
    defaults_units = units(defaults_report)
    names = list(defaults_units)

    print("## One parameter at a time (standard score)\n")
    print("| parameter = value | " + " | ".join(names) + " | mean over corpora |")
    print("|---|" + "---|" * (len(names) + 1))
    print("| defaults | " + " | ".join(f"{defaults_units[n]:.2f}" for n in names)
          + f" | {objective(defaults_units, None):.2f} |")
    for param, values in GRID.items():
        for v in values:
            if v == DEFAULTS[param]:
                continue
            u = score({param: v})
            print(f"| {param} = {v:g} | " + " | ".join(f"{u[n]:.2f}" for n in names)
                  + f" | {objective(u, None):.2f} |")

    print("\n## Each change reverted alone (standard score)\n")
    print("| reverted | " + " | ".join(names) + " | mean over corpora |")
    print("|---|" + "---|" * (len(names) + 1))
    for what, params in ABLATIONS.items():
        u = score(params)
        print(f"| {what} | " + " | ".join(f"{u[n]:.2f}" for n in names)
              + f" | {objective(u, None):.2f} |")

    with_all = choose(score, None)
    with_units = score(with_all)
    print("\n## Leave one out (greedy coordinate ascent from the defaults)\n")
    print(f"Chosen with every unit: `{json.dumps(with_all)}`: mean over corpora "
          f"{objective(with_units, None):.2f} (defaults {objective(defaults_units, None):.2f})\n")
    print("| left out | chosen without it | its score, chosen without it | chosen with it | loss |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for unit in names:
        without = choose(score, unit)
        score_without = score(without)[unit]
        loss = with_units[unit] - score_without
        worst = max(worst, loss)
        print(f"| {unit} | `{json.dumps(without)}` | {score_without:.2f} | {with_units[unit]:.2f} | {loss:+.2f} |")
        print(f"left out {unit}", file=sys.stderr)
    print(f"\nLargest loss: {worst:.2f} points (issue 13 allows 2).")


if __name__ == "__main__":
    main()
