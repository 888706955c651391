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

# shellcheck source=scripts/lib/serve.sh
source "$ROOT/scripts/lib/serve.sh"
bg_init bench-dashboard INT
build_iops

echo "==> seeding: iops demo, 50 hosts x 1440 one-minute samples" >&2
started=$(date +%s)
NO_COLOR=1 bg_start "$BIN" demo --hosts 50 --days 1 --warmup-days 0 --interval-secs 60 --incident-rate 2 \
    --no-forest --fast --addr 127.0.0.1:0 --db "$WORK/dash.db"
bg_wait 600 "serving until" "finish streaming"
URL="$(sed -n 's/^Dashboard: \(http:\/\/[0-9.:]*\/\) .*/\1/p' "$WORK/bg.out" | head -1)"
if [[ -z "$URL" ]]; then
    echo "bench-dashboard: the demo printed no dashboard address" >&2
    exit 1
fi
grep -E "^samples processed|^insights:" "$WORK/bg.out" >&2
echo "==> seeded in $(( $(date +%s) - started )) s; dashboard at $URL" >&2
HOST="$(curl -s "$URL" | grep -o 'href="/hosts/[^"]*"' | head -1 | sed 's/href="\/hosts\/\(.*\)"/\1/')"
echo "==> before: $(uptime)" >&2
python3 "$ROOT/scripts/dashboard-paint.py" "$URL" "$RUNS"
python3 "$ROOT/scripts/dashboard-paint.py" "${URL}hosts/$HOST" "$RUNS"
echo "==> after:  $(uptime)" >&2
