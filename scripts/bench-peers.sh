#!/usr/bin/env bash
# Streaming cost per sample, side by side in one run: our criterion `streaming` bench and
# river's EWMean+EWVar / rolling z-score (../shared/bench/python_peers/bench_river.py).
# river lives in its own venv (target/peers-venv) so it never touches the test venv.
# Usage: scripts/bench-peers.sh [RIVER_SAMPLES] [RIVER_REPS]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RIVER_N="${1:-200000}"
RIVER_REPS="${2:-3}"
PEERS="${IOPS_SHARED:-$ROOT/../shared}/bench/python_peers"
VENV="$ROOT/target/peers-venv"
OUT="$ROOT/target/bench-peers"
mkdir -p "$OUT"

if [[ ! -f "$PEERS/bench_river.py" ]]; then
    echo "bench-peers: $PEERS/bench_river.py not found (set IOPS_SHARED to the shared/ folder)" >&2
    exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    numpy==2.4.6 pandas==3.1.1 river==0.26.1

echo "==> ours: cargo bench -p iops-benches --bench streaming"
start_marker="$OUT/.started"
touch "$start_marker"
cargo bench -p iops-benches --bench streaming -- --noplot | tee "$OUT/ours.txt"

echo "==> river: bench_river.py $RIVER_N samples x $RIVER_REPS reps (ew, rolling)"
(cd "$PEERS" && "$VENV/bin/python" bench_river.py "$RIVER_N" "$RIVER_REPS" ew,rolling) | tee "$OUT/river.jsonl"

"$VENV/bin/python" "$ROOT/scripts/bench_peers_table.py" \
    --criterion "$ROOT/target/criterion" --since "$start_marker" --river "$OUT/river.jsonl"
