#!/usr/bin/env bash
# Load test of `iops serve` (issue 7's figure: >= 20,000 metrics/s through POST /metrics with
# durable acknowledgements, p99 <= 10 ms): builds the release binary, starts the server on a
# free 127.0.0.1 port over a fresh temporary database with synchronous = FULL, posts with
# `iops loadgen` (HOSTS hosts, CONNECTIONS keep-alive connections, DURATION), stops the server
# by its PID and prints loadgen's JSON with the machine's load (the load generator shares the
# machine with the server, and the machine is shared: read the figures as noisy).
# Usage: scripts/bench-serve.sh [DURATION=10s] [CONNECTIONS=32] [HOSTS=50]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10s}"
CONNS="${2:-32}"
HOSTS="${3:-50}"

echo "==> cargo build --release -p iops-cli" >&2
cargo build --release -p iops-cli >&2
BIN="$ROOT/target/release/iops"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iops-bench-serve.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Port 0: the server binds a free port and prints "listening on http://127.0.0.1:PORT".
"$BIN" serve --addr 127.0.0.1:0 --db "$WORK/bench.db" --durability full \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$WORK/serve.out")"
    [[ -n "$URL" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "bench-serve: the server exited:" >&2
        cat "$WORK/serve.err" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$URL" ]]; then
    echo "bench-serve: the server did not print its address within 10 s" >&2
    exit 1
fi
echo "==> iops serve at $URL (pid $SERVER_PID, synchronous FULL, $WORK/bench.db)" >&2
echo "==> iops loadgen --hosts $HOSTS --connections $CONNS --duration $DURATION" >&2
echo "==> before: $(uptime)" >&2
"$BIN" loadgen --url "$URL" --hosts "$HOSTS" --duration "$DURATION" --connections "$CONNS"
echo "==> after:  $(uptime)" >&2
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
echo "==> server stopped" >&2
