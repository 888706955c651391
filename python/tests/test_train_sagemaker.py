"""python/scripts/train-sagemaker.py: the CreateTrainingJob request (--dry-run), and a real
call against moto_server (moto[server], started here on 127.0.0.1 with a free port)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ARGS = [
    "--image-uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/iops:latest",
    "--role-arn", "arn:aws:iam::123456789012:role/SageMakerRole",
    "--s3-input", "s3://iops-test/data/",
    "--s3-output", "s3://iops-test/models/",
    "--instance-type", "ml.m5.xlarge",
    "--n-trees", "150", "--contamination", "0.02", "--seed", "7",
    "--hyperparameter", "num_samples_per_tree=512",
]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "IOPS_SAGEMAKER_ENDPOINT_URL"}
    full_env = {**base, **AWS_ENV, **(env or {})}
    return subprocess.run(
        [sys.executable, str(root / "python/scripts/train-sagemaker.py"), *args],
        capture_output=True, text=True, env=full_env, timeout=60,
    )


def test_dry_run_prints_the_request(root) -> None:
    proc = run(root, *ARGS, "--job-name", "iops-dry-1", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    req = json.loads(proc.stdout)
    assert req["TrainingJobName"] == "iops-dry-1"
    assert req["AlgorithmSpecification"] == {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iops:latest",
        "TrainingInputMode": "File",
    }
    assert req["HyperParameters"] == {
        "n_trees": "150", "contamination": "0.02", "seed": "7", "num_samples_per_tree": "512",
    }
    channel = req["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://iops-test/data/"
    assert req["OutputDataConfig"] == {"S3OutputPath": "s3://iops-test/models/"}
    assert req["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--role-arn", "SageMakerRole"], "--role-arn"),
        (["--s3-input", "/local/data"], "--s3-input"),
        (["--contamination", "0.9"], "--contamination"),
        (["--job-name", "bad_name!"], "--job-name"),
        (["--hyperparameter", "novalue"], "KEY=VALUE"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(root, change, message) -> None:
    proc = run(root, *ARGS, *change, "--dry-run")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("moto_server not installed in CI (scripts/test.sh installs moto[server])")
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_creates_the_training_job_in_moto(root, moto_server) -> None:
    import boto3

    proc = run(root, *ARGS, "--job-name", "iops-moto-1", env={"IOPS_SAGEMAKER_ENDPOINT_URL": moto_server})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["TrainingJobName"] == "iops-moto-1"
    assert out["TrainingJobArn"].endswith(":training-job/iops-moto-1")

    client = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=moto_server,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    job = client.describe_training_job(TrainingJobName="iops-moto-1")
    assert job["TrainingJobArn"] == out["TrainingJobArn"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/iops:latest")
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    assert job["HyperParameters"]["n_trees"] == "150"
    assert job["HyperParameters"]["num_samples_per_tree"] == "512"
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://iops-test/models/"
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://iops-test/data/"

    assert out["ModelArtifacts"] == "s3://iops-test/models/iops-moto-1/output/model.tar.gz"


def test_an_unreachable_endpoint_is_an_error_exit(root) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = run(root, *ARGS, "--job-name", "iops-down-1", "--endpoint-url", url,
               env={"AWS_MAX_ATTEMPTS": "1"})
    assert proc.returncode == 1 and "train-sagemaker:" in proc.stderr and url in proc.stderr
