"""The MCP SDK's own client, as an agent uses it, for the tests that call an API's MCP endpoint over HTTP."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@dataclass(frozen=True)
class Session:
    """What one client session found: the tools listed and each call's result, in order."""

    tools: tuple[types.Tool, ...]
    results: tuple[types.CallToolResult, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(tool.name for tool in self.tools)


def session(url: str, key: str, calls: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> Session:
    """List the tools at ``url`` (``.../mcp``) with ``key`` in ``x-api-key``, then make ``calls`` (name, arguments)."""

    async def run() -> Session:
        http = httpx2.AsyncClient(headers={"x-api-key": key}, trust_env=False, timeout=30)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            listed = await client.list_tools()
            results = [await client.call_tool(name, dict(arguments)) for name, arguments in calls]
        return Session(tuple(listed.tools), tuple(results))

    return anyio.run(run)


def text_of(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))
