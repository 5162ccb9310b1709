"""Finished videos named by the assistant: a job id or a local file, and the frame a next shot starts on.

`find_video` turns one value into a local video file: a job id from the journal (the job must have
completed and its video must be saved), or a path inside the allowed folders whose content is really
a video. `last_frame_of` adds the last step for continuity: that video's last frame, extracted at
full resolution into the server's own frames folder, ready to be checked and uploaded like any local
image. Every refusal is an `InputError` naming the field, what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from ..config import Settings
from ..delivery.video_names import safe_id
from ..errors import InputError
from ..film.limits import START_FRAME_BOX, check_clip
from ..inputs import local_file
from ..journal.api import JobJournal
from .last_frame import extract_last_frame
from .probe import MediaError, MediaInfo, probe

# What a job id may look like when it is echoed back (ours are "sd_" + 12 URL-safe characters).
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class SourceVideo:
    path: Path
    label: str  # "job sd_abc" or the file's name: how answers refer to it
    job_id: str | None
    info: MediaInfo


@dataclass(frozen=True)
class StartFrame:
    image: Path  # a PNG in the server's frames folder
    frame: str  # "last frame (t=4.96 s) of job sd_abc"

    @property
    def description(self) -> str:
        return f"start frame: {self.frame}"


def frames_dir(settings: Settings) -> Path:
    """Where extracted frames go: inside the server's own folder, and always readable as an input."""
    return settings.home / "frames"


def allowed_dirs_for(settings: Settings, media: Sequence[str]) -> tuple[Path, ...]:
    """The folders local inputs may come from: the user's, plus our frames folder when an input lies in it
    (put first: it may be inside a hidden folder, which an allowed folder containing it would refuse)."""
    own = frames_dir(settings)
    if any(Path(value).parent == own for value in media):
        return (own, *settings.allowed_dirs)
    return settings.allowed_dirs


async def find_video(
    value: str, *, field: str, journal: JobJournal, allowed_dirs: Sequence[Path]
) -> SourceVideo:
    """The local video file `value` names (a job id or a path). Raises `InputError` naming `field`."""
    value = value.strip()
    if not value:
        raise InputError(field, "is empty; give a job id (sd_…) or the full path of an MP4 or MOV file")
    path = await anyio.to_thread.run_sync(local_file, field, value, tuple(allowed_dirs))
    if path is not None:
        return SourceVideo(path, path.name, None, await _probe_video(field, path, value))
    if "://" in value[:40]:  # never echoed: a URL may carry a password
        raise InputError(
            field,
            "takes a job id or a local file, not a URL: download the video into an allowed folder and pass "
            "its full path, or give the id (sd_…) of the job that made it",
        )
    record = await journal.get(value) if _JOB_ID.fullmatch(value) else None
    if record is None:
        shown = f"no job with id {value!r}" if _JOB_ID.fullmatch(value) else "that is no job id"
        raise InputError(
            field,
            f"{shown}, and it is not a file path. Give a job id from list_jobs "
            "(they look like 'sd_…') or the full path (starting with / or ~) of an MP4 or MOV file.",
        )
    if record.state in ("failed", "cancelled"):
        raise InputError(
            field, f"job {record.id} {record.state}, so it has no video; pick a job that completed"
        )
    if record.state != "completed":
        raise InputError(
            field,
            f"job {record.id} has not finished (it is {record.state}); call check_status with it until "
            "it is done, then call again",
        )
    if not record.video_path:
        reason = record.save_error or record.error
        retrying = record.next_save_at is not None
        raise InputError(
            field,
            f"job {record.id} finished but its video was not saved on this computer"
            + (f" ({reason})" if reason else "")
            + ("; the server tries again, so call check_status with it later, or" if retrying else ";")
            + " download it from its URL into an allowed folder and pass that path instead",
        )
    saved = Path(record.video_path)
    if not await anyio.to_thread.run_sync(saved.is_file):
        raise InputError(
            field,
            f"job {record.id}'s video is no longer at {saved} (moved or deleted); pass its new path instead",
        )
    return SourceVideo(saved, f"job {record.id}", record.id, await _probe_video(field, saved, str(saved)))


async def last_frame_of(
    value: str, *, journal: JobJournal, settings: Settings, field: str = "continue_from"
) -> StartFrame:
    """The last frame of the video `value` names, written as a PNG the upload path takes like any image."""
    source = await find_video(value, field=field, journal=journal, allowed_dirs=settings.allowed_dirs)
    folder = frames_dir(settings)
    # One name per source video: the same continuation asked twice is the same request (no double spend),
    # while a changed file gets a new name.
    if source.job_id is not None:
        name = f"{safe_id(source.job_id)}-last.png"
    else:
        st = source.path.stat()
        key = f"{source.path}\0{st.st_size}\0{st.st_mtime_ns}"
        name = f"file-{hashlib.sha256(key.encode()).hexdigest()[:16]}-last.png"

    def extract() -> float:
        folder.mkdir(parents=True, exist_ok=True)
        return extract_last_frame(source.path, folder / name, fit=START_FRAME_BOX).seconds

    try:
        seconds = await anyio.to_thread.run_sync(extract)
    except MediaError as exc:
        raise InputError(field, f"cannot take the last frame of {source.label}: {exc}") from None
    return StartFrame(
        image=folder / name,
        frame=f"last frame (t={seconds:.2f} s) of {source.label}",
    )


async def _probe_video(field: str, path: Path, shown: str) -> MediaInfo:
    try:
        info = await anyio.to_thread.run_sync(probe, path)
    except MediaError as exc:
        raise InputError(field, f"{shown} is not a usable video: {exc}") from None
    if info.kind != "video":
        raise InputError(
            field, f"{shown} is {info.format.upper()} {info.kind}, not a video; give an MP4 or MOV file"
        )
    check_clip(field, info, shown)  # before any frame of it is decoded
    return info


__all__ = ["SourceVideo", "StartFrame", "allowed_dirs_for", "find_video", "frames_dir", "last_frame_of"]
