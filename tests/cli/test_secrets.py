"""``apid secrets`` through the real CLI, moto in process: values in from stdin and into Parameter Store only,
names and versions out, one folder per stage, and a one-line refusal for what cannot be stored."""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.cli_aws import aws, linked, run
from tests.errors import one_line_error
from tests.example_project import copy_example
from tests.secret_scan import find_secrets, scan_files

__all__ = ["aws", "linked"]  # fixtures

VALUE = "sk-upstream-7Jq2vX9pLm4RtY8wZ3nB"
PARAMETER = "/apid/weather-api/_default/UPSTREAM_TOKEN"
PROD = """
[stages.prod.env]
TIER = "production"
"""


@pytest.fixture(autouse=True)
def no_secrets(aws: Any) -> None:
    """Each test starts with no secret stored, whatever the one before it set."""
    ssm = aws("ssm")
    names = [
        parameter["Name"]
        for page in ssm.get_paginator("describe_parameters").paginate()
        for parameter in page["Parameters"]
    ]
    for name in names:
        ssm.delete_parameter(Name=name)


def stored(project: Path, *args: str, stdin: str = VALUE + "\n") -> dict[str, Any]:
    result = run(project, "--json", "secrets", "set", "UPSTREAM_TOKEN", *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    assert VALUE not in result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def listed(project: Path, *args: str) -> dict[str, Any]:
    result = run(project, "--json", "secrets", "list", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_value_from_stdin_is_a_secure_string_less_its_newline(linked: Path, aws: Any) -> None:
    answer = stored(linked)
    assert answer["path"] == "/apid/weather-api/_default" and answer["secret"]["version"] == 1
    parameter = aws("ssm").get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", VALUE)
    tags = aws("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=PARAMETER)["TagList"]
    assert {"Key": "api-direct:managed", "Value": "true"} in tags


def test_list_shows_names_versions_and_changes_never_values(linked: Path, aws: Any) -> None:
    stored(linked)
    stored(linked, stdin="a second value")
    secrets = listed(linked)["secrets"]
    assert [(s["name"], s["version"]) for s in secrets] == [("UPSTREAM_TOKEN", 2)]
    assert secrets[0]["last_modified"] and "last_modified_by" in secrets[0]
    history = aws("ssm").get_parameter_history(Name=PARAMETER, WithDecryption=True)["Parameters"]
    assert [version["Value"] for version in history] == [VALUE, "a second value"]
    text = run(linked, "secrets", "list")
    assert "UPSTREAM_TOKEN" in text.stdout and "v2" in text.stdout and "a second value" not in text.output


def test_each_stage_has_its_own_secrets(linked: Path) -> None:
    stored(linked, "--stage", "prod")
    assert listed(linked)["secrets"] == []
    prod = listed(linked, "--stage", "prod")
    assert prod["path"] == "/apid/weather-api/prod" and [s["name"] for s in prod["secrets"]] == ["UPSTREAM_TOKEN"]


def test_the_value_is_never_an_argument(linked: Path, aws: Any) -> None:
    result = run(linked, "secrets", "set", "UPSTREAM_TOKEN", VALUE)
    one_line_error(result, 3, "never an argument")
    assert VALUE not in result.output
    assert aws("ssm").describe_parameters()["Parameters"] == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("1TOKEN", "letters, digits and underscores"),
        ("UPSTREAM-TOKEN", "letters, digits and underscores"),
        ("T" * 129, "up to 128"),
        ("AWS_REGION", "sets this variable itself"),
        ("AWS_LAMBDA_X", "sets this variable itself"),
        ("APID_SECRETS_PATH", "sets this variable itself"),
    ],
    ids=["digit-first", "hyphen", "too-long", "lambda-reserved", "lambda-prefix", "apid-prefix"],
)
def test_a_bad_name_is_one_line_and_stores_nothing(linked: Path, aws: Any, name: str, fragment: str) -> None:
    one_line_error(run(linked, "secrets", "set", name, stdin=VALUE), 3, fragment)
    assert aws("ssm").describe_parameters()["Parameters"] == []


def test_an_empty_value_is_refused(linked: Path, aws: Any) -> None:
    one_line_error(run(linked, "secrets", "set", "UPSTREAM_TOKEN", stdin="\n"), 3, "the value is empty")
    assert aws("ssm").describe_parameters()["Parameters"] == []


def test_a_name_the_stage_s_env_sets_is_refused(linked: Path, tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    (project / ".apid").mkdir()
    (project / ".apid" / "state.json").write_text((linked / ".apid" / "state.json").read_text())
    (project / "apid.toml").write_text((project / "apid.toml").read_text() + PROD)
    result = run(project, "secrets", "set", "TIER", "--stage", "prod", stdin=VALUE)
    one_line_error(result, 3, "TIER is a plain variable of this stage")


def test_a_project_not_linked_is_told_to_link(tmp_path: Path, aws: Any) -> None:
    one_line_error(run(copy_example(tmp_path), "secrets", "set", "UPSTREAM_TOKEN", stdin=VALUE), 5, "apid aws link")


def test_remove_asks_first_then_deletes(linked: Path, aws: Any) -> None:
    stored(linked)
    one_line_error(run(linked, "secrets", "remove", "UPSTREAM_TOKEN"), 5, "--yes")
    assert listed(linked)["secrets"] != []
    result = run(linked, "--json", "secrets", "remove", "UPSTREAM_TOKEN", "--yes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["removed"] == "UPSTREAM_TOKEN"
    assert aws("ssm").describe_parameters()["Parameters"] == []
    one_line_error(run(linked, "secrets", "remove", "UPSTREAM_TOKEN", "--yes"), 5, "has no secret UPSTREAM_TOKEN")


def test_a_deployed_app_is_told_its_path_and_the_value_is_nowhere_else(linked: Path, aws: Any) -> None:
    stored(linked)
    deployed = run(linked, "--json", "deploy", "--yes")
    assert deployed.exit_code == 0, deployed.output
    outputs = [
        result.output for result in (deployed, run(linked, "--json", "secrets", "list"), run(linked, "secrets", "list"))
    ]
    name = json.loads(deployed.stdout)["outputs"]["AppFunctionName"]
    function = aws("lambda").get_function_configuration(FunctionName=name)
    assert function["Environment"]["Variables"]["APID_SECRETS_PATH"] == "/apid/weather-api/_default"
    template = aws("cloudformation").get_template(StackName="apid-weather-api")["TemplateBody"]
    known = {"the secret": VALUE}
    assert find_secrets("the deployed template", json.dumps(template), known) == []
    assert find_secrets("the CLI's output", "\n".join(outputs), known) == []
    assert scan_files((linked / ".apid").rglob("*.json"), known) == []


def test_on_a_terminal_the_value_is_asked_for_without_echo(
    linked: Path, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api_direct.cli import secrets as command

    asked: dict[str, Any] = {}

    def prompt(text: str, **options: Any) -> str:
        asked.update(options, text=text)
        return VALUE

    monkeypatch.setattr(command, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    monkeypatch.setattr(command.click, "prompt", prompt)
    result = run(linked, "secrets", "set", "UPSTREAM_TOKEN")
    assert result.exit_code == 0, result.output
    assert (asked["text"], asked["hide_input"], asked["err"]) == ("Value of UPSTREAM_TOKEN", True, True)
    assert aws("ssm").get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"] == VALUE
