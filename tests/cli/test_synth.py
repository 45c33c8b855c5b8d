"""`apid synth` end to end through Click: offline template, one-line errors, exit codes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api_direct.cli.main import cli
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, EXAMPLE_DIR


def test_synth_writes_the_template_and_reports_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        cli,
        [
            "--project",
            str(EXAMPLE_DIR),
            "--json",
            "synth",
            "--out",
            str(tmp_path / "out"),
            "--control-plane-account",
            CONTROL_PLANE_ACCOUNT,
            "--control-plane-bus",
            CONTROL_PLANE_BUS_ARN,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stack"] == "apid-weather-api" and report["assets"] == 3  # the app's, our handlers', MCP's
    assert report["bundle_bytes"] > 1_000_000
    template = json.loads(Path(report["template"]).read_text())
    assert any(r["Type"] == "AWS::Logs::SubscriptionFilter" for r in template["Resources"].values())


def test_without_control_plane_nothing_is_metered(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["--project", str(EXAMPLE_DIR), "--json", "synth", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    template = json.loads(Path(json.loads(result.stdout)["template"]).read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::Logs::SubscriptionFilter" not in types and "AWS::ApiGateway::RestApi" in types
    [rule] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["EventPattern"]["account"] == [{"Ref": "AWS::AccountId"}]


READS_LAMBDA_ENVIRONMENT = """import os

REGION = os.environ["AWS_REGION"]
NAME = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
assert os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512", "the project's memory_mb"
assert os.environ["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12", "the project's runtime"
assert os.environ["AWS_ACCESS_KEY_ID"] == "testing", "the caller's own credentials, untouched"
"""


def test_an_app_that_reads_lambdas_variables_at_import_synthesizes(
    copy_of_example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda sets AWS_REGION, the function's name and the like before the import;
    the check sets them as placeholders."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_EXECUTION_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    main = copy_of_example / "weather" / "main.py"
    main.write_text(READS_LAMBDA_ENVIRONMENT + main.read_text())
    result = CliRunner().invoke(cli, ["--project", str(copy_of_example), "--json", "synth"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == []


def test_bad_project_is_one_line_exit_3(tmp_path: Path) -> None:
    (tmp_path / "apid.toml").write_text("[api]\nname = 'x'\n")
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "synth"])
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: apid.toml: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output and "invalid project" in result.output
