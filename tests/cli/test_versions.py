"""Versions, rollback and canaries through the real CLI, moto in process: each release publishes a version behind
the ``live`` alias, ``apid rollback`` moves the alias without CloudFormation, and the next deploy moves it back."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_aws import aws, linked, remove_stack, run
from tests.errors import one_line_error

__all__ = ["aws", "linked"]  # fixtures

STACK = "apid-weather-api"
APP_MODULE = Path("weather") / "main.py"


@pytest.fixture
def project(linked: Path, aws: Any) -> Iterator[Path]:
    """The linked example with no stack deployed, its app code as the example has it afterwards."""
    remove_stack(aws, STACK)
    source = linked / APP_MODULE
    original = source.read_text()
    yield linked
    source.write_text(original)


def ok(project: Path, *args: str) -> dict[str, Any]:
    result = run(project, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def release(project: Path, marker: str) -> dict[str, Any]:
    """A deploy of new app code (a changed source file): a new version."""
    source = project / APP_MODULE
    source.write_text(f"{source.read_text()}\n# release {marker}\n")
    return ok(project, "deploy", "--yes")


def live(aws: Any, function: str) -> str:
    return str(aws("lambda").get_alias(FunctionName=function, Name="live")["FunctionVersion"])


def test_each_release_publishes_a_version_that_goes_live(project: Path, aws: Any) -> None:
    first = ok(project, "deploy", "--yes")
    second = release(project, "two")
    function = second["outputs"]["AppFunctionName"]
    assert (first["outputs"]["AppVersion"], second["outputs"]["AppVersion"]) == ("1", "2")
    assert live(aws, function) == "2"
    listed = ok(project, "versions")
    assert [(v["version"], v["live"], v["deployed"]) for v in listed["versions"]] == [
        (2, True, True),
        (1, False, False),
    ]
    assert all(v["release"].startswith("by ") or " by " in v["release"] for v in listed["versions"])
    assert ok(project, "deploy", "--yes")["status"] == "NO_CHANGES"
    assert len(ok(project, "versions")["versions"]) == 2  # an unchanged deploy publishes nothing


def test_rollback_moves_the_alias_and_the_next_deploy_moves_it_back(project: Path, aws: Any) -> None:
    ok(project, "deploy", "--yes")
    function = release(project, "broken")["outputs"]["AppFunctionName"]
    templates_before = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    rolled = ok(project, "rollback")
    assert (rolled["previous"], rolled["live"]) == ("2", "1") and rolled["seconds"] >= 0
    assert live(aws, function) == "1"
    assert aws("cloudformation").get_template(StackName=STACK)["TemplateBody"] == templates_before
    status = ok(project, "status")
    assert (status["live_version"], status["deployed_version"], status["rolled_back"]) == ("1", "2", True)
    text = run(project, "status").stdout
    assert "rolled back" in text and "apid deploy" in text
    redeployed = ok(project, "deploy", "--yes")
    assert (redeployed["status"], redeployed["live_moved_from"]) == ("NO_CHANGES", "1")
    assert live(aws, function) == "2" and ok(project, "status")["rolled_back"] is False


def test_rollback_to_a_chosen_version(project: Path, aws: Any) -> None:
    ok(project, "deploy", "--yes")
    release(project, "two")
    function = release(project, "three")["outputs"]["AppFunctionName"]
    assert ok(project, "rollback", "--to", "1")["live"] == "1" and live(aws, function) == "1"
    assert ok(project, "rollback", "--to", "3")["live"] == "3"


def test_rollback_refusals_are_one_line(project: Path) -> None:
    one_line_error(run(project, "rollback"), 5, "apid-weather-api is not deployed", "apid deploy")
    ok(project, "deploy", "--yes")
    one_line_error(run(project, "rollback"), 5, "version 1 is the oldest")
    one_line_error(run(project, "rollback", "--to", "7"), 3, "--to 7", "has no version 7 (it has 1)")
    one_line_error(run(project, "rollback", "--to", "0"), 2)


def test_a_hotswap_serves_the_new_code_through_the_alias(project: Path, aws: Any) -> None:
    function = ok(project, "deploy", "--yes")["outputs"]["AppFunctionName"]
    source = project / APP_MODULE
    source.write_text(f"{source.read_text()}\n# hotswapped\n")
    assert ok(project, "deploy", "--yes", "--hotswap")["status"] == "HOTSWAPPED"
    assert live(aws, function) == "$LATEST"
    status = ok(project, "status")
    assert status["rolled_back"] is False and status["drifted_since"]
    assert ok(project, "rollback")["live"] == "1"  # back to the deployed version, before the hotswap's code
    full = ok(project, "deploy", "--yes")
    assert full["outputs"]["AppVersion"] == "2" and live(aws, function) == "2"


def test_a_canary_deploy_adds_codedeploy_and_bad_specs_are_refused(project: Path, aws: Any) -> None:
    ok(project, "deploy", "--yes", "--canary", "10%:5m")
    template = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert {"AWS::CloudWatch::Alarm", "AWS::CodeDeploy::DeploymentConfig"} <= {
        r["Type"] for r in template["Resources"].values()
    }
    [group] = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    assert group["Properties"]["AutoRollbackConfiguration"]["Enabled"] is True
    for spec, fragment in (("10", "PERCENT%:DURATION"), ("0%:5m", "1% to 99%"), ("10%:3d", "PERCENT%:DURATION")):
        one_line_error(run(project, "deploy", "--yes", "--canary", spec), 3, fragment)
