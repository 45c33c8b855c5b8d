"""What a test reads of an MCP tool result (the client itself is the sandbox's: api_direct.local.agent_calls)."""

import mcp_types as types


def text_of(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))
