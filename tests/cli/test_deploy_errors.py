"""What goes wrong in real use gets one line, a documented exit code, and no change.

moto runs in process here (with the emulator harness's fixes) so the tests can put
a stack into states a real failure leaves behind: ROLLBACK_COMPLETE after a failed
first deploy, UPDATE_IN_PROGRESS while someone else deploys.
"""

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result
from moto import mock_aws
from moto.cloudformation.models import cloudformation_backends

from api_direct.cli.main import cli
from api_direct.deploy import planner
from api_direct.local.emulator import apply_patches
from tests.conftest import copy_example

ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "apid-weather-api"
PLACEHOLDER = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "apid-placeholder"}}}}'


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
def linked(aws: Any, tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path) -> Path:
    project = copy_example(tmp_path_factory.mktemp("linked"))
    assert run(project, bundle_cache_dir, "aws", "link").exit_code == 0
    return project


def run(project: Path, cache: Path, *args: str) -> Result:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APID_CACHE_DIR", str(cache))
        return CliRunner().invoke(cli, ["--project", str(project), *args])


def one_line_error(result: Result, code: int, *fragments: str) -> None:
    """Progress lines may come first; the error is the one last line."""
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert [line for line in lines if line.startswith("Error: ")] == [lines[-1]]
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[-1]


def change_sets(aws: Any, stack_name: str) -> list[str]:
    """Runnable change sets of ``stack_name``.

    moto's list_change_sets ignores its StackName filter and keeps executed change
    sets listed (CloudFormation removes them), so both are filtered out here.
    """
    summaries = aws("cloudformation").list_change_sets(StackName=stack_name)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s["StackName"] == stack_name and s["ExecutionStatus"] == "AVAILABLE"]


def stacks(aws: Any) -> dict[str, str]:
    return {s["StackName"]: s["StackStatus"] for s in aws("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"}


def set_status(stack_name: str, status: str) -> None:
    backend = cloudformation_backends[ACCOUNT][REGION]
    [stack] = [s for s in backend.stacks.values() if s.name == stack_name and s.status != "DELETE_COMPLETE"]
    stack.status = status


@pytest.fixture
def placeholder_stack(aws: Any) -> Iterator[str]:
    """A stack under the API's name, whose status a test then sets."""
    aws("cloudformation").create_stack(StackName=STACK, TemplateBody=PLACEHOLDER)
    yield STACK
    if STACK in stacks(aws):
        set_status(STACK, "CREATE_COMPLETE")
        aws("cloudformation").delete_stack(StackName=STACK)


def test_project_without_link(aws: Any, tmp_path: Path, bundle_cache_dir: Path) -> None:
    project = copy_example(tmp_path)
    before = stacks(aws)
    for command in (["plan"], ["deploy"], ["status"], ["destroy", "--yes"], ["logs"], ["aws", "status"]):
        one_line_error(run(project, bundle_cache_dir, *command), 5, "run `apid aws link` first")
    assert stacks(aws) == before


@pytest.mark.parametrize(
    ("toml", "message"),
    [(None, "apid.toml: not found; run `apid init`"), ("[api\n", "not valid TOML"),
     ('[api]\nname = "weather-api"\ndescription = "x"\napp = "weather.main:app"\ncolour = "red"\n[[plans]]\nname = "free"\nrate_limit = 1\nburst = 1\n',
      "api.colour: unknown field")],
)
def test_missing_or_invalid_apid_toml(linked: Path, aws: Any, bundle_cache_dir: Path, toml: str | None, message: str) -> None:
    config = linked / "apid.toml"
    original = config.read_text()
    try:
        config.unlink() if toml is None else config.write_text(toml)
        before = stacks(aws)
        for command in (["plan"], ["deploy"]):
            one_line_error(run(linked, bundle_cache_dir, *command), 3, message)
        assert stacks(aws) == before
    finally:
        config.write_text(original)


def test_denied_assume_role(linked: Path, aws: Any, bundle_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """STS refusing (wrong ExternalId, deleted role): the message names the role and the likely causes."""
    real = botocore.client.BaseClient._make_api_call

    def deny(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "AssumeRole":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", deny)
    before = stacks(aws)
    for command in (["plan"], ["deploy"], ["destroy", "--yes"]):
        one_line_error(run(linked, bundle_cache_dir, *command), 4, f"role/apid-deploy-{REGION}", "ExternalId")
    assert stacks(aws) == before
    aws_status = run(linked, bundle_cache_dir, "--json", "aws", "status")
    assert aws_status.exit_code == 5 and '"role_assumable": false' in aws_status.stdout


def test_failed_first_deploy_asks_then_recreates(linked: Path, aws: Any, bundle_cache_dir: Path, placeholder_stack: str) -> None:
    set_status(placeholder_stack, "ROLLBACK_COMPLETE")
    one_line_error(run(linked, bundle_cache_dir, "deploy"), 5, "ROLLBACK_COMPLETE", "--yes")
    one_line_error(run(linked, bundle_cache_dir, "plan"), 5, "ROLLBACK_COMPLETE", "`apid deploy` will offer")
    assert stacks(aws)[STACK] == "ROLLBACK_COMPLETE"
    assert change_sets(aws, STACK) == []
    recreated = run(linked, bundle_cache_dir, "deploy", "--yes")
    assert recreated.exit_code == 0, recreated.output
    assert "delete apid-weather-api, left in ROLLBACK_COMPLETE" in recreated.stderr
    assert stacks(aws)[STACK] == "CREATE_COMPLETE"
    assert any(f["Handler"] == "apid_handler.handler" for f in aws("lambda").list_functions()["Functions"])


def test_update_already_in_progress(linked: Path, aws: Any, bundle_cache_dir: Path, placeholder_stack: str) -> None:
    set_status(placeholder_stack, "UPDATE_IN_PROGRESS")
    for command in (["plan"], ["deploy"], ["deploy", "--hotswap"], ["destroy", "--yes"]):
        one_line_error(run(linked, bundle_cache_dir, *command), 5, "UPDATE_IN_PROGRESS", "apid status")
    assert stacks(aws)[STACK] == "UPDATE_IN_PROGRESS"
    assert change_sets(aws, STACK) == []


def test_destroy_of_a_missing_stack(linked: Path, aws: Any, bundle_cache_dir: Path) -> None:
    one_line_error(run(linked, bundle_cache_dir, "destroy", "--yes"), 5, "not deployed", "nothing to destroy")


def test_ctrl_c_while_waiting_leaves_cloudformation_to_finish(
    linked: Path, aws: Any, bundle_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(planner, "wait_for_stack", interrupted)
    (linked / "weather" / "main.py").write_text((linked / "weather" / "main.py").read_text() + "# ctrl-c\n")
    result = run(linked, bundle_cache_dir, "deploy")
    one_line_error(result, 130, "CloudFormation continues the deploy", "apid status")
