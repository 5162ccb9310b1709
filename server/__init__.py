"""The machinery of seedance-mcp, and its one version number (`seedance_mcp.__version__` is this one)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seedance-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
