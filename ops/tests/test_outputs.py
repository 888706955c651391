import pytest

from iops_ops.outputs import DeploymentOutputs, OutputsError

VALUES = dict(
    API_URL="https://abc.execute-api.eu-west-1.amazonaws.com/Prod",
    AI_LAMBDA="arn:aws:lambda:eu-west-1:1:function:iops-fn",
    LAMBDA_NAME="iops-fn",
    METRICS_TABLE="m",
    INSIGHTS_TABLE="i",
    STATE_TABLE="s",
    INCIDENTS_TABLE="n",
    SAGEMAKER_ENDPOINT="",
    ALARM_TOPIC_ARN='arn:aws:sns:eu-west-1:1:it\'s a "topic" $HOME',
    API_KEY_ID="k1",
    DASHBOARD_NAME="IOps-System-Dashboard",
    STACK_NAME="iops",
    REGION="eu-west-1",
)


def test_round_trips_through_shell_quoting(tmp_path):
    o = DeploymentOutputs(**VALUES)
    o.write(tmp_path)
    assert DeploymentOutputs.read(tmp_path) == o
    text = (tmp_path / ".deployment-outputs").read_text()
    assert "export SAGEMAKER_ENDPOINT=''" in text
    # what a shell sourcing it sees: the same values, nothing expanded
    import subprocess

    got = subprocess.run(
        ["bash", "-c", 'source .deployment-outputs && printf "%s\\n" "$ALARM_TOPIC_ARN" "$REGION"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert got == [VALUES["ALARM_TOPIC_ARN"], "eu-west-1"]


def test_a_missing_name_or_a_bad_line_is_named(tmp_path):
    text = DeploymentOutputs(**VALUES).to_shell().replace("export STATE_TABLE='s'\n", "")
    text = text.replace("export STATE_TABLE=s\n", "")
    with pytest.raises(OutputsError, match="missing STATE_TABLE"):
        DeploymentOutputs.parse(text)
    with pytest.raises(OutputsError, match=":2: expected NAME=value"):
        DeploymentOutputs.parse("# comment\nAPI_URL\n")
    with pytest.raises(OutputsError, match="run scripts/deploy/deploy.sh"):
        DeploymentOutputs.read(tmp_path)


def test_plain_assignments_are_read_too():
    text = "\n".join(f"{k}={v!r}" if v else f"{k}=" for k, v in VALUES.items() if "'" not in v)
    text += "\nALARM_TOPIC_ARN=t\n"
    assert DeploymentOutputs.parse(text).ALARM_TOPIC_ARN == "t"
