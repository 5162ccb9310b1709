"""seedance-mcp: an MCP server for drafting videos with ByteDance Seedance 2.0.

The code lives in the repository's `server/` (the machinery) and `tools/` (the contract with the
assistant) folders, installed as `seedance_mcp.server` and `seedance_mcp.tools`.
"""


def __getattr__(name: str) -> str:
    # The one version is `seedance_mcp.server.__version__`, read on first use: importing it here would
    # import `seedance_mcp.server` before the bundle's entry point has placed its folders.
    if name == "__version__":
        from seedance_mcp.server import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
