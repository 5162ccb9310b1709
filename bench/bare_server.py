"""The cold-start baseline: a bare MCPServer with one trivial tool, on the same SDK, over stdio."""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer(name="bare")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run("stdio")
