"""The stage lock: a second holder is refused at once and told who holds it; a dead holder holds nothing."""

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from api_direct.deploy.project_lock import LOCK_FILE, operation_lock
from api_direct.errors import StateError

#: Takes the lock in a process of its own, says so, and waits to be killed.
HOLDER = """
import sys, time
from pathlib import Path
from api_direct.deploy.project_lock import operation_lock
with operation_lock(Path(sys.argv[1]), "apid destroy", "prod"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    with operation_lock(tmp_path, "apid deploy --hotswap", "dev") as holder:
        with pytest.raises(StateError) as refused, operation_lock(tmp_path, "apid deploy", "dev"):
            pytest.fail("the lock was taken twice")
    message = str(refused.value)
    assert message.startswith(f"apid deploy --hotswap (pid {os.getpid()}, since {holder.since}) is already running")
    assert "on stage dev of this project" in message and "rerun" in message and "\n" not in message
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", holder.since)
    assert refused.value.exit_code == 5


def test_released_when_the_block_ends_however_it_ends_leaving_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), operation_lock(tmp_path, "apid deploy", None):
        raise RuntimeError("the deploy failed")
    assert not (tmp_path / LOCK_FILE).exists()
    with operation_lock(tmp_path, "apid rollback", None) as holder:
        assert holder.command == "apid rollback"
        assert json.loads((tmp_path / LOCK_FILE).read_text())["command"] == "apid rollback"
    assert list(tmp_path.iterdir()) == []


def test_a_file_removed_by_its_last_holder_as_we_locked_it_is_locked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last holder removes the file between our open and our lock: holding that file would hold nothing."""
    path, real = tmp_path / LOCK_FILE, fcntl.flock
    path.write_text("")
    released: list[int] = []

    def released_meanwhile(descriptor: int, operation: int) -> None:
        if not released:
            released.append(descriptor)
            path.unlink()
        real(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", released_meanwhile)
    with operation_lock(tmp_path, "apid deploy", None) as holder:
        assert json.loads(path.read_text())["pid"] == holder.pid


def test_stages_are_locked_apart(tmp_path: Path) -> None:
    with operation_lock(tmp_path / "stages" / "dev", "apid deploy", "dev"):
        with operation_lock(tmp_path / "stages" / "prod", "apid deploy", "prod"):
            pass
        with pytest.raises(StateError, match="the default stage"), operation_lock(tmp_path, "apid deploy", None):
            with operation_lock(tmp_path, "apid destroy", None):
                pass


def test_a_holder_killed_outright_leaves_the_lock_free(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        with pytest.raises(StateError, match=rf"^apid destroy \(pid {process.pid}, .* on stage prod"):
            with operation_lock(tmp_path, "apid deploy", "prod"):
                pass
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (tmp_path / LOCK_FILE).exists()  # the file stays (nobody removed it); the lock went with the process
    with operation_lock(tmp_path, "apid deploy", "prod") as holder:
        assert holder.pid == os.getpid()


def test_a_holder_yet_to_write_its_record_is_named_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    with path.open("w") as taken:
        fcntl.flock(taken, fcntl.LOCK_EX)
        with pytest.raises(StateError, match=f"another apid command holds {re.escape(str(path))}: wait"):
            with operation_lock(tmp_path, "apid deploy", None):
                pass
