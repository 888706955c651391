"""validate-deployment: one line per check, ok or FAILED and why."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from . import lambda_env
from .context import Deployment
from .switch import endpoint_problem

# the runbook's names
ALARMS = ("IOps-Lambda-HighErrorRate", "IOps-Lambda-HighLatencyP99", "IOps-Canary-Fallbacks")
DASHBOARD = "IOps-System-Dashboard"
HTTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    problem: str | None  # None: ok

    def line(self) -> str:
        return (
            f"ok      {self.name}"
            if self.problem is None
            else f"FAILED  {self.name}: {self.problem}"
        )


def _check(name: str, probe: Callable[[], str | None]) -> Check:
    try:
        return Check(name, probe())
    except Exception as e:  # noqa: BLE001 - a check that cannot run has failed, saying why
        return Check(name, f"{type(e).__name__}: {e}")


def _http(method: str, url: str, api_key: str, body: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if api_key:
        request.add_header("x-api-key", api_key)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text[:200]


def checks(d: Deployment, now: Callable[[], dt.datetime] | None = None) -> list[Check]:
    o = d.outputs
    now = now or (lambda: dt.datetime.now(dt.timezone.utc))
    lam, ddb = d.client("lambda"), d.client("dynamodb")
    results: list[Check] = []

    def function() -> str | None:
        c = lam.get_function_configuration(FunctionName=o.LAMBDA_NAME)
        state, update = c.get("State", "Active"), c.get("LastUpdateStatus", "Successful")
        if state != "Active" or update != "Successful":
            return f"state {state}, last update {update} ({c.get('LastUpdateStatusReason', '')})"
        return None

    results.append(_check(f"function {o.LAMBDA_NAME} Active, last update Successful", function))

    for table in (o.METRICS_TABLE, o.INSIGHTS_TABLE, o.STATE_TABLE, o.INCIDENTS_TABLE):

        def table_ok(table=table) -> str | None:
            status = ddb.describe_table(TableName=table)["Table"]["TableStatus"]
            backups = ddb.describe_continuous_backups(TableName=table)
            pitr = (
                backups["ContinuousBackupsDescription"]
                .get("PointInTimeRecoveryDescription", {})
                .get("PointInTimeRecoveryStatus", "DISABLED")
            )
            problems = [f"status {status}"] if status != "ACTIVE" else []
            problems += [f"point-in-time recovery {pitr}"] if pitr != "ENABLED" else []
            return ", ".join(problems) or None

        results.append(_check(f"table {table} ACTIVE, point-in-time recovery on", table_ok))

    api_key = ""
    if o.API_KEY_ID:
        try:
            api_key = d.client("apigateway").get_api_key(apiKey=o.API_KEY_ID, includeValue=True)[
                "value"
            ]
        except Exception as e:  # noqa: BLE001
            results.append(Check(f"API key {o.API_KEY_ID}", f"cannot read its value: {e}"))
    base = o.API_URL.rstrip("/")

    def api_answers() -> str | None:
        status, body = _http("GET", f"{base}/incidents?limit=1", api_key)
        return None if status == 200 else f"GET /incidents answered {status}: {body}"

    results.append(_check(f"API {base} answers", api_answers))

    def round_trip() -> str | None:
        host = f"validate-{now().strftime('%Y%m%d%H%M%S')}"
        stamp = now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        sample = {
            "timestamp": stamp,
            "hostname": host,
            "cpuUsage": 12.5,
            "memoryUsage": 40.0,
            "diskIO": 10.0,
            "networkIO": 20.0,
        }
        status, body = _http("POST", f"{base}/metrics", api_key, sample)
        if status not in (200, 201):
            return f"POST /metrics answered {status}: {body}"
        query = urllib.parse.urlencode({"hostname": host})
        status, body = _http("GET", f"{base}/metrics?{query}", api_key)
        items = body.get("metrics", []) if isinstance(body, dict) else []
        if status != 200 or not any(m.get("hostname") == host for m in items):
            return f"GET /metrics?hostname={host} answered {status} without the sample: {body}"
        return None

    results.append(_check("a test metric is posted and read back", round_trip))

    env, _ = lambda_env.environment(lam, o.LAMBDA_NAME)
    if env.get("USE_SAGEMAKER", "false").lower() == "true":
        endpoint = env.get("SAGEMAKER_ENDPOINT", "")
        results.append(
            _check(
                f"SageMaker endpoint {endpoint or '(none)'} InService",
                lambda: endpoint_problem(d, endpoint),
            )
        )

    def alarms() -> str | None:
        got = d.client("cloudwatch").describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]
        missing = sorted(set(ALARMS) - {a["AlarmName"] for a in got})
        return f"missing {', '.join(missing)}" if missing else None

    results.append(_check(f"alarms {', '.join(ALARMS)} exist", alarms))

    def dashboard() -> str | None:
        d.client("cloudwatch").get_dashboard(DashboardName=o.DASHBOARD_NAME or DASHBOARD)
        return None

    results.append(_check(f"dashboard {o.DASHBOARD_NAME or DASHBOARD} exists", dashboard))
    return results


def validate(d: Deployment) -> int:
    results = checks(d)
    for c in results:
        d.say(c.line())
    failed = sum(c.problem is not None for c in results)
    d.say(f"{len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0
