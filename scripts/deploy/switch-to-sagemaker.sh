#!/usr/bin/env bash
# The runbook's canary switch: 10% / 50% / 100% of requests to SageMaker (--phase-seconds 120,180,300), rolling back by itself when a gate breaks. Exit 0 promoted, 2 rolled back, 3 aborted (nothing changed), 1 error.
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" switch "$@"
