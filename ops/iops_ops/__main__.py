"""`python -m iops_ops COMMAND`: the runbook's operations (the scripts with its names call
this). Every command works on the deployment whose `.deployment-outputs` is in the directory
it is run from."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from . import canary, cost, deploy, restore, switch, validate
from .context import Deployment
from .lambda_env import LambdaEnvError
from .outputs import OutputsError


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--param {text!r}: expected Name=value")
    return name, value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _argument(parse):
    """`parse` as an argparse type: its error message is the usage error."""

    def convert(text: str):
        try:
            return parse(text)
        except (ValueError, restore.RestoreError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iops-ops", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "deploy", help="build the function, deploy infra/template.yaml, write .deployment-outputs"
    )
    d.add_argument("--stack", default="iops", help="stack name (default iops)")
    d.add_argument(
        "--package", type=Path, help="a built bootstrap zip (default: cargo lambda build --release)"
    )
    d.add_argument(
        "--param",
        type=_parameter,
        action="append",
        default=[],
        metavar="Name=value",
        help="a template parameter (repeatable), e.g. UseSageMaker=true",
    )

    sub.add_parser("validate", help="check the deployment; one line per check")

    s = sub.add_parser("switch", help="move traffic to SageMaker in phases, rolling back by itself")
    s.add_argument(
        "--phase-seconds",
        type=_argument(canary.parse_phase_seconds),
        default=canary.RUNBOOK_PHASES,
        help="durations of the 10/50/100 %% phases (default 120,180,300)",
    )
    s.add_argument("--poll-seconds", type=_positive, default=15.0)
    s.add_argument(
        "--settle-seconds",
        type=_positive,
        default=60.0,
        help="wait after each phase for its last metrics to arrive (default 60)",
    )

    sub.add_parser(
        "rollback", help="USE_SAGEMAKER=false, CANARY_PERCENTAGE=0, every other variable kept"
    )

    c = sub.add_parser("cost", help="Cost Explorer and an estimate from the deployment's traffic")
    c.add_argument(
        "--threshold",
        type=_positive,
        default=cost.RUNAWAY_DOLLARS_PER_DAY,
        help="runaway threshold in dollars a day (default 100)",
    )

    r = sub.add_parser(
        "restore", help="restore a table to a point in time and point the function at it"
    )
    r.add_argument("table")
    when = r.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--to", type=_argument(restore.parse_time), help='e.g. "2026-11-30T10:00:00Z"'
    )
    when.add_argument("--latest", action="store_true", help="the latest restorable time")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    here = Path.cwd()
    try:
        if args.command == "deploy":
            d = Deployment.new()
            package = args.package or deploy.build()
            deploy.deploy(d, args.stack, package, dict(args.param), here)
            return 0
        d = Deployment.from_directory(here)
        if args.command == "validate":
            return validate.validate(d)
        if args.command == "switch":
            return switch.switch(
                d,
                args.phase_seconds,
                poll_seconds=args.poll_seconds,
                settle_seconds=args.settle_seconds,
            )
        if args.command == "rollback":
            switch.rollback(d)
            return 0
        if args.command == "cost":
            return cost.validate_cost(d, args.threshold)
        if args.command == "restore":
            return restore.restore(d, args.table, None if args.latest else args.to)
    except (OutputsError, LambdaEnvError, restore.RestoreError, deploy.DeployError) as e:
        print(f"iops-ops {args.command}: {e}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as e:
        print(f"iops-ops {args.command}: AWS said: {e}", file=sys.stderr)
        return 1
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
