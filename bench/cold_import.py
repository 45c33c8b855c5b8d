"""Cold start of a Lambda handler: a fresh interpreter imports it and answers one request (used by ``bench.deploys``).

What Lambda pays on a cold start beyond starting the runtime: importing the
handler (for ours: Mangum, FastAPI, pydantic and the app; for Zappa's, its
handler, whose first call imports the app) and answering the first API Gateway
event. Both are timed to the first response, so a handler that defers the app's
import to its first call is not counted as cheaper for it. The deployed bundle is
built for arm64 Lambda, whose compiled wheels (pydantic-core) cannot load on an
x86 build machine, so this builds the same bundle (same requirements, sources and
generated handler, through :func:`build_bundle`, byte-code included as deployed)
for x86_64 and times that, with the interpreter the peer's package is timed with.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_direct.bundling.build import build_bundle
from api_direct.bundling.fastapi_code import FastApiCode

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
APP = "weather.main:app"
#: The first request, as API Gateway's REST proxy integration sends it.
FIRST_REQUEST = {
    "resource": "/{proxy+}",
    "path": "/cities",
    "httpMethod": "GET",
    "headers": {"Host": "bench.example"},
    "multiValueHeaders": {"Host": ["bench.example"]},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": "cities"},
    "stageVariables": None,
    "body": None,
    "isBase64Encoded": False,
    "requestContext": {
        "resourcePath": "/{proxy+}",
        "httpMethod": "GET",
        "path": "/v1/cities",
        "stage": "v1",
        "requestId": "bench-1",
        "identity": {"sourceIp": "203.0.113.9"},
    },
}
#: Runs in the fresh interpreter: import, one request, and the two times since the import began.
_PROBE = """
import json, sys, time
class Context:
    function_name = "bench"; aws_request_id = "bench-1"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    log_group_name = "/aws/lambda/bench"; log_stream_name = "bench"
    def get_remaining_time_in_millis(self): return 10000
started = time.perf_counter()
import {module} as handler
imported = time.perf_counter()
response = handler.{function}(json.loads(sys.argv[1]), Context())
answered = time.perf_counter()
print(json.dumps([imported - started, answered - started, response.get("statusCode")]))
"""


@dataclass(frozen=True)
class ColdStart:
    """Medians over fresh processes: seconds to import the handler, and to its first response."""

    import_seconds: float
    first_response_seconds: float


def cold_start(
    bundle_dir: Path,
    module: str,
    function: str,
    runs: int = 5,
    python: str | None = None,
    request: dict[str, Any] = FIRST_REQUEST,
    extra_path: Path | None = None,
) -> ColdStart:
    """Import ``module`` from ``bundle_dir`` in ``runs`` fresh interpreters and call ``function`` once in each.

    The bundle is the only addition to the path (with ``extra_path``, a folder of the
    benchmark's own after it), as Lambda's runtime sets it, and
    no byte-code is written (Lambda's code folder is read-only): only what the
    bundle ships is there. A response other than 200 is an error, not a figure.
    """
    code = _PROBE.format(module=module, function=function)
    path = os.pathsep.join(str(folder) for folder in (bundle_dir, extra_path) if folder is not None)
    environment = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("PYTHONHOME", None)
    imports, responses = [], []
    for _ in range(runs):
        result = subprocess.run(
            [python or sys.executable, "-c", code, json.dumps(request)],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tempfile.gettempdir(),
            check=True,
        )
        imported, answered, status = json.loads(result.stdout.strip().splitlines()[-1])
        if status != 200:
            raise RuntimeError(
                f"{module}.{function} answered {status} to GET {request['path']}: {result.stderr[-300:]}"
            )
        imports.append(imported)
        responses.append(answered)
    return ColdStart(statistics.median(imports), statistics.median(responses))


def x86_bundle(python_version: str, project: Path = EXAMPLE, app: str = APP) -> Path:
    """A project's bundle as ``FastApiFunction`` assembles it (:meth:`FastApiCode.bundle_spec`), built for x86_64."""
    return build_bundle(FastApiCode.from_project(project, app=app).bundle_spec(python_version, "x86_64")).path
