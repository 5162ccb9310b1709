"""Half-written files: every temporary file a process writes (a download, a film, a frame, a preview)
is named for its owner, so that whoever comes later knows whose it is and removes it once that owner
is gone — by a process taking the owner's job over, or by the periodic sweep.

The name is `.<final name>.<owner>.<12 hex digits>.part`, in the final file's folder (so the rename
into place is atomic). A download's final name holds its job id (`video_names`), which ties the
partial file to that job's lease.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from .owners import OWNER_PATTERN

_PART = re.compile(rf"\.(?P<name>.+)\.(?P<owner>{OWNER_PATTERN})\.[0-9a-f]{{12}}\.part")
# A saved video's name: "<date>-<time>_<job id>_<slug>.mp4" (`video_names.video_filename`).
_JOB_VIDEO = re.compile(r"\d{8}-\d{6}_(?P<job>sd_[A-Za-z0-9_-]{12})_[a-z0-9-]+\.mp4")


@dataclass(frozen=True)
class PartialFile:
    path: Path
    owner: str
    job_id: str | None  # the job whose video it was to become, if it is a download
    modified: float  # when it was last written (seconds since the epoch)


def partial_path(target: Path, owner: str) -> Path:
    """Where `owner` writes `target` before renaming it into place; new on every call."""
    return target.with_name(f".{target.name}.{owner}.{secrets.token_hex(6)}.part")


def discard(path: Path) -> None:
    """Remove a partial file if it is there. A read-only folder refuses even to unlink a file that is
    not there (EROFS): nothing to undo then."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def find_partials(folder: Path) -> list[PartialFile]:
    """Our partial files in `folder` (not its subfolders); nothing when it cannot be read."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        match = _PART.fullmatch(entry.name)
        if match is None:
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                job = _JOB_VIDEO.fullmatch(match["name"])
                modified = entry.stat(follow_symlinks=False).st_mtime
                found.append(PartialFile(Path(entry.path), match["owner"], job and job["job"], modified))
    return found


class PartialFiles:
    """The folders a process writes into half-way: the output folder, the previews, the frames."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)

    async def partial_files(self) -> list[PartialFile]:
        def find() -> list[PartialFile]:
            return [part for folder in self.folders for part in find_partials(folder)]

        return await anyio.to_thread.run_sync(find)

    async def remove_partial(self, path: Path) -> None:
        await anyio.to_thread.run_sync(discard, path)
