"""Changing a Lambda function's environment without losing any of it.

`aws lambda update-function-configuration --environment "Variables={...}"` replaces the whole
environment: every variable not named is dropped. Here a change is merged into what the
function has, sent with the revision it was read at (a concurrent change fails instead of
being overwritten), and waited for until the update has finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


class LambdaEnvError(Exception):
    """The function's environment could not be changed as asked."""


def merge(current: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """`current` with `changes` applied: every other variable kept as it was."""
    for name, value in changes.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise LambdaEnvError(f"variable {name!r}: names and values are strings")
    merged = dict(current)
    merged.update(changes)
    return merged


def environment(lambda_client, function: str) -> tuple[dict[str, str], str]:
    """The function's variables and the revision they were read at."""
    config = lambda_client.get_function_configuration(FunctionName=function)
    variables = config.get("Environment", {}).get("Variables", {}) or {}
    # (Lambda's values are strings; an emulator may hand back a template's numbers as numbers)
    return {k: str(v) for k, v in variables.items()}, config.get("RevisionId", "")


def wait_until_updated(
    lambda_client,
    function: str,
    timeout_seconds: float = 300.0,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Waits until the function's last update is no longer in progress; its configuration,
    or an error saying why the update failed or that it did not finish in time."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        config = lambda_client.get_function_configuration(FunctionName=function)
        status = config.get("LastUpdateStatus", "Successful")
        if status == "Successful" and config.get("State", "Active") == "Active":
            return config
        if status == "Failed":
            reason = config.get("LastUpdateStatusReason", "no reason given")
            raise LambdaEnvError(f"{function}: the update failed: {reason}")
        if time.monotonic() >= deadline:
            raise LambdaEnvError(
                f"{function}: the update is still {status} after {timeout_seconds:.0f} s"
            )
        sleep(poll_seconds)


def update(
    lambda_client,
    function: str,
    changes: Mapping[str, str],
    timeout_seconds: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Merges `changes` into the function's environment, waits for the update, and checks
    that the function has exactly the merged variables; returns them."""
    current, revision = environment(lambda_client, function)
    merged = merge(current, changes)
    kwargs = {"FunctionName": function, "Environment": {"Variables": merged}}
    if revision:
        kwargs["RevisionId"] = revision
    lambda_client.update_function_configuration(**kwargs)
    wait_until_updated(lambda_client, function, timeout_seconds, sleep=sleep)
    now, _ = environment(lambda_client, function)
    if now != merged:
        lost = sorted(set(merged) - set(now))
        differ = sorted(k for k in merged if k in now and now[k] != merged[k])
        raise LambdaEnvError(
            f"{function}: the environment is not what was set (missing {lost}, different {differ})"
        )
    return now
