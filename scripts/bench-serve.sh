#!/usr/bin/env bash
# Load test of `iops serve` (issue 7's figure: >= 20,000 metrics/s through POST /metrics with
# durable acknowledgements, p99 <= 10 ms): builds the release binary, starts the server on a
# free 127.0.0.1 port over a fresh temporary database with synchronous = FULL, posts with
# `iops loadgen` (HOSTS hosts, CONNECTIONS keep-alive connections, DURATION), stops the server
# by its PID and prints loadgen's JSON with the machine's load (the load generator shares the
# machine with the server, and the machine is shared: read the figures as noisy).
# BATCH > 1 posts JSON arrays of BATCH samples (issue 17's figure: >= 200,000 samples/s with
# batches of 100 over 50 hosts).
# Usage: scripts/bench-serve.sh [DURATION=10s] [CONNECTIONS=32] [HOSTS=50] [BATCH=1]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10s}"
CONNS="${2:-32}"
HOSTS="${3:-50}"
BATCH="${4:-1}"

# shellcheck source=scripts/lib/serve.sh
source "$ROOT/scripts/lib/serve.sh"
bg_init bench-serve TERM
build_iops

# Port 0: the server binds a free port and prints "listening on http://127.0.0.1:PORT".
bg_start "$BIN" serve --addr 127.0.0.1:0 --db "$WORK/bench.db" --durability full
bg_wait 10 '^listening on http://[0-9.:]+$' "print its address"
URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$WORK/bg.out")"
echo "==> iops serve at $URL (pid $BG_PID, synchronous FULL, $WORK/bench.db)" >&2
echo "==> iops loadgen --hosts $HOSTS --connections $CONNS --duration $DURATION --batch $BATCH" >&2
echo "==> before: $(uptime)" >&2
"$BIN" loadgen --url "$URL" --hosts "$HOSTS" --duration "$DURATION" --connections "$CONNS" \
    --batch "$BATCH"
echo "==> after:  $(uptime)" >&2
bg_stop
echo "==> server stopped" >&2
