"""deploy: the function built, infra/template.yaml deployed as a CloudFormation stack, and
`.deployment-outputs` written where it is run.

Against an account, CloudFormation transforms the SAM template itself (as `sam deploy` has it
do). A local emulator (moto's server) has no SAM transform: there the template is transformed
here with aws-sam-translator, the library `sam` uses, and created as a plain stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from botocore.exceptions import ClientError

from .context import Deployment
from .outputs import DeploymentOutputs

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployError(Exception):
    pass


def emulated() -> bool:
    """True when CloudFormation is reached at a local endpoint (AWS_ENDPOINT_URL or
    AWS_ENDPOINT_URL_CLOUDFORMATION), where the SAM transform is done here."""
    return bool(
        os.environ.get("AWS_ENDPOINT_URL_CLOUDFORMATION") or os.environ.get("AWS_ENDPOINT_URL")
    )


def build(root: Path = ROOT) -> Path:
    """`cargo lambda build --release` of the function, as a zip."""
    cmd = ["cargo", "lambda", "build", "--release", "-p", "iops-lambda", "--output-format", "zip"]
    subprocess.run(cmd, cwd=root, check=True)
    return root / "target" / "lambda" / "bootstrap" / "bootstrap.zip"


def load_template(path: Path = TEMPLATE) -> dict:
    from cfnlint.decode import decode_str  # reads CloudFormation's YAML tags (!Ref, !Sub...)

    template, problems = decode_str(path.read_text())
    if problems or template is None:
        raise DeployError(f"{path}: {problems}")
    return json.loads(json.dumps(template, default=str))


def transform_locally(template: dict, session) -> dict:
    """The SAM template as plain CloudFormation, transformed as `sam` does (the managed
    policies it names resolved through IAM, the region and account from `session`)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.translator import Translator

    loader = ManagedPolicyLoader(session.client("iam"))
    translator = Translator(None, Parser(), boto_session=session)
    return translator.translate(template, {}, get_managed_policy_map=loader.load)


# What moto's CloudFormation cannot create from the transformed template: it makes the REST
# API without its OpenAPI body (so a deployment of it fails: no methods), has no API stages,
# usage plans, API keys or alarms, and ignores a table's point-in-time recovery. On an
# emulator the stack is created without the API's deployment and stage, and the rest is made
# through each service's API afterwards (`complete_on_emulator`), as CloudFormation would.
EMULATOR_SKIPS = ("AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage")
NO_VALUE = {"Ref": "AWS::NoValue"}


def for_emulator(template: dict) -> dict:
    """The transformed template without the resources the emulator cannot create."""
    resources = template["Resources"]
    for name in [n for n, r in resources.items() if r["Type"] in EMULATOR_SKIPS]:
        del resources[name]
    for r in resources.values():
        if isinstance(r.get("DependsOn"), list):
            r["DependsOn"] = [n for n in r["DependsOn"] if n in resources]
    return template


def conditions(template: dict, parameters: Mapping[str, str]) -> dict[str, bool]:
    """The template's conditions for these parameter values (the defaults for the others)."""
    values = {
        name: parameters.get(name, str(spec.get("Default", "")))
        for name, spec in template.get("Parameters", {}).items()
    }
    specs, done = template.get("Conditions", {}), {}

    def operand(v):
        return values[v["Ref"]] if isinstance(v, dict) and "Ref" in v else str(v)

    def evaluate(x) -> bool:
        ((fn, arg),) = x.items()
        if fn == "Fn::Equals":
            return operand(arg[0]) == operand(arg[1])
        if fn == "Fn::Not":
            return not evaluate(arg[0])
        if fn == "Fn::And":
            return all(evaluate(v) for v in arg)
        if fn == "Fn::Or":
            return any(evaluate(v) for v in arg)
        if fn == "Condition":
            return condition(arg)
        raise DeployError(f"condition function {fn} is not evaluated for an emulator")

    def condition(name: str) -> bool:
        if name not in done:
            done[name] = evaluate(specs[name])
        return done[name]

    return {name: condition(name) for name in specs}


def resolve(value, known: Mapping[str, str], conds: Mapping[str, bool] | None = None):
    """`value` with `Ref`, string `Fn::Sub` (`${Name}`, `${Name.Attr}`) and `Fn::If` resolved
    from `known` and `conds`; `AWS::NoValue` left out of lists and maps."""
    conds = conds or {}
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and arg in known:
            return known[arg]
        if fn == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), m.group(0)), arg)
        if fn == "Fn::If" and arg[0] in conds:
            return resolve(arg[1] if conds[arg[0]] else arg[2], known, conds)
    if isinstance(value, dict):
        got = {k: resolve(v, known, conds) for k, v in value.items()}
        return {k: v for k, v in got.items() if v != NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve(v, known, conds) for v in value) if v != NO_VALUE]
    return value


def complete_on_emulator(
    d: Deployment, stack: str, template: dict, parameters: Mapping[str, str], out: dict[str, str]
) -> None:
    """What the emulator's CloudFormation skipped, made through the services' APIs: the API's
    methods, Prod stage, usage plan and key; the alarms; the tables' point-in-time recovery."""
    cfn, apigw = d.client("cloudformation"), d.client("apigateway")
    physical = {
        r.get("LogicalResourceId"): r.get("PhysicalResourceId", "")
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    known = {
        **{k: v for k, v in physical.items() if k and v},
        **{
            name: parameters.get(name, str(spec.get("Default", "")))
            for name, spec in template.get("Parameters", {}).items()
        },
        "AWS::Region": d.session.region_name,
        "AWS::StackName": stack,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "IopsFunction.Arn": out["FunctionArn"],
    }
    conds = conditions(template, parameters)
    resources = template["Resources"]
    api_id = physical["IopsApi"]
    body = resolve(resources["IopsApi"]["Properties"]["Body"], known, conds)
    # (moto imports OpenAPI 3 only; SAM writes Swagger 2.0, which differs here only in these)
    body.pop("swagger", None)
    body["openapi"] = "3.0.1"
    schemes = body.pop("securityDefinitions", None)
    if schemes:
        body["components"] = {"securitySchemes": schemes}
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(body).encode())
    apigw.create_deployment(restApiId=api_id, stageName="Prod")
    throttle = resolve(resources["IopsApiUsagePlan"]["Properties"]["Throttle"], known, conds)
    key = apigw.create_api_key(name=f"{stack}-key", enabled=True)
    usage = apigw.create_usage_plan(
        name=f"{stack}-usage-plan",
        throttle={
            "rateLimit": float(throttle["RateLimit"]),
            "burstLimit": int(throttle["BurstLimit"]),
        },
        apiStages=[{"apiId": api_id, "stage": "Prod"}],
    )
    apigw.create_usage_plan_key(usagePlanId=usage["id"], keyId=key["id"], keyType="API_KEY")
    out["ApiKeyId"], out["UsagePlanId"] = key["id"], usage["id"]
    cloudwatch, ddb = d.client("cloudwatch"), d.client("dynamodb")
    for name, r in resources.items():
        if "Condition" in r and not conds.get(r["Condition"], True):
            continue
        props = resolve(r.get("Properties", {}), known, conds)
        if r["Type"] == "AWS::CloudWatch::Alarm":
            cloudwatch.put_metric_alarm(**props)
        if r["Type"] == "AWS::DynamoDB::Table" and props.get(
            "PointInTimeRecoverySpecification", {}
        ).get("PointInTimeRecoveryEnabled"):
            ddb.update_continuous_backups(
                TableName=physical[name],
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )


def _upload(d: Deployment, package: Path, stack: str) -> tuple[str, str]:
    s3, account = d.client("s3"), d.client("sts").get_caller_identity()["Account"]
    bucket = f"{stack}-artifacts-{account}-{d.session.region_name}".lower()[:63]
    try:
        if d.session.region_name == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": d.session.region_name},
            )
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    key = f"bootstrap-{int(time.time())}.zip"
    s3.upload_file(str(package), bucket, key)
    return bucket, key


def _wait(cfn, stack: str, timeout_seconds: float = 1800.0) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while True:
        got = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = got["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return got
        if status.endswith("_FAILED") or ("ROLLBACK" in status and status.endswith("_COMPLETE")):
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
            failed = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                for e in events
                if e["ResourceStatus"].endswith("_FAILED")
            ]
            raise DeployError(
                f"stack {stack} is {status}: {'; '.join(failed[:5]) or got.get('StackStatusReason', '')}"
            )
        if time.monotonic() >= deadline:
            raise DeployError(f"stack {stack} is still {status} after {timeout_seconds:.0f} s")
        time.sleep(2.0)


def update_parameters(given: Mapping[str, str], previous: list[dict]) -> list[dict]:
    """An update's parameters: those given, and every other one the stack has keeping its
    value (UpdateStack would reset a parameter left out to its default)."""
    out = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
    out += [
        {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
        for p in previous
        if p["ParameterKey"] not in given
    ]
    return out


def deploy(
    d: Deployment,
    stack: str,
    package: Path,
    parameters: Mapping[str, str],
    directory: Path,
) -> DeploymentOutputs:
    bucket, key = _upload(d, package, stack)
    template = load_template()
    template["Resources"]["IopsFunction"]["Properties"]["CodeUri"] = f"s3://{bucket}/{key}"
    local = emulated()
    if local:
        template = for_emulator(transform_locally(template, d.session))
    cfn = d.client("cloudformation")
    args = {
        "StackName": stack,
        "TemplateBody": json.dumps(template),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
    }
    try:
        previous = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
        exists = True
    except ClientError:
        previous, exists = [], False
    if exists:
        args["Parameters"] = update_parameters(parameters, previous)
        try:
            cfn.update_stack(**args)
            d.say(f"updating stack {stack}")
        except ClientError as e:
            if "No updates are to be performed" not in str(e):
                raise
            d.say(f"stack {stack} is up to date")
    else:
        cfn.create_stack(**args)
        d.say(f"creating stack {stack}")
    got = _wait(cfn, stack)
    out = {o["OutputKey"]: o.get("OutputValue", "") for o in got.get("Outputs", [])}
    if local and not exists:
        # (on an update they exist already; the emulator then has no key id to output)
        complete_on_emulator(d, stack, template, parameters, out)
    missing = [
        k for k in ("ApiUrl", "FunctionArn", "FunctionName", "MetricsTableName") if k not in out
    ]
    if missing:
        raise DeployError(f"stack {stack} has no outputs {', '.join(missing)}")
    outputs = DeploymentOutputs(
        API_URL=out["ApiUrl"],
        AI_LAMBDA=out["FunctionArn"],
        LAMBDA_NAME=out["FunctionName"],
        METRICS_TABLE=out["MetricsTableName"],
        INSIGHTS_TABLE=out.get("InsightsTableName", ""),
        STATE_TABLE=out.get("StateTableName", ""),
        INCIDENTS_TABLE=out.get("IncidentsTableName", ""),
        SAGEMAKER_ENDPOINT=out.get("SageMakerEndpoint", ""),
        ALARM_TOPIC_ARN=out.get("AlarmTopicArn", ""),
        API_KEY_ID=out.get("ApiKeyId", ""),
        DASHBOARD_NAME=out.get("DashboardName", ""),
        STACK_NAME=stack,
        REGION=d.session.region_name,
    )
    path = outputs.write(directory)
    d.say(f"wrote {path}")
    return outputs
