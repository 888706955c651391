#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: a Python venv for the cross-checks,
# then fmt check, no module cycles (scripts/module-cycles.py), clippy with warnings as errors,
# every test in the workspace, and the Python
# package (python/: built with maturin into .venv, then its pytest suite).
# `scripts/test.sh python` runs only the venv and Python steps (`make py`).
# Stops at the first failing step (non-zero exit) and prints how long each step took.
# Needs only a Rust toolchain (with rustfmt and clippy) and python3; node + npm for the
# DynamoDB tests (dynalite), which skip, saying why, where node is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Versions known to install and work together on this machine's Python (3.11).
PY_PACKAGES=(numpy==2.4.6 pandas==3.1.1)
# The Python package's build and test tools (scripts/py-test.sh); boto3 and moto's server
# for train-sagemaker.py's test against moto_server on 127.0.0.1; awscli: the DynamoDB tests
# run the runbook's `aws dynamodb ...` commands against dynalite; cfn-lint: infra/template.yaml;
# cargo-lambda: `cargo lambda watch` runs the real Lambda bootstrap in crates/iops-lambda's tests
# (.venv/bin/cargo-lambda; the test skips, saying so, when it is missing); aws-sam-translator:
# the runbook scripts' deploy transforms the SAM template itself for moto (ops/); the
# OpenTelemetry SDK and its OTLP/HTTP exporter: a real client of POST /v1/metrics (ops/tests).
PY_TEST_PACKAGES=(maturin==1.16.0 pytest==9.0.2 scikit-learn==1.9.1 scipy==1.17.1 joblib==1.6.0 threadpoolctl==3.8.0
    boto3==1.44.5 botocore==1.44.8 "moto[server]==5.2.5" awscli==1.46.2
    cfn-lint==1.58.0 cargo-lambda==1.9.2 aws-sam-translator==1.115.0
    opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2)

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
    .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}" "${PY_TEST_PACKAGES[@]}"
    .venv/bin/python -c 'import numpy, pandas, sklearn, pytest, boto3, moto.server, samtranslator'
}

# dynalite (a local DynamoDB on node) for iops-store's and iops-service's DynamoDB tests,
# pinned by its package-lock.json; the tests start and stop it themselves.
DYNALITE_DIR="$ROOT/crates/iops-store/tests/dynalite"
setup_dynalite() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "    node/npm not found: the DynamoDB (dynalite) tests will skip"
        return 0
    fi
    npm ci --prefix "$DYNALITE_DIR" --no-audit --no-fund --loglevel=error
}

# The dashboard test (crates/iops-cli/tests/serve.rs) loads pages in headless Chromium;
# without it that part is skipped with a printed reason.
setup_chromium() {
    if [[ ! -x /usr/bin/chromium ]] && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        if ! apt-get install -y -q chromium >/dev/null; then
            apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null || true
        fi
    fi
    if [[ -x /usr/bin/chromium ]]; then echo "    chromium: $(/usr/bin/chromium --version)"; else echo "    chromium: absent (the dashboard's browser test will be skipped)"; fi
}

step venv setup_venv
step dynalite setup_dynalite
export IOPS_PYTHON="$ROOT/.venv/bin/python"
if [[ -d "$ROOT/../shared" ]]; then
    IOPS_SHARED="$(cd "$ROOT/../shared" && pwd)"
    export IOPS_SHARED
fi
echo "    IOPS_PYTHON=$IOPS_PYTHON IOPS_SHARED=${IOPS_SHARED:-<unset: no ../shared>}"

if [[ "${1:-}" == "python" ]]; then
    step python ./scripts/py-test.sh
    summary
    exit 0
fi

step chromium setup_chromium
step fmt cargo fmt --all -- --check
step cycles python3 scripts/module-cycles.py
step clippy cargo clippy --workspace --all-targets -- -D warnings
step infra .venv/bin/cfn-lint infra/template.yaml
step test cargo test --workspace
step python ./scripts/py-test.sh
# the runbook's operations (ops/): unit tests, and the scripts end to end against moto's
# server, with `iops serve` (built by the step above) answering the API
step ops env IOPS_BIN="$ROOT/target/debug/iops" .venv/bin/python -m pytest -q ops/tests
# the one-minute soak: 1,000 hosts through iops serve, no errors or 5xx (`make soak`: 10 min,
# RSS and p99 judged too)
step soak env IOPS_BIN="$ROOT/target/debug/iops" ./scripts/soak.sh 60s 10s
summary
