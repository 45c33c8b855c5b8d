"""Cold import of a Lambda handler: seconds to import it in a fresh interpreter (used by ``bench.deploys``).

What Lambda pays on a cold start before the first request, beyond starting the
runtime: importing the handler module (Mangum, FastAPI, pydantic, the app). The
deployed bundle is built for arm64 Lambda, whose compiled wheels (pydantic-core)
cannot load on an x86 build machine, so this builds the same bundle (same
requirements, same sources, same generated handler, through
:func:`build_bundle`) for x86_64 and times that, with the interpreter the peer's
package is timed with.
"""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from api_direct.constructs.bundling import BundleSpec, SourceTree, build_bundle, read_requirements
from api_direct.constructs.fastapi_function import ADAPTER_REQUIREMENT, HANDLER_MODULE, handler_shim
from api_direct.project import DEFAULT_EXCLUDES


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
APP = "weather.main:app"


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
