"""Issue 23's report, as a user met it: `apid deploy` started twice at once, in two shells, on a new project.

Both run as processes of their own against moto_server on loopback, as two shells
would. Before the stage lock the second failed with exit 1 ("unexpected
ResponseParserError ... a bug") while the first created the stack; now it is
refused at once, exit 5, naming the first. A deploy killed outright leaves the
stage free for the next.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from api_direct.cli.main import cli
from api_direct.deploy.project_lock import LOCK_FILE
from api_direct.errors import StateError

APID = str(Path(sys.executable).with_name("apid"))
#: Far beyond a deploy against the emulator, to fail rather than hang.
DEPLOY_SECONDS = 300


@pytest.fixture(scope="module")
def project(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project, linked to the emulator's account and never deployed."""
    root = tmp_path_factory.mktemp("shells") / "twice-api"
    for args in (["init", str(root)], ["aws", "link"]):
        result = CliRunner().invoke(cli, ["--project", str(root), "--endpoint-url", moto_endpoint, *args])
        assert result.exit_code == 0, result.output
    return root


def shell(project: Path, endpoint: str, *args: str) -> "subprocess.Popen[str]":
    """``apid ARGS`` started as a shell would, in a process of its own."""
    return subprocess.Popen(
        [APID, "--project", str(project), "--endpoint-url", endpoint, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_deploys_at_once_one_deploys_the_other_is_refused_naming_it(project: Path, moto_endpoint: str) -> None:
    first, second = shell(project, moto_endpoint, "deploy"), shell(project, moto_endpoint, "deploy")
    ended = {process.pid: (process, *process.communicate(timeout=DEPLOY_SECONDS)) for process in (first, second)}
    codes = sorted(process.returncode for process, _, _ in ended.values())
    assert codes == [0, StateError.exit_code], {pid: (p.returncode, err[-2000:]) for pid, (p, _, err) in ended.items()}
    [(deployed, _, _)] = [v for v in ended.values() if v[0].returncode == 0]
    [(_, _, refusal)] = [v for v in ended.values() if v[0].returncode != 0]
    assert "Traceback" not in refusal and refusal.count("Error: ") == 1, refusal
    assert f"Error: apid deploy (pid {deployed.pid}, since " in refusal, refusal
    assert "is already running on the default stage of this project: wait for it to finish" in refusal


def test_a_deploy_killed_outright_leaves_the_stage_free(project: Path, moto_endpoint: str) -> None:
    killed = shell(project, moto_endpoint, "deploy")
    try:
        _wait_until_holding(project / ".apid" / LOCK_FILE, killed)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
    rerun = CliRunner().invoke(cli, ["--project", str(project), "--endpoint-url", moto_endpoint, "deploy"])
    assert rerun.exit_code == 0, rerun.output


def _wait_until_holding(lock: Path, process: "subprocess.Popen[str]") -> None:
    """Until ``process`` holds the stage lock (its record names it), or it has ended."""
    deadline = time.monotonic() + DEPLOY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads(lock.read_text())["pid"] == process.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail(f"apid deploy (pid {process.pid}) never took the stage lock")
