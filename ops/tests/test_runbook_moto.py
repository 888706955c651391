"""The runbook end to end against moto's server (started here, on 127.0.0.1): deploy ->
.deployment-outputs -> validate-deployment -> a healthy canary switch (promoted) -> a switch
whose SageMaker path fails at 50 % (rolled back by itself) -> rollback -> cost -> restore.
Every step runs the script with the runbook's name, configured by AWS_ENDPOINT_URL alone.

What moto cannot do, and what stands in (README, "Operations"): it cannot run the function
(Lambda needs Docker there), so the package deployed is a placeholder and the API checks go to
`iops serve`, which answers the same API; its CloudWatch has no percentiles, so the p99 gate
judges the maximum latency; its EMF metrics are published by this test, as the function
would write them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from support import free_port, iops_binary

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
ENDPOINT = "iops-canary"


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/moto-api/")
        yield url
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def env(moto):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="eu-west-1",
        IOPS_OPS_PYTHON=sys.executable,
    )
    return e


def clients(env):
    s = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=env["AWS_REGION"]
    )
    return lambda name: s.client(name, endpoint_url=env["AWS_ENDPOINT_URL"])


def run(script: str, cwd: Path, env, *args) -> subprocess.CompletedProcess:
    p = subprocess.run(
        [str(SCRIPTS / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(f"$ {script} {' '.join(args)} -> {p.returncode}\n{p.stdout}{p.stderr}")
    return p


class FunctionMetrics:
    """Publishes what the function's EMF lines would put in CloudWatch, as the canary share
    in its environment sends traffic: 40 requests a tick split by CANARY_PERCENTAGE; the
    SageMaker path fails `sagemaker_errors(pct)` of its requests."""

    def __init__(self, client, function, sagemaker_errors=lambda pct: 0.0):
        self.client, self.function, self.errors = client, function, sagemaker_errors
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)

    def loop(self):
        lam, cw = self.client("lambda"), self.client("cloudwatch")
        while not self.stop.is_set():
            env = lam.get_function_configuration(FunctionName=self.function)["Environment"][
                "Variables"
            ]
            on = env.get("USE_SAGEMAKER") == "true"
            pct = int(env.get("CANARY_PERCENTAGE", "0")) if on else 0
            sm = round(40 * pct / 100)
            data = []
            for source, requests, errors, latency in (
                ("sagemaker", sm, round(sm * self.errors(pct)), 180.0),
                ("builtin", 40 - sm, 0, 4.0),
            ):
                dims = [{"Name": "ModelSource", "Value": source}]
                if requests:
                    data += [
                        {
                            "MetricName": "Requests",
                            "Dimensions": dims,
                            "Value": requests,
                            "Unit": "Count",
                        },
                        {
                            "MetricName": "Errors",
                            "Dimensions": dims,
                            "Value": errors,
                            "Unit": "Count",
                        },
                        {
                            "MetricName": "Fallbacks",
                            "Dimensions": dims,
                            "Value": 0,
                            "Unit": "Count",
                        },
                        {
                            "MetricName": "LatencyMs",
                            "Dimensions": dims,
                            "Value": latency,
                            "Unit": "Milliseconds",
                        },
                    ]
            if data:
                cw.put_metric_data(Namespace="iops", MetricData=data)
            self.stop.wait(0.25)


def test_the_runbook_end_to_end(env, tmp_path):
    aws = clients(env)
    iops = iops_binary()
    # a SageMaker endpoint for the canary, InService
    sm = aws("sagemaker")
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "iops:latest"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")

    # deploy: a placeholder package (moto cannot run the function)
    package = tmp_path / "bootstrap.zip"
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    p = run(
        "deploy/deploy.sh",
        tmp_path,
        env,
        "--stack",
        "iops-e2e",
        "--package",
        str(package),
        "--param",
        f"SageMakerEndpoint={ENDPOINT}",
        "--param",
        "UseSageMaker=false",
    )
    assert p.returncode == 0, p.stderr
    outputs = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (tmp_path / ".deployment-outputs").read_text().splitlines()
        if line.startswith("export ")
    )
    outputs = {k: v.strip("'") for k, v in outputs.items()}
    assert outputs["SAGEMAKER_ENDPOINT"] == ENDPOINT and outputs["API_KEY_ID"]
    assert outputs["DASHBOARD_NAME"] == "IOps-System-Dashboard"
    function = outputs["LAMBDA_NAME"]
    lam = aws("lambda")
    variables = lambda: {  # noqa: E731 - (moto hands back the template's numbers as numbers)
        k: str(v)
        for k, v in lam.get_function_configuration(FunctionName=function)["Environment"][
            "Variables"
        ].items()
    }
    before = variables()
    assert (
        before["METRICS_TABLE"] == outputs["METRICS_TABLE"] and before["USE_SAGEMAKER"] == "false"
    )
    # the runbook sources the file
    sourced = subprocess.run(
        ["bash", "-c", "source .deployment-outputs && echo $AI_LAMBDA"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert sourced == outputs["AI_LAMBDA"]

    # validate: the API is `iops serve` (moto cannot run the function), with the API key
    key = aws("apigateway").get_api_key(apiKey=outputs["API_KEY_ID"], includeValue=True)["value"]
    port = free_port()
    serve = subprocess.Popen(
        [
            str(iops),
            "serve",
            "--addr",
            f"127.0.0.1:{port}",
            "--db",
            str(tmp_path / "iops.db"),
            "--api-key",
            key,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        text = (tmp_path / ".deployment-outputs").read_text()
        (tmp_path / ".deployment-outputs").write_text(
            text.replace(
                f"export API_URL='{outputs['API_URL']}'", f"export API_URL=http://127.0.0.1:{port}"
            ).replace(
                f"export API_URL={outputs['API_URL']}", f"export API_URL=http://127.0.0.1:{port}"
            )
        )
        p = run("validate/validate-deployment.sh", tmp_path, env)
        assert p.returncode == 0, p.stdout
        lines = p.stdout.splitlines()
        assert sum(line.startswith("ok ") for line in lines) >= 9 and not any(
            "FAILED" in x for x in lines
        )
        assert any("a test metric is posted and read back" in x for x in lines)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(20)
    # with the API gone, that check fails and says why
    p = run("validate/validate-deployment.sh", tmp_path, env)
    assert p.returncode == 1
    assert any(x.startswith("FAILED  API") for x in p.stdout.splitlines()), p.stdout

    fast = ["--phase-seconds", "2,2,2", "--poll-seconds", "0.5", "--settle-seconds", "0"]
    # a healthy canary is promoted to 100 %, every other variable intact
    with FunctionMetrics(aws, function):
        p = run("deploy/switch-to-sagemaker.sh", tmp_path, env, *fast)
    assert p.returncode == 0, p.stdout
    assert "promoted: 100% of requests to iops-canary" in p.stdout
    assert p.stdout.count("passed") == 3
    after = variables()
    assert after == {**before, "USE_SAGEMAKER": "true", "CANARY_PERCENTAGE": "100"}

    # the runbook's rollback: every other variable intact
    p = run("deploy/rollback-sagemaker.sh", tmp_path, env)
    assert p.returncode == 0, p.stderr
    assert variables() == before

    # a SageMaker path that fails once it takes half the traffic rolls back by itself
    with FunctionMetrics(aws, function, sagemaker_errors=lambda pct: 0.25 if pct >= 50 else 0.0):
        p = run("deploy/switch-to-sagemaker.sh", tmp_path, env, *fast)
    assert p.returncode == 2, p.stdout
    assert "phase 1/3 passed" in p.stdout and "phase 2/3 passed" not in p.stdout
    assert "gate: SageMaker path error rate" in p.stdout
    after = variables()
    assert after == before, "rolled back, and nothing else changed"

    # no traffic at all: nothing to judge, so no promotion
    p = run(
        "deploy/switch-to-sagemaker.sh",
        tmp_path,
        env,
        "--phase-seconds",
        "1,1,1",
        "--poll-seconds",
        "0.5",
        "--settle-seconds",
        "0",
    )
    assert p.returncode == 2 and "no SageMaker traffic to judge" in p.stdout, p.stdout

    # an endpoint that is not InService: aborted, nothing changed
    lam.update_function_configuration(
        FunctionName=function,
        Environment={"Variables": {**before, "SAGEMAKER_ENDPOINT": "missing"}},
    )
    p = run("deploy/switch-to-sagemaker.sh", tmp_path, env, *fast)
    assert p.returncode == 3 and "aborted, nothing changed" in p.stdout, p.stdout
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": before})

    # rollback from a canary share set by hand
    lam.update_function_configuration(
        FunctionName=function,
        Environment={"Variables": {**before, "USE_SAGEMAKER": "true", "CANARY_PERCENTAGE": "50"}},
    )
    p = run("deploy/rollback-sagemaker.sh", tmp_path, env)
    assert p.returncode == 0, p.stderr
    assert variables() == before

    # cost: Cost Explorer's answers set through moto
    def ce_results(month, today):
        def result(amounts):
            return {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": "2026-12-01", "End": "2026-12-02"},
                        "Groups": [
                            {
                                "Keys": [k],
                                "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}},
                            }
                            for k, v in amounts.items()
                        ],
                        "Total": {},
                        "Estimated": True,
                    }
                ]
            }

        body = json.dumps({"results": [result(month), result(today)]}).encode()
        req = urllib.request.Request(
            f"{env['AWS_ENDPOINT_URL']}/moto-api/static/ce/cost-and-usage-results",
            data=body,
            method="POST",
        )
        assert urllib.request.urlopen(req).status == 201

    ce_results(
        {"AWS Lambda": 12.5, "Amazon DynamoDB": 30.25}, {"AWS Lambda": 0.5, "Amazon DynamoDB": 1.0}
    )
    p = run("validate/validate-cost.sh", tmp_path, env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "month to date: $42.75" in p.stdout and "Cost Explorer, today: $1.50" in p.stdout
    assert "Amazon SageMaker: $" in p.stdout
    p = run("validate/validate-cost.sh", tmp_path, env, "--threshold", "1")
    assert p.returncode == 2 and "RUNAWAY" in p.stdout, p.stdout

    # restore: the metrics table into METRICS_TABLE-restored, and the function pointed at it
    ddb = aws("dynamodb")
    table = outputs["METRICS_TABLE"]
    for i in range(25):
        ddb.put_item(
            TableName=table,
            Item={"hostname": {"S": "web-1"}, "timestamp": {"N": str(1_764_000_000 + i)}},
        )
    p = run("restore/restore-table.sh", tmp_path, env, table, "--latest")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{table}-restored is ACTIVE with 25 items" in p.stdout
    after = variables()
    assert after == {**before, "METRICS_TABLE": f"{table}-restored"}
    pitr = ddb.describe_continuous_backups(TableName=f"{table}-restored")[
        "ContinuousBackupsDescription"
    ]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    # bad input: a time without its zone names the flag, changes nothing
    p = run("restore/restore-table.sh", tmp_path, env, table, "--to", "2026-11-30T10:00:00")
    assert p.returncode == 2 and "--to" in p.stderr and "time zone" in p.stderr
