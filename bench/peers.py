"""Install the peer tools the deploy benchmarks compare against, pinned, into their own venv.

The peers (AWS SAM CLI, Zappa) pin dependencies that clash with ours (boto3,
click, pydantic), so they live in ``.cache/bench-venv``, never in ``.venv``.
Chalice is not among them: ``chalice package`` packages a Chalice app, and the
example is a FastAPI app, so ``sam build`` is the re-bundle peer.
Each is installed on its own: one that fails does not stop the others, and why it
failed is written to ``.cache/bench-venv/peers.json`` for ``bench.deploys`` to report.
The npm ``aws-cdk`` CLI is not here: ``make install`` puts it in ``.cache/cdk``.

Run: ``python -m bench.peers`` (or ``make bench-peers``).
"""

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".cache" / "bench-venv"
STATUS_FILE = BENCH_VENV / "peers.json"
#: Zappa packages the virtualenv it runs from, so it gets its own: Zappa plus the example's requirements.
ZAPPA_APP_VENV = ROOT / ".cache" / "bench-zappa-app"
EXAMPLE = ROOT / "examples" / "weather_api"
#: Pinned so that figures from different runs compare like with like.
PEERS = {
    "aws-sam-cli": "1.170.0",
    "zappa": "0.63.0",
}
#: The executable each peer puts in the venv's bin, by package.
EXECUTABLES = {"aws-sam-cli": "sam", "zappa": "zappa"}


def bench_bin(name: str) -> Path:
    return BENCH_VENV / "bin" / name


def installed() -> dict[str, dict]:
    """What the last ``install()`` recorded: per package, ``{"ok": bool, "version": ..., "error": ...}``."""
    if not STATUS_FILE.exists():
        return {name: {"ok": False, "error": "not installed: run `make bench-peers`"} for name in PEERS}
    return json.loads(STATUS_FILE.read_text())


def _first_error_line(output: str) -> str:
    for line in output.splitlines():
        if line.strip().startswith("ERROR") or "error:" in line.lower():
            return line.strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def install() -> dict[str, dict]:
    if not (BENCH_VENV / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(BENCH_VENV)
    python = str(BENCH_VENV / "bin" / "python")
    status: dict[str, dict] = {}
    for name, version in PEERS.items():
        spec = f"{name}=={version}"
        proc = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
            capture_output=True,
            text=True,
        )
        ok = proc.returncode == 0 and bench_bin(EXECUTABLES[name]).exists()
        status[name] = {"ok": ok, "version": version}
        if not ok:
            status[name]["error"] = _first_error_line(proc.stderr + proc.stdout)
        print(f"{spec}: {'installed' if ok else 'FAILED: ' + status[name]['error']}", flush=True)
    if status["zappa"]["ok"]:
        if not (ZAPPA_APP_VENV / "bin" / "python").exists():
            venv.EnvBuilder(with_pip=True).create(ZAPPA_APP_VENV)
        proc = subprocess.run(
            [
                str(ZAPPA_APP_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"zappa=={PEERS['zappa']}",
                "-r",
                str(EXAMPLE / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
        )
        status["zappa"]["app_venv"] = proc.returncode == 0
        if proc.returncode:
            status["zappa"]["app_venv_error"] = _first_error_line(proc.stderr + proc.stdout)
        print(f"zappa app venv (example requirements): {'ready' if proc.returncode == 0 else 'FAILED'}", flush=True)
    STATUS_FILE.write_text(json.dumps(status, indent=2))
    return status


if __name__ == "__main__":
    install()
    sys.exit(0)
