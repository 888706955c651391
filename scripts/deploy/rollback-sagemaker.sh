#!/usr/bin/env bash
# The runbook's rollback: USE_SAGEMAKER=false, CANARY_PERCENTAGE=0 merged into the function's environment (every other variable kept), waited for, verified.
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" rollback "$@"
