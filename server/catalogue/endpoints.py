"""The catalogue: every provider endpoint the server can call, each fact with where it was read.

One entry per endpoint (family × tier × mode). Parameters shared by several endpoints are declared
once below and composed into the entries; an endpoint that differs (another range, another price)
gets its own variant here. The numbers of the Seedance 2.0 documents live in `model_facts` (sources
in its docstring) and are cited from here.

Reading it: `ENDPOINTS` in order; `endpoint(family, tier, mode)` for one; `PARAMS` for every request
parameter the tools can take, in the order the tools list them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from . import facts
from .declaration import (
    Endpoint,
    MediaLimits,
    Param,
    Source,
    TokenPrice,
)

# --- sources (the seeds were stored in this project on 2026-11-21) -----------------------------------

READ_SEEDS = "2026-11-21"
FAL_T2V = Source("https://fal.ai/models/bytedance/seedance-2.0/text-to-video/api", READ_SEEDS)
FAL_R2V = Source("https://fal.ai/models/bytedance/seedance-2.0/reference-to-video/api", READ_SEEDS)
FAL_FAST_R2V = Source("https://fal.ai/models/bytedance/seedance-2.0/fast/reference-to-video", READ_SEEDS)
OXEN_R2V = Source("https://docs.oxen.ai/examples/models/seedance-2-0-reference-to-video", READ_SEEDS)
OURS = Source("seedance-mcp (a bound of ours, not the vendor's)", READ_SEEDS)

FAMILIES: Final = ("2.0",)
TIERS: Final = ("standard", "fast")
MODES: Final = ("text-to-video", "image-to-video", "reference-to-video")

# --- parameters ---------------------------------------------------------------------------------------

PROMPT = Param(
    "prompt",
    "text",
    'The scene: subjects, action, camera, light, mood; "quoted" dialogue is lip-synced.',
    FAL_T2V,
    minimum=1,
    required=True,
)
IMAGE_URL = Param(
    "image_url",
    "media",
    "Start frame: JPEG, PNG, WebP, GIF or AVIF, at most 30 MB.",
    FAL_T2V,
    names=MappingProxyType({"oxen": "input_images"}),
    price_note="",
)
END_IMAGE_URL = Param(
    "end_image_url",
    "media",
    "End frame, as image_url; needs image_url.",
    FAL_T2V,
    names=MappingProxyType({"oxen": "input_images"}),
    price_note="",
)
IMAGE_URLS = Param(
    "image_urls",
    "media_list",
    f"@Image1...: up to {facts.MAX_IMAGES} JPEG, PNG or WebP, at most 30 MB each.",
    FAL_R2V,
    names=MappingProxyType({"oxen": "input_images"}),
    price_note="",
)
VIDEO_URLS = Param(
    "video_urls",
    "media_list",
    f"@Video1...: up to {facts.MAX_VIDEOS} MP4 or MOV, {facts.VIDEO_SECONDS_MIN:g}-"
    f"{facts.VIDEO_SECONDS_MAX:g} s together, under 50 MB in all, each ~480p to ~720p.",
    FAL_R2V,
    names=MappingProxyType({"oxen": "input_videos"}),
    price_note="",
)
AUDIO_URLS = Param(
    "audio_urls",
    "media_list",
    f"@Audio1...: up to {facts.MAX_AUDIOS} MP3 or WAV, at most 15 s together, 15 MB each; "
    "needs a reference image or video.",
    FAL_R2V,
    names=MappingProxyType({"oxen": "input_audios"}),
    price_note="",
)
RESOLUTION = Param(
    "resolution",
    "choice",
    '"480p" is faster and cheaper.',
    FAL_T2V,
    values=facts.RESOLUTIONS,
    default="720p",
    price_note="",
)
DURATION = Param(
    "duration",
    "choice",
    'Seconds ("auto": the model picks; billed as 15). Price scales with seconds: draft with "5".',
    FAL_T2V,
    values=facts.DURATIONS,
    default="auto",
    price_note='"auto" gives a range.',
)
ASPECT_RATIO = Param(
    "aspect_ratio",
    "choice",
    '"auto": the model chooses from the inputs.',
    FAL_T2V,
    values=facts.ASPECT_RATIOS,
    default="auto",
    price_note='"auto" gives a range.',
)
GENERATE_AUDIO = Param(
    "generate_audio",
    "boolean",
    "Sound and lip-synced speech; same price either way.",
    FAL_T2V,
    default=True,
    price_note="same price either way.",
)
SEED = Param(
    "seed",
    "integer",
    "Repeatable result (roughly); a new seed, a new take.",
    OURS,  # the seeds type it as a bare integer; a signed 32-bit non-negative one every provider takes
    minimum=facts.SEED_MIN,
    maximum=facts.SEED_MAX,
)
END_USER_ID = Param(
    "end_user_id", "text", "Your end customer's id (fal B2B only).", FAL_T2V, providers=("fal",)
)
# A provider's own options: listed and accepted only while that provider is active. Oxen.ai's are from
# its reference-to-video page.
NUM_GENERATIONS = Param(
    "num_generations",
    "integer",
    "Videos to make (each a job, charged).",
    OXEN_R2V,
    minimum=1,
    maximum=facts.MAX_GENERATIONS,
    default=1,
    providers=("oxen",),
    counts_jobs=True,
)
RESPONSE_FORMAT = Param(
    "response_format",
    "choice",
    "Blocking call, not the queue: one video, not cancellable.",
    OXEN_R2V,
    values=("url", "b64_json"),
    providers=("oxen",),
)
TARGET_NAMESPACE = Param(
    "target_namespace",
    "text",
    "Oxen user or org to bill; omit for yours.",
    OXEN_R2V,
    minimum=1,
    providers=("oxen",),
)

SETTINGS: Final = (RESOLUTION, DURATION, ASPECT_RATIO, GENERATE_AUDIO, SEED, END_USER_ID)
PROVIDER_OPTIONS: Final = (NUM_GENERATIONS, RESPONSE_FORMAT, TARGET_NAMESPACE)
MODE_MEDIA: Final = {
    "text-to-video": (),
    "image-to-video": (IMAGE_URL, END_IMAGE_URL),
    "reference-to-video": (IMAGE_URLS, VIDEO_URLS, AUDIO_URLS),
}

# --- limits, sizes and prices -------------------------------------------------------------------------

LIMITS_2_0 = MediaLimits(
    max_images=facts.MAX_IMAGES,
    max_videos=facts.MAX_VIDEOS,
    max_audios=facts.MAX_AUDIOS,
    max_files=facts.MAX_FILES,
    max_image_bytes=facts.MAX_IMAGE_BYTES,
    max_audio_bytes=facts.MAX_AUDIO_BYTES,
    max_video_total_bytes=facts.MAX_VIDEO_TOTAL_BYTES,
    video_seconds=(facts.VIDEO_SECONDS_MIN, facts.VIDEO_SECONDS_MAX),
    audio_seconds_max=facts.AUDIO_SECONDS_MAX,
    video_pixels=(facts.VIDEO_PIXELS_MIN, facts.VIDEO_PIXELS_MAX),
    source=FAL_R2V,
)
PRICE_2_0: Final = MappingProxyType(
    {
        "fast": TokenPrice(0.0112, 0.2419, FAL_FAST_R2V),
        # The fast page's token table lists $0.014 for the standard tier: $0.3024/s at 1280×720, a cent
        # off the $0.3034/s the text-to-video page quotes; we bill with the token rate fal says it charges.
        "standard": TokenPrice(
            0.014,
            0.3034,
            FAL_FAST_R2V,
            note="= $0.3024/s at 720p; the text-to-video page quotes $0.3034/s",
        ),
    }
)


def _fal_id(family: str, tier: str, mode: str) -> str:
    app = f"bytedance/seedance-{family}"
    return f"{app}/{mode}" if tier == "standard" else f"{app}/{tier}/{mode}"


def _oxen_id(family: str, tier: str, mode: str) -> str:
    dashed = family.replace(".", "-")
    return f"bytedance-seedance-{dashed}-{'' if tier == 'standard' else tier + '-'}{mode}"


def _seedance_2_0(tier: str, mode: str) -> Endpoint:
    return Endpoint(
        family="2.0",
        tier=tier,
        mode=mode,
        ids=MappingProxyType({"fal": _fal_id("2.0", tier, mode), "oxen": _oxen_id("2.0", tier, mode)}),
        params=(PROMPT, *MODE_MEDIA[mode], *SETTINGS, *PROVIDER_OPTIONS),
        output_sizes=facts.OUTPUT_SIZE,
        limits=LIMITS_2_0,
        price=PRICE_2_0[tier],
        sources=(FAL_T2V, FAL_R2V, FAL_FAST_R2V, OXEN_R2V),
        auto_seconds=(facts.MIN_SECONDS, facts.MAX_SECONDS),
    )


ENDPOINTS: Final[tuple[Endpoint, ...]] = tuple(
    _seedance_2_0(tier, mode) for tier in ("fast", "standard") for mode in MODES
)
_BY_KEY: Final = {e.key: e for e in ENDPOINTS}

# Every request parameter, in the order tools list them: media, then settings, then one provider's own.
PARAMS: Final[tuple[Param, ...]] = (
    PROMPT,
    IMAGE_URL,
    END_IMAGE_URL,
    IMAGE_URLS,
    VIDEO_URLS,
    AUDIO_URLS,
    *SETTINGS,
    *PROVIDER_OPTIONS,
)


def api_of(provider: str) -> str:
    """Whose endpoints and parameters a provider setting means: the simulator serves fal's API."""
    return "oxen" if provider == "oxen" else "fal"


def endpoint(family: str, tier: str, mode: str) -> Endpoint | None:
    """The entry for a family, tier and mode; None when no provider serves that combination."""
    return _BY_KEY.get((family, tier, mode))


def endpoints_for(modes: tuple[str, ...]) -> tuple[Endpoint, ...]:
    return tuple(e for e in ENDPOINTS if e.mode in modes)


def param(name: str) -> Param:
    return next(p for p in PARAMS if p.name == name)


def counting_param() -> Param:
    """The parameter whose value is how many jobs one call makes."""
    return next(p for p in PARAMS if p.counts_jobs)
