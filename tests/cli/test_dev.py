"""`apid dev` through Click: one-line errors before any server starts, the hand-off to uvicorn, and a real run."""

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from api_direct.cli.main import cli
from api_direct.local import dev_server
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.gateway_responses import MISSING_KEY
from tests.dev_process import running_apid_dev
from tests.example_project import EXAMPLE_DIR

KEY = generate_key()
MCP_ENV = (dev_server.ENV_MCP_URL, dev_server.ENV_MCP_TOKEN)
START_SECONDS = 60
"""How long a real `apid dev` may take to answer (it starts the CLI, jsii included) before the test gives up."""


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each uvicorn.run call, with the worker's environment as it was then, instead of a server."""
    runs: list[dict[str, Any]] = []
    for name in (*(dev_server.ENV_PROJECT, dev_server.ENV_PLAN, dev_server.ENV_KEY_HASH), *MCP_ENV):
        # serve() sets them: set first, so that undoing puts back their absence too (undoing a delenv of an absent
        # variable would leave serve()'s value behind, for the next test in this process to find).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(
        dev_server.uvicorn, "run", lambda app, **options: runs.append({"app": app, "env": dict(os.environ), **options})
    )
    return runs


def write_project(root: Path, app: str, module: str, source: str) -> Path:
    """A minimal project whose app reference and module are the test's."""
    root.mkdir(exist_ok=True)
    (root / "apid.toml").write_text(
        f'[api]\nname = "dev-test"\ndescription = "d"\napp = "{app}"\n\n'
        '[[plans]]\nname = "basic"\nrate_limit = 1\nburst = 1\n'
    )
    (root / "requirements.txt").write_text("")
    (root / f"{module}.py").write_text(source)
    return root


def no_project(tmp_path: Path) -> Path:
    return tmp_path


def failing_import(tmp_path: Path) -> Path:
    return write_project(tmp_path, "dev_test_broken:app", "dev_test_broken", "raise RuntimeError('boom\\nand more')\n")


def missing_attribute(tmp_path: Path) -> Path:
    return write_project(tmp_path, "dev_test_empty:app", "dev_test_empty", "application = None\n")


def example(_: Path) -> Path:
    return EXAMPLE_DIR


@pytest.mark.parametrize(
    ("make_project", "args", "env", "message"),
    [
        (no_project, [], {}, r"apid\.toml: not found; run `apid init`"),
        (
            failing_import,
            [],
            {},
            r"importing dev_test_broken failed: RuntimeError: boom \(dev_test_broken\.py, line 1\)$",
        ),
        (missing_attribute, [], {}, r"dev_test_empty has no ASGI app named 'app'$"),
        (
            example,
            ["--plan", "gold"],
            {},
            r"--plan: apid\.toml has no plan 'gold' \(plans: free, pro, starter, credits\)$",
        ),
        (example, ["--key", "apid_short"], {}, r"--key: not an API key"),
        (example, [], {"APID_DEV_KEY": "hunter2"}, r"--key: not an API key"),
    ],
    ids=["no-apid-toml", "app-import-fails", "app-missing", "unknown-plan", "bad-key", "bad-key-from-env"],
)
def test_a_bad_project_or_input_is_one_line_exit_3_and_no_server(
    tmp_path: Path,
    uvicorn_runs: list[dict[str, Any]],
    make_project: Callable[[Path], Path],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    result = CliRunner().invoke(cli, ["--project", str(make_project(tmp_path)), "dev", *args], env=env)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert re.search(message, result.stderr.strip()), result.stderr
    assert uvicorn_runs == []


def test_help_explains_the_options() -> None:
    result = CliRunner().invoke(cli, ["dev", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--plan", "--key", "APID_DEV_KEY", "--no-reload", "billable", "Exit codes:"):
        assert option in result.output


def test_prints_the_key_once_and_hands_uvicorn_only_its_hash(uvicorn_runs: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        cli, ["--project", str(EXAMPLE_DIR), "--json", "dev", "--plan", "pro", "--key", KEY, "--port", "8123"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "url": "http://127.0.0.1:8123",
        "key": KEY,
        "plan": "pro",
        "reload": True,
        "curl": f"curl -H 'x-api-key: {KEY}' http://127.0.0.1:8123/cities",
        "mcp_url": "http://127.0.0.1:8123/mcp",
    }
    [run] = uvicorn_runs
    assert (run["app"], run["factory"], run["reload"]) == (dev_server.FACTORY, True, True)
    assert (run["host"], run["port"], run["reload_dirs"]) == ("127.0.0.1", 8123, [str(EXAMPLE_DIR)])
    assert run["env"][dev_server.ENV_KEY_HASH] == hash_key(KEY)
    assert run["env"][dev_server.ENV_PLAN] == "pro"
    assert not any(KEY in value for value in run["env"].values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            client.get("/health")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"apid dev did not answer (exit code {process.poll()})")


def test_a_real_apid_dev_serves_meters_and_rejects(tmp_path: Path) -> None:
    port, output = free_port(), tmp_path / "apid-dev.log"
    with (
        running_apid_dev(EXAMPLE_DIR, port, KEY, output, reload=False) as process,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as client,
    ):
        wait_until_serving(client, process)
        allowed = client.get("/cities", headers={"x-api-key": KEY})
        rejected = client.get("/cities")
    assert allowed.status_code == 200 and allowed.json()["total"] > 0
    assert (rejected.status_code, rejected.text) == (MISSING_KEY.status, MISSING_KEY.body())
    log = output.read_text()
    assert f"Local API key: {KEY}" in log
    assert re.search(r"^GET /cities  200  \d+ ms  billable 1  \(plan free\)$", log, re.MULTILINE), log
    assert re.search(r"^GET /cities  401  \d+ ms  billable 0  \(rejected: missing key\)$", log, re.MULTILINE), log
