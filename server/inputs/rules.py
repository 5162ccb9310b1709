"""What each media parameter accepts, and the messages that say so when an input breaks a rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..catalogue.facts import (
    AUDIO_FORMATS,
    FRAME_IMAGE_FORMATS,
    MAX_AUDIO_BYTES,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_TOTAL_BYTES,
    REFERENCE_IMAGE_FORMATS,
    VIDEO_FORMATS,
    VIDEO_PIXELS_MAX,
    VIDEO_PIXELS_MIN,
)
from ..errors import InputError
from ..media.probe import KIND, UNSUPPORTED, MediaInfo, MediaKind


@dataclass(frozen=True)
class Rules:
    kind: MediaKind
    formats: tuple[str, ...]
    max_bytes: int  # per file; videos are limited in total, so a single one may use the whole budget
    what: str  # "reference image", "start frame", ...
    param: str
    many: bool = True  # the parameter is a list of inputs (a frame is one)


def names(formats: Sequence[str]) -> str:
    shown = [{"jpeg": "JPEG", "webp": "WebP"}.get(f, f.upper()) for f in formats]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]


def mb(size: float) -> str:
    return f"{size / 1_000_000:.1f} MB" if size % 1_000_000 else f"{size / 1_000_000:.0f} MB"


IMAGE = Rules("image", REFERENCE_IMAGE_FORMATS, MAX_IMAGE_BYTES, "reference image", "image_urls")
VIDEO = Rules("video", VIDEO_FORMATS, MAX_VIDEO_TOTAL_BYTES, "reference video", "video_urls")
AUDIO = Rules("audio", AUDIO_FORMATS, MAX_AUDIO_BYTES, "reference audio clip", "audio_urls")
# The seeds give no size limit for start and end frames; the reference images' 30 MB is the safe bet.
START = Rules("image", FRAME_IMAGE_FORMATS, MAX_IMAGE_BYTES, "start frame", "image_url", many=False)
END = Rules("image", FRAME_IMAGE_FORMATS, MAX_IMAGE_BYTES, "end frame", "end_image_url", many=False)


_FORMAT_KIND: Final[dict[str, str]] = {
    **KIND,
    "heic": "image",
    "bmp": "image",
    "tiff": "image",
    "webm": "video",
    "avi": "video",
    "3gp": "video",
    "m4a": "audio",
    "ogg": "audio",
    "flac": "audio",
    "pdf": "document",
}


def describe(fmt: str) -> str:
    if fmt in UNSUPPORTED:
        return UNSUPPORTED[fmt]
    return f"{names([fmt])} {KIND[fmt]}"


def a_or_an(noun: str) -> str:
    return f"an {noun}" if noun[0].lower() in "aeiou" else f"a {noun}"


_PLURAL: Final = {"image": "images", "video": "videos", "audio": "audio"}


def wrong_format_message(statement: str, fmt: str, rules: Rules) -> str:
    """`statement` says what the input is ("x.gif is a GIF image"); the rest says what is accepted."""
    kind = _FORMAT_KIND.get(fmt, "file")
    accepted = f"{rules.what}s must be {names(rules.formats)}"
    if kind != rules.kind:
        other = {"image": "image_urls", "video": "video_urls", "audio": "audio_urls"}.get(kind)
        move = f" Pass it in {other} instead." if other and rules.param.endswith("_urls") else ""
        return f"{statement}, but {rules.param} takes {_PLURAL[rules.kind]}: {accepted}.{move}"
    if fmt == "gif" and rules.param == "image_urls":
        fix = "Convert it to PNG or JPEG, or use it as the start frame of generate_video (image_url)."
    else:
        fix = f"Convert it to {names(rules.formats)}."
    return f"{statement}; {accepted}. {fix}"


def too_big_message(subject: str, size: int, rules: Rules) -> str:
    if rules.kind == "video":
        return (
            f"{subject} {mb(size)}; reference videos must total under {mb(rules.max_bytes)}. "
            "Trim or re-encode it at a lower bitrate."
        )
    fix = (
        "Compress it (e.g. save as JPEG) or scale it down."
        if rules.kind == "image"
        else "Shorten or compress it."
    )
    return f"{subject} {mb(size)}; {rules.what}s may be at most {mb(rules.max_bytes)} each. {fix}"


def check_info(field: str, info: MediaInfo, rules: Rules, shown: str) -> None:
    if info.kind != rules.kind or info.format not in rules.formats:
        raise InputError(
            field,
            wrong_format_message(f"{shown} is {a_or_an(describe(info.format))}", info.format, rules),
        )
    if info.kind == "video":
        pixels = info.pixels or 0
        if not VIDEO_PIXELS_MIN <= pixels <= VIDEO_PIXELS_MAX:
            fix = (
                "Re-encode it at 720p or below, e.g. 1280×720 or 720×1280."
                if pixels > VIDEO_PIXELS_MAX
                else "Use a larger video, at least 480p, e.g. 854×480 or 640×640."
            )
            raise InputError(
                field,
                f"{shown} is {info.width}×{info.height} ({pixels:,} pixels); reference videos must have "
                f"between {VIDEO_PIXELS_MIN:,} (~480p) and {VIDEO_PIXELS_MAX:,} (~720p) pixels. {fix}",
            )
    if info.kind in ("video", "audio") and not info.duration:
        raise InputError(
            field, f"{shown} has no readable duration; export it again as {names(rules.formats)}"
        )
