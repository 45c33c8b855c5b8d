"""`apid sandbox`'s own decisions, without running one: which project, what it can call,
the exit when numbers disagree."""

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api_direct.cli import sandbox as sandbox_command
from api_direct.cli.main import cli
from api_direct.cli.output import Output
from api_direct.local import sandbox
from api_direct.local.sample_calls import SampleCall
from api_direct.local.sandbox import Check, Endpoints, Summary
from api_direct.scaffold import render_templates
from tests.example_project import EXAMPLE_DIR


def summary(*checks: Check) -> Summary:
    return Summary(
        calls=3,
        mcp_tool_calls=0,
        billable=2,
        billed=1900,
        stripe_fees=98,
        fee=380,
        payout=1422,
        currency="usd",
        aws_variable_cost="0.000123",
        aws_fixed_monthly="0.300000",
        margin="13.919877",
        seconds=1.0,
        checks=checks,
    )


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the run itself; record what the command asked for."""
    calls: list[dict[str, Any]] = []

    def run_sandbox(project_dir: Path, narrator: Any, **options: Any) -> Summary:
        calls.append({"project_dir": project_dir, **options})
        return summary(Check("payout (cents)", 1422, 1422))

    monkeypatch.setattr(sandbox, "run_sandbox", run_sandbox)
    return calls


def test_outside_a_project_it_runs_the_example(
    ran: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sandbox", "--calls", "7", "--plan", "pro"])
    assert result.exit_code == 0, result.output
    assert ran[0]["project_dir"] == EXAMPLE_DIR == sandbox_command.EXAMPLE
    assert (ran[0]["calls"], ran[0]["plan_name"], ran[0]["keep"]) == (7, "pro", None)
    assert "Every number matches" in result.stdout and "14.22 USD" in result.stdout and "0.98 USD" in result.stdout
    assert "0.000123 USD" in result.stdout and "13.919877 USD" in result.stdout


def test_a_given_project_is_used(ran: list[dict[str, Any]], copy_of_example: Path) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--project", str(copy_of_example), "--json"])
    assert result.exit_code == 0 and ran[0]["project_dir"] == copy_of_example
    assert json.loads(result.stdout)["ok"] is True


def test_a_folder_without_apid_toml_is_refused(ran: list[dict[str, Any]], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--project", str(tmp_path)])
    assert result.exit_code == 3 and not ran
    assert (
        result.stderr.strip() == f"Error: no apid.toml in {tmp_path}: pass --project DIR (a folder made by `apid init`)"
    )


def test_numbers_that_disagree_fail_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = summary(Check("payout (cents)", 1520, 1519), Check("platform fee (cents)", 380, 380))
    monkeypatch.setattr(sandbox, "run_sandbox", lambda *args, **kwargs: bad)
    result = CliRunner().invoke(cli, ["sandbox"])
    assert result.exit_code == 6
    assert "expected 1520" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "Error: the sandbox's numbers do not add up: payout (cents)"


@pytest.mark.parametrize("calls", ["0", "5001", "many"])
def test_calls_out_of_range_are_a_usage_error(ran: list[dict[str, Any]], calls: str) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--calls", calls])
    assert result.exit_code == 2 and not ran


def test_without_the_emulator_installed_it_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.importlib.util, "find_spec", lambda name: None if name == "moto" else object())
    result = CliRunner().invoke(cli, ["sandbox"])
    assert result.exit_code == 5
    assert "pip install 'api-direct[local]'" in result.stderr


def test_a_plan_not_in_apid_toml_fails_before_anything_starts(copy_of_example: Path) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--project", str(copy_of_example), "--plan", "gold"])
    assert result.exit_code == 3 and "→" not in result.stderr
    assert result.stderr.strip() == "Error: no plan 'gold' in apid.toml: choose one of free, pro, starter, credits"


def test_an_invalid_apid_toml_fails_before_anything_starts(copy_of_example: Path) -> None:
    (copy_of_example / "apid.toml").write_text("[api]\nname = 'Not A Name'\n")
    result = CliRunner().invoke(cli, ["sandbox", "--project", str(copy_of_example)])
    assert result.exit_code == 3 and "→" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_kept_sandbox_stops_on_sigterm_as_on_ctrl_c() -> None:
    """``kill`` (SIGTERM) must clean up like Ctrl-C: both reach the caller as KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(KeyboardInterrupt):
            sandbox_command.wait_for_ctrl_c()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_app_with_nothing_to_call_fails_before_anything_starts(tmp_path: Path) -> None:
    for name, text in render_templates("put-only").items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "main.py").write_text(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.put('/items/{item_id}')\n"
        "def put(item_id: int) -> dict[str, int]:\n    return {'id': item_id}\n"
    )
    result = CliRunner().invoke(cli, ["sandbox", "--project", str(tmp_path)])
    assert result.exit_code == 3 and "→" not in result.stderr
    assert result.stderr.strip() == (
        "Error: apid sandbox has no GET or POST operation of main:app to call, from its OpenAPI document: "
        "PUT /items/{item_id} (only GET and POST operations are called)"
    )


def test_the_kept_sandbox_suggests_the_apps_first_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    call = SampleCall("POST /stats", "POST", "/stats", "", (("content-type", "application/json"),), b'{"text":"hi"}')
    endpoints = Endpoints(
        aws="http://127.0.0.1:1",
        control_plane="http://127.0.0.1:2",
        stripe="http://127.0.0.1:3",
        api_url="https://x.execute-api.us-east-1.amazonaws.com/v1/",
        gateway="http://127.0.0.1:4/v1",
        sample=call,
        workdir=tmp_path,
        config_home=tmp_path,
        password="p",
        consumer_key="k",
        deliver=lambda: 0,
    )
    monkeypatch.setattr(sandbox_command, "wait_for_ctrl_c", _ctrl_c)
    sandbox_command._wait_for_interrupt(Output(as_json=False, verbose=False))(endpoints)
    assert (
        "curl -H 'x-api-key: <consumer key>' -H 'content-type: application/json' --data-binary "
        """'{"text":"hi"}' http://127.0.0.1:4/v1/stats"""
    ) in capsys.readouterr().err


def _ctrl_c() -> None:
    raise KeyboardInterrupt
