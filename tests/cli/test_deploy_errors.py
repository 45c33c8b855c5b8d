"""What goes wrong in real use gets one line, a documented exit code, and no change.

moto runs in process here (with the emulator harness's fixes) so the tests can put
a stack into states a real failure leaves behind: ROLLBACK_COMPLETE after a failed
first deploy, UPDATE_IN_PROGRESS while someone else deploys.
"""

from pathlib import Path
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from api_direct.deploy import operations, planner
from api_direct.errors import InputError
from tests.cli_aws import REGION, aws, change_sets, linked, remove_stack, run, set_status, stacks
from tests.example_project import copy_example
from tests.errors import one_line_error

__all__ = ["aws", "linked"]  # fixtures

STACK = "apid-weather-api"
PLACEHOLDER = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "apid-placeholder"}}}}'


@pytest.fixture(autouse=True)
def no_stack(aws: Any) -> None:
    """Each test starts with the API undeployed, whatever the test before it (in any order) left."""
    remove_stack(aws, STACK)


@pytest.fixture
def placeholder_stack(aws: Any) -> str:
    """A stack under the API's name, whose status a test then sets."""
    aws("cloudformation").create_stack(StackName=STACK, TemplateBody=PLACEHOLDER)
    return STACK


def test_project_without_link(aws: Any, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    before = stacks(aws)
    for command in (["plan"], ["deploy"], ["status"], ["destroy", "--yes"], ["logs"], ["aws", "status"]):
        one_line_error(run(project, *command), 5, "run `apid aws link` first")
    assert stacks(aws) == before


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (None, "apid.toml: not found; run `apid init`"),
        ("[api\n", "not valid TOML"),
        (
            '[api]\nname = "weather-api"\ndescription = "x"\napp = "weather.main:app"\ncolour = "red"\n'
            '[[plans]]\nname = "free"\nrate_limit = 1\nburst = 1\n',
            "api.colour: unknown field",
        ),
    ],
)
def test_missing_or_invalid_apid_toml(linked: Path, aws: Any, toml: str | None, message: str) -> None:
    config = linked / "apid.toml"
    original = config.read_text()
    try:
        config.unlink() if toml is None else config.write_text(toml)
        before = stacks(aws)
        for command in (["plan"], ["deploy"]):
            one_line_error(run(linked, *command), 3, message)
        assert stacks(aws) == before
    finally:
        config.write_text(original)


@pytest.fixture
def assume_role_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS refuses the deploy role, as for a wrong ExternalId or a deleted role."""
    real = botocore.client.BaseClient._make_api_call

    def deny(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "AssumeRole":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", deny)


def test_denied_assume_role(linked: Path, aws: Any, assume_role_denied: None) -> None:
    """STS refusing (wrong ExternalId, deleted role): the message names the role and the likely causes."""
    before = stacks(aws)
    for command in (["plan"], ["deploy"], ["destroy", "--yes"]):
        one_line_error(run(linked, *command), 4, f"role/apid-deploy-{REGION}", "ExternalId")
    assert stacks(aws) == before
    aws_status = run(linked, "--json", "aws", "status")
    assert aws_status.exit_code == 5 and '"role_assumable": false' in aws_status.stdout


def test_a_failed_synthesis_is_the_error_though_aws_refuses_too(
    linked: Path, aws: Any, assume_role_denied: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role is assumed beside the synthesis; a project that does not synthesize is what the creator hears."""

    def broken(*_: object, **__: object) -> None:
        raise InputError("requirements.txt: no-such-package: no version for Lambda's platform")

    monkeypatch.setattr(operations, "synthesize_project", broken)
    before = stacks(aws)
    for command in (["plan"], ["deploy"], ["deploy", "--hotswap"]):
        one_line_error(run(linked, *command), 3, "no-such-package")
    assert stacks(aws) == before


def test_failed_first_deploy_asks_then_recreates(linked: Path, aws: Any, placeholder_stack: str) -> None:
    set_status(placeholder_stack, "ROLLBACK_COMPLETE")
    one_line_error(run(linked, "deploy"), 5, "ROLLBACK_COMPLETE", "--yes")
    one_line_error(run(linked, "plan"), 5, "ROLLBACK_COMPLETE", "`apid deploy` will offer")
    assert stacks(aws)[STACK] == "ROLLBACK_COMPLETE"
    assert change_sets(aws, STACK) == []
    recreated = run(linked, "deploy", "--yes")
    assert recreated.exit_code == 0, recreated.output
    assert "delete apid-weather-api, left in ROLLBACK_COMPLETE" in recreated.stderr
    assert stacks(aws)[STACK] == "CREATE_COMPLETE"
    assert any(f["Handler"] == "apid_handler.handler" for f in aws("lambda").list_functions()["Functions"])


def test_update_already_in_progress(linked: Path, aws: Any, placeholder_stack: str) -> None:
    set_status(placeholder_stack, "UPDATE_IN_PROGRESS")
    for command in (["plan"], ["deploy"], ["deploy", "--hotswap"], ["destroy", "--yes"]):
        one_line_error(run(linked, *command), 5, "UPDATE_IN_PROGRESS", "apid status")
    assert stacks(aws)[STACK] == "UPDATE_IN_PROGRESS"
    assert change_sets(aws, STACK) == []


def test_destroy_of_a_missing_stack(linked: Path, aws: Any) -> None:
    one_line_error(run(linked, "destroy", "--yes"), 5, "not deployed", "nothing to destroy")


def test_ctrl_c_while_waiting_leaves_cloudformation_to_finish(
    linked: Path, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(planner, "wait_for_stack", interrupted)
    (linked / "weather" / "main.py").write_text((linked / "weather" / "main.py").read_text() + "# ctrl-c\n")
    result = run(linked, "deploy")
    one_line_error(result, 130, "CloudFormation continues the deploy", "apid status")
