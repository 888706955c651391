#!/usr/bin/env bash
# Dashboard first paint (issue 7: <= 1 s for 50 hosts x 1 day of minute data): builds the
# release binary, runs `iops demo` with 50 hosts, one day of 1-minute samples (72,000, with
# incidents, streamed at full speed through the server's pipeline into a temporary database),
# then loads the overview (/) and one host's page in headless Chromium and prints the
# browser's paint timings (scripts/dashboard-paint.py), with the machine's load. The demo is
# stopped by its PID.
# Usage: scripts/bench-dashboard.sh [RUNS=5]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-5}"

echo "==> cargo build --release -p iops-cli" >&2
cargo build --release -p iops-cli >&2
BIN="$ROOT/target/release/iops"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iops-bench-dashboard.XXXXXX")"
DEMO_PID=""
cleanup() {
    if [[ -n "$DEMO_PID" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
        kill -INT "$DEMO_PID" 2>/dev/null || true
        wait "$DEMO_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> seeding: iops demo, 50 hosts x 1440 one-minute samples" >&2
started=$(date +%s)
NO_COLOR=1 "$BIN" demo --hosts 50 --days 1 --warmup-days 0 --interval-secs 60 --incident-rate 2 \
    --no-forest --fast --addr 127.0.0.1:0 --db "$WORK/dash.db" >"$WORK/demo.out" 2>"$WORK/demo.err" &
DEMO_PID=$!
for _ in $(seq 1 1200); do
    grep -q "serving until" "$WORK/demo.out" && break
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
        echo "bench-dashboard: the demo exited:" >&2
        cat "$WORK/demo.err" >&2
        exit 1
    fi
    sleep 0.5
done
URL="$(sed -n 's/^Dashboard: \(http:\/\/[0-9.:]*\/\) .*/\1/p' "$WORK/demo.out" | head -1)"
if ! grep -q "serving until" "$WORK/demo.out" || [[ -z "$URL" ]]; then
    echo "bench-dashboard: the demo did not finish streaming within 10 minutes" >&2
    exit 1
fi
grep -E "^samples processed|^insights:" "$WORK/demo.out" >&2
echo "==> seeded in $(( $(date +%s) - started )) s; dashboard at $URL" >&2
HOST="$(curl -s "$URL" | grep -o 'href="/hosts/[^"]*"' | head -1 | sed 's/href="\/hosts\/\(.*\)"/\1/')"
echo "==> before: $(uptime)" >&2
python3 "$ROOT/scripts/dashboard-paint.py" "$URL" "$RUNS"
python3 "$ROOT/scripts/dashboard-paint.py" "${URL}hosts/$HOST" "$RUNS"
echo "==> after:  $(uptime)" >&2
