#!/usr/bin/env bash
# Load test of the SageMaker container, side by side in one run with the Flask + gunicorn +
# scikit-learn BYOC baseline (../shared/bench/sagemaker_flask_baseline): both are loaded by
# the baseline's own load.sh (wrk, 1 thread, 16 connections, 127.0.0.1): GET /ping, POST
# /invocations with a 1-row and a 100-row text/csv body. Both models: 100 trees x 256 samples
# on 100k x 4 standard-normal rows (the baseline's train.py). Prints both tables, the ratios
# (ours / Flask) and the machine load.
# Usage: scripts/bench-sagemaker.sh [DURATION=10s] [CONNECTIONS=16]
# Env: IOPS_SHARED (the shared/ folder, default ../shared), FLASK_PARSER (pandas|numpy,
#      default pandas as in the AWS sample), SAGEMAKER_MODEL_SERVER_WORKERS (our worker threads).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10s}"
CONNS="${2:-16}"
FLASK_PARSER="${FLASK_PARSER:-pandas}"
BASELINE="${IOPS_SHARED:-$ROOT/../shared}/bench/sagemaker_flask_baseline"
OUT="$ROOT/target/bench-sagemaker"
VENV="$ROOT/target/sm-peers-venv"

if [[ ! -f "$BASELINE/load.sh" ]]; then
    echo "bench-sagemaker: $BASELINE/load.sh not found (set IOPS_SHARED to the shared/ folder)" >&2
    exit 1
fi

# wrk: from Debian's packages when missing (needs root and apt-get).
if ! command -v wrk >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing wrk (apt-get install -y wrk)"
        apt-get install -y wrk >/dev/null || {
            echo "bench-sagemaker: 'apt-get install -y wrk' failed; install wrk (https://github.com/wg/wrk) and rerun" >&2
            exit 1
        }
    else
        echo "bench-sagemaker: wrk is not installed; run 'sudo apt-get install -y wrk' (Debian/Ubuntu) or 'brew install wrk', then rerun" >&2
        exit 1
    fi
fi

# The baseline directory is read-only and load.sh writes next to itself: run from a copy.
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$BASELINE" "$OUT/flask"
chmod -R u+w "$OUT/flask"
rm -rf "$OUT/flask/results"

# The peers' venv (pinned), also used for load.sh's python3 (make_bodies.py needs numpy).
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    numpy==2.4.6 pandas==3.1.1 scikit-learn==1.9.1 scipy==1.17.1 joblib==1.6.0 \
    threadpoolctl==3.8.0 flask==3.1.3 werkzeug==3.1.9 gunicorn==27.0.1
export PATH="$VENV/bin:$PATH"

echo "==> cargo build --release -p iops-sagemaker --locked"
cargo build --release -p iops-sagemaker --locked
BIN="$ROOT/target/release/iops-sagemaker"

# Our model: the same data and forest shape as the baseline's train.py, trained by our own
# training entrypoint (RCF-style hyperparameter names) in a scratch /opt/ml tree.
ML="$OUT/ml"
mkdir -p "$ML/input/config" "$ML/input/data/train"
echo '{"num_trees": "100", "num_samples_per_tree": "256", "seed": "0"}' \
    >"$ML/input/config/hyperparameters.json"
python - "$ML/input/data/train/train.csv" <<'PY'
import sys, numpy as np
X = np.random.default_rng(0).standard_normal((100_000, 4))
np.savetxt(sys.argv[1], X, delimiter=",", fmt="%.17g")
PY
echo "==> iops-sagemaker train (100 trees x 256 on 100k x 4)"
"$BIN" train --ml-root "$ML"

uptime_before="$(uptime)"

# Ours: port 0 picks a free port; the bound address is printed on stderr.
echo "==> iops-sagemaker serve on 127.0.0.1 (free port)"
"$BIN" serve --ml-root "$ML" --host 127.0.0.1 --port 0 2>"$OUT/iops.log" &
IOPS_PID=$!
FLASK_PID=""
cleanup() {
    kill "$IOPS_PID" 2>/dev/null || true
    [[ -n "$FLASK_PID" ]] && kill "$FLASK_PID" 2>/dev/null
    wait 2>/dev/null || true
}
trap cleanup EXIT
URL=""
for _ in $(seq 1 100); do
    URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$OUT/iops.log" 2>/dev/null | head -1 || true)"
    [[ -n "$URL" ]] && curl -fsS -o /dev/null "$URL/ping" 2>/dev/null && break
    kill -0 "$IOPS_PID" 2>/dev/null || { cat "$OUT/iops.log" >&2; exit 1; }
    sleep 0.05
done
[[ -n "$URL" ]] || { echo "bench-sagemaker: our server did not start" >&2; cat "$OUT/iops.log" >&2; exit 1; }
head -1 "$OUT/iops.log"
"$OUT/flask/load.sh" "$URL" iops "$DURATION" "$CONNS" 1
kill "$IOPS_PID"
wait "$IOPS_PID" 2>/dev/null || true

# The baseline: gunicorn, 2 sync workers, the same load.sh.
FLASK_PORT="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "==> Flask baseline: training its model (train.py)"
mkdir -p "$OUT/flask/model"
python "$OUT/flask/train.py"
python "$OUT/flask/make_bodies.py"
echo "==> Flask + gunicorn (2 sync workers, CSV_PARSER=$FLASK_PARSER) on 127.0.0.1:$FLASK_PORT"
(cd "$OUT/flask" && CSV_PARSER="$FLASK_PARSER" exec gunicorn -k sync -w 2 -b "127.0.0.1:$FLASK_PORT" \
    --timeout 60 --preload --log-level warning predictor:app) >"$OUT/gunicorn.log" 2>&1 &
FLASK_PID=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$FLASK_PORT/ping" 2>/dev/null && break
    kill -0 "$FLASK_PID" 2>/dev/null || { cat "$OUT/gunicorn.log" >&2; exit 1; }
    sleep 0.1
done
"$OUT/flask/load.sh" "http://127.0.0.1:$FLASK_PORT" flask "$DURATION" "$CONNS" 1
kill "$FLASK_PID"
wait "$FLASK_PID" 2>/dev/null || true
FLASK_PID=""

echo
echo "==> side by side ($DURATION per run, $CONNS connections, wrk 1 thread, $(nproc) cores)"
echo "    load before: $uptime_before"
echo "    load after:  $(uptime)"
python "$OUT/flask/parse_wrk.py" "$OUT"/flask/results/*.txt >"$OUT/summary.jsonl"
python - "$OUT/summary.jsonl" <<'PY'
import json, sys
rows = {r["file"].removesuffix(".txt"): r for r in map(json.loads, open(sys.argv[1]))}
def get(label, name):
    return rows.get(f"{label}_{name}", {})
print(f"{'request':22} {'server':7} {'req/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
for name, what in (("ping", "GET /ping"), ("inv1", "1-row text/csv"), ("inv100", "100-row text/csv")):
    for label in ("iops", "flask"):
        r = get(label, name)
        f = lambda k, fmt: "-" if r.get(k) is None else format(r[k], fmt)
        print(f"{what:22} {label:7} {f('req_per_s', '10.0f'):>10} {f('p50_ms', '8.3f'):>8} "
              f"{f('p90_ms', '8.3f'):>8} {f('p99_ms', '8.3f'):>8} {r.get('non2xx', '-'):>8}")
print()
print(f"{'request':22} {'throughput ours/Flask':>22} {'p99 Flask/ours':>16}")
for name, what in (("ping", "GET /ping"), ("inv1", "1-row text/csv"), ("inv100", "100-row text/csv")):
    a, b = get("iops", name), get("flask", name)
    t = f"{a['req_per_s'] / b['req_per_s']:.1f}x" if a.get("req_per_s") and b.get("req_per_s") else "-"
    p = f"{b['p99_ms'] / a['p99_ms']:.1f}x" if a.get("p99_ms") and b.get("p99_ms") else "-"
    print(f"{what:22} {t:>22} {p:>16}")
PY
echo "(raw wrk outputs: $OUT/flask/results/)"
