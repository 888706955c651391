"""Reading a window of the function's metrics from CloudWatch: the iops EMF metrics by
ModelSource, and the Lambda's own invocations and errors."""

from __future__ import annotations

import datetime as dt

from botocore.exceptions import BotoCoreError, ClientError

from .canary import PathStats, Window

NAMESPACE = "iops"
SOURCES = ("sagemaker", "builtin")
COUNTS = ("Requests", "Errors", "Fallbacks")
PERIOD = 60


def _query(qid, namespace, name, dimensions, stat):
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": PERIOD,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _values(cloudwatch, queries, start, end) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {q["Id"]: [] for q in queries}
    kwargs = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page.get("MetricDataResults", []):
            out.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            return out
        kwargs["NextToken"] = token


class MetricsReader:
    """Reads windows of one function's metrics; remembers whether the endpoint serves
    percentiles (moto does not), so it asks once."""

    def __init__(self, cloudwatch, function_name: str):
        self.cloudwatch = cloudwatch
        self.function_name = function_name
        self.percentiles = True

    def window(self, start: dt.datetime, end: dt.datetime) -> Window:
        """The function's metrics from `start` to `end` (minute datapoints summed; the p99 is
        the largest minute's, never below the window's). Where percentiles are not served,
        the maximum latency stands in for the p99 and says so."""
        cw, fn = self.cloudwatch, self.function_name
        # (CloudWatch takes whole seconds and a window of at least one)
        start = start.replace(microsecond=0)
        end = max(
            end.replace(microsecond=0) + dt.timedelta(seconds=1), start + dt.timedelta(seconds=1)
        )
        queries = [
            _query(f"{m.lower()}_{s}", NAMESPACE, m, {"ModelSource": s}, "Sum")
            for s in SOURCES
            for m in COUNTS
        ]
        queries += [
            _query("invocations", "AWS/Lambda", "Invocations", {"FunctionName": fn}, "Sum"),
            _query("failed", "AWS/Lambda", "Errors", {"FunctionName": fn}, "Sum"),
        ]
        sums = {k: sum(v) for k, v in _values(cw, queries, start, end).items()}
        paths = {}
        for s in SOURCES:
            p99, is_max = self._latency(s, start, end)
            paths[s] = PathStats(
                requests=sums.get(f"requests_{s}", 0.0),
                errors=sums.get(f"errors_{s}", 0.0),
                fallbacks=sums.get(f"fallbacks_{s}", 0.0),
                p99_ms=p99,
                p99_is_max=is_max,
            )
        return Window(
            sagemaker=paths["sagemaker"],
            builtin=paths["builtin"],
            invocations=sums.get("invocations", 0.0),
            failed_invocations=sums.get("failed", 0.0),
        )

    def _latency(self, source, start, end) -> tuple[float | None, bool]:
        dims = {"ModelSource": source}
        if self.percentiles:
            try:
                q = [_query("p99", NAMESPACE, "LatencyMs", dims, "p99")]
                got = _values(self.cloudwatch, q, start, end)["p99"]
                return (max(got), False) if got else (None, False)
            except (ClientError, BotoCoreError):
                self.percentiles = False
        q = [_query("max", NAMESPACE, "LatencyMs", dims, "Maximum")]
        got = _values(self.cloudwatch, q, start, end)["max"]
        return (max(got), True) if got else (None, False)
