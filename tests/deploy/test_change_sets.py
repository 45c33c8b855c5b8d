"""Change sets and stack events against moto: no-change is success, leftovers are cleaned."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from api_direct.deploy.change_sets import (
    TemplateSource,
    compact_template,
    create_change_set,
    execute_change_set,
    remove_stale_change_sets,
)
from api_direct.deploy.stack_events import EventStream, wait_for_stack
from api_direct.deploy.stacks import Phase, describe_stack, phase_of

QUEUE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "apid-q"}}}}


@pytest.fixture
def cloudformation() -> Any:
    with mock_aws():
        yield boto3.client("cloudformation", region_name="us-east-1")


def create(cloudformation: Any, template: dict[str, Any], *, creates: bool) -> Any:
    return create_change_set(
        cloudformation,
        stack_name="apid-t",
        template=TemplateSource(body=compact_template(template)),
        creates_stack=creates,
        role_arn=None,
        sleep=lambda _: None,
    )


def test_create_lists_additions_and_executes(cloudformation: Any) -> None:
    change_set = create(cloudformation, QUEUE, creates=True)
    assert [(c.action, c.logical_id, c.resource_type) for c in change_set.changes] == [
        ("Add", "Queue", "AWS::SQS::Queue")
    ]
    execute_change_set(cloudformation, change_set)
    assert describe_stack(cloudformation, "apid-t").status == "CREATE_COMPLETE"  # type: ignore[union-attr]


def test_unchanged_template_is_an_empty_change_set(cloudformation: Any) -> None:
    execute_change_set(cloudformation, create(cloudformation, QUEUE, creates=True))
    again = create(cloudformation, QUEUE, creates=False)
    assert again.empty


def test_no_changes_reported_as_failure_is_success_and_cleaned_up() -> None:
    """Real CloudFormation marks a no-op change set FAILED with a reason; that is not an error."""
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:stack"})
        stubber.add_response(
            "describe_change_set",
            {
                "Status": "FAILED",
                "ExecutionStatus": "UNAVAILABLE",
                "StatusReason": "The submitted information didn't contain changes. "
                "Submit different information to create a change set.",
            },
        )
        stubber.add_response("delete_change_set", {})
        change_set = create_change_set(
            client,
            stack_name="apid-t",
            template=TemplateSource(body="{}"),
            creates_stack=False,
            role_arn="arn:aws:iam::1:role/x",
            sleep=lambda _: None,
        )
        stubber.assert_no_pending_responses()
    assert change_set.empty


def test_rejected_change_set_is_one_line_error() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:stack"})
        stubber.add_response("describe_change_set", {"Status": "FAILED", "StatusReason": "Template format error: bad"})
        with pytest.raises(Exception, match="rejected the change set for apid-t: Template format error: bad"):
            create_change_set(
                client,
                stack_name="apid-t",
                template=TemplateSource(body="{}"),
                creates_stack=False,
                role_arn=None,
                sleep=lambda _: None,
            )


def test_leftover_change_sets_are_removed_before_a_new_one(cloudformation: Any) -> None:
    execute_change_set(cloudformation, create(cloudformation, QUEUE, creates=True))
    changed = json.loads(json.dumps(QUEUE))
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
    create(cloudformation, changed, creates=False)  # as if the run crashed before executing it
    cloudformation.create_change_set(
        StackName="apid-t",
        ChangeSetName="someone-elses",
        TemplateBody=compact_template(changed),
        ChangeSetType="UPDATE",
    )
    assert remove_stale_change_sets(cloudformation, "apid-t") == 1
    left = {
        s["ChangeSetName"]: s["ExecutionStatus"]
        for s in cloudformation.list_change_sets(StackName="apid-t")["Summaries"]
    }
    # Ours that could still run are gone; another tool's is untouched. (moto, unlike
    # CloudFormation, keeps listing the executed one.)
    assert [n for n, status in left.items() if n.startswith("apid-") and status == "AVAILABLE"] == []
    assert left["someone-elses"] == "AVAILABLE"


def test_removing_leftovers_of_a_missing_stack_is_a_no_op(cloudformation: Any) -> None:
    assert remove_stale_change_sets(cloudformation, "apid-none") == 0


def test_event_stream_shows_only_new_events_once_in_order(cloudformation: Any) -> None:
    execute_change_set(cloudformation, create(cloudformation, QUEUE, creates=True))
    stream = EventStream(cloudformation, "apid-t")
    stream.prime()
    assert stream.poll() == []
    changed = json.loads(json.dumps(QUEUE))
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
    execute_change_set(cloudformation, create(cloudformation, changed, creates=False))
    seen: list[str] = []
    outcome = wait_for_stack(cloudformation, stream, "apid-t", lambda e: seen.append(e.status), sleep=lambda _: None)
    assert outcome.status == "UPDATE_COMPLETE" and outcome.first_failure is None
    assert seen == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert stream.poll() == []


def test_first_failure_is_the_root_cause() -> None:
    """Later 'cancelled' failures and the stack's own event are not the cause to show."""
    client = boto3.client("cloudformation", region_name="us-east-1")
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def event(
        n: int, logical: str, status: str, reason: str = "", kind: str = "AWS::Lambda::Function"
    ) -> dict[str, Any]:
        return {
            "EventId": f"e{n}",
            "StackId": "s",
            "StackName": "apid-t",
            "LogicalResourceId": logical,
            "ResourceType": kind,
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
            "Timestamp": start + timedelta(seconds=n),
        }

    events = [
        event(4, "apid-t", "ROLLBACK_COMPLETE", kind="AWS::CloudFormation::Stack"),
        event(3, "Queue", "CREATE_FAILED", "Resource creation cancelled", "AWS::SQS::Queue"),
        event(2, "Fn", "CREATE_FAILED", "Memory size 1 is below 128"),
        event(1, "apid-t", "CREATE_IN_PROGRESS", kind="AWS::CloudFormation::Stack"),
    ]
    stack = {"StackName": "apid-t", "StackStatus": "ROLLBACK_COMPLETE", "CreationTime": start}
    with Stubber(client) as stubber:
        stubber.add_response("describe_stack_events", {"StackEvents": events})
        stubber.add_response("describe_stacks", {"Stacks": [stack]})
        stubber.add_response("describe_stack_events", {"StackEvents": events})
        outcome = wait_for_stack(client, EventStream(client, "apid-t"), "apid-t", lambda e: None, sleep=lambda _: None)
    assert outcome.status == "ROLLBACK_COMPLETE"
    assert outcome.first_failure is not None and outcome.first_failure.logical_id == "Fn"


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("CREATE_COMPLETE", Phase.READY),
        ("UPDATE_ROLLBACK_COMPLETE", Phase.READY),
        ("ROLLBACK_COMPLETE", Phase.FAILED_CREATE),
        ("UPDATE_IN_PROGRESS", Phase.BUSY),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", Phase.BUSY),
        ("REVIEW_IN_PROGRESS", Phase.ABSENT),
        ("UPDATE_ROLLBACK_FAILED", Phase.BROKEN),
        ("DELETE_FAILED", Phase.BROKEN),
    ],
)
def test_phases(status: str, phase: Phase) -> None:
    assert phase_of(status) is phase
