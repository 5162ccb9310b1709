"""The limits on the inputs of one request together: counts, total size and durations."""

from __future__ import annotations

from ..catalogue.declaration import MediaLimits
from ..catalogue.endpoints import LIMITS_2_0
from ..catalogue.facts import (
    AUDIO_SECONDS_MAX,
    MAX_VIDEO_TOTAL_BYTES,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
)
from ..errors import InputError
from .checked import MediaInput
from .rules import mb


def check_counts(
    images: list[str], videos: list[str], audios: list[str], limits: MediaLimits = LIMITS_2_0
) -> None:
    """The counts `limits` (the endpoint's) allow; Seedance 2.0's when not given."""
    for values, limit, noun, param in (
        (images, limits.max_images, "image", "image_urls"),
        (videos, limits.max_videos, "video", "video_urls"),
        (audios, limits.max_audios, "audio clip", "audio_urls"),
    ):
        if len(values) > limit:
            extra = len(values) - limit
            raise InputError(
                param,
                f"Too many reference {noun}s: {len(values)} given, the limit is {limit}. "
                f"Remove {extra} {noun}{'s' if extra > 1 else ''}.",
            )
    total = len(images) + len(videos) + len(audios)
    if total > limits.max_files:
        extra = total - limits.max_files
        raise InputError(
            "image_urls+video_urls+audio_urls",
            f"Too many input files: {total} given, and images, videos and audio together may not exceed "
            f"{limits.max_files}. Remove {extra} file{'s' if extra > 1 else ''}.",
        )
    if audios and not images and not videos:
        raise InputError(
            "audio_urls",
            "Audio requires at least one image or video: add a reference image (image_urls) or video "
            "(video_urls), or drop audio_urls.",
        )
    for param, values in (("image_urls", images), ("video_urls", videos), ("audio_urls", audios)):
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise InputError(
                    f"{param}[{i}]", "is empty: give an https:// URL, a data: URI or a file path"
                )


def check_combined(inputs: list[MediaInput]) -> float | None:
    videos = [i for i in inputs if i.kind == "video"]
    audios = [i for i in inputs if i.kind == "audio"]
    local_videos = [i.info for i in videos if i.info is not None]
    video_bytes = sum(info.size_bytes for info in local_videos)
    if video_bytes >= MAX_VIDEO_TOTAL_BYTES:
        raise InputError(
            "video_urls",
            f"the reference videos total {mb(video_bytes)}; together they must be under "
            f"{mb(MAX_VIDEO_TOTAL_BYTES)}. Trim them or re-encode at a lower bitrate.",
        )
    video_seconds = sum(info.duration or 0.0 for info in local_videos)
    all_local = len(local_videos) == len(videos)
    if video_seconds > VIDEO_SECONDS_MAX or (videos and all_local and video_seconds < VIDEO_SECONDS_MIN):
        fix = (
            f"Trim them to {VIDEO_SECONDS_MAX:g} s in total."
            if video_seconds > VIDEO_SECONDS_MAX
            else f"Use clips at least {VIDEO_SECONDS_MIN:g} s long in total."
        )
        which = "reference videos" if all_local else "local reference videos alone"
        raise InputError(
            "video_urls",
            f"the {which} last {video_seconds:.1f} s together; their combined duration must be "
            f"between {VIDEO_SECONDS_MIN:g} and {VIDEO_SECONDS_MAX:g} s. {fix}",
        )
    audio_seconds = sum(i.info.duration or 0.0 for i in audios if i.info is not None)
    if audio_seconds > AUDIO_SECONDS_MAX:
        raise InputError(
            "audio_urls",
            f"the reference audio lasts {audio_seconds:.1f} s in total; combined it may be at most "
            f"{AUDIO_SECONDS_MAX:g} s. Trim the clips to {AUDIO_SECONDS_MAX:g} s together.",
        )
    return round(video_seconds, 3) if all_local else None
