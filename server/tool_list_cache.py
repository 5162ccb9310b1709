"""The tool list kept between starts, so a start answers `tools/list` without building the tools.

Hosts spawn the server for every conversation and wait for `initialize` and `tools/list`. Building the
tools (importing their modules and deriving their JSON schemas with pydantic) is most of what a start
costs beyond the SDK itself, and the list it yields depends only on the code and the active provider. So
the listed tools are written once to `SEEDANCE_HOME/cache/`, under a name made from a digest of what
shapes them: the contents of this package's source files (not their sizes or times: `cp -p`, `rsync -a`
or a re-extracted bundle keep those across an edit), the SDK's and pydantic's versions, and the
provider. Any change gives a new name, so a stale list is never read; a missing or unreadable file just
means the tools are built and the list written again. Lists of other code are kept (a few per
provider), so two installs sharing one `SEEDANCE_HOME` (the bundle and a clone) do not undo each other.
The package ships the lists of its own code (`server/tool_lists/`, checked by a test to be what the
code builds), so even the first start after an install or an upgrade answers without building; that
list is then kept like any other. Only the listing comes from here: calls always run on the tools
built from the code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path

import pydantic
from mcp.types import Tool

from . import __version__

log = logging.getLogger(__name__)

PREFIX = "tools-"
SHIPPED = Path(__file__).parent / "tool_lists"  # the lists of this package's code, per provider
KEPT_PER_PROVIDER = 8  # lists of other code kept, newest first


class ToolListCache:
    """The listed tools of one provider, in `folder`, for the code in the `sources` folders."""

    def __init__(
        self, folder: Path, provider: str, sources: Sequence[Path], shipped: Path | None = None
    ) -> None:
        self.folder = folder
        self.provider = provider
        self.sources = sources
        self.shipped = shipped

    @cached_property
    def path(self) -> Path:
        return self.folder / f"{PREFIX}{self.provider}-{code_digest(self.sources)}.json"

    def load(self) -> list[Tool] | None:
        """The kept list, or None when there is none for this code and provider (or it is unreadable)."""
        try:
            return [Tool.model_validate(item) for item in json.loads(self.path.read_bytes())]
        except FileNotFoundError:
            return self._load_shipped()
        except (OSError, ValueError) as exc:
            log.debug("tool list %s unreadable (%s): building the tools", self.path.name, exc)
            return None

    def _load_shipped(self) -> list[Tool] | None:
        if self.shipped is None:
            return None
        try:
            listed = [
                Tool.model_validate(item) for item in json.loads((self.shipped / self.path.name).read_bytes())
            ]
        except (OSError, ValueError):
            return None  # another version's code, or none shipped
        self.save(listed)
        return listed

    def save(self, listed: list[Tool]) -> None:
        """Keep `listed`, and the newest few lists of other code. Failing to is not an error."""
        data = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed])
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Written whole, then renamed: replicas starting together never read half a file.
            with tempfile.NamedTemporaryFile("w", dir=self.folder, suffix=".part", delete=False) as part:
                part.write(data)
            os.replace(part.name, self.path)
            kept = sorted(self.folder.glob(f"{PREFIX}{self.provider}-*.json"), key=_modified, reverse=True)
            for old in kept[KEPT_PER_PROVIDER:]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("tool list not written (%s)", exc)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def code_digest(sources: Sequence[Path]) -> str:
    """What the listed tools are made from: the code in `sources` and the libraries that derive them."""
    digest = hashlib.sha256()
    digest.update(f"{__version__} {metadata.version('mcp')} {pydantic.VERSION}\n".encode())
    for folder in sources:
        for path in sorted(folder.rglob("*.py")):
            digest.update(f"{path.relative_to(folder)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
