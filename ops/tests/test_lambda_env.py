import pytest

from iops_ops import lambda_env
from iops_ops.lambda_env import LambdaEnvError


class FakeLambda:
    """A function whose updates take `busy` reads to finish; `drop` loses a variable."""

    def __init__(self, variables, busy=1, fail=False, drop=None):
        self.variables, self.busy, self.fail, self.drop = dict(variables), busy, fail, drop
        self.revision, self.pending, self.sent = 7, 0, []

    def get_function_configuration(self, FunctionName):
        status = "Successful"
        if self.pending:
            self.pending -= 1
            status = "InProgress"
        elif self.fail:
            status = "Failed"
        return {
            "Environment": {"Variables": dict(self.variables)},
            "RevisionId": str(self.revision),
            "LastUpdateStatus": status,
            "LastUpdateStatusReason": "bad image" if self.fail else "",
            "State": "Active",
        }

    def update_function_configuration(self, FunctionName, Environment, RevisionId=None):
        assert RevisionId == str(self.revision), "sent with the revision read"
        self.sent.append(Environment["Variables"])
        self.variables = dict(Environment["Variables"])
        if self.drop:
            self.variables.pop(self.drop)
        self.revision += 1
        self.pending = self.busy


ENV = {"METRICS_TABLE": "m", "USE_SAGEMAKER": "false", "CANARY_PERCENTAGE": "0", "RUST_LOG": "info"}


def test_merge_keeps_every_other_variable():
    assert lambda_env.merge(ENV, {"CANARY_PERCENTAGE": "10"}) == {**ENV, "CANARY_PERCENTAGE": "10"}
    with pytest.raises(LambdaEnvError, match="CANARY_PERCENTAGE"):
        lambda_env.merge(ENV, {"CANARY_PERCENTAGE": 10})


def test_update_sends_the_merged_environment_and_waits_for_it():
    fake, slept = FakeLambda(ENV, busy=2), []
    got = lambda_env.update(fake, "fn", {"USE_SAGEMAKER": "true"}, sleep=slept.append)
    assert got == {**ENV, "USE_SAGEMAKER": "true"}
    assert fake.sent == [got]
    assert len(slept) == 2, "polled until the update finished"


def test_a_failed_update_or_a_lost_variable_is_an_error():
    with pytest.raises(LambdaEnvError, match="the update failed: bad image"):
        lambda_env.update(FakeLambda(ENV, fail=True), "fn", {"X": "1"}, sleep=lambda s: None)
    with pytest.raises(LambdaEnvError, match=r"missing \['RUST_LOG'\]"):
        lambda_env.update(FakeLambda(ENV, drop="RUST_LOG"), "fn", {"X": "1"}, sleep=lambda s: None)


def test_an_update_that_never_finishes_times_out():
    with pytest.raises(LambdaEnvError, match="still InProgress"):
        lambda_env.update(
            FakeLambda(ENV, busy=10**6), "fn", {"X": "1"}, timeout_seconds=0.0, sleep=lambda s: None
        )
