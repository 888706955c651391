"""The switch's control flow against fakes: promotion, and rollback when it cannot finish."""

from types import SimpleNamespace

import pytest
from test_lambda_env import ENV, FakeLambda

from iops_ops import switch


class FakeSageMaker:
    def __init__(self, status="InService"):
        self.status = status

    def describe_endpoint(self, EndpointName):
        return {"EndpointStatus": self.status}


class FakeCloudWatch:
    """Every query answers one datapoint from `values` by its id; `fail_after` calls, raises."""

    def __init__(self, values, fail_after=None):
        self.values, self.fail_after, self.calls = values, fail_after, 0

    def get_metric_data(self, MetricDataQueries, StartTime, EndTime, **_):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("CloudWatch is down")
        return {
            "MetricDataResults": [
                {"Id": q["Id"], "Values": [self.values.get(q["Id"], 0.0)]}
                for q in MetricDataQueries
            ]
        }


HEALTHY = {"requests_sagemaker": 100, "requests_builtin": 100, "p99": 150.0, "invocations": 200}


def deployment(cloudwatch, sleep_error=None):
    lam = FakeLambda({**ENV, "SAGEMAKER_ENDPOINT": "ep"}, busy=0)
    clients = {"lambda": lam, "sagemaker": FakeSageMaker(), "cloudwatch": cloudwatch}
    lines = []
    d = SimpleNamespace(
        outputs=SimpleNamespace(LAMBDA_NAME="fn", SAGEMAKER_ENDPOINT="ep"),
        client=clients.__getitem__,
        say=lines.append,
    )
    now = [1_800_000_000.0]

    def sleep(seconds):
        if sleep_error:
            raise sleep_error
        now[0] += seconds

    return d, lam, lines, (lambda: now[0]), sleep


def run(d, clock, sleep):
    phases = ((10, 60.0), (50, 60.0), (100, 60.0))
    return switch.switch(d, phases, poll_seconds=20, settle_seconds=0, clock=clock, sleep=sleep)


def test_healthy_phases_are_promoted():
    d, lam, lines, clock, sleep = deployment(FakeCloudWatch(HEALTHY))
    assert run(d, clock, sleep) == switch.PROMOTED
    assert lam.variables["CANARY_PERCENTAGE"] == "100"
    assert lam.variables["USE_SAGEMAKER"] == "true"
    assert sum("passed" in line for line in lines) == 3
    # a progress line per poll: three polls a phase
    assert sum(line.startswith("phase 2/3 50% ") for line in lines) == 3


@pytest.mark.parametrize(
    "cloudwatch, sleep_error",
    [
        (FakeCloudWatch(HEALTHY, fail_after=10), None),
        (FakeCloudWatch(HEALTHY), KeyboardInterrupt()),
    ],
)
def test_a_switch_that_cannot_finish_rolls_back(cloudwatch, sleep_error):
    d, lam, lines, clock, sleep = deployment(cloudwatch, sleep_error)
    assert run(d, clock, sleep) == switch.FAILED
    assert any(line.startswith("stopped during the switch") for line in lines), lines
    assert lam.variables == {**ENV, "SAGEMAKER_ENDPOINT": "ep"}, "rolled back, all else kept"


def test_an_endpoint_not_in_service_changes_nothing():
    d, lam, lines, clock, sleep = deployment(FakeCloudWatch(HEALTHY))
    d.client = {"lambda": lam, "sagemaker": FakeSageMaker("Updating")}.__getitem__
    assert run(d, clock, sleep) == switch.ABORTED
    assert lam.sent == [] and "is Updating, not InService" in lines[-1]
