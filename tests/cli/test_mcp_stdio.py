"""`apid mcp` over stdio, driven by the MCP SDK's client as a coding agent drives it: the tools and their
arguments, the commands' own --json answers and one-line errors, confirm before deleting, progress, cancel."""

import json
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import mcp_types as types
import pytest
from click.testing import Result
from mcp.shared.exceptions import MCPError

from api_direct.cli.main import cli
from api_direct.cli.mcp import TOOLS
from api_direct.deploy.state import LinkRecord, load_state, save_state
from tests.cli.mcp_stdio_client import (
    AgentSession,
    apid_mcp,
    commands_mentioning,
    outlives,
    parent_of,
    processes_mentioning,
)
from tests.cli_aws import run

LISTED = {"init", "synth", "plan", "deploy", "status", "logs", "publish", "versions", "destroy", "unlink"}
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentSession]:
    with apid_mcp() as session:
        yield session


@pytest.fixture(scope="module")
def project(agent: AgentSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by the server's `init`, never linked."""
    root = tmp_path_factory.mktemp("mcp") / "quote-service"
    assert not agent.call("init", {"project": str(root)}).is_error
    return root


@pytest.fixture(scope="module")
def synthesized(agent: AgentSession, project: Path) -> tuple[types.CallToolResult, list[str]]:
    """The project's first `synth` (nothing to reuse) and the messages of its progress notifications."""
    progress: list[str] = []
    return agent.call("synth", {"project": str(project)}, progress), progress


def click_command(words: tuple[str, ...]) -> click.Command:
    context = click.Context(cli)
    command: click.Command | None = cli
    for word in words:
        assert isinstance(command, click.Group)
        command = command.get_command(context, word)
    assert command is not None
    return command


def error_line(result: Result) -> str:
    """The one line a failed command printed, without its `Error: `."""
    return result.stderr.removeprefix("Error: ").rstrip("\n")


def test_each_tool_takes_options_its_command_has(agent: AgentSession) -> None:
    tools = agent.tools()
    assert set(tools) == LISTED
    for name, tool in tools.items():
        options = {opt: param for param in click_command(TOOLS[name].command).params for opt in param.opts}
        for argument, schema in tool.input_schema["properties"].items():
            assert schema["description"], (name, argument)
            if argument != "confirm":
                option = options[f"--{argument.replace('_', '-')}"]
                assert isinstance(option, click.Option) and option.is_flag == (schema.get("type") == "boolean")
    assert tools["destroy"].input_schema["required"] == tools["unlink"].input_schema["required"] == ["confirm"]
    assert (
        "hotswap" in tools["deploy"].input_schema["properties"] and tools["deploy"].input_schema.get("required") is None
    )
    assert tools["destroy"].annotations and tools["destroy"].annotations.destructive_hint
    assert tools["status"].annotations and tools["status"].annotations.read_only_hint


def test_init_answers_what_apid_init_answers(agent: AgentSession, tmp_path: Path) -> None:
    root = tmp_path / "quote-service"
    answer = agent.call("init", {"project": str(root), "name": "quotes-api"})
    assert not answer.is_error and answer.structured_content
    assert (root / "apid.toml").is_file() and answer.structured_content["name"] == "quotes-api"
    [text] = answer.content
    assert isinstance(text, types.TextContent) and json.loads(text.text) == answer.structured_content
    shutil.rmtree(root)
    by_cli = run(root, "--json", "init", "--name", "quotes-api")
    assert by_cli.exit_code == 0 and text.text == by_cli.stdout


def test_synth_answers_what_apid_synth_answers(
    agent: AgentSession, project: Path, synthesized: tuple[types.CallToolResult, list[str]]
) -> None:
    first, _ = synthesized
    assert first.structured_content and first.structured_content["stack"] == "apid-quote-service"
    assert first.structured_content["reused"] is False and Path(first.structured_content["template"]).is_file()
    by_cli = run(project, "--json", "synth")
    assert by_cli.exit_code == 0, by_cli.output
    again = agent.call("synth", {"project": str(project)})
    [text] = again.content
    assert isinstance(text, types.TextContent) and text.text == by_cli.stdout
    assert again.structured_content == json.loads(by_cli.stdout) and again.structured_content["reused"] is True


def test_synth_reports_its_progress_lines(synthesized: tuple[types.CallToolResult, list[str]]) -> None:
    _, progress = synthesized
    assert progress[0] == "Bundling and synthesizing apid-quote-service..."


@pytest.mark.parametrize(("tool", "in_project", "exit_code"), [("plan", True, 5), ("synth", False, 3)])
def test_a_failing_command_is_an_error_result_with_its_line_and_exit_code(
    agent: AgentSession, project: Path, tmp_path: Path, tool: str, in_project: bool, exit_code: int
) -> None:
    """Not linked (plan) and no apid.toml (synth): the command's own one line, without its `Error: `."""
    folder = project if in_project else tmp_path
    answer = agent.call(tool, {"project": str(folder)})
    by_cli = run(folder, "--json", tool)
    assert answer.is_error and by_cli.exit_code == exit_code
    line = error_line(by_cli)
    assert answer.structured_content == {"error": line, "exit_code": exit_code}
    assert answer.content == [types.TextContent(type="text", text=f"{line} (exit {exit_code})")]


def test_destroy_runs_only_with_the_stack_name_as_confirm(agent: AgentSession, project: Path) -> None:
    refusal = (
        'Not confirmed: destroy deletes the stack apid-quote-service and its data; pass confirm="apid-quote-service"'
        " to proceed (nothing was run)"
    )
    for confirm in ({}, {"confirm": "apid-other"}):
        progress: list[str] = []
        answer = agent.call("destroy", {"project": str(project), **confirm}, progress)
        assert answer.structured_content == {"error": refusal, "exit_code": 5}
        assert progress == [], "a command that ran would have printed its error line"
    ran = agent.call("destroy", {"project": str(project), "confirm": "apid-quote-service"})
    assert ran.structured_content == {"error": error_line(run(project, "--json", "destroy", "--yes")), "exit_code": 5}


def test_unlink_runs_only_with_the_linked_account_as_confirm(agent: AgentSession, copy_of_example: Path) -> None:
    unlinked = agent.call("unlink", {"project": str(copy_of_example), "confirm": ACCOUNT})
    assert unlinked.structured_content == {
        "error": "this project is not linked to an AWS account: run `apid aws link` first",
        "exit_code": 5,
    }
    link = LinkRecord(
        account_id=ACCOUNT,
        region="eu-west-1",
        external_id="external-id",
        trusted_account_id=ACCOUNT,
        stack_name="apid-link",
        deploy_role_arn=f"arn:aws:iam::{ACCOUNT}:role/apid-deploy-eu-west-1",
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/apid-cfn-exec-eu-west-1",
        asset_bucket=f"apid-assets-{ACCOUNT}-eu-west-1",
        permissions_boundary_arn=f"arn:aws:iam::{ACCOUNT}:policy/apid-boundary-eu-west-1",
        linked_at="2026-01-01T00:00:00+00:00",
    )
    save_state(copy_of_example, load_state(copy_of_example).with_link(link))
    for confirm in ({}, {"confirm": "apid-link"}):
        answer = agent.call("unlink", {"project": str(copy_of_example), **confirm})
        assert answer.structured_content == {
            "error": f"Not confirmed: unlink removes the API-Direct link from AWS account {ACCOUNT} (eu-west-1);"
            f' pass confirm="{ACCOUNT}" to proceed (nothing was run)',
            "exit_code": 5,
        }
    assert load_state(copy_of_example).link == link


def test_bad_arguments_are_error_results_and_the_server_goes_on(agent: AgentSession, project: Path) -> None:
    wrong_type = agent.call("deploy", {"project": str(project), "hotswap": "sometimes"})
    assert wrong_type.is_error and wrong_type.structured_content
    assert wrong_type.structured_content["exit_code"] == 2
    assert wrong_type.structured_content["error"].startswith("bad arguments for deploy: hotswap: ")
    not_an_option = agent.call("logs", {"project": str(project), "follow": True})
    assert not_an_option.structured_content == {
        "error": "bad arguments for logs: follow: Extra inputs are not permitted",
        "exit_code": 2,
    }
    with pytest.raises(MCPError, match="no tool 'link'"):
        agent.call("link", {})
    assert set(agent.tools()) == LISTED


def test_a_cancelled_call_stops_its_command(agent: AgentSession, tmp_path: Path) -> None:
    root = tmp_path / "cancelled-api"
    assert not agent.call("init", {"project": str(root)}).is_error
    started = threading.Event()
    call = agent.start("synth", {"project": str(root)}, lambda _: started.set())
    assert started.wait(timeout=30)
    assert processes_mentioning(str(root)), "synth is still running when its first line arrives"
    call.cancel()
    assert outlives(str(root), seconds=15) == []
    assert list(root.rglob("*.template.json")) == [], "stopped before its synthesis, not after"
    assert set(agent.tools()) == LISTED


def test_a_server_ended_by_sigterm_stops_its_command_first(tmp_path: Path) -> None:
    """As some clients end their servers (rather than by closing stdin, which ends the calls as cancelled)."""
    root = tmp_path / "terminated-api"
    with apid_mcp() as agent:
        assert not agent.call("init", {"project": str(root)}).is_error
        started = threading.Event()
        call = agent.start("synth", {"project": str(root)}, lambda _: started.set())
        assert started.wait(timeout=30)
        [command] = commands_mentioning(str(root))
        os.kill(parent_of(command), signal.SIGTERM)
        assert outlives(str(root), seconds=15) == []
        assert list(root.rglob("*.template.json")) == [], "stopped before its synthesis, not after"
        assert isinstance(call.exception(timeout=15), MCPError)
