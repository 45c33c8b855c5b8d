"""`apid sandbox`, as a newcomer runs it: the whole loop on this machine, checked, nothing left behind.

One run of the real command (fewer calls than its default) with a private temp
folder, so the test can see that the work folder is gone afterwards, and that
the emulator's port no longer answers.
"""

import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli

CALLS = 30


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path) -> tuple[Result, Path]:
    temp = tmp_path_factory.mktemp("sandbox-tmp")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("APID_CACHE_DIR", str(bundle_cache_dir))
        env.setattr(tempfile, "tempdir", str(temp))
        result = CliRunner().invoke(cli, ["sandbox", "--calls", str(CALLS), "--json"])
    return result, temp


def summary(run: tuple[Result, Path]) -> dict[str, Any]:
    result, _ = run
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_every_number_matches(run: tuple[Result, Path]) -> None:
    found = summary(run)
    assert found["ok"] and all(check["expected"] == check["actual"] for check in found["checks"])
    # 30 calls: every tenth misses its key, every tenth has a wrong one, every tenth asks for an unknown city.
    assert found["calls"] == CALLS and found["billable"] == CALLS - 3 * 3
    # pro: 19.00 a month, 10000 calls included; the platform keeps 20 %.
    assert (found["billed"], found["fee"], found["payout"]) == (1900, 380, 1520)


def test_progress_names_each_step(run: tuple[Result, Path]) -> None:
    result, _ = run
    for step in ("Deploy the control plane template", "Sign up a creator", "Link the creator's AWS account",
                 "through the assumed deploy role", "Publish weather-api", "gets a key", f"Make {CALLS} calls",
                 "aggregate them", "meter event", "invoices", "paid out"):
        assert step in result.stderr, step


def test_nothing_is_left_behind(run: tuple[Result, Path]) -> None:
    result, temp = run
    assert list(temp.iterdir()) == []
    aws = result.stderr.split("AWS: ", 1)[1].split()[0]
    host, port = aws.removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0
