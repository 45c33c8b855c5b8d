"""Lambda adapter overhead: a FastAPI request through the generated Mangum handler vs TestClient.

    .venv/bin/python -m bench.adapter [requests]

The handler is the module :func:`handler_shim` generates for the example weather
API, fed the REST API (payload 1.0) proxy event API Gateway sends (shaped as
:mod:`api_direct.local.rest_api` builds it). The peer is the same app and route
under FastAPI's ``TestClient``, the usual in-process baseline; both run
interleaved in rounds so drift on a shared machine hits them alike.
"""

import sys
import time
import types
from pathlib import Path
from typing import Any

from api_direct.constructs.function_code import handler_shim
from bench.figures import Figure

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
APP = "weather.main:app"
PATH = "/current/paris"
REQUESTS = 2000
ROUNDS = 10
TARGET_PERCENT = 20.0


def proxy_event(path: str) -> dict[str, Any]:
    headers = {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "application/json", "x-api-key": "k"}
    request_context = {"requestId": "r", "stage": "prod", "apiId": "abc123", "resourcePath": "/{proxy+}",
                       "httpMethod": "GET", "path": f"/prod{path}", "accountId": "123456789012",
                       "identity": {"sourceIp": "127.0.0.1"}, "authorizer": {"keyId": "key_1", "plan": "pro",
                                                                             "principalId": "key_1"}}
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": "GET", "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": request_context, "body": None, "isBase64Encoded": False,
    }


def generated_handler() -> Any:
    """The handler of the module the bundle ships, built from the same source."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    module = types.ModuleType("apid_handler")
    exec(compile(handler_shim(APP), "apid_handler.py", "exec"), module.__dict__)
    return module.handler


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
    return [Figure(
        "FastAPI request via Lambda adapter (Mangum) vs TestClient", "%", overhead, None,
        "FastAPI TestClient, same app and route", f"overhead <= {TARGET_PERCENT:g}%", overhead <= TARGET_PERCENT,
        f"GET {PATH} on examples/weather_api, {total} requests each, interleaved in {ROUNDS} rounds: "
        f"Mangum {mangum / total * 1e6:.0f} µs/request, TestClient {testclient / total * 1e6:.0f} µs/request; "
        "negative = the adapter is cheaper than TestClient's in-process HTTP client",
    )]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else REQUESTS)))
