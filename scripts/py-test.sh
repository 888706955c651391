#!/usr/bin/env bash
# Builds the Python package (python/, crate iops-py) into .venv with maturin and runs its
# pytest suite (strict: warnings are errors, see python/pyproject.toml). Extra arguments go
# to pytest. Needs .venv with maturin, pytest and scikit-learn: scripts/test.sh (`make test`)
# creates it; `make py` runs this script after setting it up.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/python"
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
if [[ -z "${IOPS_SHARED:-}" && -d "$ROOT/../shared" ]]; then
    IOPS_SHARED="$(cd "$ROOT/../shared" && pwd)"
    export IOPS_SHARED
fi

# Release build (the figures and the parity test need optimised code); installed editable,
# so python/iops is the package that is imported.
maturin develop --release --quiet
python -m pytest "$@"
