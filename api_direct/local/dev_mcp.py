"""``apid dev``'s MCP endpoint: the deployed MCP server's code, run in apid's own process beside the dev server.

The dev server (in the app's interpreter, where the MCP SDK may not be installed)
checks the key of a request to ``/mcp`` and passes it here; each tool call comes
back to the dev server as a request to its route with the same key, checked,
metered and printed like any other, as the deployed function's calls go back
through the stage. The tools are read from the app on each listing (the dev
server answers the app's OpenAPI document to this server's token only), so an
edit the reloader picks up shows in the next ``tools/list``.
"""

import json
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api_direct.errors import OperationFailed
from api_direct.local.dev_server import MCP_TOKEN_HEADER, OPENAPI_PATH, DevMcpLink
from api_direct.project import Project
from api_direct.runtime.mcp_server import http_route_call, mcp_app, mcp_server
from api_direct.runtime.mcp_tools import MCP_PATH, Toolset, tools_of

_START_SECONDS = 20.0


def mcp_url(dev_url: str) -> str:
    """Where agents reach the MCP endpoint of the dev server at ``dev_url``: its ``/mcp``, as on the deployed stage."""
    return dev_url + MCP_PATH


@contextmanager
def dev_mcp_server(project: Project, dev_url: str) -> Iterator[DevMcpLink | None]:
    """Serve the project's MCP server on a loopback port while this lasts; ``None`` when ``[mcp]`` is off.

    ``dev_url`` is where the dev server answers (the tools are read from it).
    """
    if not project.config.mcp.enabled:
        yield None
        return
    token = secrets.token_urlsafe(24)

    def tools() -> Toolset:
        request = urllib.request.Request(dev_url + OPENAPI_PATH, headers={MCP_TOKEN_HEADER: token})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the dev server on loopback
            return tools_of(json.load(response), project.config.mcp.exclude)

    server = mcp_server(project.config.api.name, tools, http_route_call)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(mcp_app(server, local_only=True), log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listening]}, name="mcp", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not uvicorn_server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise OperationFailed("apid dev's MCP server did not start")
            time.sleep(0.02)
        yield DevMcpLink(f"http://127.0.0.1:{port}", token)
    finally:
        uvicorn_server.should_exit = True
        thread.join(10)
        listening.close()
