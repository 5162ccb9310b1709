"""The catalogue: every provider endpoint the server can call, each fact with where it was read.

One entry per endpoint (family × tier × mode). Parameters shared by several endpoints are declared
once below and composed into the entries; an endpoint that differs (another range, another price)
gets its own variant here. The numbers of the Seedance 2.0 documents live in `model_facts` (sources
in its docstring) and are cited from here.

Reading it: `ENDPOINTS` in order; `endpoint(family, tier, mode)` for one; `PARAMS` for every request
parameter the tools can take, in the order the tools list them.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Final

from . import facts
from .declaration import (
    Drafts,
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
# Issue 24's field notes (December 2026); each to be confirmed by `seedance-mcp doctor --models`.
READ_FIELD = "2026-12-07"
FAL_R2V_1080 = Source(
    "https://fal.ai/models/bytedance/seedance-2.0/reference-to-video ('Output up to 1080p'); sizes from a "
    "third-party audit of fal's queue schemas",
    READ_FIELD,
    third_party=True,
)
AUDIT = Source("a third-party audit of fal's queue schemas (issue 24)", READ_FIELD, third_party=True)
MINI = Source(
    "public code calling bytedance/seedance-2.0/mini/* on fal and integrators' price quotes (issue 24)",
    READ_FIELD,
    third_party=True,
)
SEEDANCE_2_5 = Source(
    "third-party listings of bytedance/seedance-2.5/* on fal (issue 24)", READ_FIELD, third_party=True
)
DRAFT_LISTING = Source(
    "a third-party listing of Seedance 2.5 on fal: draft mode, finished through "
    "bytedance/seedance-2.5/draft/complete within 7 days (issue 24)",
    READ_FIELD,
    third_party=True,
)

FAMILIES: Final = ("2.0", "2.5")
TIERS: Final = ("standard", "fast", "mini")
MODES: Final = ("text-to-video", "image-to-video", "reference-to-video")
FINISH_MODE: Final = "finish-draft"  # a draft made again at full resolution (Seedance 2.5)

# --- parameters ---------------------------------------------------------------------------------------

PROMPT = Param(
    "prompt",
    "text",
    'The scene: subjects, action, camera, light, mood; "quoted" speech is lip-synced.',
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
    'Seconds ("auto": model picks; billed as the most).',
    FAL_T2V,
    values=facts.DURATIONS,
    default="auto",
    price_note='"auto" gives a range.',
)
ASPECT_RATIO = Param(
    "aspect_ratio",
    "choice",
    '"auto": the model chooses.',
    FAL_T2V,
    values=facts.ASPECT_RATIOS,
    default="auto",
    price_note='"auto" gives a range.',
)
GENERATE_AUDIO = Param(
    "generate_audio",
    "boolean",
    "Sound and speech; same price.",
    FAL_T2V,
    default=True,
    price_note="same price either way.",
)
SEED = Param(
    "seed",
    "integer",
    "Repeatable result (roughly).",
    OURS,  # the seeds type it as a bare integer; a signed 32-bit non-negative one every provider takes
    minimum=facts.SEED_MIN,
    maximum=facts.SEED_MAX,
)
END_USER_ID = Param("end_user_id", "text", "Your end customer's id (B2B).", FAL_T2V, providers=("fal",))
BITRATE_MODE = Param(
    "bitrate_mode",
    "choice",
    '"high": crisper, larger file.',
    AUDIT,
    values=("standard", "high"),
    default="standard",
    providers=("fal",),
)
# Seedance 2.5's drafts: a cheap take to look at first, finished later by the finish endpoint. fal's
# schema defaults `draft` to false; left at that it is not sent (see `GenerationRequest.arguments`).
DRAFT = Param(
    "draft",
    "boolean",
    "480p try; then finish_draft.",
    DRAFT_LISTING,
    default=False,
    providers=("fal",),
)
DRAFT_ID = Param("draft_id", "text", "The draft to finish.", DRAFT_LISTING, minimum=1, required=True)
RESOLUTION_FINISHED = dataclasses.replace(
    RESOLUTION, values=("720p", "1080p"), description="Of the finished take.", source=DRAFT_LISTING
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
    "Blocking call: one video, not cancellable.",
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

SETTINGS: Final = (RESOLUTION, DURATION, ASPECT_RATIO, GENERATE_AUDIO, SEED, BITRATE_MODE, END_USER_ID)
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


# 1080p on the standard 2.0 tier and on 2.5 (fal's reference-to-video page; sizes third party).
SIZES_1080P: Final = MappingProxyType(
    {
        "21:9": (2206, 946),
        "16:9": (1920, 1080),
        "4:3": (1664, 1248),
        "1:1": (1440, 1440),
        "3:4": (1248, 1664),
        "9:16": (1080, 1920),
    }
)
SIZES_UP_TO_1080P: Final = MappingProxyType({**facts.OUTPUT_SIZE, "1080p": SIZES_1080P})
RESOLUTION_1080P = dataclasses.replace(
    RESOLUTION,
    values=(*facts.RESOLUTIONS, "1080p"),
    description='"480p" is cheapest; "1080p" dearest.',
    source=FAL_R2V_1080,
)
SECONDS_2_5: Final = (4, 30)
DURATION_2_5 = dataclasses.replace(
    DURATION,
    values=("auto", *(str(s) for s in range(SECONDS_2_5[0], SECONDS_2_5[1] + 1))),
    source=SEEDANCE_2_5,
)
LIMITS_2_5 = dataclasses.replace(
    LIMITS_2_0, max_images=12, max_videos=5, max_audios=5, max_files=20, source=SEEDANCE_2_5
)
PRICE_MINI = TokenPrice(0.007, 0.155, MINI, note="quoted $0.072/s at 480p")
PRICE_2_5 = TokenPrice(0.0214, None, SEEDANCE_2_5)


def _fal_id(family: str, tier: str, mode: str) -> str:
    app = f"bytedance/seedance-{family}"
    return f"{app}/{mode}" if tier == "standard" else f"{app}/{tier}/{mode}"


def _oxen_id(family: str, tier: str, mode: str) -> str:
    dashed = family.replace(".", "-")
    return f"bytedance-seedance-{dashed}-{'' if tier == 'standard' else tier + '-'}{mode}"


def _seedance_2_0(tier: str, mode: str) -> Endpoint:
    wide = tier == "standard"  # 1080p on the standard tier only
    fal_only = tier == "mini"  # Oxen serves the standard and fast tiers
    ids = (
        {"fal": _fal_id("2.0", tier, mode)}
        if fal_only
        else {
            "fal": _fal_id("2.0", tier, mode),
            "oxen": _oxen_id("2.0", tier, mode),
        }
    )
    resolution = RESOLUTION_1080P if wide else RESOLUTION
    settings = tuple(resolution if p is RESOLUTION else p for p in SETTINGS)
    return Endpoint(
        family="2.0",
        tier=tier,
        mode=mode,
        ids=MappingProxyType(ids),
        params=(PROMPT, *MODE_MEDIA[mode], *settings, *PROVIDER_OPTIONS),
        output_sizes=SIZES_UP_TO_1080P if wide else facts.OUTPUT_SIZE,
        limits=LIMITS_2_0,
        price=PRICE_MINI if tier == "mini" else PRICE_2_0[tier],
        sources=(
            FAL_T2V,
            FAL_R2V,
            FAL_FAST_R2V,
            OXEN_R2V,
            *((FAL_R2V_1080,) if wide else ()),
            *((MINI,) if fal_only else ()),
        ),
        auto_seconds=(facts.MIN_SECONDS, facts.MAX_SECONDS),
    )


DRAFTS_2_5 = Drafts(resolution="480p", days=7, finish=("2.5", "standard", FINISH_MODE), source=DRAFT_LISTING)


def _seedance_2_5(mode: str) -> Endpoint:
    """Seedance 2.5 on fal: one tier, clips of 4-30 s, more references, up to 1080p, drafts."""
    swap = {"resolution": RESOLUTION_1080P, "duration": DURATION_2_5}
    return Endpoint(
        family="2.5",
        tier="standard",
        mode=mode,
        ids=MappingProxyType({"fal": _fal_id("2.5", "standard", mode)}),
        params=(PROMPT, *MODE_MEDIA[mode], *(swap.get(p.name, p) for p in SETTINGS), DRAFT),
        output_sizes=SIZES_UP_TO_1080P,
        limits=LIMITS_2_5,
        price=PRICE_2_5,
        sources=(SEEDANCE_2_5, DRAFT_LISTING),
        auto_seconds=SECONDS_2_5,
        drafts=DRAFTS_2_5,
    )


# The finish of a 2.5 draft: the draft's prompt, seed, duration and framing at full resolution, billed
# as a full take of that duration and framing (the finish request names only the draft).
FINISH_2_5 = Endpoint(
    family="2.5",
    tier="standard",
    mode=FINISH_MODE,
    ids=MappingProxyType({"fal": "bytedance/seedance-2.5/draft/complete"}),
    params=(DRAFT_ID, RESOLUTION_FINISHED, END_USER_ID),
    output_sizes=SIZES_UP_TO_1080P,
    limits=LIMITS_2_5,
    price=PRICE_2_5,
    sources=(DRAFT_LISTING,),
    auto_seconds=SECONDS_2_5,
)

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    *(_seedance_2_0(tier, mode) for tier in TIERS for mode in MODES),
    *(_seedance_2_5(mode) for mode in MODES),
    FINISH_2_5,
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
    DRAFT,
    *PROVIDER_OPTIONS,
)


PROVIDER_NAMES = {"fal": "fal", "oxen": "Oxen"}


def api_of(provider: str) -> str:
    """Whose endpoints and parameters a provider setting means: the simulator serves fal's API."""
    return "oxen" if provider == "oxen" else "fal"


def tiers_of(family: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.tier for e in ENDPOINTS if e.family == family))


def default_tier(family: str, preferred: str) -> str:
    """`preferred` (the server's default tier) where the family has it, else the family's first tier."""
    tiers = tiers_of(family)
    return preferred if preferred in tiers else tiers[0]


def endpoint(family: str, tier: str, mode: str) -> Endpoint | None:
    """The entry for a family, tier and mode; None when no provider serves that combination."""
    return _BY_KEY.get((family, tier, mode))


def served_id(provider: str, family: str, tier: str, mode: str) -> str:
    """The id `provider` ("fal" or "oxen") serves a family, tier and mode under; ValueError if none."""
    entry = endpoint(family, tier, mode)
    served = entry.id_for(provider) if entry is not None else None
    if served is None:
        raise ValueError(f"{PROVIDER_NAMES[provider]} serves no Seedance {family} {tier} {mode}")
    return served


def endpoint_with_id(provider_id: str) -> Endpoint | None:
    """The entry a provider's endpoint id or model name belongs to (a journaled job's `endpoint`)."""
    return next((e for e in ENDPOINTS if provider_id in e.ids.values()), None)


def endpoints_for(modes: tuple[str, ...]) -> tuple[Endpoint, ...]:
    return tuple(e for e in ENDPOINTS if e.mode in modes)


def param(name: str) -> Param:
    return next(p for p in PARAMS if p.name == name)


def counting_param() -> Param:
    """The parameter whose value is how many jobs one call makes."""
    return next(p for p in PARAMS if p.counts_jobs)
