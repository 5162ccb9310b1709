"""seedance-mcp: an MCP server for drafting videos with ByteDance Seedance 2.0.

The code lives in the repository's `server/` (the machinery) and `tools/` (the contract with the
assistant) folders, installed as `seedance_mcp.server` and `seedance_mcp.tools`.
"""

from seedance_mcp.server import __version__ as __version__
