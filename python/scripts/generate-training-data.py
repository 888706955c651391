#!/usr/bin/env python3
"""Writes a synthetic, labelled fleet for training with the Rust generator (crates/iops-synth,
seeded; the same generator the demo and the tests use), through the iops binding.

    python python/scripts/generate-training-data.py --days 90 --output data/

Writes into OUTPUT:
- metrics.csv: timestamp (RFC 3339 UTC), hostname, cpuUsage, memoryUsage, diskIO, networkIO,
  label (1 inside an injected incident), incident (kind, empty outside incidents);
- incidents.json: every injected incident (kind, host, start/end epoch seconds, magnitude,
  metrics it changes);
- fleet.json: the parameters, so the data can be regenerated exactly.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

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
    fleet = iops.generate_fleet(**params)
    t1 = time.perf_counter()

    args.output.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    hostnames = np.asarray(fleet["hostnames"], dtype=object)
    kinds = np.asarray([i["kind"] for i in fleet["incidents"]] + [""], dtype=object)
    incident = fleet["incident"]
    frame = pd.DataFrame(fleet["values"], columns=fleet["metrics"])
    frame.insert(0, "hostname", hostnames[fleet["host"]])
    frame.insert(0, "timestamp", pd.to_datetime(fleet["timestamp"], unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"))
    frame["label"] = (incident >= 0).astype(np.int8)
    frame["incident"] = kinds[incident]  # -1 picks the trailing ""
    frame.to_csv(args.output / "metrics.csv", index=False, float_format="%.6g")
    (args.output / "incidents.json").write_text(json.dumps(fleet["incidents"], indent=1) + "\n")
    (args.output / "fleet.json").write_text(json.dumps(params, indent=1) + "\n")
    t2 = time.perf_counter()
    print(
        f"{len(frame)} samples from {args.hosts} hosts over {args.days:g} days, "
        f"{len(fleet['incidents'])} incidents ({frame['label'].mean():.2%} of samples labelled); "
        f"generated in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s to {args.output}"
    )


if __name__ == "__main__":
    main()
