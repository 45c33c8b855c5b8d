"""An AI agent's calls, for the sandbox: the SDK's own MCP client lists an API's tools and calls them.

The calls are the sandbox's sample calls (:mod:`.sample_calls`), each turned into
the arguments of the tool for its operation (:func:`arguments_of`, the inverse of
:func:`~api_direct.runtime.mcp_tools.route_call`), so an agent calls the same
operations with the same values the plain calls used.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from api_direct.local.mcp_loopback import GatewaySend, GatewayTransport
from api_direct.local.sample_calls import SampleCall
from api_direct.runtime.mcp_tools import MCP_PATH, Tool, Toolset


@dataclass(frozen=True)
class ToolCall:
    tool: str
    arguments: Mapping[str, Any]
    result: types.CallToolResult


@dataclass(frozen=True)
class AgentRun:
    #: The tools ``tools/list`` gave, by name.
    listed: tuple[str, ...]
    calls: tuple[ToolCall, ...]

    @property
    def results(self) -> tuple[types.CallToolResult, ...]:
        return tuple(call.result for call in self.calls)

    @property
    def failed(self) -> tuple[ToolCall, ...]:
        return tuple(call for call in self.calls if call.result.is_error)


def arguments_of(tool: Tool, call: SampleCall) -> dict[str, Any]:
    """The arguments that make ``tool`` send ``call``'s request: path and query values, header values and body."""
    properties: Mapping[str, Any] = tool.input_schema.get("properties", {})
    arguments: dict[str, Any] = {}
    pattern = re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{_group(m.group(1))}>[^/]+)", re.escape(tool.path))
    matched = re.fullmatch(pattern, call.path)
    by_location = {parameter.name: parameter.location for parameter in tool.parameters}
    if matched:
        for parameter in tool.parameters:
            if parameter.location == "path":
                value = unquote(matched.group(_group(parameter.name)))
                arguments[parameter.name] = _typed(value, properties.get(parameter.name, {}))
    for name, value in parse_qsl(call.query, keep_blank_values=True):
        if by_location.get(name) != "query":
            continue
        schema = properties.get(name, {})
        if schema.get("type") == "array":
            arguments.setdefault(name, []).append(_typed(value, schema.get("items", {})))
        else:
            arguments[name] = _typed(value, schema)
    for name, value in call.headers:
        if name.lower() == "cookie":
            for pair in value.split(";"):
                cookie, _, cookie_value = pair.strip().partition("=")
                if by_location.get(cookie) == "cookie":
                    arguments[cookie] = _typed(cookie_value, properties.get(cookie, {}))  # as route_call sends it
            continue
        wanted = next((p for p, where in by_location.items() if where == "header" and p.lower() == name.lower()), None)
        if wanted is not None:
            arguments[wanted] = _typed(value, properties.get(wanted, {}))
    if tool.body is not None and call.body:
        text = call.body.decode()
        arguments[tool.body.argument] = (
            dict(parse_qsl(text)) if tool.body.media_type.endswith("urlencoded") else json.loads(text)
        )
    return arguments


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """``value`` as its schema's JSON type wants it: a string where it takes one (``Optional[str]`` is
    ``anyOf: [string, null]``), else the JSON it reads as."""
    if _takes_string(schema):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _takes_string(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return True
    return any(_takes_string(branch) for branch in schema.get("anyOf", schema.get("oneOf", [])))


async def _call_tools(
    url: str,
    api_key: str,
    calls: Sequence[tuple[str, Mapping[str, Any]]],
    transport: httpx2.AsyncBaseTransport | None,
) -> AgentRun:
    http = httpx2.AsyncClient(transport=transport, headers={"x-api-key": api_key}, trust_env=False, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        listed = await client.list_tools()
        made = [ToolCall(name, arguments, await client.call_tool(name, dict(arguments))) for name, arguments in calls]
    return AgentRun(tuple(tool.name for tool in listed.tools), tuple(made))


def call_tools(
    url: str,
    api_key: str,
    calls: Sequence[tuple[str, Mapping[str, Any]]] = (),
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AgentRun:
    """List the tools at ``url`` (an API's ``.../mcp``) with ``api_key`` in ``x-api-key``, then make ``calls``
    (name, arguments), as an agent does with the SDK's client: over HTTP, or through ``transport``."""
    return anyio.run(_call_tools, url, api_key, calls, transport)


def agent_run(
    base_url: str, send: GatewaySend, prefix: str, api_key: str, toolset: Toolset, samples: Sequence[SampleCall]
) -> AgentRun:
    """List the tools at ``base_url``'s MCP endpoint and call the tool of each sample call (those with one)."""
    calls = []
    for sample in samples:
        tool = next((tool for tool in toolset.tools if tool.route == sample.operation), None)
        if tool is not None:
            calls.append((tool.name, arguments_of(tool, sample)))
    return call_tools(base_url.rstrip("/") + MCP_PATH, api_key, calls, GatewayTransport(send, prefix))
