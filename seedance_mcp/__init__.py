"""seedance-mcp: an MCP server for drafting videos with ByteDance Seedance 2.0.

The code lives in the repository's `server/` (the machinery) and `tools/` (the contract with the
assistant) folders, installed as `seedance_mcp.server` and `seedance_mcp.tools`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seedance-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
