"""Entry point of the MCP bundle (manifest.json `server.entry_point`): starts the stdio server.

Claude Desktop runs `uv run --directory <bundle> bundle/entry.py <allowed dir>...` with the user's
settings in the environment. Hosts substitute `${user_config.KEY}` placeholders, but an optional
setting left empty may reach us as the literal placeholder, and a default such as
`${HOME}/Videos/Seedance` may arrive unexpanded. This shim tidies both before the server reads its
settings, and turns the folders passed as arguments (a multi-select setting can only be expanded into
arguments, not into one environment variable) into `SEEDANCE_ALLOWED_DIRS`.

It lives in `bundle/`, not in `server/`, because running a file inside the `server` package as a
script would put that folder first on `sys.path`, where `server/web/http.py` would shadow the stdlib.
The bundle's own `server/` and `tools/` folders are imported as `seedance_mcp.server` and
`seedance_mcp.tools`, the names the installed package gives them, whatever else is installed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*|/)\}")
_UNSET = re.compile(r"^\s*\$\{user_config\.[^}]*\}\s*$")
# Variables this shim manages; anything else in the environment is left exactly as given.
_MANAGED_PREFIXES = ("SEEDANCE_", "FAL_", "OXEN_")


def _system_dirs() -> dict[str, str]:
    import platformdirs

    home = str(Path.home())
    return {
        "HOME": home,
        "DESKTOP": platformdirs.user_desktop_dir(),
        "DOCUMENTS": platformdirs.user_documents_dir(),
        "DOWNLOADS": platformdirs.user_downloads_dir(),
        "/": os.sep,
        "pathSeparator": os.sep,
    }


def _expand(value: str, dirs: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: dirs.get(m.group(1), m.group(0)), value)


def tidy_environment(env: MutableMapping[str, str], argv: Sequence[str]) -> None:
    """Drop unsubstituted optional settings, expand `${HOME}`-style defaults, set the allowed folders."""
    dirs: dict[str, str] | None = None
    for name in [n for n in env if n.startswith(_MANAGED_PREFIXES)]:
        value = env[name]
        if _UNSET.match(value):
            del env[name]
        elif "${" in value:
            dirs = dirs or _system_dirs()
            env[name] = _expand(value, dirs)
    folders = [a for a in argv if a.strip() and not _UNSET.match(a)]
    if folders:
        dirs = dirs or _system_dirs()
        env["SEEDANCE_ALLOWED_DIRS"] = os.pathsep.join(_expand(f, dirs) for f in folders)


def main() -> None:
    tidy_environment(os.environ, sys.argv[1:])
    # The unpacked bundle's own code comes first, whatever else is installed.
    sys.path.insert(0, str(ROOT))
    import seedance_mcp

    seedance_mcp.__path__.insert(0, str(ROOT))  # server/ and tools/ sit beside seedance_mcp/
    sys.argv = [sys.argv[0], "serve"]
    from seedance_mcp.server.__main__ import main as server_main

    sys.exit(server_main())


if __name__ == "__main__":
    main()
