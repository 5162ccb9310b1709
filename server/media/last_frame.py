"""The last frame of a video, at full resolution, as a PNG: the start frame of the next shot.

Decoding starts from the keyframe before the final second (one seek), so a 15 s clip costs the
decode of a few frames, not the whole clip. Synchronous; async callers use `anyio.to_thread`.
PyAV and Pillow are imported inside the function so importing this module is free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from ..jobs.owners import new_owner_id
from ..jobs.partial_files import discard, partial_path
from .probe import MediaError

# Seek this far before the end: past any frame-duration rounding, short of a whole re-decode.
TAIL_SECONDS: Final = 1.0
PNG_COMPRESS_LEVEL: Final = 3  # lossless either way; 3 writes a 720p frame in a fraction of the time of 9


@dataclass(frozen=True)
class LastFrame:
    path: Path  # the PNG written
    seconds: float  # when the frame shows, from the start of the video
    width: int  # as displayed (rotation applied)
    height: int


def extract_last_frame(
    video: Path, target: Path, owner: str | None = None, fit: tuple[int, int] | None = None
) -> LastFrame:
    """Write the last decodable frame of `video` to `target` (PNG, atomically, the temporary file named
    for `owner`, see `partial_files`), scaled while decoding to fit within `fit` when it is larger.
    Raises `MediaError`."""
    import av

    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise MediaError("the file has no video track")
            stream = container.streams.video[0]
            last = _last_frame(container, stream, seek=True) or _last_frame(container, stream, seek=False)
            if last is None:
                raise MediaError("the video has no decodable frames")
            frame, seconds = last
            image = frame.to_image(**_fitted(frame.width, frame.height, fit))
    except av.FFmpegError as exc:
        raise MediaError(f"the video cannot be decoded ({exc})") from None
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:  # PyAV gives the counterclockwise angle of the display matrix, as PIL rotates
        image = image.rotate(rotation, expand=True)
    tmp = partial_path(target, owner or new_owner_id())
    try:
        image.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        os.replace(tmp, target)
    finally:
        discard(tmp)
    return LastFrame(target, seconds, image.width, image.height)


def _fitted(width: int, height: int, box: tuple[int, int] | None) -> dict[str, int]:
    """The scaler's target size for a frame to fit `box` (as stored; rotation is applied after)."""
    if box is None:
        return {}
    side = max(box)
    scale = min(1.0, side / max(width, height, 1))
    if scale >= 1.0:
        return {}
    return {"width": max(2, round(width * scale)), "height": max(2, round(height * scale))}


def _last_frame(container: Any, stream: Any, *, seek: bool) -> tuple[Any, float] | None:
    time_base: Fraction = stream.time_base
    start = stream.start_time or 0
    if seek:
        end = _duration_ticks(container, stream)
        if end is None:
            return None
        container.seek(max(start, start + end - int(TAIL_SECONDS / time_base)), stream=stream, backward=True)
    else:
        container.seek(start, stream=stream, backward=True)
    last: Any = None
    for frame in container.decode(stream):
        last = frame
    if last is None:
        return None
    seconds = float((last.pts - start) * time_base) if last.pts is not None else 0.0
    return last, max(0.0, seconds)


def _duration_ticks(container: Any, stream: Any) -> int | None:
    """The video's length in its stream's time base, from the stream or else the container."""
    if stream.duration:
        return int(stream.duration)
    if container.duration:
        return int(Fraction(container.duration, 1_000_000) / stream.time_base)
    return None


__all__ = ["LastFrame", "extract_last_frame"]
