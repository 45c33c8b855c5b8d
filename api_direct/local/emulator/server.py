"""moto's real server on loopback, with the fixes our CloudFormation templates need.

``python -m api_direct.local.emulator`` runs :func:`main` in a process of its own;
:func:`running_moto_server` starts that process on a free port and stops it afterwards.
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from api_direct.local.emulator.patches import apply_patches


HOST = "127.0.0.1"
#: How long the server may take to answer its first request (imports dominate).
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
#: Another process may take the port between our probe and the server's bind.
START_ATTEMPTS = 3


def main(argv: list[str] | None = None) -> None:
    """Patch moto, then run its server (``moto.server.main``) with the same arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    apply_patches()
    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


@contextmanager
def running_moto_server() -> Iterator[str]:
    """The endpoint URL of a patched moto server in a subprocess, stopped on exit.

    A subprocess (not a thread) so the server's moto backends are separate from
    any in-process ``mock_aws`` a test also uses, exactly as AWS would be.
    """
    with tempfile.TemporaryFile() as log:
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "api_direct.local.emulator", "--host", HOST, "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                endpoint = f"http://{HOST}:{port}"
                if _wait_until_answering(endpoint, process):
                    yield endpoint
                    return
            finally:
                _stop(process)
        log.seek(0)
        raise RuntimeError(f"moto server did not start; its output:\n{log.read().decode(errors='replace')[-4000:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes]) -> bool:
    """True once the server answers HTTP; False if it exited (e.g. port taken) or timed out."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with no_proxy.open(f"{endpoint}/moto-api/config", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
