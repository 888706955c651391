"""switch-to-sagemaker and rollback-sagemaker: the canary's phases with automatic rollback."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from . import lambda_env
from .canary import Gates, Window, judge
from .cloudwatch import MetricsReader
from .context import Deployment

PROMOTED, FAILED, ROLLED_BACK, ABORTED = 0, 1, 2, 3
ROLLBACK_ENV = {"USE_SAGEMAKER": "false", "CANARY_PERCENTAGE": "0"}
# the built-in path's error rate before the switch is measured over this window
BASELINE_SECONDS = 900


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def endpoint_problem(d: Deployment, endpoint: str) -> str | None:
    """Why the endpoint cannot take traffic, or None when it is InService."""
    if not endpoint:
        return "no SageMaker endpoint is configured (SAGEMAKER_ENDPOINT is empty)"
    try:
        status = d.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
    except Exception as e:  # noqa: BLE001 - any failure to describe it is the answer
        return f"endpoint {endpoint} cannot be described: {e}"
    return None if status == "InService" else f"endpoint {endpoint} is {status}, not InService"


def rollback(d: Deployment) -> int:
    """USE_SAGEMAKER=false and CANARY_PERCENTAGE=0 merged into the function's environment,
    waited for and verified."""
    name = d.outputs.LAMBDA_NAME
    env = lambda_env.update(d.client("lambda"), name, ROLLBACK_ENV)
    d.say(
        f"rolled back: {name} has USE_SAGEMAKER={env['USE_SAGEMAKER']} "
        f"CANARY_PERCENTAGE={env['CANARY_PERCENTAGE']} ({len(env)} variables kept)"
    )
    return ROLLED_BACK


def _progress(pct: int, index: int, phases: int, elapsed: float, seconds: float, w: Window) -> str:
    sm, bi = w.sagemaker, w.builtin
    p99 = "-" if sm.p99_ms is None else f"{sm.p99_ms:.0f} ms" + (" (max)" if sm.p99_is_max else "")
    return (
        f"phase {index}/{phases} {pct}% {elapsed:.1f}/{seconds:g} s: "
        f"sagemaker {sm.requests:.0f} req {sm.error_rate:.1f}% err p99 {p99} "
        f"fallbacks {sm.fallbacks:.0f}; builtin {bi.requests:.0f} req {bi.error_rate:.1f}% err; "
        f"failed invocations {w.failed_invocations:.0f}/{w.invocations:.0f}"
    )


def switch(
    d: Deployment,
    phases: tuple[tuple[int, float], ...],
    gates: Gates | None = None,
    poll_seconds: float = 15.0,
    settle_seconds: float = 60.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Runs the phases; rolls back by itself when a gate breaks. Returns PROMOTED,
    ROLLED_BACK, ABORTED (the endpoint not InService: nothing changed) or FAILED (an error or
    an interruption during the phases, after which it rolled back too)."""
    if not phases:
        raise ValueError("no phases to run")
    gates = gates or Gates()
    name = d.outputs.LAMBDA_NAME
    lam = d.client("lambda")
    current, _ = lambda_env.environment(lam, name)
    endpoint = current.get("SAGEMAKER_ENDPOINT") or d.outputs.SAGEMAKER_ENDPOINT
    problem = endpoint_problem(d, endpoint)
    if problem:
        d.say(f"aborted, nothing changed: {problem}")
        return ABORTED
    reader = MetricsReader(d.client("cloudwatch"), name)
    now = clock()
    baseline = reader.window(_utc(now - BASELINE_SECONDS), _utc(now)).builtin
    d.say(
        f"endpoint {endpoint} is InService; built-in error rate before the switch "
        f"{baseline.error_rate:.1f}% over {baseline.requests:.0f} requests"
    )
    changes = {"USE_SAGEMAKER": "true", "CANARY_PERCENTAGE": "0"}
    if not current.get("SAGEMAKER_ENDPOINT"):
        changes["SAGEMAKER_ENDPOINT"] = endpoint
    try:
        return _phases(
            d,
            reader,
            phases,
            gates,
            baseline.error_rate,
            changes,
            endpoint,
            poll_seconds,
            settle_seconds,
            clock,
            sleep,
        )
    except (Exception, KeyboardInterrupt) as e:
        # a switch that cannot finish is not left half way: back to the built-in model
        d.say(f"stopped during the switch ({type(e).__name__}: {e}); rolling back")
        rollback(d)
        return FAILED


def _phases(
    d,
    reader,
    phases,
    gates,
    baseline_rate,
    changes,
    endpoint,
    poll_seconds,
    settle_seconds,
    clock,
    sleep,
) -> int:
    name = d.outputs.LAMBDA_NAME
    lam = d.client("lambda")
    for index, (pct, seconds) in enumerate(phases, 1):
        changes["CANARY_PERCENTAGE"] = str(pct)
        lambda_env.update(lam, name, changes)
        start = clock()
        d.say(f"phase {index}/{len(phases)}: {pct}% to SageMaker for {seconds:.0f} s")
        end_at = seconds + settle_seconds
        while True:
            elapsed = clock() - start
            if elapsed < end_at:
                sleep(min(poll_seconds, end_at - elapsed))
                elapsed = clock() - start
            over = elapsed >= end_at
            window = reader.window(_utc(start), _utc(clock()))
            d.say(_progress(pct, index, len(phases), elapsed, seconds, window))
            verdict = judge(window, gates, baseline_rate, phase_over=over)
            if verdict.breaches or over:
                break
        if verdict.breaches:
            for b in verdict.breaches:
                d.say(f"gate: {b}")
            if verdict.no_traffic:
                d.say(
                    "no traffic reached the SageMaker path: nothing to judge it on, so no promotion"
                )
            rollback(d)
            return ROLLED_BACK
        d.say(f"phase {index}/{len(phases)} passed")
    d.say(f"promoted: {pct}% of requests to {endpoint}")
    return PROMOTED
