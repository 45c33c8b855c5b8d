"""`apid sandbox --keep` through the real CLI, explored while it is kept, then stopped as Ctrl-C would."""

import tempfile
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


def run_kept_sandbox(explore: Callable[[Endpoints], None], *, calls: int, temp: Path, bundle_cache_dir: Path) -> Result:
    """Run the command with ``temp`` as the temp folder, calling ``explore`` once everything is up.

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
        env.setenv("APID_CACHE_DIR", str(bundle_cache_dir))
        env.setattr(tempfile, "tempdir", str(temp))
        env.setattr(sandbox_command, "_wait_for_interrupt", exploring)
        env.setattr(sandbox_command, "wait_for_ctrl_c", _ctrl_c)
        return CliRunner().invoke(cli, ["sandbox", "--calls", str(calls), "--keep", "--json"])


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def status(url: str, key: str) -> int:
    """The status the kept sandbox's served API answers a GET with this key."""
    request = urllib.request.Request(url, headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code
