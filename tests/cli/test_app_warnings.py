"""What the app check warns about before an API ships, through the real CLI: WebSocket routes, the check being off.

API Gateway REST APIs cannot serve WebSocket, so each WebSocket route of the app
(at the root, in a router included with a prefix, in a mounted app) is one
``warning:`` line of `apid synth`, `apid plan` and `apid deploy` on stderr, and
an entry of the ``warnings`` of their ``--json`` result, which stays one JSON
document on stdout. A reused assembly warns as the synthesis that made it did.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api_direct.cli.main import cli
from api_direct.deploy import synthesis
from api_direct.deploy.app_check import CHECK_OFF_WARNING
from tests.cli_aws import aws, linked, run

__all__ = ["aws", "linked"]  # fixtures

WEBSOCKETS = """

from fastapi import APIRouter, WebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute


@app.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()


live = APIRouter()


@live.websocket("/feed")
async def feed(websocket: WebSocket) -> None:
    await websocket.accept()


app.include_router(live, prefix="/live")
app.mount("/admin", Starlette(routes=[WebSocketRoute("/events", chat)]))
"""
ROUTES = ["/ws/chat", "/live/feed", "/admin/events"]


def warned_routes(stderr: str) -> list[str]:
    """The routes of the WebSocket warning lines, in order."""
    return re.findall(
        r"^warning: WebSocket route (\S+): API Gateway REST APIs cannot serve WebSocket; it will not be"
        r" reachable once deployed$",
        stderr,
        re.MULTILINE,
    )


def json_routes(stdout: str) -> list[str]:
    return [re.sub(r"^WebSocket route (\S+): .*", r"\1", warning) for warning in json.loads(stdout)["warnings"]]


def test_synth_warns_once_per_websocket_route_even_when_reused(
    copy_of_example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = copy_of_example / "weather" / "main.py"
    main.write_text(main.read_text() + WEBSOCKETS)
    for reused in (False, True):
        result = CliRunner().invoke(cli, ["--project", str(copy_of_example), "--json", "synth"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["reused"] is reused
        assert warned_routes(result.stderr) == ROUTES == json_routes(result.stdout)
    human = CliRunner().invoke(cli, ["--project", str(copy_of_example), "synth"])
    assert human.exit_code == 0 and warned_routes(human.stderr) == ROUTES, human.output


def test_plan_and_deploy_warn_once_per_websocket_route(linked: Path, aws: Any) -> None:
    main = linked / "weather" / "main.py"
    working = main.read_text()
    main.write_text(working + WEBSOCKETS)
    try:
        # The second plan reads back the first one's assembly: its record kept what the check found.
        for command in (["plan"], ["plan"], ["deploy", "--yes"]):
            result = run(linked, "--json", *command)
            assert result.exit_code == 0, result.output
            assert warned_routes(result.stderr) == ROUTES == json_routes(result.stdout), command
    finally:
        main.write_text(working)


def test_with_the_check_off_plan_and_deploy_import_nothing_and_say_so_once(
    linked: Path, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the app check started although runtime.check_import is off")

    monkeypatch.setattr(synthesis, "start_app_check", refuse)
    config, main = linked / "apid.toml", linked / "weather" / "main.py"
    original, working = config.read_text(), main.read_text()
    config.write_text(original.replace("[runtime]\n", "[runtime]\ncheck_import = false\n", 1))
    main.write_text(working + WEBSOCKETS)
    try:
        for command in (["plan"], ["deploy", "--yes"]):
            result = run(linked, "--json", *command)
            assert result.exit_code == 0, result.output
            assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
                f"warning: {CHECK_OFF_WARNING}"
            ], command
            assert json.loads(result.stdout)["warnings"] == [CHECK_OFF_WARNING]
    finally:
        config.write_text(original)
        main.write_text(working)
