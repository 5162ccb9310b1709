"""What the film tools (`stitch_videos`, `continue_from`) take: checked from the container's facts
(header and index) before a single frame is decoded, so a file that claims hours or gigapixels costs
a probe, not the machine. The README and the tool descriptions quote these numbers."""

from __future__ import annotations

from typing import Final

from ..errors import InputError
from ..media.probe import MediaInfo

MAX_INPUT_SIDE: Final = 4096  # pixels, either side of a clip as displayed
MAX_INPUT_PIXELS: Final = 3840 * 2160  # 4K UHD: far above any Seedance output (1080p at most)
MAX_CLIP_SECONDS: Final = 120.0  # one clip; Seedance makes 4-15 s
MAX_CLIPS: Final = 50  # one film; memory does not grow with the count, time does
MAX_FILM_SECONDS: Final = 600.0  # the stitched film, after crossfades
# A start frame taken from a clip is scaled (while decoding) to fit this box: the largest frame any
# Seedance endpoint takes as an image input would gain nothing from more.
START_FRAME_BOX: Final = (1920, 1920)

# For tool descriptions (kept short: every host reads the whole tool list).
LIMITS_TEXT: Final = (
    f"≤{MAX_CLIPS} clips of ≤4K, ≤{MAX_CLIP_SECONDS:g} s; film ≤{MAX_FILM_SECONDS / 60:g} min"
)


def check_clip(field: str, info: MediaInfo, shown: str) -> None:
    """Refuse a clip over the size or length limits, from its probed facts (nothing decoded)."""
    width, height = info.width or 0, info.height or 0
    if max(width, height) > MAX_INPUT_SIDE or width * height > MAX_INPUT_PIXELS:
        raise InputError(
            field,
            f"{shown} is {width}x{height}; the film tools take clips up to {MAX_INPUT_SIDE} px a side and "
            f"{MAX_INPUT_PIXELS:,} pixels (3840x2160). Scale it down (e.g. ffmpeg -vf scale=1920:-2) and "
            "pass the smaller copy",
        )
    if info.duration is not None and info.duration > MAX_CLIP_SECONDS:
        raise InputError(
            field,
            f"{shown} says it lasts {info.duration:.0f} s; the film tools take clips up to "
            f"{MAX_CLIP_SECONDS:g} s. Cut it shorter and pass the cut",
        )


def check_film_seconds(total: float) -> None:
    if total > MAX_FILM_SECONDS:
        raise InputError(
            "clips",
            f"the film would last {total:.0f} s; a film is at most {MAX_FILM_SECONDS:g} s "
            f"({MAX_FILM_SECONDS / 60:g} minutes). Stitch fewer or shorter clips",
        )


__all__ = [
    "LIMITS_TEXT",
    "MAX_CLIPS",
    "MAX_CLIP_SECONDS",
    "MAX_FILM_SECONDS",
    "MAX_INPUT_PIXELS",
    "MAX_INPUT_SIDE",
    "START_FRAME_BOX",
    "check_clip",
    "check_film_seconds",
]
