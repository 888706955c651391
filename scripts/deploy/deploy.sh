#!/usr/bin/env bash
# The runbook's deploy: build the function, deploy infra/template.yaml, write .deployment-outputs here (ops/iops_ops/deploy.py).
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" deploy "$@"
