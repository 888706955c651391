#!/usr/bin/env bash
# The runbook's deployment check: one line per check, exit 1 on any failure.
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" validate "$@"
