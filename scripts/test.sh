#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: a Python venv for the cross-checks,
# then fmt check, clippy with warnings as errors, and every test in the workspace.
# Stops at the first failing step (non-zero exit) and prints how long each step took.
# Needs only a Rust toolchain (with rustfmt and clippy) and python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Versions known to install and work together on this machine's Python (3.11).
PY_PACKAGES=(numpy==2.4.6 pandas==3.1.1)

TIMINGS=()
step() {
    local name="$1"
    shift
    echo "==> $name: $*"
    local start=$SECONDS
    if "$@"; then
        TIMINGS+=("$(printf '%-8s %5ds  ok' "$name" $((SECONDS - start)))")
    else
        local rc=$?
        TIMINGS+=("$(printf '%-8s %5ds  FAILED (exit %d)' "$name" $((SECONDS - start)) "$rc")")
        summary
        echo "test.sh: step '$name' failed" >&2
        exit "$rc"
    fi
}
summary() {
    echo "==> timings"
    printf '    %s\n' "${TIMINGS[@]}"
}

setup_venv() {
    if [[ ! -x .venv/bin/python ]]; then
        python3 -m venv .venv
    fi
    # Quick when already satisfied; installs what is missing on a fresh clone.
    .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
    .venv/bin/python -c 'import numpy, pandas'
}

step venv setup_venv
export IOPS_PYTHON="$ROOT/.venv/bin/python"
if [[ -d "$ROOT/../shared" ]]; then
    IOPS_SHARED="$(cd "$ROOT/../shared" && pwd)"
    export IOPS_SHARED
fi
echo "    IOPS_PYTHON=$IOPS_PYTHON IOPS_SHARED=${IOPS_SHARED:-<unset: no ../shared>}"

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step test cargo test --workspace
summary
