#!/usr/bin/env python3
"""Writes a synthetic, labelled fleet for training with the Rust generator (crates/iops-synth,
seeded; the same generator the demo and the tests use), through the iops binding.

    python python/scripts/generate-training-data.py --days 90 --output data/

Writes into OUTPUT (what python/scripts/train.py and `iops train --input` read):
- metrics.csv: one row per sample, time-major (every host at one time, then the next), columns
  timestamp (RFC 3339 UTC), hostname, cpuUsage, memoryUsage, diskIO, networkIO (at most 3
  decimals), label (1 inside an injected incident, else 0), incident (its kind) and
  incident_id (its id in incidents.json), both empty outside incidents;
- incidents.json: every injected incident (id, kind, host, hostname, start/end epoch seconds,
  magnitude, metrics it changes);
- fleet.json: the parameters, so the data can be regenerated exactly.

The rows are generated and formatted in Rust (iops.write_fleet_csv), in parallel with the
GIL released: 50 hosts x 90 days at 1-minute resolution (6.5 M rows) take a few seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import iops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=90.0, help="length of the data (default 90)")
    ap.add_argument("--output", type=Path, required=True, help="directory to write into")
    ap.add_argument("--hosts", type=int, default=50, help="hosts in the fleet (default 50)")
    ap.add_argument("--interval", type=int, default=60, help="seconds between samples (default 60)")
    ap.add_argument("--seed", type=int, default=42, help="seed of everything random (default 42)")
    ap.add_argument("--incident-rate", type=float, default=0.3, help="incidents per host per day")
    ap.add_argument("--calm-days", type=float, default=0.0, help="days at the start without incidents")
    args = ap.parse_args()

    t0 = time.perf_counter()
    params = {
        "hosts": args.hosts,
        "days": args.days,
        "interval_secs": args.interval,
        "seed": args.seed,
        "incident_rate": args.incident_rate,
        "calm_days": args.calm_days,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    out = iops.write_fleet_csv(args.output / "metrics.csv", **params)
    (args.output / "incidents.json").write_text(json.dumps(out["incidents"], indent=1) + "\n")
    (args.output / "fleet.json").write_text(json.dumps(params, indent=1) + "\n")
    elapsed = time.perf_counter() - t0
    share = out["labelled"] / out["rows"] if out["rows"] else 0.0
    print(
        f"{out['rows']} samples from {args.hosts} hosts over {args.days:g} days, "
        f"{len(out['incidents'])} incidents ({share:.2%} of samples labelled); "
        f"{out['bytes'] / 1e6:.0f} MB written to {args.output} in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
