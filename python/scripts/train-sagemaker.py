#!/usr/bin/env python3
"""Creates a SageMaker training job that runs our container's `train` (crates/iops-sagemaker)
on data in S3 and writes model.tar.gz (model.json at its root) back to S3.

    python python/scripts/train-sagemaker.py \\
        --image-uri 123456789012.dkr.ecr.us-east-1.amazonaws.com/iops:latest \\
        --role-arn arn:aws:iam::123456789012:role/SageMakerRole \\
        --s3-input s3://my-bucket/iops/data/ --s3-output s3://my-bucket/iops/models/ \\
        --n-trees 100 --contamination 0.01 [--dry-run]

The data channel is `train` (the container reads /opt/ml/input/data/train/: metrics CSV or
JSON lines, as generate-training-data.py writes). Hyperparameters use our names (n_trees,
max_samples, contamination, seed, features); `--hyperparameter KEY=VALUE` adds any other,
e.g. Random Cut Forest's num_trees, num_samples_per_tree, feature_dim, which the container
also accepts. SageMaker passes every value as a string.

`--dry-run` prints the CreateTrainingJob request as JSON and calls nothing. Otherwise the
job is created with boto3 (credentials and region as boto3 finds them; `--region`), and its
name, ARN and status are printed as one JSON line. `--endpoint-url` (or the environment
variable IOPS_SAGEMAKER_ENDPOINT_URL) sends the calls elsewhere, e.g. to moto_server in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Any

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def default_job_name() -> str:
    return time.strftime("iops-train-%Y%m%d-%H%M%S", time.gmtime())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-uri", required=True, help="ECR image of the iops-sagemaker container")
    ap.add_argument("--role-arn", required=True, help="IAM role SageMaker assumes (S3 read/write, ECR pull)")
    ap.add_argument("--s3-input", required=True, help="S3 prefix of the training data (channel `train`)")
    ap.add_argument("--s3-output", required=True, help="S3 prefix the job writes model.tar.gz under")
    ap.add_argument("--instance-type", default="ml.m5.large", help="default ml.m5.large")
    ap.add_argument("--instance-count", type=int, default=1)
    ap.add_argument("--volume-gb", type=int, default=30, help="ML storage volume, GB (default 30)")
    ap.add_argument("--max-runtime", type=int, default=3600, help="stop the job after this many seconds")
    ap.add_argument("--job-name", default=None, help="default iops-train-<UTC time>")
    ap.add_argument("--content-type", default="text/csv", help="of the input channel (default text/csv)")
    ap.add_argument("--n-trees", type=int, default=None)
    ap.add_argument("--max-samples", type=int, default=None)
    ap.add_argument("--contamination", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--features", choices=["host", "raw"], default=None)
    ap.add_argument("--hyperparameter", action="append", default=[], metavar="KEY=VALUE",
                    help="any other hyperparameter, e.g. num_trees=100 (Random Cut Forest's names); repeatable")
    ap.add_argument("--region", default=None, help="AWS region (default: boto3's, else us-east-1)")
    ap.add_argument("--endpoint-url", default=os.environ.get("IOPS_SAGEMAKER_ENDPOINT_URL"),
                    help="SageMaker API endpoint (default: env IOPS_SAGEMAKER_ENDPOINT_URL, else AWS's)")
    ap.add_argument("--dry-run", action="store_true", help="print the request as JSON, call nothing")
    args = ap.parse_args(argv)

    if args.job_name is None:
        args.job_name = default_job_name()
    checks = [
        (JOB_NAME.match(args.job_name), "--job-name: 1-63 letters, digits and hyphens, starting with a letter or digit"),
        (ROLE_ARN.match(args.role_arn), "--role-arn: must look like arn:aws:iam::123456789012:role/NAME"),
        (S3_URI.match(args.s3_input), "--s3-input: must be an s3://bucket/prefix URI"),
        (S3_URI.match(args.s3_output), "--s3-output: must be an s3://bucket/prefix URI"),
        (INSTANCE_TYPE.match(args.instance_type), "--instance-type: must look like ml.m5.large"),
        (args.image_uri.strip() != "", "--image-uri: must not be empty"),
        (args.instance_count >= 1, "--instance-count: must be at least 1"),
        (1 <= args.volume_gb <= 16384, "--volume-gb: must be in 1..=16384"),
        (args.max_runtime >= 1, "--max-runtime: must be at least 1 second"),
        (args.n_trees is None or args.n_trees >= 1, "--n-trees: must be at least 1"),
        (args.max_samples is None or args.max_samples >= 2, "--max-samples: must be at least 2"),
        (args.contamination is None or 0.0 < args.contamination <= 0.5, "--contamination: must be in (0, 0.5]"),
        (args.seed is None or args.seed >= 0, "--seed: must be non-negative"),
    ]
    for ok, message in checks:
        if not ok:
            ap.error(message)
    extra = {}
    for item in args.hyperparameter:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            ap.error(f"--hyperparameter: expected KEY=VALUE, got {item!r}")
        extra[key.strip()] = value.strip()
    args.extra_hyperparameters = extra
    return args


def hyperparameters(args: argparse.Namespace) -> dict[str, str]:
    """Ours first, then the extra ones (which may override them); every value a string."""
    ours: dict[str, Any] = {
        "n_trees": args.n_trees,
        "max_samples": args.max_samples,
        "contamination": args.contamination,
        "seed": args.seed,
        "features": args.features,
    }
    out = {k: str(v) for k, v in ours.items() if v is not None}
    out.update(args.extra_hyperparameters)
    return out


def request(args: argparse.Namespace) -> dict[str, Any]:
    """The CreateTrainingJob request."""
    return {
        "TrainingJobName": args.job_name,
        "AlgorithmSpecification": {"TrainingImage": args.image_uri, "TrainingInputMode": "File"},
        "RoleArn": args.role_arn,
        "HyperParameters": hyperparameters(args),
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": args.s3_input,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": args.content_type,
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": args.s3_output},
        "ResourceConfig": {
            "InstanceType": args.instance_type,
            "InstanceCount": args.instance_count,
            "VolumeSizeInGB": args.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": args.max_runtime},
        "Tags": [{"Key": "project", "Value": "iops"}],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    req = request(args)
    if args.dry_run:
        print(json.dumps(req, indent=2))
        return 0

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = args.region or boto3.session.Session().region_name or "us-east-1"
    client = boto3.client("sagemaker", region_name=region, endpoint_url=args.endpoint_url)
    try:
        created = client.create_training_job(**req)
        described = client.describe_training_job(TrainingJobName=args.job_name)
    except (BotoCoreError, ClientError) as e:
        print(f"train-sagemaker: {e}", file=sys.stderr)
        return 1
    print(json.dumps({
        "TrainingJobName": args.job_name,
        "TrainingJobArn": created["TrainingJobArn"],
        "TrainingJobStatus": described.get("TrainingJobStatus"),
        "ModelArtifacts": described.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
