"""`apid dev` as a user starts it, in its own process: shared by the tests that call a running dev server."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running_apid_dev(
    project: Path, port: int, key: str, output: Path, *, reload: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """`apid dev` on ``port`` accepting ``key``, its output in ``output``; stopped (Ctrl-C, then killed) however the
    test ends. The Ctrl-C goes to apid alone (its own session), which must pass it on to a server it started."""
    command = [sys.executable, "-m", "api_direct", "--project", str(project), "dev"]
    command += [] if reload else ["--no-reload"]
    command += ["--port", str(port), "--key", key]
    with output.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
