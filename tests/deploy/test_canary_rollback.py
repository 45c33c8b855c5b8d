"""A canary CodeDeploy rolled back, as CloudFormation reports it: the deploy fails in one line that says the previous
version serves all traffic. (moto runs no CodeDeploy: the events are CloudFormation's, stubbed.)"""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from api_direct.deploy.change_sets import ChangeSet, ResourceChange
from api_direct.deploy.executor import Context
from api_direct.deploy.planner import ExecuteChangeSet
from api_direct.errors import OperationFailed

STACK = "apid-weather-api-prod"
REASON = (
    "Deployment d-7XYZ1ABC2 failed: The deployment stopped because alarm"
    " apid-weather-api-prod-AppLiveServerErrors-1A2B3C was in ALARM; traffic was shifted back to version 6"
)


def event(n: int, logical: str, status: str, kind: str, reason: str = "") -> dict[str, Any]:
    start = datetime(2026, 12, 5, tzinfo=UTC)
    return {
        "EventId": f"e{n}",
        "StackId": "s",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": start + timedelta(seconds=n),
    }


class Aws:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str) -> Any:
        return self._client


class Observer:
    def stack_event(self, event: Any) -> None:
        pass


def test_a_rolled_back_canary_fails_the_deploy_saying_the_previous_version_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    client = boto3.client("cloudformation", region_name="us-east-1")
    stack_events = "AWS::CloudFormation::Stack"
    before = [event(1, STACK, "UPDATE_COMPLETE", stack_events)]
    after = [
        event(6, STACK, "UPDATE_ROLLBACK_COMPLETE", stack_events),
        event(5, "AppLiveAlias", "UPDATE_COMPLETE", "AWS::Lambda::Alias"),
        event(4, STACK, "UPDATE_ROLLBACK_IN_PROGRESS", stack_events),
        event(3, "AppLiveAlias", "UPDATE_FAILED", "AWS::Lambda::Alias", REASON),
        event(2, STACK, "UPDATE_IN_PROGRESS", stack_events),
        *before,
    ]
    stack = {"StackName": STACK, "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "CreationTime": datetime(2026, 12, 1)}
    change = ResourceChange(
        logical_id="AppLiveAlias", resource_type="AWS::Lambda::Alias", action="Modify", replacement="False"
    )
    change_set = ChangeSet(stack_name=STACK, arn="arn:change-set", creates_stack=False, changes=(change,))
    context = Context(aws=Aws(client), target=None, observer=Observer())  # type: ignore[arg-type]
    context.change_set = change_set
    with Stubber(client) as stubber:
        stubber.add_response("describe_stack_events", {"StackEvents": before})
        stubber.add_response("execute_change_set", {})
        stubber.add_response("describe_stack_events", {"StackEvents": after})
        stubber.add_response("describe_stacks", {"Stacks": [stack]})
        stubber.add_response("describe_stack_events", {"StackEvents": after})
        with pytest.raises(OperationFailed) as failed:
            ExecuteChangeSet().run(context)
    message = str(failed.value)
    assert "\n" not in message
    assert "UPDATE_ROLLBACK_COMPLETE" in message and "previous version serves all traffic" in message
    assert "alarm apid-weather-api-prod-AppLiveServerErrors-1A2B3C was in ALARM" in message
