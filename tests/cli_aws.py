"""The real CLI against moto in process: fixtures for the tests that put AWS in the states real failures leave.

moto runs with the emulator harness's fixes (:func:`apply_patches`), in one
``mock_aws`` per test module; ``linked`` is a copy of the example linked to it.
A test module uses them by importing ``aws`` and ``linked`` (pytest then finds
the fixtures there).
"""

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws
from moto.cloudformation.models import cloudformation_backends

from api_direct.cli.main import cli
from api_direct.local.emulator import apply_patches
from tests.example_project import copy_example

ACCOUNT, REGION = "123456789012", "us-east-1"


@cache
def patched_moto() -> None:
    apply_patches()


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    patched_moto()
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("AWS_DEFAULT_REGION", REGION)
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def linked(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example(tmp_path_factory.mktemp("linked"))
    assert run(project, "aws", "link").exit_code == 0
    return project


def run(project: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project), *args], input=stdin)


def change_sets(aws: Any, stack_name: str) -> list[str]:
    """Runnable change sets of ``stack_name``.

    moto's list_change_sets ignores its StackName filter and keeps executed change
    sets listed (CloudFormation removes them), so both are filtered out here.
    """
    summaries = aws("cloudformation").list_change_sets(StackName=stack_name)["Summaries"]
    return [
        s["ChangeSetName"] for s in summaries if s["StackName"] == stack_name and s["ExecutionStatus"] == "AVAILABLE"
    ]


def stacks(aws: Any) -> dict[str, str]:
    return {
        s["StackName"]: s["StackStatus"]
        for s in aws("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def set_status(stack_name: str, status: str) -> None:
    """Put a stack in a state only a real failure (or another deploy) leaves it in."""
    backend = cloudformation_backends[ACCOUNT][REGION]
    [stack] = [s for s in backend.stacks.values() if s.name == stack_name and s.status != "DELETE_COMPLETE"]
    stack.status = status


def remove_stack(aws: Any, stack_name: str) -> None:
    """No stack of ``stack_name`` and no change set waiting for one, whatever a test before left (a deploy
    interrupted mid-way, a stack put in a failed state)."""
    cloudformation = aws("cloudformation")
    for name in change_sets(aws, stack_name):
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)
    if stack_name in stacks(aws):
        set_status(stack_name, "CREATE_COMPLETE")
        cloudformation.delete_stack(StackName=stack_name)
