"""What a finished video looks like: a poster frame and a contact sheet, as JPEG bytes.

`render_preview` probes the video, then decodes a few frames: in one forward pass for a short clip,
by seeking for a long one. Synchronous; async callers use `anyio.to_thread`. PyAV and Pillow are
imported inside the functions so that importing this module is free.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..media.probe import MediaError, ffmpeg_reason, probe

if TYPE_CHECKING:
    from PIL.Image import Image

POSTER_MAX_WIDTH: Final = 640
SHEET_THUMB_WIDTH: Final = 320
# Up to this length a preview decodes the clip in one forward pass (our outputs are at most 15 s);
# longer videos seek to each wanted moment instead.
SEQUENTIAL_DECODE_MAX_SECONDS: Final = 120.0


@dataclass(frozen=True)
class Preview:
    poster_jpeg: bytes  # one frame about a third into the clip, at most POSTER_MAX_WIDTH wide
    contact_sheet_jpeg: bytes  # 4-6 frames spread across the clip, in one grid
    width: int
    height: int
    duration: float
    fps: float | None
    has_audio: bool
    size_bytes: int


def render_preview(video: Path) -> Preview:
    """A poster frame and a contact sheet of `video`, as JPEG bytes. Raises `MediaError`."""
    import av

    info = probe(video)
    if info.kind != "video":
        raise MediaError(f"a preview needs a video; this is {info.format.upper()} {info.kind}")
    duration = info.duration or 0.0
    count = 6 if duration >= 3 else 4
    sheet_times = [duration * (i + 0.5) / count for i in range(count)]
    poster_time = duration / 3
    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            # Single-threaded decode: frame threads each hold their own frames, for no gain on a clip
            # of seconds (previews run one at a time; see server/delivery/download.py).
            # Each frame is converted straight to the size it is shown at (in C, by FFmpeg's scaler):
            # a contact sheet's frames no longer go through the poster's size and a resize.
            widths = dict.fromkeys(sheet_times, SHEET_THUMB_WIDTH) | {poster_time: POSTER_MAX_WIDTH}
            if duration <= SEQUENTIAL_DECODE_MAX_SECONDS:
                frames = _frames_in_one_pass(container, stream, widths)
            else:
                frames = _frames_by_seeking(container, stream, widths)
    except av.FFmpegError as exc:
        raise MediaError(f"the video cannot be decoded ({ffmpeg_reason(exc)})") from None
    if not frames:
        raise MediaError("the video has no decodable frames")
    # One picture at a time: each is let go once encoded, so the frames, the sheet and the encoder's
    # buffers are not all held at once (the peak of a preview, which runs beside every other job).
    poster = _scaled(frames[_nearest(frames, poster_time)], POSTER_MAX_WIDTH)
    poster_jpeg, poster_size = _jpeg(poster, quality=85), poster.size
    thumbs = [frames[_nearest(frames, t)] for t in sheet_times]
    del frames, poster
    sheet = _contact_sheet(thumbs)
    del thumbs
    return Preview(
        poster_jpeg=poster_jpeg,
        contact_sheet_jpeg=_jpeg(sheet, quality=70),
        width=info.width or poster_size[0],
        height=info.height or poster_size[1],
        duration=duration,
        fps=info.fps,
        has_audio=bool(info.has_audio),
        size_bytes=info.size_bytes,
    )


def _frame_image(frame: Any, max_width: int) -> Image:
    # Scaled while converting: keeping a full-size RGB copy of every wanted frame (up to 7, 2.7 MB each
    # at 720p) only raised the memory peak.
    width, height = frame.width, frame.height
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width))
    image: Image = frame.to_image(width=width, height=height)
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        # PyAV gives the counterclockwise angle the display matrix applies; PIL rotates counterclockwise too.
        image = image.rotate(rotation, expand=True)
    return image


def _frame_seconds(frame: Any, stream: Any) -> float:
    if frame.pts is None:
        return 0.0
    time_base: Fraction = frame.time_base or stream.time_base
    start = stream.start_time or 0
    return float((frame.pts - start) * time_base)


def _frames_in_one_pass(container: Any, stream: Any, widths: dict[float, int]) -> dict[float, Image]:
    """Decode forward once, keeping the first frame at or after each wanted time (or the last one),
    at most as wide as that time's width."""
    frames: dict[float, Image] = {}
    pending = sorted(widths)
    last: Any = None
    for frame in container.decode(stream):
        seconds = _frame_seconds(frame, stream)
        last = frame
        while pending and seconds + 1e-6 >= pending[0]:
            t = pending.pop(0)
            frames[t] = _frame_image(frame, widths[t])
        if not pending:
            break
    if last is not None:  # times past the last frame (durations round up): use the last one
        for t in pending:
            frames[t] = _frame_image(last, widths[t])
    return frames


def _frames_by_seeking(container: Any, stream: Any, widths: dict[float, int]) -> dict[float, Image]:
    frames: dict[float, Image] = {}
    time_base: Fraction = stream.time_base
    start = stream.start_time or 0
    for t in sorted(widths):
        container.seek(start + int(t / time_base), stream=stream, backward=True, any_frame=False)
        chosen: Any = None
        for frame in container.decode(stream):
            chosen = frame
            if _frame_seconds(frame, stream) + 1e-6 >= t:
                break
        if chosen is not None:
            frames[t] = _frame_image(chosen, widths[t])
    return frames


def _nearest(frames: dict[float, Image], t: float) -> float:
    return min(frames, key=lambda k: abs(k - t))


def _scaled(image: Image, max_width: int) -> Image:
    if image.width <= max_width:
        return image
    height = max(1, round(image.height * max_width / image.width))
    return image.resize((max_width, height))


def _contact_sheet(images: list[Image]) -> Image:
    from PIL import Image as PILImage

    columns = 3 if len(images) > 4 else 2
    rows = math.ceil(len(images) / columns)
    thumbs = [_scaled(image, SHEET_THUMB_WIDTH) for image in images]
    cell_w = max(t.width for t in thumbs)
    cell_h = max(t.height for t in thumbs)
    gap = 4
    sheet = PILImage.new("RGB", (columns * cell_w + (columns - 1) * gap, rows * cell_h + (rows - 1) * gap))
    for i, thumb in enumerate(thumbs):
        x = (i % columns) * (cell_w + gap) + (cell_w - thumb.width) // 2
        y = (i // columns) * (cell_h + gap) + (cell_h - thumb.height) // 2
        sheet.paste(thumb, (x, y))
    return sheet


def _jpeg(image: Image, *, quality: int) -> bytes:
    buffer = io.BytesIO()
    # `convert` copies even an image already in RGB (every frame and sheet here is).
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    rgb.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
