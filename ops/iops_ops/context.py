"""An operation's view of a deployment: its outputs and the AWS clients to reach it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from .outputs import DeploymentOutputs

# standard retries: throttling and transient errors are retried with backoff
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def session(fallback_region: str) -> boto3.session.Session:
    """A session as the AWS CLI would make it: AWS_PROFILE's credentials and region, the
    region overridden by AWS_REGION (botocore itself reads only AWS_DEFAULT_REGION), else
    `fallback_region`. Endpoints come from AWS_ENDPOINT_URL(_<SERVICE>), which botocore reads."""
    base = boto3.session.Session()
    region = os.environ.get("AWS_REGION") or base.region_name or fallback_region
    return boto3.session.Session(region_name=region)


@dataclass
class Deployment:
    outputs: DeploymentOutputs | None
    session: boto3.session.Session
    out: object = sys.stdout

    @classmethod
    def new(cls, region: str | None = None, out=sys.stdout) -> Deployment:
        """Before there are outputs (deploy): the region of AWS_REGION, AWS_DEFAULT_REGION or
        the profile (AWS_PROFILE), else `region`."""
        return cls(None, session(region or "us-east-1"), out)

    @classmethod
    def from_directory(cls, directory: Path, out=sys.stdout) -> Deployment:
        outputs = DeploymentOutputs.read(directory)
        return cls(outputs, session(outputs.REGION), out)

    def client(self, service: str):
        return self.session.client(service, config=_CONFIG)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)
