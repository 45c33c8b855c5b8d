"""The real CLI against a real control plane on loopback: the app under uvicorn, the CLI run in process.

The fixtures that use these (``billed_app``, ``control_plane``, ``config_home``,
``sign_in_as``) are in this folder's ``conftest.py``.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from click.testing import CliRunner, Result
from fastapi import FastAPI

from api_direct.cli.main import cli

#: ``sign_in_as(url, user=ALICE, group="creators")``: a session file as `apid login` writes it.
SignIn = Callable[..., None]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port for the length of the block."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def apid(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr or result.output}"
    assert result.stderr == ""
    return result.stdout
