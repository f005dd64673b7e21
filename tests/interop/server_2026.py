"""A small MCP server on the official Python SDK, for the 2026-07-28 era (the SDK serves
whichever era the client opens with). One tool of each class."""

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

mcp = MCPServer("interop-2026", version="1.0.0")


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
def read_note(key: str) -> str:
    """Read a note."""
    return f"note {key} = hello"


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False))
def write_note(key: str, value: str) -> str:
    """Write a note."""
    return f"wrote {key}={value}"


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
def delete_all() -> str:
    """Delete every note."""
    return "deleted everything"


@mcp.tool()
def plain(x: int) -> str:
    """No annotations at all."""
    return f"plain {x}"


if __name__ == "__main__":
    mcp.run("stdio")
