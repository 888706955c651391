#!/usr/bin/env bash
# The runbook's cost check: Cost Explorer month to date and today, an estimate from the deployment's traffic; exit 2 above the runaway threshold (--threshold, default $100 a day).
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" cost "$@"
