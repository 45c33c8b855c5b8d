"""An AI agent on the marketplace's MCP endpoint: the MCP SDK's own client over streamable HTTP, driving the
control plane app in process (httpx2's ASGI transport) or through its Lambda handler as API Gateway invokes it."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from typing import Any

import httpx2
import mcp_types as types
from anyio.from_thread import start_blocking_portal
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from api_direct.local.mcp_loopback import GatewayTransport
from api_direct.local.rest_proxy import HttpRequest, HttpResponse, RestProxy
from tests.cli.mcp_stdio_client import AgentSession

#: Where the in-process app is reached: the host a ``TestClient`` uses, so the pages' forms pass its Origin check.
SITE = "http://testserver"
AGENT_ADDRESS = "203.0.113.7"


def lambda_transport(
    handler: Callable[[dict[str, Any], Any], Any], proxy: RestProxy, source_ip: str, resource: str | None = None
) -> GatewayTransport:
    """Each request as API Gateway's proxy integration invokes the function: a REST event (for ``resource``, the
    API's own resource the requests match, such as ``/mcp``; None: its ``/{proxy+}``), its result turned back into
    the client's response, on the local gateway's transport (a worker thread: the handler runs its own loop)."""

    def invoke(sent: HttpRequest) -> HttpResponse:
        return proxy.response(sent, handler(proxy.event(sent, source_ip=source_ip, resource=resource), None))

    return GatewayTransport(invoke, proxy.prefix)


@contextmanager
def agent_on(
    transport: httpx2.AsyncBaseTransport,
    site: str,
    mode: str = "auto",
    *,
    headers: Mapping[str, str] | None = None,
    serving: AbstractAsyncContextManager[Any] | None = None,
) -> Iterator[AgentSession]:
    """A connected client of ``<site>/mcp``; ``mode`` as the SDK's ``Client`` takes it (``legacy``: the handshake).

    ``headers`` go with every request (an API's key); ``serving`` runs around the session on the client's
    event loop, which an in-process server whose requests need it running (a session manager's ``run()``) shares.
    """
    http = httpx2.AsyncClient(transport=transport, base_url=site, headers=headers)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serving or nullcontext()),
        portal.wrap_async_context_manager(http),
        portal.wrap_async_context_manager(
            Client(streamable_http_client(f"{site}/mcp", http_client=http), mode=mode)
        ) as client,
    ):
        yield AgentSession(portal, client)


@contextmanager
def marketplace_agent(app: Any, mode: str = "auto", address: str = AGENT_ADDRESS) -> Iterator[AgentSession]:
    """An agent calling the app in process, from ``address``."""
    with agent_on(httpx2.ASGITransport(app=app, client=(address, 50000)), SITE, mode) as agent:
        yield agent


def outcome(result: types.CallToolResult) -> dict[str, Any]:
    """A tool's structured result, after checking it succeeded."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def failure(result: types.CallToolResult) -> str:
    """A failed tool's one line."""
    assert result.is_error, result.structured_content
    [content] = result.content
    assert isinstance(content, types.TextContent) and "\n" not in content.text
    return content.text
