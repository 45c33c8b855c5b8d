"""`apid sandbox --keep` through the real CLI, explored while it is kept, then stopped as Ctrl-C would."""

import json
import tempfile
import time
import traceback
from dataclasses import dataclass
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from api_direct.cli import sandbox as sandbox_command
from api_direct.cli.main import cli
from api_direct.local.sandbox import Endpoints


def run_kept_sandbox(
    explore: Callable[[Endpoints], None], *, calls: int, temp: Path, project: Path | None = None
) -> Result:
    """Run the command with ``temp`` as the temp folder, calling ``explore`` once everything is up.

    ``project`` is the project deployed; by default the command's own (the weather example).

    ``explore`` runs where the CLI prints the endpoints and waits for Ctrl-C; the
    printout follows it, and Ctrl-C is pressed at once.
    """
    keep = sandbox_command._wait_for_interrupt

    def exploring(output: Any) -> Callable[[Endpoints], None]:
        def explore_then_stop(endpoints: Endpoints) -> None:
            explore(endpoints)
            keep(output)(endpoints)

        return explore_then_stop

    with pytest.MonkeyPatch.context() as env:
        env.setattr(tempfile, "tempdir", str(temp))
        env.setattr(sandbox_command, "_wait_for_interrupt", exploring)
        env.setattr(sandbox_command, "wait_for_ctrl_c", _ctrl_c)
        where = ["--project", str(project)] if project is not None else []
        return CliRunner().invoke(cli, ["sandbox", *where, "--calls", str(calls), "--keep", "--json"])


def recorded_kept_sandbox(
    explore: Callable[[Endpoints, dict[str, Any]], None], *, calls: int, temp: Path, project: Path | None = None
) -> dict[str, Any]:
    """What ``explore`` recorded while the sandbox was kept, and the command's ``result``.

    An exception in ``explore`` is recorded as ``error`` rather than raised, so that
    the tests asserting on the record (through :func:`finished`) report the step
    that failed, and the sandbox still stops as it should.
    """
    record: dict[str, Any] = {}

    def guarded(endpoints: Endpoints) -> None:
        try:
            explore(endpoints, record)
        except Exception:
            record["error"] = traceback.format_exc()

    record["result"] = run_kept_sandbox(guarded, calls=calls, temp=temp, project=project)
    return record


def finished(record: dict[str, Any]) -> dict[str, Any]:
    """The record of a kept sandbox whose exploring went through and whose command succeeded."""
    result = record["result"]
    assert "error" not in record, record["error"]
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr}"
    assert json.loads(result.stdout)["ok"]
    return record


def deliver_until(condition: Callable[[], bool], endpoints: Endpoints, seconds: float = 60.0) -> bool:
    """Deliver (key events, usage, alerts) until ``condition`` holds, or ``seconds`` pass; whether it held.

    The default is what the kept sandbox may take to deliver an alert (its own loop runs every half second).
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        endpoints.deliver()
        time.sleep(0.2)
    return True


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def status(url: str, key: str) -> int:
    """The status the kept sandbox's served API answers a GET with this key."""
    return fetch(url, key).status


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def fetch(
    url: str, key: str, *, method: str = "GET", body: bytes | None = None, headers: tuple[tuple[str, str], ...] = ()
) -> Fetched:
    """What the kept sandbox's served API answers this request: status, every header as sent, body bytes."""
    request = urllib.request.Request(url, data=body, method=method, headers={"x-api-key": key})
    for name, value in headers:
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Fetched(int(response.status), response.headers.items(), response.read())
    except urllib.error.HTTPError as refused:
        return Fetched(refused.code, refused.headers.items(), refused.read())


def summary(result: Result) -> dict[str, Any]:
    """The JSON summary of an ``apid sandbox --json`` run that exited 0."""
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]
