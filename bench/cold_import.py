"""Cold import of the deployed handler: seconds to import it in a fresh interpreter.

    .venv/bin/python -m bench.cold_import

What Lambda pays on a cold start before the first request, beyond starting the
runtime: importing the handler module (Mangum, FastAPI, pydantic, the app). The
deployed bundle is built for arm64 Lambda, whose compiled wheels (pydantic-core)
cannot load on an x86 build machine, so this builds the same bundle (same
requirements, same sources, same generated handler, through
:func:`build_bundle`) for x86_64 and times that. Python is the example's runtime
version when that interpreter is installed here, else this one.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from api_direct.constructs.bundling import BundleSpec, SourceTree, build_bundle, read_requirements
from api_direct.constructs.fastapi_function import ADAPTER_REQUIREMENT, HANDLER_MODULE, handler_shim
from api_direct.project import DEFAULT_EXCLUDES
from bench.figures import Figure

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
APP = "weather.main:app"
RUNTIME = "3.12"
TARGET_SECONDS = 1.0


def interpreter(version: str) -> tuple[str, str]:
    """``python<version>`` on the PATH (Lambda's runtime version), else this interpreter; and the version it is."""
    candidate = shutil.which(f"python{version}")
    if candidate and subprocess.run([candidate, "-V"], capture_output=True, check=False).returncode == 0:
        return candidate, version
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def cold_import_seconds(bundle_dir: Path, module: str, runs: int = 5, python: str | None = None) -> float:
    """Median seconds to import ``module`` from ``bundle_dir`` in a fresh interpreter, over ``runs``.

    Only the import is timed (not the interpreter's own start), with the bundle as
    the only addition to the path, as Lambda's runtime sets it. No byte-code is
    written, so every run compiles as a first cold start in a fresh container does.
    """
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    environment = {**os.environ, "PYTHONPATH": str(bundle_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("PYTHONHOME", None)
    timings = []
    for _ in range(runs):
        result = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True,
                                env=environment, cwd=tempfile.gettempdir(), check=True)
        timings.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(timings)


def x86_bundle(python_version: str) -> Path:
    """The example's bundle as ``FastApiFunction`` assembles it, built for x86_64."""
    spec = BundleSpec(
        requirements=(*read_requirements(EXAMPLE / "requirements.txt"), ADAPTER_REQUIREMENT),
        sources=(SourceTree(EXAMPLE, exclude=DEFAULT_EXCLUDES),),
        python_version=python_version,
        architecture="x86_64",
        generated={f"{HANDLER_MODULE}.py": handler_shim(APP)},
    )
    return build_bundle(spec).path


def measure(runs: int = 5) -> list[Figure]:
    python, version = interpreter(RUNTIME)
    bundle = x86_bundle(version)
    seconds = cold_import_seconds(bundle, HANDLER_MODULE, runs, python)
    return [Figure(
        "cold import of the handler (examples/weather_api)", "s", seconds, None, "peer: see deploy benchmarks",
        f"<= {TARGET_SECONDS:g} s", seconds <= TARGET_SECONDS,
        f"import {HANDLER_MODULE} (Mangum + FastAPI + app), median of {runs} fresh Python {version} processes, "
        "no .pyc; measured on an x86_64 build of the bundle (the deployed one is arm64, whose pydantic-core "
        "cannot load on this host). The 1 s bound is this bench's own; the comparison with Zappa is in the deploy "
        "benchmarks",
    )]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure()))
