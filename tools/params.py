"""The documented parameters of Seedance 2.0, stated once.

Source: the fal.ai model pages for `bytedance/seedance-2.0/*` and Oxen.ai's reference-to-video page
(`shared/seeds/`). Every tool builds its input schema from these aliases, so an enum or a limit
changes in one place.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

from pydantic import Field

Resolution = Literal["480p", "720p"]
Duration = Literal["auto", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"]
AspectRatio = Literal["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]
Tier = Literal["standard", "fast"]
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

PromptParam = Annotated[
    str,
    Field(
        min_length=1,
        description=(
            "Scene description. Be specific about subjects, actions, camera moves, lighting and mood. "
            'Put spoken dialogue in double quotes for lip-synced audio: The man said: "Remember this moment."'
        ),
    ),
]
ResolutionParam = Annotated[
    Resolution,
    Field(description='Video resolution: "480p" (faster, cheaper) or "720p". Default "720p".'),
]
DurationParam = Annotated[
    Duration,
    Field(
        description=(
            'Length in seconds as a string, "4" through "15", or "auto" to let the model decide. '
            'Default "auto". Price scales with seconds: start with "5" to iterate cheaply.'
        )
    ),
]
AspectRatioParam = Annotated[
    AspectRatio,
    Field(
        description=(
            'Aspect ratio: "16:9" landscape, "9:16" portrait, "1:1" square, "21:9" ultrawide, "4:3", "3:4", '
            'or "auto" to let the model choose from the inputs. Default "auto".'
        )
    ),
]
GenerateAudioParam = Annotated[
    bool,
    Field(
        description=(
            "Generate synchronized audio (sound effects, ambience, lip-synced speech). "
            "Default true. Costs the same either way."
        )
    ),
]
SeedParam = Annotated[
    int | None,
    Field(description="Random seed for reproducibility; results may still vary slightly. Omit for random."),
]
EndUserIdParam = Annotated[
    str | None,
    Field(description="Unique id of your end customer; required for fal B2B access, otherwise omit."),
]
TierParam = Annotated[
    Tier | None,
    Field(
        description=(
            'Endpoint tier: "fast" (lower latency and cost, same quality per fal) or "standard". '
            "Omit to use the server's default (SEEDANCE_DEFAULT_TIER)."
        )
    ),
]
WaitSecondsParam = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description=(
            "Seconds to wait for the video before returning a job_id (0-600; 0 returns at once). "
            "Omit for the server's default (SEEDANCE_WAIT_SECONDS, 45). Hosts often cut calls at 60 s."
        ),
    ),
]

# Oxen.ai-only parameters (Oxen's reference-to-video page); refused when the provider is fal.
OXEN_ONLY_PARAMS: Final = ("num_generations", "response_format", "target_namespace")
MAX_GENERATIONS: Final = 4
ResponseFormat = Literal["url", "b64_json"]

NumGenerationsParam = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_GENERATIONS,
        description=(
            "Oxen.ai only: how many videos to make from this one request (1-4). Each is its own job, "
            "charged separately; the answer lists them all. Default 1. Refused on fal."
        ),
    ),
]
ResponseFormatParam = Annotated[
    ResponseFormat | None,
    Field(
        description=(
            'Oxen.ai only: "url" or "b64_json" uses Oxen\'s blocking generate endpoint instead of its queue '
            "(the video is saved either way; cannot be cancelled; one video only). Omit to use the queue. "
            "Refused on fal."
        )
    ),
]
TargetNamespaceParam = Annotated[
    str | None,
    Field(
        min_length=1,
        description=(
            "Oxen.ai only: the namespace (your user or an organization) to save results in and bill to. "
            "Omit for the key's own user. Refused on fal."
        ),
    ),
]
