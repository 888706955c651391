#!/usr/bin/env bash
# The runbook's data-loss procedure: restore-table.sh TABLE --to 2026-11-30T10:00:00Z (or --latest) into TABLE-restored, checked, and the function pointed at it.
exec "$(dirname "${BASH_SOURCE[0]}")/../lib/iops-ops.sh" restore "$@"
