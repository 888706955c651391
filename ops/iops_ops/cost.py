"""validate-cost: what the account's Cost Explorer says (month to date and today, by
service), and an estimate from the deployment's own traffic, against the runbook's
runaway threshold ($100 a day)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from botocore.exceptions import ClientError

from .context import Deployment

RUNAWAY_DOLLARS_PER_DAY = 100.0

# On-demand list prices, us-east-1, USD (aws.amazon.com/<service>/pricing, 2026). An estimate
# is only as good as these; Cost Explorer is the bill.
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = 0.0000166667
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
API_GATEWAY_REST_PER_MILLION = 3.50
SAGEMAKER_PER_INSTANCE_HOUR = {
    "ml.t2.medium": 0.056,
    "ml.t3.medium": 0.05,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
}


@dataclass(frozen=True)
class Usage:
    """The deployment's own traffic over a period."""

    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    dynamodb_write_units: float = 0.0
    dynamodb_read_units: float = 0.0
    api_requests: float = 0.0
    sagemaker_instance_hours: float = 0.0
    sagemaker_instance_type: str = ""


def estimate(u: Usage) -> dict[str, float | None]:
    """Dollars per service for `u` (None: a SageMaker instance type without a price here)."""
    sm_price = SAGEMAKER_PER_INSTANCE_HOUR.get(u.sagemaker_instance_type)
    return {
        "AWS Lambda": u.lambda_requests / 1e6 * LAMBDA_PER_MILLION_REQUESTS
        + u.lambda_gb_seconds * LAMBDA_PER_GB_SECOND,
        "Amazon DynamoDB": u.dynamodb_write_units / 1e6 * DYNAMODB_PER_MILLION_WRITE_UNITS
        + u.dynamodb_read_units / 1e6 * DYNAMODB_PER_MILLION_READ_UNITS,
        "Amazon API Gateway": u.api_requests / 1e6 * API_GATEWAY_REST_PER_MILLION,
        "Amazon SageMaker": 0.0
        if u.sagemaker_instance_hours == 0
        else (None if sm_price is None else u.sagemaker_instance_hours * sm_price),
    }


def _sum(cw, namespace, name, dims, start, end) -> float:
    total, kwargs = (
        0.0,
        {
            "MetricDataQueries": [
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        },
                        "Period": 3600,
                        "Stat": "Sum",
                    },
                }
            ],
            "StartTime": start,
            "EndTime": end,
        },
    )
    while True:
        page = cw.get_metric_data(**kwargs)
        total += sum(sum(r.get("Values", [])) for r in page["MetricDataResults"])
        if not page.get("NextToken"):
            return total
        kwargs["NextToken"] = page["NextToken"]


def usage(d: Deployment, start: dt.datetime, end: dt.datetime) -> Usage:
    o, cw = d.outputs, d.client("cloudwatch")
    fn = {"FunctionName": o.LAMBDA_NAME}
    memory_mb = d.client("lambda").get_function_configuration(FunctionName=o.LAMBDA_NAME)[
        "MemorySize"
    ]
    duration_ms = _sum(cw, "AWS/Lambda", "Duration", fn, start, end)
    tables = (o.METRICS_TABLE, o.INSIGHTS_TABLE, o.STATE_TABLE, o.INCIDENTS_TABLE)
    writes = sum(
        _sum(cw, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": t}, start, end)
        for t in tables
    )
    reads = sum(
        _sum(cw, "AWS/DynamoDB", "ConsumedReadCapacityUnits", {"TableName": t}, start, end)
        for t in tables
    )
    api = 0.0
    api_id = o.API_URL.split("//", 1)[-1].split(".", 1)[0]
    try:
        api_name = d.client("apigateway").get_rest_api(restApiId=api_id)["name"]
        api = _sum(cw, "AWS/ApiGateway", "Count", {"ApiName": api_name}, start, end)
    except Exception:  # noqa: BLE001 - an API not found here (a local URL) costs nothing
        pass
    hours, instance_type = 0.0, ""
    if o.SAGEMAKER_ENDPOINT:
        sm = d.client("sagemaker")
        try:
            endpoint = sm.describe_endpoint(EndpointName=o.SAGEMAKER_ENDPOINT)
        except ClientError as e:
            d.say(f"  (endpoint {o.SAGEMAKER_ENDPOINT} not counted: {e})")
            endpoint = None
        if endpoint is not None:
            config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            variants = config["ProductionVariants"]
            instance_type = variants[0].get("InstanceType", "") if variants else ""
            count = sum(v.get("InitialInstanceCount", 1) for v in variants)
            since = max(start, endpoint["CreationTime"])
            hours = count * max((end - since).total_seconds(), 0.0) / 3600.0
    return Usage(
        lambda_requests=_sum(cw, "AWS/Lambda", "Invocations", fn, start, end),
        lambda_gb_seconds=duration_ms / 1000.0 * memory_mb / 1024.0,
        dynamodb_write_units=writes,
        dynamodb_read_units=reads,
        api_requests=api,
        sagemaker_instance_hours=hours,
        sagemaker_instance_type=instance_type,
    )


def cost_explorer(d: Deployment, start: dt.date, end: dt.date) -> dict[str, float]:
    """Unblended cost by service from `start` to `end` (exclusive)."""
    ce, by_service = d.client("ce"), {}
    kwargs = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    while True:
        page = ce.get_cost_and_usage(**kwargs)
        for day in page.get("ResultsByTime", []):
            for group in day.get("Groups", []):
                service = group["Keys"][0]
                amount = float(group["Metrics"]["UnblendedCost"]["Amount"])
                by_service[service] = by_service.get(service, 0.0) + amount
        token = page.get("NextPageToken")
        if not token:
            return by_service
        kwargs["NextPageToken"] = token


def validate_cost(
    d: Deployment, threshold: float = RUNAWAY_DOLLARS_PER_DAY, now: dt.datetime | None = None
) -> int:
    now = now or dt.datetime.now(dt.timezone.utc)
    today = now.date()
    midnight = dt.datetime.combine(today, dt.time(), dt.timezone.utc)
    tomorrow = today + dt.timedelta(days=1)
    month = cost_explorer(d, today.replace(day=1), tomorrow)
    day = cost_explorer(d, today, tomorrow)
    d.say(f"Cost Explorer, month to date: ${sum(month.values()):.2f}")
    for service, amount in sorted(month.items(), key=lambda kv: -kv[1]):
        d.say(f"  {service}: ${amount:.2f} (today ${day.get(service, 0.0):.2f})")
    d.say(f"Cost Explorer, today: ${sum(day.values()):.2f}")
    est = estimate(usage(d, midnight, now))
    d.say("estimate from this deployment's traffic today (list prices, us-east-1):")
    for service, amount in est.items():
        d.say(
            f"  {service}: "
            + ("no price for its instance type" if amount is None else f"${amount:.4f}")
        )
    estimated = sum(a for a in est.values() if a is not None)
    hours = max((now - midnight).total_seconds() / 3600.0, 1.0 / 60.0)
    d.say(
        f"  total ${estimated:.4f} so far, about ${estimated * 24.0 / hours:.2f} for the whole day at this rate"
    )
    spent = max(sum(day.values()), estimated)
    if spent > threshold:
        d.say(f"RUNAWAY: ${spent:.2f} today is above the ${threshold:.2f} a day threshold")
        return 2
    d.say(f"ok: ${spent:.2f} today, below the ${threshold:.2f} a day threshold")
    return 0
