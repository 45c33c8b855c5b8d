"""Each API's MCP server, driven by the MCP SDK's own client: the tools it lists, what a tool call answers,
what it refuses before any route is called, and the deployed Lambda function end to end.

In process (:mod:`tests.runtime.mcp_harness`) the route calls go to a FastAPI app and
are recorded. End to end, the requests are API Gateway's events for the ``/mcp``
resource, handled by :func:`~api_direct.runtime.mcp_server.handler`; the app's
OpenAPI document comes from the app's own adapter and each tool call reaches the
stage's domain over ``urllib`` (answered here by the app's adapter, as the gateway would).
"""

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mcp_types as types
import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request

from api_direct.local.mcp_loopback import gateway_resolved_here
from api_direct.local.rest_proxy import HttpRequest, HttpResponse, RestProxy
from api_direct.runtime import mcp_server
from api_direct.runtime.asgi_lambda import OPENAPI_REQUEST, LambdaAsgiHandler
from api_direct.contracts import MCP_API_NAME_ENV, MCP_APP_FUNCTION_ENV, MCP_EXCLUDE_ENV
from api_direct.runtime.mcp_server import (
    argument_problem,
    gateway_base_url,
    http_route_call,
)
from api_direct.runtime.mcp_tools import MCP_PATH, RouteCall, Tool, tools_of
from tests.cli.mcp_stdio_client import AgentSession
from tests.control_plane.mcp_agent import lambda_transport, agent_on, failure, outcome
from tests.runtime.asgi_apps import answering
from tests.runtime.lambda_context import FakeLambdaContext
from tests.runtime.mcp_apps import ARCHIVE, PNG, RETRY_AFTER, answers_app
from tests.runtime.mcp_harness import API_KEY, ServedAgent, agent_of

APP_ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:apid-answers-app:live"


@pytest.fixture
def served() -> Iterator[ServedAgent]:
    with agent_of(answers_app()) as served:
        yield served


def only_content(result: types.CallToolResult) -> Any:
    [content] = result.content
    return content


# tools/list


def test_every_operation_is_listed_with_its_schema_and_hints(served: ServedAgent) -> None:
    listed = served.agent.tools()
    expected = {tool.name: tool for tool in tools_of(answers_app().openapi()).tools}
    assert set(listed) == set(expected)
    for name, tool in listed.items():
        assert tool.input_schema == expected[name].input_schema and tool.description == expected[name].description
    hints = {
        name: (
            t.annotations.title,
            t.annotations.read_only_hint,
            t.annotations.destructive_hint,
            t.annotations.idempotent_hint,
        )
        for name, t in listed.items()
        if t.annotations is not None
    }
    assert hints["weather"] == ("GET /weather/{city}", True, False, True)
    assert hints["add_city"] == ("POST /cities", False, False, False)
    assert hints["remove_city"] == ("DELETE /cities/{name}", False, True, True)
    assert all(t.annotations is not None and t.annotations.open_world_hint for t in listed.values())
    assert served.routes.calls == []  # listing calls no route


def test_excluded_operations_are_neither_listed_nor_callable() -> None:
    with agent_of(answers_app(), exclude=["DELETE /cities/*", "motd"]) as served:
        assert {"remove_city", "motd"}.isdisjoint(served.agent.tools())
        assert failure(served.agent.call("remove_city", {"name": "Oslo"})).startswith("unknown tool 'remove_city'")
        assert served.routes.calls == []


# tools/call: what the route answered, as the agent reads it


def test_an_object_is_text_and_structured_content_and_the_route_gets_the_callers_key(served: ServedAgent) -> None:
    result = served.agent.call("weather", {"city": "São Paulo", "days": 2})
    expected = {"city": "São Paulo", "days": 2, "key": API_KEY}
    assert outcome(result) == expected and json.loads(only_content(result).text) == expected
    [recorded] = served.routes.calls
    assert recorded.call.target == "/weather/S%C3%A3o%20Paulo?days=2" and recorded.api_key == API_KEY
    assert recorded.base_url == "http://testserver/"  # not in Lambda: the MCP request's own base URL


def test_a_list_is_text_only(served: ServedAgent) -> None:
    result = served.agent.call("cities", {})
    assert not result.is_error and result.structured_content is None
    assert json.loads(only_content(result).text) == ["Paris", "Oslo"]


def test_a_json_body_reaches_the_route(served: ServedAgent) -> None:
    city = {"name": "Lyon", "population": 522250}
    assert outcome(served.agent.call("add_city", {"body": city})) == city


def test_text_image_and_other_bytes(served: ServedAgent) -> None:
    text = only_content(served.agent.call("motd", {}))
    assert isinstance(text, types.TextContent) and text.text == "sunny all week"
    image = only_content(served.agent.call("map", {}))
    assert isinstance(image, types.ImageContent)
    assert image.mime_type == "image/png" and base64.b64decode(image.data) == PNG
    embedded = only_content(served.agent.call("archive", {}))
    assert isinstance(embedded, types.EmbeddedResource)
    blob = embedded.resource
    assert isinstance(blob, types.BlobResourceContents)
    assert base64.b64decode(blob.blob) == ARCHIVE and blob.mime_type == "application/octet-stream"
    assert str(blob.uri) == "http://testserver/archive"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, 'HTTP 404: {"detail":"answered 404"}'),
        (422, 'HTTP 422: {"detail":"answered 422"}'),
        (429, f'HTTP 429 (Retry-After: {RETRY_AFTER}): {{"detail":"answered 429"}}'),
    ],
)
def test_a_status_outside_2xx_is_an_error_result_with_it(served: ServedAgent, status: int, expected: str) -> None:
    result = served.agent.call("status", {"code": status})
    assert failure(result) == expected and result.structured_content is None
    assert len(served.routes.calls) == 1


# Arguments the route could not take: refused before any call, and the server goes on


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("weather", {"city": 5}, "invalid arguments for weather at city: 5 is not of type 'string'"),
        ("weather", {"days": 1}, "invalid arguments for weather: 'city' is a required property"),
        ("add_city", {"body": {"name": "Ys"}}, "invalid arguments for add_city at body: 'population' is a required"),
        ("weather", {"city": ".."}, "invalid arguments for weather: argument 'city' is '..', which a path segment"),
        ("forecast", {"city": "Oslo"}, "unknown tool 'forecast': tools/list names this API's tools"),
    ],
)
def test_bad_arguments_are_an_error_result_and_no_call(
    served: ServedAgent, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    assert failure(served.agent.call(tool, arguments)).startswith(expected)
    assert served.routes.calls == []
    assert outcome(served.agent.call("weather", {"city": "Oslo"}))["city"] == "Oslo"
    assert len(served.routes.calls) == 1


def test_a_route_that_gives_no_answer_is_an_error_result_and_the_server_goes_on() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with agent_of(answers_app(), call=lambda _, call, key: http_route_call(nobody, call, key)) as served:
        assert failure(served.agent.call("cities", {})).startswith("GET /cities gave no answer: ")
        assert failure(served.agent.call("weather", {"city": "Oslo"})).startswith("GET /weather/{city} gave no")


class _Redirecting(BaseHTTPRequestHandler):
    """``/from`` redirects to ``/to``, which answers the x-api-key it was sent (or ``none``)."""

    def do_GET(self) -> None:
        if self.path == "/from":
            self.send_response(307)
            self.send_header("Location", "/to")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"key": self.headers.get("x-api-key", "none")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_the_callers_key_is_never_sent_on_to_where_a_redirect_points() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        direct = http_route_call(base, RouteCall("GET", "/to", (), None), API_KEY)
        redirected = http_route_call(base, RouteCall("GET", "/from", (), None), API_KEY)
    finally:
        server.shutdown()
        server.server_close()
    assert json.loads(direct.body) == {"key": API_KEY} and json.loads(redirected.body) == {"key": "none"}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"x": {"type": "decimal"}}},
        {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}},
        {"type": "object", "properties": {"x": {"type": "string", "pattern": "(?<ecma>a)"}}},
    ],
)
def test_a_schema_the_validator_cannot_read_leaves_the_arguments_to_the_route(schema: dict[str, Any]) -> None:
    assert argument_problem(Tool("t", "", "get", "/t", schema), {"x": "a"}) is None


# Where the tool calls go: the gateway's domain and stage under Lambda


def request_with(scope: dict[str, Any]) -> Request:
    base = {"type": "http", "scheme": "http", "server": ("testserver", 80), "path": "/mcp", "root_path": ""}
    return Request({**base, "headers": [(b"host", b"testserver")], "query_string": b"", **scope})


def test_gateway_base_url_is_the_events_domain_and_stage_under_lambda() -> None:
    event = RestProxy(stage="v1").event(HttpRequest("POST", MCP_PATH), resource=MCP_PATH)
    assert gateway_base_url(request_with({"aws.event": event, "root_path": "/v1"})) == (
        "https://local.execute-api.us-east-1.amazonaws.com/v1"
    )
    custom = RestProxy(stage="v1", domain_name="api.example.com", base_path="").event(HttpRequest("POST", MCP_PATH))
    assert gateway_base_url(request_with({"aws.event": custom})) == "https://api.example.com"


def test_gateway_base_url_is_the_requests_own_elsewhere() -> None:
    assert gateway_base_url(request_with({})) == "http://testserver/"
    assert gateway_base_url(request_with({"aws.event": {"requestContext": {}}})) == "http://testserver/"


# The app's adapter answers the MCP function's request for the OpenAPI document


def test_the_apps_adapter_answers_its_openapi_document_also_inside_middleware() -> None:
    app = answers_app()
    context = FakeLambdaContext()
    assert LambdaAsgiHandler(app)(OPENAPI_REQUEST, context) == {"openapi": app.openapi()}
    wrapped = GZipMiddleware(CORSMiddleware(app, allow_origins=["https://example.com"]))
    assert LambdaAsgiHandler(wrapped)(OPENAPI_REQUEST, context) == {"openapi": app.openapi()}
    assert LambdaAsgiHandler(answering([], b""))(OPENAPI_REQUEST, context) == {"openapi": None}


# The deployed function, end to end


@dataclass
class DeployedMcp:
    agent: AgentSession
    #: What reached the stage's domain: the tool calls, as API Gateway would receive them.
    gateway: list[HttpRequest] = field(default_factory=list)
    #: The functions the MCP function invoked for an OpenAPI document.
    invoked: list[str] = field(default_factory=list)


@pytest.fixture(params=["auto", "legacy"])
def deployed(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[DeployedMcp]:
    """``mcp_server.handler`` behind a ``/mcp`` resource of stage ``v1``, with the app's ``live`` alias a
    ``LambdaAsgiHandler`` of :func:`answers_app` (invoked in process instead of through Lambda's API); the
    agent speaks the stateless protocol revision, or an earlier one with its ``initialize`` handshake."""
    monkeypatch.setenv(MCP_APP_FUNCTION_ENV, APP_ALIAS)
    monkeypatch.setenv(MCP_API_NAME_ENV, "answers")
    monkeypatch.setenv(MCP_EXCLUDE_ENV, json.dumps(["archive"]))
    proxy = RestProxy(stage="v1")
    app = LambdaAsgiHandler(answers_app())
    context = FakeLambdaContext()
    invoked: list[str] = []
    gateway: list[HttpRequest] = []

    def invoke_app(function: str) -> Any:
        invoked.append(function)
        return app(OPENAPI_REQUEST, context)["openapi"]

    def stage(request: HttpRequest) -> HttpResponse:
        gateway.append(request)
        return proxy.response(request, app(proxy.event(request), context))

    monkeypatch.setattr(mcp_server, "openapi_of_app", invoke_app)
    mcp_server._read.clear()
    mcp_server._deployed_handler.cache_clear()
    site = f"https://{proxy.host}{proxy.prefix}"
    transport = lambda_transport(mcp_server.handler, proxy, "203.0.113.9", resource=MCP_PATH)
    with (
        gateway_resolved_here(site, stage),
        agent_on(transport, site, request.param, headers={"x-api-key": API_KEY}) as agent,
    ):
        yield DeployedMcp(agent, gateway, invoked)
    mcp_server._read.clear()
    mcp_server._deployed_handler.cache_clear()


def test_the_deployed_function_lists_the_apps_tools_read_from_its_alias_once_a_minute(
    deployed: DeployedMcp, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = deployed.agent.tools()
    assert "weather" in first and "archive" not in first  # APID_MCP_EXCLUDE
    assert deployed.agent.tools() == first
    assert deployed.invoked == [APP_ALIAS]
    monkeypatch.setattr(mcp_server, "TOOLS_TTL_SECONDS", -1.0)  # a minute later: a hotswap may have changed them
    assert deployed.agent.tools() == first and deployed.invoked == [APP_ALIAS, APP_ALIAS]
    server_info = deployed.agent.client.server_info
    assert server_info is not None and server_info.name == "answers"
    assert deployed.gateway == []


def test_a_deployed_tool_call_goes_through_the_stage_with_the_callers_key(deployed: DeployedMcp) -> None:
    result = deployed.agent.call("weather", {"city": "Zürich"})
    assert outcome(result) == {"city": "Zürich", "days": 3, "key": API_KEY}
    [sent] = deployed.gateway
    assert (sent.method, sent.path, sent.query) == ("GET", "/weather/Z%C3%BCrich", "")
    assert sent.header("x-api-key") == API_KEY
    throttled = deployed.agent.call("status", {"code": 429})
    assert failure(throttled).startswith(f"HTTP 429 (Retry-After: {RETRY_AFTER})")
    image = only_content(deployed.agent.call("map", {}))
    assert isinstance(image, types.ImageContent) and base64.b64decode(image.data) == PNG
    assert failure(deployed.agent.call("weather", {})).endswith("'city' is a required property")
    assert len(deployed.gateway) == 3
