"""An API's MCP server in process, with the SDK's own client as the agent, and its route calls sent to a
FastAPI app (TestClient) and recorded: a test sees both what the agent got and what the route was asked."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_direct.runtime.mcp_server import RouteAnswer, RouteCaller, mcp_app, mcp_server
from api_direct.runtime.mcp_tools import RouteCall, tools_of
from tests.cli.mcp_stdio_client import AgentSession
from tests.control_plane.mcp_agent import SITE, agent_on

API_KEY = "apid_test-key"


@dataclass(frozen=True)
class RecordedCall:
    base_url: str
    call: RouteCall
    api_key: str


@dataclass
class RouteRecorder:
    """A :data:`~api_direct.runtime.mcp_server.RouteCaller` that sends each call to ``app``, with the key as the
    ``x-api-key`` header, as the gateway would pass it on."""

    app: FastAPI
    calls: list[RecordedCall] = field(default_factory=list)

    def __call__(self, base_url: str, call: RouteCall, api_key: str) -> RouteAnswer:
        self.calls.append(RecordedCall(base_url, call, api_key))
        with TestClient(self.app) as client:
            response = client.request(
                call.method, call.target, headers={**dict(call.headers), "x-api-key": api_key}, content=call.body
            )
        return RouteAnswer(response.status_code, dict(response.headers), response.content)


@dataclass(frozen=True)
class ServedAgent:
    agent: AgentSession
    routes: RouteRecorder


@contextmanager
def agent_of(
    app: FastAPI, *, exclude: Sequence[str] = (), api_key: str = API_KEY, call: RouteCaller | None = None
) -> Iterator[ServedAgent]:
    """An agent connected to ``app``'s MCP server (:func:`~api_direct.runtime.mcp_server.mcp_app`), over
    streamable HTTP in process, with ``api_key``; the route calls go to ``app`` unless ``call`` makes them."""
    routes = RouteRecorder(app)
    server = mcp_server(app.title, lambda: tools_of(app.openapi(), exclude), call or routes)
    asgi = mcp_app(server)
    transport = httpx2.ASGITransport(app=asgi)
    with agent_on(transport, SITE, headers={"x-api-key": api_key}, serving=server.session_manager.run()) as agent:
        yield ServedAgent(agent, routes)
