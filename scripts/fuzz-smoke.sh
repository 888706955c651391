#!/usr/bin/env bash
# Runs every cargo-fuzz target for a short while (default 30 s each) and fails on any crash.
# The stable toolchain is used with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly-only flags);
# cargo-fuzz itself is installed from crates.io when missing.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-30}"
cd "$ROOT/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

# Seeds: the wire fixtures for the metric parser, maintenance windows and mutes, a few timestamps, the golden model file,
# SageMaker request bodies (CSV with/without header, the JSON shapes, JSON lines).
declare -A SEEDS=(
    [artifact_json]="$ROOT/fuzz/seeds/artifact_json"
    [metric_batch_json]="$ROOT/fuzz/seeds/metric_batch_json"
    [metric_json]="$ROOT/tests/fixtures/metrics/valid $ROOT/tests/fixtures/metrics/invalid"
    [quiet_window_json]="$ROOT/fuzz/seeds/quiet_window_json"
    [timestamp_parse]="$ROOT/fuzz/seeds/timestamp_parse"
    [sagemaker_csv]="$ROOT/fuzz/seeds/sagemaker_csv"
    [sagemaker_json]="$ROOT/fuzz/seeds/sagemaker_json"
    [sagemaker_jsonlines]="$ROOT/fuzz/seeds/sagemaker_jsonlines"
)

status=0
for target in $(cargo fuzz list); do
    corpus="$ROOT/fuzz/corpus/$target"
    mkdir -p "$corpus" "$ROOT/fuzz/target"
    echo "==> fuzz $target for ${SECONDS_PER_TARGET}s"
    start=$SECONDS
    log="$ROOT/fuzz/target/$target.log"
    # shellcheck disable=SC2086 # SEEDS holds several directories
    if cargo fuzz run "$target" "$corpus" ${SEEDS[$target]:-} -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"$log"; then
        grep -E '^Done|stat::number_of_executed_units' "$log" | sed 's/^/    /'
        echo "    $target: ok in $((SECONDS - start))s"
    else
        grep -E -A3 'panicked|ERROR|SUMMARY' "$log" | head -20 | sed 's/^/    /'
        echo "    $target: FAILED (see fuzz/target/$target.log and fuzz/artifacts/$target/)"
        status=1
    fi
done
exit "$status"
