"""`apid mcp` as a coding agent starts it: the real command in a subprocess on stdio, driven by the MCP SDK's
own client from synchronous tests (the client lives in a blocking portal's event loop, on another thread)."""

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client.stdio import StdioServerParameters


@dataclass(frozen=True)
class AgentSession:
    portal: BlockingPortal
    client: Client

    def tools(self) -> dict[str, types.Tool]:
        return {tool.name: tool for tool in self.portal.call(self.client.list_tools).tools}

    def call(self, tool: str, arguments: dict[str, Any], progress: list[str] | None = None) -> types.CallToolResult:
        """The tool's result; with ``progress``, the message of each progress notification is appended to it."""
        on_message = progress.append if progress is not None else None
        return self.start(tool, arguments, on_message).result()

    def start(
        self, tool: str, arguments: dict[str, Any], on_message: Callable[[str], None] | None = None
    ) -> "Future[types.CallToolResult]":
        """The call under way: cancelling the future cancels the request (the client tells the server)."""

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if on_message is not None and message is not None:
                on_message(message)

        async def call() -> types.CallToolResult:
            return await self.client.call_tool(tool, arguments, progress_callback=on_progress)

        return self.portal.start_task_soon(call)


@contextmanager
def apid_mcp() -> Iterator[AgentSession]:
    """The server in the folder the tests run in, with their environment: the suite's bundle cache, the
    wheelhouse pip reads instead of an index, and credentials that reach no real account."""
    server = StdioServerParameters(command=sys.executable, args=["-m", "api_direct", "mcp"], env=dict(os.environ))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(server)) as client:
        yield AgentSession(portal, client)


def processes_mentioning(text: str) -> list[int]:
    """The processes whose command line holds ``text`` (Linux's /proc; a zombie's is empty)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with suppress(OSError):
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
    return found


def commands_mentioning(text: str) -> list[int]:
    """The processes mentioning ``text`` that none of the others started: a command, not the app check it runs."""
    found = processes_mentioning(text)
    outermost = []
    for pid in found:
        with suppress(OSError):  # one that ended meanwhile
            if parent_of(pid) not in found:
                outermost.append(pid)
    return outermost


def outlives(text: str, seconds: float) -> list[int]:
    """The processes mentioning ``text`` still there after up to ``seconds`` of waiting for none to be."""
    deadline = time.monotonic() + seconds
    while (found := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def parent_of(pid: int) -> int:
    """From /proc/PID/stat, whose fourth field is the parent's pid (after the name, which may hold spaces)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
