"""`estimate_cost`: the price of a generation before making it, from the documented token formula."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from seedance_mcp.server import pricing
from seedance_mcp.server.inputs import check_references
from seedance_mcp.server.model_facts import VIDEO_SECONDS_MAX, AspectRatio, Duration, Resolution, Tier
from seedance_mcp.tools.results import ToolContext, app_state, tool_errors

NAME = "estimate_cost"
TITLE = "Estimate the price of a video"
DESCRIPTION = """Price a generate_video or reference_video call without making it: pass the same \
arguments. Answers the price with its token breakdown, or a min-max range when duration or aspect_ratio \
is "auto" or reference video URLs have no input_video_seconds. Free."""
# The generating tools' arguments, described once there (the model has read them): same types, short words.
_AS_IN_GENERATE = Field(description="As in generate_video.")
_AS_IN_REFERENCE = Field(description="As in reference_video.")
ImageUrlParam = Annotated[str | None, _AS_IN_GENERATE]
EndImageUrlParam = Annotated[str | None, _AS_IN_GENERATE]
ImageUrlsParam = Annotated[list[str] | None, _AS_IN_REFERENCE]
VideoUrlsParam = Annotated[
    list[str] | None,
    Field(description="As in reference_video; local files are measured, URLs need input_video_seconds."),
]
AudioUrlsParam = Annotated[list[str] | None, _AS_IN_REFERENCE]
ResolutionParam = Annotated[Resolution, _AS_IN_GENERATE]
DurationParam = Annotated[Duration, Field(description='As in generate_video; "auto" gives a range.')]
AspectRatioParam = Annotated[AspectRatio, Field(description='As in generate_video; "auto" gives a range.')]
GenerateAudioParam = Annotated[bool, Field(description="As in generate_video; same price either way.")]
TierParam = Annotated[Tier | None, _AS_IN_GENERATE]

ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class CostEstimate(BaseModel):
    usd: float | None = Field(description="The price, or null when only a range can be known.")
    min_usd: float
    max_usd: float
    is_range: bool
    summary: str
    tier: Literal["standard", "fast"]
    mode: str
    resolution: str
    sizes: list[str] = Field(description="Output width x height options considered.")
    output_seconds: list[int] = Field(description="[min, max] output seconds considered.")
    input_video_seconds: list[float] = Field(description="[min, max] reference video seconds counted.")
    tokens: list[int] = Field(description="[min, max] billed tokens.")
    usd_per_1k_tokens: float
    multiplier: float = Field(description="0.6 with reference videos, else 1.")
    formula: str
    source: str
    note: str


async def estimate_cost(
    ctx: ToolContext,
    prompt: Annotated[str | None, Field(description="Optional; the price does not depend on it.")] = None,
    image_url: ImageUrlParam = None,
    end_image_url: EndImageUrlParam = None,
    image_urls: ImageUrlsParam = None,
    video_urls: VideoUrlsParam = None,
    audio_urls: AudioUrlsParam = None,
    resolution: ResolutionParam = "720p",
    duration: DurationParam = "auto",
    aspect_ratio: AspectRatioParam = "auto",
    generate_audio: GenerateAudioParam = True,
    tier: TierParam = None,
    input_video_seconds: Annotated[
        float | None,
        Field(
            ge=0,
            le=VIDEO_SECONDS_MAX,
            description=(
                "Combined seconds of reference video URLs; omit for a range over the allowed 2-15 s."
            ),
        ),
    ] = None,
) -> CostEstimate:
    state = app_state(ctx)
    async with tool_errors():
        chosen_tier = tier or state.settings.default_tier
        is_reference = bool(image_urls or video_urls or audio_urls)
        mode = "reference-to-video" if is_reference else "image-to-video" if image_url else "text-to-video"
        seconds: float | tuple[float, float] = 0.0
        if video_urls:
            if input_video_seconds is not None:
                seconds = input_video_seconds
            else:
                checked = await check_references(
                    prompt or "",
                    image_urls or [],
                    video_urls,
                    audio_urls or [],
                    allowed_dirs=state.settings.allowed_dirs,
                )
                seconds = pricing.reference_video_seconds(checked.input_video_seconds)
        est = pricing.estimate(
            tier=chosen_tier,
            resolution=resolution,
            duration=duration,
            aspect_ratio=aspect_ratio,
            input_video_seconds=seconds,
            has_video_input=bool(video_urls),
        )
        open_ends = [
            name
            for name, is_open in (
                ("duration is auto (4-15 s)", duration == "auto"),
                ("aspect_ratio is auto (any of six sizes)", aspect_ratio == "auto"),
                (
                    "reference video length unknown (2-15 s)",
                    isinstance(seconds, tuple) and seconds[0] != seconds[1],
                ),
            )
            if is_open
        ]
        note = ("A range because " + "; ".join(open_ends) + ".") if est.is_range else "An exact price."
        note += " Audio on or off costs the same."
        if state.settings.simulated:
            note += " The server is on the simulator now: real runs need a key; simulated runs cost nothing."
        return CostEstimate(
            usd=est.usd,
            min_usd=est.min_usd,
            max_usd=est.max_usd,
            is_range=est.is_range,
            summary=f"{est.describe()} ({chosen_tier} {mode}, {resolution})",
            tier=chosen_tier,
            mode=mode,
            resolution=resolution,
            sizes=[f"{w}x{h}" for w, h in est.sizes],
            output_seconds=list(est.output_seconds),
            input_video_seconds=list(est.input_video_seconds),
            tokens=[est.min_tokens, est.max_tokens],
            usd_per_1k_tokens=est.rate.usd_per_1k_tokens,
            multiplier=est.multiplier,
            formula="tokens = width x height x (input video s + output s) x 24 / 1024; "
            "usd = tokens / 1000 x rate x multiplier",
            source=est.rate.source,
            note=note,
        )
