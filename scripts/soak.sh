#!/usr/bin/env bash
# Soak test of `iops serve` (issue 17): 1,000 hosts posting samples 5 minutes apart (event
# time: a host fills its day and week of history within the run) for DURATION, half one sample per
# request (16 connections), half in batches of 100 (2 connections), against a fresh database
# with synchronous = FULL. The server's RSS is read every few seconds from /proc and each
# loadgen reports its throughput and latency per WINDOW; scripts/soak_report.py prints both
# and fails (exit 1) when the RSS grows more than 10 % after the warm-up (the first fifth of
# the run), a window's p99 after the warm-up exceeds 3x the median window's, or an answer is
# a 5xx or missing.
# `make soak` runs 10 minutes; CI runs `scripts/soak.sh 60s 10s` with the debug binary, which
# fails on errors and 5xx answers only: in a minute the hosts' states are still filling their
# week of history, so RSS grows by design, and a 10 s window's p99 is one hiccup of a shared
# machine (the report prints both). RSS and p99 are judged in runs of 5 minutes or more.
# Usage: scripts/soak.sh [DURATION=10m] [WINDOW=60s]   (IOPS_BIN: a built iops to use)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10m}"
WINDOW="${2:-60s}"

# shellcheck source=scripts/lib/serve.sh
source "$ROOT/scripts/lib/serve.sh"
bg_init soak TERM
if [[ -n "${IOPS_BIN:-}" ]]; then
    BIN="$IOPS_BIN"
else
    build_iops
fi

bg_start "$BIN" serve --addr 127.0.0.1:0 --db "$WORK/soak.db" --durability full
bg_wait 20 '^listening on http://[0-9.:]+$' "print its address"
URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$WORK/bg.out")"
echo "==> iops serve at $URL (pid $BG_PID); 1,000 hosts for $DURATION, windows of $WINDOW" >&2

# RSS (kB) every 2 s, with the seconds since the start
(
    start=$SECONDS
    while kill -0 "$BG_PID" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$BG_PID/status" 2>/dev/null || true)
        [[ -n "$rss" ]] && echo "$((SECONDS - start)) $rss"
        sleep 2
    done
) >"$WORK/rss.txt" &
SAMPLER=$!

"$BIN" loadgen --url "$URL" --hosts 500 --host-prefix single- --connections 16 \
    --step-seconds 300 --duration "$DURATION" --window "$WINDOW" >"$WORK/single.json" &
SINGLE=$!
"$BIN" loadgen --url "$URL" --hosts 500 --host-prefix batch- --connections 2 --batch 100 \
    --step-seconds 300 --duration "$DURATION" --window "$WINDOW" >"$WORK/batch.json" &
BATCH=$!
wait "$SINGLE" "$BATCH"
kill "$SAMPLER" 2>/dev/null || true
bg_stop
JUDGE=no
if (( $(python3 -c "import sys; s='$DURATION'; u=s.lstrip('0123456789.'); n=float(s[:len(s)-len(u)] or 0); print(int(n * {'ms': 0.001, 's': 1, 'm': 60, '': 1}[u]))") >= 300 )); then
    JUDGE=judge
fi
python3 "$ROOT/scripts/soak_report.py" "$JUDGE" "$WORK/rss.txt" "$WORK/single.json" "$WORK/batch.json"
