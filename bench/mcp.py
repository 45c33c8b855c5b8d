"""What the MCP path costs against the plain REST call: its function's cold start, and a warm tool call's overhead.

    .venv/bin/python -m bench.mcp [calls]

* **Cold start.** The MCP function's bundle, as ``McpEndpoint`` builds it (the MCP
  SDK, Mangum, ``api_direct.runtime``), built for x86_64 and this interpreter's
  Python, imported by fresh interpreters that each answer one ``tools/list``
  (bench.cold_import's probe); against the same probe on the app's own bundle
  answering ``GET /cities``. The tools come from the example's OpenAPI document
  on disk here; deployed, the function first invokes the app for it (one Lambda
  Invoke, a round trip this machine cannot measure).
* **A warm call.** ``tools/call`` through the MCP function's handler, whose route
  call reaches the app's generated handler in process, against ``GET /cities``
  through that handler alone: the difference is the MCP server's own work (the
  SDK's JSON-RPC handling, the argument check, the adapter's second pass). Deployed,
  a tool call also crosses API Gateway a second time (the authorizer's answer is
  cached) over the network: not measured here, and not in the figure.
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mcp_types
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from api_direct.bundling.build import build_bundle
from api_direct.bundling.fastapi_code import HANDLER_MODULE
from api_direct.bundling.runtime_code import MCP_REQUIREMENTS, runtime_bundle_spec
from api_direct.local.rest_proxy import HttpRequest, RestProxy
from api_direct.runtime import mcp_server
from api_direct.runtime.asgi_lambda import LambdaAsgiHandler
from api_direct.runtime.mcp_server import RouteAnswer, mcp_app
from api_direct.runtime.mcp_tools import MCP_PATH, RouteCall, tools_of
from bench import adapter
from bench.cold_import import ColdStart, cold_start, x86_bundle
from bench.figures import Figure

CALLS = 1000
ROUNDS = 10
RUNS = 5
#: Targets: a tool call's own work within 2 ms warm; the MCP function's cold start within 1.5x the app's.
TARGET_WARM_MS = 2.0
TARGET_COLD_RATIO = 1.5
PROTOCOL = MODERN_PROTOCOL_VERSIONS[-1]
#: Stands in for api_direct.runtime.mcp_server in the probe: the tools from a document on disk, not from Lambda.
_PROBE_MODULE = """
import json, os
from api_direct.runtime import mcp_server
from api_direct.runtime.mcp_tools import tools_of

_tools = tools_of(json.load(open(os.path.join(os.path.dirname(__file__), "openapi.json"))))
mcp_server.deployed_tools = lambda: _tools
handler = mcp_server.handler
"""


def mcp_event(method: str, params: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """API Gateway's event for one MCP request of the 2026-07-28 revision (per-request envelope, routing headers)."""
    meta = {mcp_types.PROTOCOL_VERSION_META_KEY: PROTOCOL, mcp_types.CLIENT_CAPABILITIES_META_KEY: {}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", PROTOCOL),
        ("mcp-method", method),
        ("x-api-key", "k"),
        *([("mcp-name", name)] if name else []),
    ]
    request = HttpRequest("POST", MCP_PATH, tuple(headers), "", json.dumps(body).encode())
    return RestProxy(stage="v1", rest_api_id="abc123").event(
        request, authorizer={"keyId": "key_1", "plan": "pro", "principalId": "key_1"}, resource=MCP_PATH
    )


def cold_starts(runs: int) -> tuple[ColdStart, ColdStart]:
    """(the app's bundle answering GET /cities, the MCP function's answering tools/list), fresh interpreters each."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    spec = runtime_bundle_spec(MCP_REQUIREMENTS, python, "x86_64")
    bundle = build_bundle(spec).path
    probe = Path(tempfile.mkdtemp(prefix="apid-bench-mcp-"))
    (probe / "bench_mcp_probe.py").write_text(_PROBE_MODULE)
    (probe / "openapi.json").write_text(json.dumps(_example_openapi()))
    app = cold_start(x86_bundle(python), HANDLER_MODULE, "handler", runs)
    mcp = cold_start(
        bundle,
        "bench_mcp_probe",
        "handler",
        runs,
        request=mcp_event("tools/list", {}),
        extra_path=probe,
    )
    return app, mcp


def _example_openapi() -> dict[str, Any]:
    adapter.generated_handler()  # puts the example on the path
    from weather.main import app

    document: dict[str, Any] = app.openapi()
    return document


def warm(calls: int) -> tuple[float, float]:
    """Median ms of (a tools/call through the MCP handler, GET /cities through the app's handler)."""
    app_handler = adapter.generated_handler()
    proxy, context = RestProxy(stage="v1", rest_api_id="abc123"), adapter.Context()

    def in_process(base_url: str, call: RouteCall, api_key: str) -> RouteAnswer:
        path, _, query = call.target.partition("?")
        request = HttpRequest(call.method, path, (*call.headers, ("x-api-key", api_key)), query, call.body or b"")
        result = app_handler(proxy.event(request, authorizer={"keyId": "key_1", "plan": "pro"}), context)
        return RouteAnswer(result["statusCode"], result.get("headers") or {}, result["body"].encode())

    toolset = tools_of(_example_openapi())
    cities = next(tool for tool in toolset.tools if tool.path == "/cities")
    server = mcp_server.mcp_server("weather-api", lambda: toolset, in_process)
    mcp_handler = LambdaAsgiHandler(mcp_app(server))
    tool_call = mcp_event("tools/call", {"name": cities.name, "arguments": {}}, cities.name)
    plain = adapter.proxy_event("/cities")
    answered = json.loads(mcp_handler(tool_call, context)["body"])
    assert answered["result"]["isError"] is False, answered
    assert app_handler(plain, context)["statusCode"] == 200
    mcp_samples: list[float] = []
    rest_samples: list[float] = []
    for _ in range(ROUNDS):
        for handler, event, samples in ((mcp_handler, tool_call, mcp_samples), (app_handler, plain, rest_samples)):
            for _ in range(calls // ROUNDS):
                started = time.perf_counter()
                handler(event, context)
                samples.append(time.perf_counter() - started)
    return statistics.median(mcp_samples) * 1000, statistics.median(rest_samples) * 1000


def measure(calls: int = CALLS) -> list[Figure]:
    app, mcp = cold_starts(RUNS)
    tool_ms, rest_ms = warm(calls)
    ratio = mcp.first_response_seconds / app.first_response_seconds
    return [
        Figure(
            "MCP: the MCP function's cold start to its first tools/list (median)",
            "s",
            mcp.first_response_seconds,
            app.first_response_seconds,
            "the app's cold start to its first GET /cities",
            f"<= {TARGET_COLD_RATIO:g}x",
            ratio <= TARGET_COLD_RATIO,
            f"{RUNS} fresh interpreters each, x86_64 bundles for this Python: MCP import {mcp.import_seconds:.3f} s;"
            f" app import {app.import_seconds:.3f} s. Paid once per MCP container, beside (not instead of) the app's;"
            " excludes the Invoke of the app for its OpenAPI document",
        ),
        Figure(
            "MCP: a warm tool call against the plain call (median)",
            "ms",
            tool_ms,
            rest_ms,
            "GET /cities through the app's handler",
            f"<= +{TARGET_WARM_MS:g} ms",
            tool_ms - rest_ms <= TARGET_WARM_MS,
            f"{calls} calls each, interleaved in {ROUNDS} rounds: the MCP server's own work is {tool_ms - rest_ms:.3f} ms;"
            " excludes the second API Gateway pass (and its network round trip) a deployed tool call adds",
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else CALLS)))
