"""The MCP server each API serves at ``/mcp``: one tool per operation, each call made through the API's own gateway.

A tool call is not run inside this function: it is sent as the HTTP request to its
route, with the caller's own ``x-api-key``, to the stage the MCP request came in on.
So it goes through the same authorizer, usage plan (rate and quota), app and access
log as any call to that route, and is metered, limited and billed as exactly one,
by construction. ``/mcp`` itself needs a live key (the authorizer checks it) but is
not counted: listing the tools costs the consumer nothing.

Arguments are checked against the tool's input schema here, before any request:
an agent's malformed call is an error result it can correct, and is never billed.

The function is its own, apart from the app's: the SDK's dependencies (a newer
pydantic and Starlette among them) never meet the creator's pins, and the app's
bundle and cold start stay as they were. It learns the tools from the app itself:
it invokes the app's ``live`` alias with
:data:`~api_direct.runtime.asgi_lambda.OPENAPI_REQUEST`, which the app's adapter
answers with ``app.openapi()`` (whether or not the app serves ``/openapi.json``),
and keeps them a minute (:func:`deployed_tools`).

The same server runs under ``apid dev`` with another source of tools and another
base URL (:func:`mcp_app`).
"""

import base64
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import anyio.to_thread
import mcp_types as types
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, UnknownType
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from referencing.exceptions import Unresolvable
from starlette.applications import Starlette
from starlette.requests import Request

from api_direct.contracts import MCP_API_NAME_ENV, MCP_APP_FUNCTION_ENV, MCP_EXCLUDE_ENV
from api_direct.runtime.mcp_tools import MCP_PATH, RouteCall, Tool, ToolArgumentError, Toolset, route_call, tools_of

#: What a tool call may take, within API Gateway's own 29 s integration timeout for the ``/mcp`` request.
ROUTE_TIMEOUT_SECONDS = 25.0
_READ_ONLY = frozenset({"GET", "HEAD"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


@dataclass(frozen=True)
class RouteAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name), None)


#: Makes a route call against a base URL with a key; blocking (run in a worker thread). Raises
#: :class:`RouteUnreachable` when no answer came.
RouteCaller = Callable[[str, RouteCall, str], RouteAnswer]


class RouteUnreachable(Exception):
    """The route gave no answer (refused, reset, timed out): the agent's error result, not the server's failure."""


def http_route_call(base_url: str, call: RouteCall, api_key: str) -> RouteAnswer:
    """The call over HTTP(S), as any client of the API makes it; an HTTP error status is an answer, not a failure."""
    request = urllib.request.Request(
        base_url.rstrip("/") + call.target,
        data=call.body,
        method=call.method,
        headers={**dict(call.headers), "user-agent": "api-direct-mcp"},
    )
    # Never sent on to where a redirect points: the key is for this API's stage alone.
    request.add_unredirected_header("X-api-key", api_key)
    try:
        with urllib.request.urlopen(request, timeout=ROUTE_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own API
            return RouteAnswer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return RouteAnswer(error.code, dict(error.headers.items()), error.read())
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        raise RouteUnreachable(str(getattr(error, "reason", None) or error) or type(error).__name__) from error


def tool_result(answer: RouteAnswer, url: str) -> types.CallToolResult:
    """What the route answered, as the agent reads it: JSON as JSON (an object also as structured content),
    text as text, an image as an image, other bytes as a blob; a status outside 2xx as an error result."""
    content_type = (answer.header("content-type") or "").split(";")[0].strip().lower()
    ok = 200 <= answer.status < 300
    structured: dict[str, Any] | None = None
    block: types.ContentBlock
    if content_type.startswith("image/") and ok:
        block = types.ImageContent(data=base64.b64encode(answer.body).decode(), mime_type=content_type)
    elif _is_text(content_type, answer.body):
        text = answer.body.decode()
        if content_type.endswith("json") and ok:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            structured = parsed if isinstance(parsed, dict) else None
        block = types.TextContent(text=text if ok else _error_text(answer, text))
    else:
        blob = types.BlobResourceContents(uri=url, mime_type=content_type or None, blob=base64.b64encode(answer.body))
        block = types.EmbeddedResource(resource=blob) if ok else types.TextContent(text=_error_text(answer, ""))
    return types.CallToolResult(content=[block], structured_content=structured, is_error=not ok)


def _is_text(content_type: str, body: bytes) -> bool:
    if content_type and not (content_type.startswith("text/") or content_type.endswith(("json", "xml"))):
        return False
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _error_text(answer: RouteAnswer, body: str) -> str:
    retry = answer.header("retry-after")
    return f"HTTP {answer.status}" + (f" (Retry-After: {retry})" if retry else "") + (f": {body}" if body else "")


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def mcp_tool(tool: Tool) -> types.Tool:
    method = tool.method.upper()
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(
            title=tool.route,
            read_only_hint=method in _READ_ONLY,
            destructive_hint=method == "DELETE",
            idempotent_hint=method in _IDEMPOTENT,
            open_world_hint=True,
        ),
    )


@lru_cache(maxsize=512)
def _validator(schema: str) -> Draft202012Validator | None:
    """The validator of a tool's input schema (as canonical JSON), checked once; ``None`` for one it cannot read.

    Checking a schema costs more than the rest of a tool call together, and a
    container's tools do not change, so each schema is checked once.
    """
    document = json.loads(schema)
    try:
        Draft202012Validator.check_schema(document)
    except SchemaError:
        return None
    return Draft202012Validator(document)


def argument_problem(tool: Tool, arguments: Mapping[str, Any]) -> str | None:
    """The first way ``arguments`` break ``tool``'s schema, as one line; ``None`` when they fit."""
    validator = _validator(json.dumps(tool.input_schema, sort_keys=True))
    try:
        error = next(iter(validator.iter_errors(dict(arguments))), None) if validator is not None else None
    # An app's schema the validator cannot read (malformed, a type or reference it does not know, a pattern in
    # another regex dialect): the route's own validation decides.
    except (UnknownType, Unresolvable, re.error):
        return None
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"invalid arguments for {tool.name}" + (f" at {where}" if where else "") + f": {error.message}"


def mcp_server(name: str, tools: Callable[[], Toolset], call: RouteCaller) -> Server[Any]:
    """The MCP server of one API: ``tools`` lists the operations, ``call`` makes a tool's request to its route."""

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        toolset = await anyio.to_thread.run_sync(tools)
        return types.ListToolsResult(tools=[mcp_tool(tool) for tool in toolset.tools])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        toolset = await anyio.to_thread.run_sync(tools)
        tool = toolset.named(params.name)
        if tool is None:
            return error_result(f"unknown tool {params.name!r}: tools/list names this API's tools")
        arguments = params.arguments or {}
        problem = argument_problem(tool, arguments)
        if problem is not None:
            return error_result(problem)
        try:
            request_call = route_call(tool, arguments)
        except ToolArgumentError as error:
            return error_result(f"invalid arguments for {tool.name}: {error}")
        request: Request = ctx.request
        base_url = gateway_base_url(request)
        api_key = request.headers.get("x-api-key", "")
        try:
            answer = await anyio.to_thread.run_sync(call, base_url, request_call, api_key)
        except RouteUnreachable as error:
            return error_result(f"{tool.route} gave no answer: {error}")
        return tool_result(answer, base_url.rstrip("/") + request_call.target)

    return Server(
        name,
        instructions=f"The operations of the API {name!r}, one tool each. Each tool call is one call to its route,"
        " billed and limited as one on your plan; listing the tools is free.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def gateway_base_url(request: Request) -> str:
    """Where the API the MCP request came through is: the domain and stage (or base path) it was called on.

    In Lambda the event names the domain the client called (execute-api or a custom
    domain) and the adapter's ``root_path`` is the stage or base path; elsewhere
    (``apid dev``) the request's own base URL.
    """
    event = request.scope.get("aws.event")
    if isinstance(event, Mapping):
        domain = (event.get("requestContext") or {}).get("domainName")
        if domain:
            return f"https://{domain}{request.scope.get('root_path', '')}"
    return str(request.base_url)


def mcp_app(server: Server[Any], *, local_only: bool = False) -> Starlette:
    """``server`` over streamable HTTP at :data:`MCP_PATH`: stateless, JSON responses, one request per exchange.

    Stateless, so any container answers any request (Lambda keeps no session
    between them); ``local_only`` turns on the SDK's DNS-rebinding check for a
    server on loopback (``apid dev``). Behind API Gateway the host is the API's
    own and the key authorizer has already admitted the caller.
    """
    security = None if local_only else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )


def openapi_of_app(function: str) -> Mapping[str, Any]:
    """The app's OpenAPI document, from its adapter (:data:`~api_direct.runtime.asgi_lambda.OPENAPI_REQUEST`)."""
    import boto3  # in Lambda's runtime; only the deployed function reaches here

    from api_direct.runtime.asgi_lambda import OPENAPI_REQUEST

    response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(OPENAPI_REQUEST).encode())
    answer = json.loads(response["Payload"].read())
    if response.get("FunctionError") or not isinstance(answer, Mapping) or "openapi" not in answer:
        raise RuntimeError(f"the app did not give its OpenAPI document: {str(answer)[:300]}")
    document: Mapping[str, Any] = answer["openapi"]
    return document


#: How long a container keeps the app's tools before it asks the app again.
TOOLS_TTL_SECONDS = 60.0
_read: dict[str, tuple[float, Toolset]] = {}


def deployed_tools() -> Toolset:
    """The deployed app's tools, read again once they are :data:`TOOLS_TTL_SECONDS` old (see the module's docstring).

    Neither a hotswap nor a canary's shift tells this function that the live
    version changed, so the tools are not kept for a container's life: a new route
    is a tool within a minute, at the price of one Invoke of the app a minute while
    agents call.
    """
    function = os.environ[MCP_APP_FUNCTION_ENV]
    now = time.monotonic()
    kept = _read.get(function)
    if kept is None or now - kept[0] > TOOLS_TTL_SECONDS:
        exclude = json.loads(os.environ.get(MCP_EXCLUDE_ENV) or "[]")
        kept = _read[function] = (now, tools_of(openapi_of_app(function), exclude))
    return kept[1]


@cache
def _deployed_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from api_direct.runtime.asgi_lambda import LambdaAsgiHandler

    server = mcp_server(os.environ.get(MCP_API_NAME_ENV) or "api", deployed_tools, http_route_call)
    return LambdaAsgiHandler(mcp_app(server))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: the MCP app behind the same adapter as the creator's app, made on the first call."""
    return _deployed_handler()(event, context)
