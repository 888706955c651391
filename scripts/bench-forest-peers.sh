#!/usr/bin/env bash
# Isolation forest cost side by side in one run: our criterion `forest` bench and
# scikit-learn's IsolationForest (../shared/bench/python_peers/bench_sklearn.py), then the
# ratios (sklearn time / ours). scikit-learn lives in its own venv (target/peers-venv).
# Usage: scripts/bench-forest-peers.sh [SIZES]   (default 10000,100000,1000000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIZES="${1:-10000,100000,1000000}"
PEERS="${IOPS_SHARED:-$ROOT/../shared}/bench/python_peers"
VENV="$ROOT/target/peers-venv"
OUT="$ROOT/target/bench-forest-peers"
mkdir -p "$OUT"

if [[ ! -f "$PEERS/bench_sklearn.py" ]]; then
    echo "bench-forest-peers: $PEERS/bench_sklearn.py not found (set IOPS_SHARED to the shared/ folder)" >&2
    exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    numpy==2.4.6 scikit-learn==1.9.1 threadpoolctl==3.8.0

echo "==> ours: cargo bench -p iops-benches --bench forest"
cargo bench -p iops-benches --bench forest -- --noplot | tee "$OUT/ours.txt"

echo "==> scikit-learn: bench_sklearn.py $SIZES"
(cd "$PEERS" && "$VENV/bin/python" bench_sklearn.py "$SIZES") | tee "$OUT/sklearn.jsonl"

"$VENV/bin/python" - "$ROOT/target/criterion" "$OUT/sklearn.jsonl" <<'PY'
import json, sys, pathlib
crit, skl = pathlib.Path(sys.argv[1]), sys.argv[2]
def ours(*parts):
    p = crit.joinpath(*parts, "new", "estimates.json")
    return json.loads(p.read_text())["median"]["point_estimate"] * 1e-9 if p.exists() else None
rows = [json.loads(l) for l in open(skl) if l.startswith("{\"tool\"")]
def sk(op, n, threads):
    for r in rows:
        if r["tool"] == "sklearn.IsolationForest" and r["op"] == op and r["n"] == n and r["threads"] == threads:
            return r["median_s"]
print(f"{'operation':42} {'ours':>12} {'sklearn 1 thr':>14} {'sklearn 2 thr':>14} {'ratio (best sk / ours)':>22}")
def line(name, t, s1, s2, per=None):
    def f(x): return "-" if x is None else (f"{x*1e9/per:9.0f} ns" if per else f"{x*1e3:9.3f} ms")
    best = min([x for x in (s1, s2) if x is not None], default=None)
    ratio = f"{best / t:10.1f}x" if best and t else "-"
    print(f"{name:42} {f(t):>12} {f(s1):>14} {f(s2):>14} {ratio:>22}")
for n in (10000, 100000, 1000000):
    line(f"fit 100 trees x 256, {n} x 4", ours("forest_fit", str(n)), sk("fit", n, 1), sk("fit", n, 2))
for n in (10000, 100000, 1000000):
    line(f"score_samples {n} x 4 (per row)", ours("forest_score_samples", str(n)),
         sk("score_samples(same n)", n, 1), sk("score_samples(same n)", n, 2), per=n)
line("one row (per call)", ours("forest_score_one"),
     sk("single_row_score_samples_per_call", 1, 1), sk("single_row_score_samples_per_call", 1, 2), per=1)
print("artifact load, 100 trees:", f"{ours('forest_artifact', 'load_100_trees') * 1e3:.3f} ms")
PY
