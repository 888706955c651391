#!/usr/bin/env bash
# Runs `python -m iops_ops "$@"` (ops/iops_ops: the runbook's operations) with the repository's
# .venv when there is one (`make test` makes it; it has boto3), else python3 with boto3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${IOPS_OPS_PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
export PYTHONPATH="$ROOT/ops${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m iops_ops "$@"
