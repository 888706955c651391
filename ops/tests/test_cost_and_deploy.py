import pytest

from iops_ops import cost, deploy


def test_the_estimate_is_each_service_at_its_list_price():
    u = cost.Usage(
        lambda_requests=2e6,
        lambda_gb_seconds=1000.0,
        dynamodb_write_units=4e6,
        dynamodb_read_units=8e6,
        api_requests=1e6,
        sagemaker_instance_hours=24.0,
        sagemaker_instance_type="ml.m5.large",
    )
    got = cost.estimate(u)
    assert got["AWS Lambda"] == pytest.approx(0.40 + 0.0166667)
    assert got["Amazon DynamoDB"] == pytest.approx(2.50 + 1.00)
    assert got["Amazon API Gateway"] == pytest.approx(3.50)
    assert got["Amazon SageMaker"] == pytest.approx(24 * 0.115)
    assert (
        cost.estimate(cost.Usage(sagemaker_instance_hours=1.0, sagemaker_instance_type="ml.x"))[
            "Amazon SageMaker"
        ]
        is None
    )
    assert cost.estimate(cost.Usage())["Amazon SageMaker"] == 0.0


def test_intrinsics_resolve_from_what_is_known():
    known = {"AWS::Region": "eu-west-1", "Fn.Arn": "arn:f", "AWS::StackName": "s"}
    value = {
        "a": [{"Fn::Sub": "x:${AWS::Region}:${Fn.Arn}:${Other}"}, {"Ref": "AWS::StackName"}],
        "b": {"Ref": "Unknown"},
    }
    assert deploy.resolve(value, known) == {
        "a": ["x:eu-west-1:arn:f:${Other}", "s"],
        "b": {"Ref": "Unknown"},
    }


def test_the_emulator_template_drops_only_what_it_cannot_create():
    t = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi"},
            "Dep": {"Type": "AWS::ApiGateway::Deployment"},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "DependsOn": ["Dep"]},
            "Plan": {"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": ["Api", "Stage"]},
        }
    }
    got = deploy.for_emulator(t)
    assert sorted(got["Resources"]) == ["Api", "Plan"]
    assert got["Resources"]["Plan"]["DependsOn"] == ["Api"]


def test_an_update_keeps_the_parameters_not_given():
    previous = [
        {"ParameterKey": "UseSageMaker", "ParameterValue": "true"},
        {"ParameterKey": "CanaryPercentage", "ParameterValue": "100"},
    ]
    assert deploy.update_parameters({"CanaryPercentage": "10"}, previous) == [
        {"ParameterKey": "CanaryPercentage", "ParameterValue": "10"},
        {"ParameterKey": "UseSageMaker", "UsePreviousValue": True},
    ]
