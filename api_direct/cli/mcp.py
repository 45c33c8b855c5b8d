"""``apid mcp``: the CLI as a local MCP server over stdio, for coding agents.

Each tool runs the real command (``python -m api_direct --json ...``) in a subprocess, so
its answer is the command's ``--json`` document by construction and a failure is the
command's own one-line error and exit code. The command's progress lines on stderr become
MCP progress notifications; a cancelled call stops the command as Ctrl-C would.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import click
import mcp_types as types
from anyio.abc import ByteReceiveStream, Process
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api_direct import __version__
from api_direct.deploy.state import load_state
from api_direct.errors import ApidError, StateError
from api_direct.project import load_project

#: How long a cancelled command gets to stop after its Ctrl-C before it (and what it started) is killed.
STOP_GRACE_SECONDS = 5.0

Project = Annotated[
    str | None,
    Field(
        description="The project folder (the one holding apid.toml), absolute or relative to the folder the"
        " server runs in. Default: that folder."
    ),
]
Stage = Annotated[
    str | None,
    Field(
        description="The stage to act on: its own stack apid-<api>-<stage>, URL and keys. Default: [deploy]"
        " default_stage in apid.toml, else the project's one unnamed stage (apid-<api>)."
    ),
]
Profile = Annotated[
    str | None, Field(description="AWS profile for the user's own credentials. Default: the server's environment.")
]
Region = Annotated[str | None, Field(description="AWS region. Default: the region the project is linked in.")]


class Arguments(BaseModel):
    """A tool's arguments: each one but ``confirm`` is the command's option of that name (``retain_data`` is
    ``--retain-data``), so a tool can take no option its command lacks. Unknown names are refused, not
    ignored: a misspelt ``hot_swap`` must not deploy without the hotswap the agent asked for."""

    model_config = ConfigDict(extra="forbid")

    project: Project = None


class StageArguments(Arguments):
    stage: Stage = None


class AwsArguments(StageArguments):
    profile: Profile = None
    region: Region = None


def _confirm_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["confirm"]
    schema["properties"]["confirm"].pop("default")


class ConfirmedArguments(Arguments):
    """A destructive tool's: ``confirm`` is listed as required, but a missing one gets the refusal naming
    the value to pass rather than a bare "field required"."""

    model_config = ConfigDict(json_schema_extra=_confirm_required)

    confirm: str = Field("", description="Must equal the name of what is deleted (see the tool's description).")


class InitArguments(Arguments):
    project: Annotated[
        str | None,
        Field(
            description="The folder to create the project in (created if missing; refused if it holds any file"
            " init writes). Default: the folder the server runs in."
        ),
    ] = None
    name: str | None = Field(
        None,
        description="API name (default: the folder's name, slugified: lowercase letters, digits, hyphens).",
    )


class SynthArguments(StageArguments):
    out: str | None = Field(None, description="Cloud assembly folder (default: .apid/cdk.out in the project).")


class DeployArguments(AwsArguments):
    hotswap: bool = Field(
        False,
        description="If only function code changed, update the functions directly (seconds, not minutes). The"
        " stack then drifts from its template until the next full deploy.",
    )
    canary: str | None = Field(
        None,
        description="PERCENT%:DURATION, e.g. 10%:5m: shift traffic to the new version gradually through"
        " CodeDeploy, PERCENT first and all of it after DURATION, rolled back by itself on 5xx errors.",
    )


class LogsArguments(AwsArguments):
    since: str | None = Field(
        None, description="How far back to start: 30s, 10m, 2h, 1d, or an ISO-8601 time. Default: 10m."
    )
    access: bool = Field(False, description="The API's JSON access log instead of the app's log.")


class DestroyArguments(AwsArguments, ConfirmedArguments):
    retain_data: bool = Field(False, description="Keep the key table (it stays in the account, unmanaged).")


class UnlinkArguments(ConfirmedArguments):
    profile: Profile = None


@dataclass(frozen=True)
class AgentTool:
    """One tool: the command it runs and how its arguments become that command's options."""

    name: str
    #: The words after ``apid``: ``("aws", "unlink")``.
    command: tuple[str, ...]
    arguments: type[Arguments]
    description: str
    annotations: types.ToolAnnotations
    #: ``--yes``: the command would otherwise ask (and, with nobody to ask, refuse).
    answers_yes: bool = False
    #: For a destructive tool: the value ``confirm`` must hold, and what the tool deletes.
    confirmation: Callable[[Any], tuple[str, str]] | None = None


def _stack_to_destroy(arguments: DestroyArguments) -> tuple[str, str]:
    stack = load_project(arguments.project or ".", arguments.stage).stack_name
    return stack, f"destroy deletes the stack {stack}" + (
        " (the key table is kept)" if arguments.retain_data else " and its data"
    )


def _link_to_remove(arguments: UnlinkArguments) -> tuple[str, str]:
    link = load_state(load_project(arguments.project or ".").root).require_link()
    return link.account_id, f"unlink removes the API-Direct link from AWS account {link.account_id} ({link.region})"


_READS = types.ToolAnnotations(read_only_hint=True)
_WRITES = types.ToolAnnotations(read_only_hint=False, destructive_hint=False)
_DELETES = types.ToolAnnotations(read_only_hint=False, destructive_hint=True)

TOOLS = {
    tool.name: tool
    for tool in (
        AgentTool(
            "init",
            ("init",),
            InitArguments,
            "Create a ready-to-deploy FastAPI project (main.py, requirements.txt, apid.toml with a free and a paid"
            " plan, tests). Returns project_dir, name, the files created and the next commands.",
            _WRITES,
        ),
        AgentTool(
            "synth",
            ("synth",),
            SynthArguments,
            "Bundle the app for Lambda and synthesize its CloudFormation stack, offline (no AWS): the app is"
            " imported as Lambda would, so an app that would fail there fails here in one line. Returns the"
            " stack, template path, resource and asset counts, bundle size and warnings.",
            _WRITES,
        ),
        AgentTool(
            "plan",
            ("plan",),
            AwsArguments,
            "Show what deploy would change in the linked AWS account (a change set, deleted afterwards), and"
            " change nothing. Returns each resource change (action, replacement), no_changes, and costs: the"
            " stack's AWS cost (fixed a month, and per 1,000 calls, measured or assumed).",
            _READS,
        ),
        AgentTool(
            "deploy",
            ("deploy",),
            DeployArguments,
            "Build and deploy the API into the linked AWS account. Minutes for a first deploy; progress is"
            " reported. Returns the status, outputs (ApiUrl: the API's URL) and the changes made.",
            _DELETES,
            answers_yes=True,
        ),
        AgentTool(
            "status",
            ("status",),
            AwsArguments,
            "The API stack's state in the linked account: status, outputs (ApiUrl), live version, drift. Its"
            " stack and account_id are the values destroy and unlink ask for in confirm.",
            _READS,
        ),
        AgentTool(
            "logs",
            ("logs",),
            LogsArguments,
            "The deployed app's log lines (or its access log), oldest first. Returns log_group and lines.",
            _READS,
        ),
        AgentTool(
            "publish",
            ("publish",),
            AwsArguments,
            "List the deployed API on the marketplace with the plans in apid.toml (needs `apid login` first)."
            " Publishing again updates the listing.",
            _WRITES,
        ),
        AgentTool(
            "versions",
            ("versions",),
            AwsArguments,
            "The app's published versions, newest first: when, which release, which is live and deployed.",
            _READS,
        ),
        AgentTool(
            "destroy",
            ("destroy",),
            DestroyArguments,
            "Delete the API stack (and, unless retain_data, its key table) from the linked account. Runs only"
            " with confirm equal to the stack's name (status's `stack`, e.g. apid-my-api); ask the user first.",
            _DELETES,
            answers_yes=True,
            confirmation=_stack_to_destroy,
        ),
        AgentTool(
            "unlink",
            ("aws", "unlink"),
            UnlinkArguments,
            "Remove the account link (`apid aws unlink`): empty the asset bucket and delete the apid-link stack;"
            " refused while API stacks remain. Runs only with confirm equal to the linked AWS account id"
            " (status's `account_id`, 12 digits); ask the user first.",
            _DELETES,
            answers_yes=True,
            confirmation=_link_to_remove,
        ),
    )
}

INSTRUCTIONS = """\
apid deploys a FastAPI app into the user's own AWS account and sells it as a metered API.
Each tool runs the `apid` command of its name with --json and returns that command's JSON result.
A failure is an error result with the command's one-line message and exit code: 2 bad arguments,
3 invalid project or input, 4 AWS access problem, 5 wrong state (e.g. not linked), 6 the operation
ran and failed, 1 a bug.

Workflow: init (new project) -> synth (bundle and check, offline; the user can serve it locally with
`apid dev` in a terminal) -> the user links their AWS account once with `apid aws link` in a
terminal -> plan (what deploy would change) -> deploy -> status / logs / versions -> publish (after
`apid login`). Pass `project` (the folder holding apid.toml) unless it is the folder this server
runs in, and `stage` to act on a named stage.

destroy and unlink delete things: they run only when `confirm` equals the stack name (destroy:
`stack` in status's result) or the linked AWS account id (unlink: `account_id` in status's result).
Ask the user before passing it.
"""


@dataclass(frozen=True)
class Outcome:
    """How a command ended: its exit code, its stdout (the JSON result) and its stderr lines."""

    exit_code: int
    stdout: str
    stderr: tuple[str, ...]


class Commands:
    """Runs ``python -m api_direct ARGV`` for the tools, and knows which are running, so that the server can
    stop them before it goes."""

    def __init__(self) -> None:
        self.running: set[Process] = set()

    async def run(self, argv: list[str], on_line: Callable[[str], Awaitable[None]]) -> Outcome:
        """The command's outcome, each stderr line passed to ``on_line`` as it comes.

        The command gets its own process group and no stdin (the server's is the MCP channel).
        Cancelled, it is stopped with what it started, even mid-deploy: CloudFormation carries on.
        """
        process = await anyio.open_process(
            [sys.executable, "-m", "api_direct", *argv], stdin=subprocess.DEVNULL, start_new_session=True
        )
        assert process.stdout is not None and process.stderr is not None
        self.running.add(process)
        stdout = bytearray()
        lines: list[str] = []
        try:
            async with anyio.create_task_group() as readers:
                readers.start_soon(_read_into, process.stdout, stdout)
                async for line in _lines(process.stderr):
                    lines.append(line)
                    await on_line(line)
            exit_code = await process.wait()
        finally:
            if process.returncode is None:
                with anyio.CancelScope(shield=True):
                    await _stop(process)
            self.running.discard(process)
            await process.aclose()
        return Outcome(exit_code, stdout.decode(errors="replace"), tuple(lines))

    async def stop_all(self) -> None:
        async with anyio.create_task_group() as stopping:
            for process in list(self.running):
                stopping.start_soon(_stop, process)


async def _read_into(stream: ByteReceiveStream, into: bytearray) -> None:
    async for chunk in stream:
        into += chunk


async def _lines(stream: ByteReceiveStream) -> AsyncIterator[str]:
    pending = b""
    async for chunk in stream:
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")


async def _stop(process: Process) -> None:
    """Ctrl-C to the command's group (pip, jsii's Node.js), as a user would press it; a kill for whatever is
    left after the grace. The group's id is the command's pid (its own session)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGINT)
    with anyio.move_on_after(STOP_GRACE_SECONDS):
        await process.wait()
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def command_line(tool: AgentTool, arguments: Arguments) -> list[str]:
    """The command and its options; ``--opt=value`` so that a value starting with ``-`` stays a value."""
    argv = ["--json", *(["--yes"] if tool.answers_yes else []), *tool.command]
    for name, value in arguments.model_dump(exclude={"confirm"}).items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv.append(f"{flag}={value}")
    return argv


def _answer(outcome: Outcome) -> types.CallToolResult:
    """The command's JSON as structured content and as text, or its error line and exit code."""
    if outcome.exit_code != 0:
        errors = [line.removeprefix("Error: ") for line in outcome.stderr if line.startswith("Error: ")]
        last = [line for line in outcome.stderr if line.strip()][-1:]
        return _error((errors or last or [f"apid exited with {outcome.exit_code}"])[-1], outcome.exit_code)
    try:
        result = json.loads(outcome.stdout)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return _error("apid printed no JSON object (a bug: report it)", 1)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=outcome.stdout)], structured_content=result
    )


def _error(message: str, exit_code: int) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{message} (exit {exit_code})")],
        structured_content={"error": message, "exit_code": exit_code},
        is_error=True,
    )


def _bad_arguments(tool: AgentTool, error: ValidationError) -> types.CallToolResult:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in each['loc']) or 'arguments'}: {each['msg']}" for each in error.errors()
    )
    return _error(f"bad arguments for {tool.name}: {problems}", 2)


def _require_confirmation(tool: AgentTool, arguments: Arguments) -> None:
    if tool.confirmation is None or not isinstance(arguments, ConfirmedArguments):
        return
    expected, what = tool.confirmation(arguments)
    if arguments.confirm != expected:
        raise StateError(f"Not confirmed: {what}; pass confirm={json.dumps(expected)} to proceed (nothing was run)")


async def _list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(
        tools=[
            types.Tool(
                name=tool.name,
                description=tool.description,
                input_schema=tool.arguments.model_json_schema(),
                annotations=tool.annotations,
            )
            for tool in TOOLS.values()
        ]
    )


def server(commands: Commands) -> Server[Any]:
    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"no tool {params.name!r}; the tools: {', '.join(TOOLS)}")
        try:
            arguments = tool.arguments.model_validate(params.arguments or {})
        except ValidationError as error:
            return _bad_arguments(tool, error)
        try:
            _require_confirmation(tool, arguments)
        except ApidError as error:
            return _error(str(error), error.exit_code)
        reported = 0

        async def report(line: str) -> None:
            nonlocal reported
            if line.strip():
                reported += 1
                await ctx.session.report_progress(reported, None, line.strip())

        return _answer(await commands.run(command_line(tool, arguments), report))

    return Server(
        "apid", version=__version__, instructions=INSTRUCTIONS, on_list_tools=_list_tools, on_call_tool=call_tool
    )


async def _serve() -> None:
    commands = Commands()
    app = server(commands)
    async with anyio.create_task_group() as serving:
        serving.start_soon(_stop_on_sigterm, commands)
        async with stdio_server() as (read, write):
            await app.run(read, write, app.create_initialization_options())
        serving.cancel_scope.cancel()


async def _stop_on_sigterm(commands: Commands) -> None:
    """A client that ends the server with SIGTERM rather than by closing stdin (or after it) ends the commands
    under way too, as a cancelled call does, instead of leaving a deploy running with nobody to report to; then
    the server dies of the signal as it would have."""
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            await commands.stop_all()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)


@click.command()
def mcp() -> None:
    """Serve apid to a coding agent: a local MCP server on stdin/stdout.

    \b
    Put this in the agent's MCP configuration (Claude Code's .mcp.json,
    Claude Desktop, Cursor's .cursor/mcp.json; VS Code's .vscode/mcp.json
    names the key "servers"):
      {"mcpServers": {"apid": {"command": "apid", "args": ["mcp"]}}}

    \b
    Tools: init, synth, plan, deploy, status, logs, publish, versions,
    destroy and unlink (apid aws unlink). Each runs the command of its name
    with --json in the folder the server runs in (or the `project` argument)
    and returns the same JSON; a failure is an error result with the
    command's one-line message and exit code. Progress lines arrive as MCP
    progress notifications; cancelling a call stops the command as Ctrl-C
    does. destroy and unlink run only with `confirm` equal to the stack name
    or the linked account id. AWS credentials come from the server's
    environment (or a tool's `profile`).
    """
    anyio.run(_serve)
