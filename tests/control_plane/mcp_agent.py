"""An AI agent on the marketplace's MCP endpoint: the MCP SDK's own client over streamable HTTP, driving the
control plane app in process (httpx2's ASGI transport) or through its Lambda handler as API Gateway invokes it."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from typing import Any

import anyio.to_thread
import httpx2
import mcp_types as types
from anyio.from_thread import start_blocking_portal
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from api_direct.local.rest_proxy import HttpRequest, RestProxy
from tests.cli.mcp_stdio_client import AgentSession

#: Where the in-process app is reached: the host a ``TestClient`` uses, so the pages' forms pass its Origin check.
SITE = "http://testserver"
AGENT_ADDRESS = "203.0.113.7"


class LambdaTransport(httpx2.AsyncBaseTransport):
    """Each request as API Gateway's proxy integration invokes the function: a REST event, on a worker thread
    (the handler runs its own event loop, as in Lambda), its result turned back into the client's response."""

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        proxy: RestProxy,
        source_ip: str,
        resource: str | None = None,
    ) -> None:
        self.handler = handler
        self.proxy = proxy
        self.source_ip = source_ip
        #: The API's own resource the requests match (``/mcp``); None: its ``/{proxy+}``.
        self.resource = resource

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        sent = HttpRequest(
            request.method,
            request.url.path.removeprefix(self.proxy.prefix),
            tuple(request.headers.multi_items()),
            request.url.query.decode(),
            await request.aread(),
        )
        result = await anyio.to_thread.run_sync(
            self.handler, self.proxy.event(sent, source_ip=self.source_ip, resource=self.resource), None
        )
        answer = self.proxy.response(sent, result)
        return httpx2.Response(answer.status, headers=list(answer.headers), content=answer.body)


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
