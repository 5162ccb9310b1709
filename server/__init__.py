"""seedance-mcp: an MCP server for ByteDance Seedance 2.0 video generation on fal.ai and Oxen.ai."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seedance-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
