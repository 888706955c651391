#!/usr/bin/env python3
"""Side-by-side table: our criterion benches (ns per sample) vs river (ns per sample).

Reads target/criterion/<group>/<bench>/new/{estimates,benchmark}.json written after --since,
takes mean.point_estimate (ns per iteration) and divides by the bench's Throughput::Elements
when it declares one, so every row is ns per 4-metric sample.
"""
import argparse
import json
import os
import sys


def ours(criterion_dir, since):
    rows = []
    for dirpath, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        est_path = os.path.join(dirpath, "estimates.json")
        if os.path.getmtime(est_path) < since:
            continue  # a stale result from an earlier run
        with open(est_path) as f:
            mean_ns = json.load(f)["mean"]["point_estimate"]
        name = os.path.relpath(os.path.dirname(dirpath), criterion_dir)
        elements = 1
        bench_path = os.path.join(dirpath, "benchmark.json")
        if os.path.exists(bench_path):
            with open(bench_path) as f:
                meta = json.load(f)
            name = meta.get("full_id", name)
            throughput = meta.get("throughput") or {}
            elements = throughput.get("Elements") or 1
        rows.append((name, mean_ns / elements))
    return sorted(rows)


def river(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rec = json.loads(line)
                rows.append((rec["tool"], rec["per_item_ns"]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--since", required=True, help="file whose mtime marks the start of this run")
    ap.add_argument("--river", required=True)
    args = ap.parse_args()

    mine = ours(args.criterion, os.path.getmtime(args.since))
    theirs = river(args.river)
    if not mine:
        print("no criterion results written in this run (is the streaming bench implemented?)")
    if not theirs:
        print("no river results")
    if not mine or not theirs:
        return 1
    ref_name, ref_ns = theirs[0]  # bench_river.py prints `ew` first: EWMean+EWVar z-score
    rows = [("iops " + n, ns) for n, ns in mine] + [(n if n.startswith("river") else "river " + n, ns) for n, ns in theirs]
    width = max(len(n) for n, _ in rows)
    print()
    print(f"{'benchmark':<{width}}  {'ns/element':>12}  {'river ew / this':>16}")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 16}")
    for name, ns in rows:
        print(f"{name:<{width}}  {ns:12.1f}  {ref_ns / ns:15.1f}x")
    print(f"\nreference: {ref_name} = {ref_ns:.1f} ns per 4-metric sample; "
          "higher ratio = iops faster.\nOur rows are per criterion Throughput::Elements "
          "(per 4-metric sample for the engine bench), else per iteration.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
