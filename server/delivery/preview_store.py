"""A saved video's preview files next to the journal: poster frame, contact sheet and facts (JSON).

Written atomically (a hidden temporary file, named for its owner, renamed into place), so a reader
never sees half a file and a killed writer's leftovers are swept (`partial_files`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..jobs.owners import new_owner_id
from ..jobs.partial_files import discard, partial_path
from .video_names import safe_id

log = logging.getLogger(__name__)


class PreviewFiles:
    def __init__(self, folder: Path, owner: str | None = None) -> None:
        self.folder = folder
        self.owner = owner or new_owner_id()  # names the temporary files

    def paths(self, job_id: str) -> tuple[Path, Path]:
        """Where the poster frame and the contact sheet of a job are (or will be)."""
        name = safe_id(job_id)
        return self.folder / f"{name}-poster.jpg", self.folder / f"{name}-sheet.jpg"

    def _facts_file(self, job_id: str) -> Path:
        return self.folder / f"{safe_id(job_id)}-video.json"

    def facts(self, job_id: str) -> dict[str, Any] | None:
        """Duration, width, height, fps, has_audio and bytes of a saved video, if it could be read."""
        try:
            data = json.loads(self._facts_file(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, job_id: str, video: Path) -> None:
        """Render and write the preview files of `video` (synchronous: run it in a worker thread)."""
        from ..media import probe as media
        from . import previews

        self.folder.mkdir(parents=True, exist_ok=True)
        poster, sheet = self.paths(job_id)
        try:
            preview = previews.render_preview(video)
        except media.MediaError as exc:
            log.warning("job %s: no preview: %s", job_id, exc)
            # The facts need only the headers, which may still be readable.
            info = media.probe(video)
            facts = _facts(info.duration, info.width, info.height, info.fps, info.has_audio, info.size_bytes)
        else:
            _replace_bytes(poster, preview.poster_jpeg, self.owner)
            _replace_bytes(sheet, preview.contact_sheet_jpeg, self.owner)
            facts = _facts(
                preview.duration,
                preview.width,
                preview.height,
                preview.fps,
                preview.has_audio,
                preview.size_bytes,
            )
        _replace_bytes(self._facts_file(job_id), json.dumps(facts).encode(), self.owner)
        _release_freed_memory()


def _facts(
    duration: float | None,
    width: int | None,
    height: int | None,
    fps: float | None,
    has_audio: bool | None,
    size: int,
) -> dict[str, Any]:
    return {
        "duration": round(duration, 3) if duration is not None else None,
        "width": width,
        "height": height,
        "fps": round(fps, 3) if fps is not None else None,
        "has_audio": has_audio,
        "bytes": size,
    }


def _release_freed_memory() -> None:
    """Hand the decoder's freed buffers back to the OS (glibc only; a no-op elsewhere).

    glibc keeps freed memory in its per-thread arenas for reuse, so after many previews the process
    keeps the high-water mark of every arena a preview ran in. malloc_trim releases the free pages.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    return trim


def _replace_bytes(path: Path, data: bytes, owner: str) -> None:
    tmp = partial_path(path, owner)
    # Created exclusively and never through a symlink, as delivery creates its partial downloads.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        with os.fdopen(os.open(tmp, flags, 0o644), "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        discard(tmp)
