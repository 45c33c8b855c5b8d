"""The planner: which steps a deploy takes, and when the hotswap fast path is allowed."""

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api_direct.deploy.aws import Aws
from api_direct.deploy.executor import Context, OwnAccount, SilentObserver, execute
from api_direct.deploy.planner import (
    CreateChangeSet,
    DeleteFailedStack,
    DiscardChangeSet,
    ExecuteChangeSet,
    PublishAssets,
    UpdateFunctionCode,
    ensure_not_busy,
    plan_deploy,
    plan_destroy,
    plan_hotswap,
    plan_preview,
)
from api_direct.deploy.stacks import StackInfo, describe_stack
from api_direct.deploy.synthesis import FileAsset, SynthesizedStack
from api_direct.errors import StateError

BUCKET = "apid-assets-${AWS::AccountId}-${AWS::Region}"


def asset(key: str) -> FileAsset:
    return FileAsset(key, Path("/nowhere"), "zip", BUCKET, f"assets/{key}.zip")


def function(key: str, memory: int = 512) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": f"asset.{key}"},
        "Properties": {"Code": {"S3Bucket": BUCKET, "S3Key": f"assets/{key}.zip"}, "MemorySize": memory},
    }


def synthesized(resources: dict[str, Any], assets: tuple[FileAsset, ...]) -> SynthesizedStack:
    return SynthesizedStack("apid-t", {"Resources": resources}, Path("t.json"), assets, asset("template"))


def stack(status: str) -> StackInfo:
    return StackInfo("apid-t", status, None, {}, datetime.now(UTC), "id")


DEPLOYED = {
    "Resources": {
        "App": function("old"),
        "Auth": function("runtime"),
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PAY_PER_REQUEST"}},
    }
}
PHYSICAL = {"App": ("AWS::Lambda::Function", "apid-t-App-1"), "Auth": ("AWS::Lambda::Function", "apid-t-Auth-1")}


def test_code_only_change_hotswaps_just_the_changed_function() -> None:
    resources = copy.deepcopy(DEPLOYED["Resources"])
    resources["App"] = function("new")
    steps = plan_hotswap(synthesized(resources, (asset("new"), asset("runtime"))), DEPLOYED, PHYSICAL)
    assert steps is not None
    assert [type(s) for s in steps] == [PublishAssets, UpdateFunctionCode]
    assert steps[0].assets == (asset("new"),)  # type: ignore[attr-defined]
    assert (steps[1].logical_id, steps[1].function_name) == ("App", "apid-t-App-1")  # type: ignore[attr-defined]


def test_any_other_change_refuses_hotswap() -> None:
    resources = copy.deepcopy(DEPLOYED["Resources"])
    resources["App"] = function("new", memory=1024)
    assert plan_hotswap(synthesized(resources, (asset("new"),)), DEPLOYED, PHYSICAL) is None
    resources = copy.deepcopy(DEPLOYED["Resources"])
    resources["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    assert plan_hotswap(synthesized(resources, ()), DEPLOYED, PHYSICAL) is None


def test_code_an_earlier_hotswap_put_in_place_is_not_swapped_again() -> None:
    resources = copy.deepcopy(DEPLOYED["Resources"])
    resources["App"] = function("new")
    assert plan_hotswap(synthesized(resources, (asset("new"),)), DEPLOYED, PHYSICAL, {"App": "assets/new.zip"}) == []


def test_nothing_changed_is_an_empty_hotswap() -> None:
    assert plan_hotswap(synthesized(copy.deepcopy(DEPLOYED["Resources"]), ()), DEPLOYED, PHYSICAL) == []


def test_first_deploy_publishes_creates_and_executes() -> None:
    steps = plan_deploy(synthesized({}, (asset("a"),)), None, recreate_failed=False)
    assert [type(s) for s in steps] == [PublishAssets, CreateChangeSet, ExecuteChangeSet]
    assert steps[1].creates_stack  # type: ignore[attr-defined]
    assert not plan_deploy(synthesized({}, ()), stack("UPDATE_COMPLETE"), recreate_failed=False)[1].creates_stack  # type: ignore[attr-defined]


def test_failed_first_deploy_needs_consent_then_recreates() -> None:
    with pytest.raises(StateError, match="ROLLBACK_COMPLETE after a failed first deploy.*--yes"):
        plan_deploy(synthesized({}, ()), stack("ROLLBACK_COMPLETE"), recreate_failed=False)
    steps = plan_deploy(synthesized({}, ()), stack("ROLLBACK_COMPLETE"), recreate_failed=True)
    assert [type(s) for s in steps] == [PublishAssets, DeleteFailedStack, CreateChangeSet, ExecuteChangeSet]
    assert steps[2].creates_stack  # type: ignore[attr-defined]


def test_plan_changes_nothing() -> None:
    steps = plan_preview(synthesized({}, (asset("a"),)), None)
    assert [type(s) for s in steps] == [CreateChangeSet, DiscardChangeSet]


def test_every_step_describes_itself_in_one_line() -> None:
    steps = [
        *plan_deploy(synthesized({}, (asset("a"),)), stack("ROLLBACK_COMPLETE"), recreate_failed=True),
        DiscardChangeSet(),
        UpdateFunctionCode("App", "fn", asset("a")),
    ]
    for step in steps:
        assert step.describe() and "\n" not in step.describe()


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
def test_busy_or_broken_stacks_are_refused(status: str) -> None:
    with pytest.raises(StateError):
        ensure_not_busy(stack(status))
    ensure_not_busy(stack("UPDATE_COMPLETE"))
    ensure_not_busy(None)


def test_an_account_without_execution_role_is_deployed_and_destroyed_with_the_callers_credentials() -> None:
    """An operator deploying into their own account: no link, so no ``RoleARN`` on any call."""
    queue = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}
    with mock_aws():
        aws = Aws(boto3.Session(region_name="us-east-1"))
        context = Context(aws=aws, target=OwnAccount("123456789012", "us-east-1"), observer=SilentObserver())
        execute(plan_deploy(synthesized(queue, ()), None, recreate_failed=False), context)
        cloudformation = aws.client("cloudformation")
        deployed = describe_stack(cloudformation, "apid-t")
        assert deployed is not None and deployed.status == "CREATE_COMPLETE"
        execute(plan_destroy(deployed), context)
        assert describe_stack(cloudformation, "apid-t") is None
