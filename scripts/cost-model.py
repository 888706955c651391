#!/usr/bin/env python3
"""Monthly cost of an iops deployment by ingestion path, from AWS's public unit prices (the
same constants validate-cost's estimate uses: ops/iops_ops/cost.py). Prints a Markdown table.

Per sample, for a path that sends `per_request` samples per API request / Lambda invocation
and writes a host's state once every `per_state_write` samples:

    API Gateway  = 1 / per_request                       x $3.50 per million requests
    Lambda       = 1 / per_request                       x $0.20 per million invocations
                 + (ms_per_invocation / per_request) / 1000 x memory GB x $/GB-second
    DynamoDB     = metric item (1 write unit)             x $/million write units
                 + (state item (ceil(KB) write units) + its hosts-index entry (1)) / per_state_write
                 + state read (ceil(KB / 4) read units, strongly consistent) / per_state_write
                 + the silence sweep's hosts-index read, once a minute per host (about 60 bytes,
                   eventually consistent: 60 / 4096 / 2 read units)
    Kinesis      = shard-hours + one 25-KB PUT payload unit per record (Kinesis path only)

Usage: scripts/cost-model.py [STATE_KB]   (default 29: a warm host's state, measured in iops demo)
"""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from iops_ops import cost as prices  # noqa: E402

SAMPLES_PER_HOST_MONTH = 60 * 24 * 30
MEMORY_GB = 256 / 1024
KINESIS_SHARD_HOUR = 0.015
KINESIS_PER_MILLION_PUT_UNITS = 0.014
KINESIS_RECORDS_PER_SHARD_SECOND = 1000

# path, samples per invocation, samples per state write, ms per invocation (assumed: the
# handler's microseconds plus its DynamoDB round trips), through API Gateway or Kinesis
PATHS = [
    ("single requests (today)", 1, 1, 20.0, "api"),
    ("batches of 60 hosts' samples (a collector's minute)", 60, 1, 60.0, "api"),
    ("batches of 60 samples of one host (its hour)", 60, 60, 30.0, "api"),
    ("Kinesis, 5-minute batching window", 1000, 5, 400.0, "kinesis"),
]


# Bytes of a host's hosts-index entry, read by every minute's sweep.
HOSTS_INDEX_ENTRY_BYTES = 60


def per_sample(state_kb: float, per_invocation: int, per_state: int, ms: float, via: str):
    write_units = 1 + (math.ceil(state_kb) + 1) / per_state
    # (one sample a minute per host: one sweep read of its entry per sample)
    sweep_units = HOSTS_INDEX_ENTRY_BYTES / 4096 / 2
    read_units = math.ceil(state_kb / 4) / per_state + sweep_units
    api = prices.API_GATEWAY_REST_PER_MILLION / 1e6 / per_invocation if via == "api" else 0.0
    return {
        "API Gateway": api,
        "Lambda": prices.LAMBDA_PER_MILLION_REQUESTS / 1e6 / per_invocation
        + ms / per_invocation / 1000 * MEMORY_GB * prices.LAMBDA_PER_GB_SECOND,
        "DynamoDB": write_units * prices.DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6
        + read_units * prices.DYNAMODB_PER_MILLION_READ_UNITS / 1e6,
    }


def kinesis_month(hosts: int) -> float:
    records_per_second = hosts / 60
    shards = max(1, math.ceil(records_per_second / KINESIS_RECORDS_PER_SHARD_SECOND))
    put_units = hosts * SAMPLES_PER_HOST_MONTH
    return shards * 24 * 30 * KINESIS_SHARD_HOUR + put_units / 1e6 * KINESIS_PER_MILLION_PUT_UNITS


def main() -> None:
    state_kb = float(sys.argv[1]) if len(sys.argv) > 1 else 29.0
    print(f"State item {state_kb:g} KB; one sample a minute per host; 256 MB Lambda; us-east-1.\n")
    print(
        "| path | $ per million samples (API / Lambda / DynamoDB) | 1,000 hosts, $/month | 10,000 hosts, $/month |"
    )
    print("|---|---|---|---|")
    for name, per_invocation, per_state, ms, via in PATHS:
        parts = per_sample(state_kb, per_invocation, per_state, ms, via)
        million = {k: v * 1e6 for k, v in parts.items()}
        row = []
        for hosts in (1_000, 10_000):
            month = sum(parts.values()) * hosts * SAMPLES_PER_HOST_MONTH
            if via == "kinesis":
                month += kinesis_month(hosts)
            row.append(f"{month:,.0f}")
        split = " / ".join(f"{million[k]:.2f}" for k in ("API Gateway", "Lambda", "DynamoDB"))
        print(f"| {name} | {sum(million.values()):.2f} ({split}) | {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main()
