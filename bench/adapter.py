"""Lambda adapter overhead: a FastAPI request through the generated Mangum handler vs TestClient.

    .venv/bin/python -m bench.adapter [requests]

The handler is the module :func:`write_handler` writes for the example weather
API (the generated shim and its adapter), fed the REST API (payload 1.0) proxy
event API Gateway sends, as :class:`~api_direct.local.rest_proxy.RestProxy` builds it.
The peer is the same app and route under FastAPI's ``TestClient``, the usual in-process
baseline; both run interleaved in rounds so drift on a shared machine hits them alike.
"""

import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from api_direct.bundling.fastapi_code import write_handler
from api_direct.local.rest_proxy import HttpRequest, RestProxy
from bench.figures import Figure

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
APP = "weather.main:app"
PATH = "/current/paris"
REQUESTS = 2000
ROUNDS = 10
TARGET_PERCENT = 20.0


def proxy_event(path: str) -> dict[str, Any]:
    request = HttpRequest("GET", path, (("accept", "application/json"), ("x-api-key", "k")))
    return RestProxy(stage="prod", rest_api_id="abc123").event(
        request, authorizer={"keyId": "key_1", "plan": "pro", "principalId": "key_1"}
    )


def generated_handler() -> Any:
    """The handler of the module the bundle ships, written from the same source."""
    folder = Path(tempfile.mkdtemp(prefix="apid-bench-handler-"))
    write_handler(folder, APP)
    for path in (EXAMPLE, folder):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    return importlib.import_module("apid_handler").handler


class Context:
    function_name = "weather-api"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def measure(requests: int = REQUESTS) -> list[Figure]:
    from fastapi.testclient import TestClient

    handler = generated_handler()
    from weather.main import app

    client = TestClient(app)
    event, context = proxy_event(PATH), Context()

    def via_mangum(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            assert handler(event, context)["statusCode"] == 200
        return time.perf_counter() - started

    def via_testclient(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            assert client.get(PATH).status_code == 200
        return time.perf_counter() - started

    via_mangum(100), via_testclient(100)  # warm-up
    per_round = requests // ROUNDS
    mangum = testclient = 0.0
    for _ in range(ROUNDS):
        mangum += via_mangum(per_round)
        testclient += via_testclient(per_round)
    overhead = (mangum / testclient - 1) * 100
    total = per_round * ROUNDS
    return [
        Figure(
            "FastAPI request via Lambda adapter (Mangum) vs TestClient",
            "%",
            overhead,
            None,
            "FastAPI TestClient, same app and route",
            f"overhead <= {TARGET_PERCENT:g}%",
            overhead <= TARGET_PERCENT,
            f"GET {PATH} on examples/weather_api, {total} requests each, interleaved in {ROUNDS} rounds: "
            f"Mangum {mangum / total * 1e6:.0f} µs/request, TestClient {testclient / total * 1e6:.0f} µs/request; "
            "negative = the adapter is cheaper than TestClient's in-process HTTP client",
        )
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else REQUESTS)))
