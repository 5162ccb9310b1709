"""Seedance 2.0 as documented: enums, output sizes, input limits, formats. Stated once.

Source: the fal.ai model pages for `bytedance/seedance-2.0/*` and Oxen.ai's reference-to-video page
(`shared/seeds/`). Tools, pricing, providers, resources and the simulator all read these names, so an
enum or a limit changes in one place.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Resolution = Literal["480p", "720p"]
Duration = Literal["auto", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"]
AspectRatio = Literal["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]
Tier = Literal["standard", "fast", "mini"]  # the catalogue's tiers (endpoints.TIERS)
Mode = Literal["text-to-video", "image-to-video", "reference-to-video"]

RESOLUTIONS: Final[tuple[str, ...]] = get_args(Resolution)
DURATIONS: Final[tuple[str, ...]] = get_args(Duration)
ASPECT_RATIOS: Final[tuple[str, ...]] = get_args(AspectRatio)
FIXED_ASPECT_RATIOS: Final[tuple[str, ...]] = ASPECT_RATIOS[1:]
MIN_SECONDS, MAX_SECONDS = 4, 15

# What "auto" becomes when a number is needed (the simulator's output; never a price: prices give a range).
AUTO_SECONDS: Final = 5
AUTO_ASPECT_RATIO: Final = "16:9"

# Output width × height by resolution and aspect ratio (the seeds' "Supported resolutions" table).
OUTPUT_SIZE: Final[dict[str, dict[str, tuple[int, int]]]] = {
    "480p": {
        "21:9": (992, 432),
        "16:9": (864, 496),
        "4:3": (752, 560),
        "1:1": (640, 640),
        "3:4": (560, 752),
        "9:16": (496, 864),
    },
    "720p": {
        "21:9": (1470, 630),
        "16:9": (1280, 720),
        "4:3": (1112, 834),
        "1:1": (960, 960),
        "3:4": (834, 1112),
        "9:16": (720, 1280),
    },
}

# Reference-to-video input limits (fal's reference-to-video page, Oxen's "Reference Media Limits").
MAX_IMAGES: Final = 9
MAX_VIDEOS: Final = 3
MAX_AUDIOS: Final = 3
MAX_FILES: Final = 12
MAX_IMAGE_BYTES: Final = 30 * 1000 * 1000
MAX_AUDIO_BYTES: Final = 15 * 1000 * 1000
MAX_VIDEO_TOTAL_BYTES: Final = 50 * 1000 * 1000
VIDEO_SECONDS_MIN, VIDEO_SECONDS_MAX = 2.0, 15.0
AUDIO_SECONDS_MAX: Final = 15.0
VIDEO_PIXELS_MIN: Final = 640 * 640  # "~480p (640x640)"
VIDEO_PIXELS_MAX: Final = 834 * 1112  # "~720p (834x1112)"
REFERENCE_IMAGE_FORMATS: Final = ("jpeg", "png", "webp")
FRAME_IMAGE_FORMATS: Final = ("jpeg", "png", "webp", "gif", "avif")
VIDEO_FORMATS: Final = ("mp4", "mov")
AUDIO_FORMATS: Final = ("mp3", "wav")

# The seeds type `seed` as a bare integer; a signed 32-bit non-negative seed is what every provider and our
# journal (SQLite integers) certainly accept.
SEED_MIN, SEED_MAX = 0, 2**31 - 1

MAX_GENERATIONS: Final = 4  # videos one Oxen.ai call may make (its reference-to-video page)
