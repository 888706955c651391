"""restore-table: a table restored to a point in time, checked, and the function pointed at
it by merging the one variable that names it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from . import lambda_env
from .context import Deployment


class RestoreError(Exception):
    pass


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 instant with its zone (`2026-11-30T10:00:00Z`)."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestoreError(
            f"--to: {text!r} is not an ISO 8601 time like 2026-11-30T10:00:00Z"
        ) from None
    if t.tzinfo is None:
        raise RestoreError(f"--to: {text!r} has no time zone (add Z for UTC)")
    return t


def _count(ddb, table: str) -> int:
    total, kwargs = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def restore(
    d: Deployment,
    table: str,
    to: dt.datetime | None,
    timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Restores `table` into `table`-restored at `to` (None: the latest restorable time), waits
    for it to be ACTIVE, counts its items, and merges the function's variable that names
    `table` to the restored one."""
    lam, ddb = d.client("lambda"), d.client("dynamodb")
    env, _ = lambda_env.environment(lam, d.outputs.LAMBDA_NAME)
    variables = sorted(name for name, value in env.items() if value == table)
    if not variables:
        raise RestoreError(
            f"{d.outputs.LAMBDA_NAME} has no variable naming {table} "
            f"(its tables: {', '.join(f'{k}={v}' for k, v in sorted(env.items()) if k.endswith('_TABLE'))})"
        )
    target = f"{table}-restored"
    kwargs = {"SourceTableName": table, "TargetTableName": target}
    if to is None:
        kwargs["UseLatestRestorableTime"] = True
    else:
        kwargs["RestoreDateTime"] = to
    ddb.restore_table_to_point_in_time(**kwargs)
    d.say(
        f"restoring {table} to {'the latest restorable time' if to is None else to.isoformat()} into {target}"
    )
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = ddb.describe_table(TableName=target)["Table"]["TableStatus"]
        if status == "ACTIVE":
            break
        if time.monotonic() >= deadline:
            raise RestoreError(f"{target} is still {status} after {timeout_seconds:.0f} s")
        sleep(10.0)
    items = _count(ddb, target)
    d.say(f"{target} is ACTIVE with {items} items (source {table}: {_count(ddb, table)} now)")
    # a restored table has no point-in-time recovery of its own until it is turned on
    ddb.update_continuous_backups(
        TableName=target,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    env = lambda_env.update(lam, d.outputs.LAMBDA_NAME, {v: target for v in variables})
    d.say(
        f"{d.outputs.LAMBDA_NAME} now uses {target} ({', '.join(variables)}; "
        f"{len(env)} variables kept); point-in-time recovery is on for {target}"
    )
    return 0
