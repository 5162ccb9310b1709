"""`estimate_cost`: the price of a generation before making it, from the documented token formula."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from seedance_mcp.server.errors import InputError
from seedance_mcp.server.generation import GenerationRequest
from seedance_mcp.server.model_facts import VIDEO_SECONDS_MAX, VIDEO_SECONDS_MIN
from seedance_mcp.tools.generate_video import EndImageUrlParam, ImageUrlParam
from seedance_mcp.tools.params import (
    AspectRatioParam,
    DurationParam,
    GenerateAudioParam,
    ResolutionParam,
    TierParam,
)
from seedance_mcp.tools.reference_video import AudioUrlsParam, ImageUrlsParam, VideoUrlsParam
from seedance_mcp.tools.results import ToolContext, app_state, tool_errors

NAME = "estimate_cost"
TITLE = "Estimate the price of a video"
DESCRIPTION = """Price a generate_video or reference_video call before making it, with the breakdown: \
tokens = width x height x (input video seconds + output seconds) x 24 / 1024, times the tier's rate per \
1,000 tokens, times 0.6 when reference videos are given. Pass the same parameters you would pass to the \
generating tool: the media are checked as that tool checks them (refused the same way; URL videos \
measured), but nothing is uploaded or submitted, and it is free. When duration or aspect_ratio is \
"auto", or a URL video cannot be measured (give input_video_seconds to pin it), the answer is a range."""
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
            ge=VIDEO_SECONDS_MIN,
            le=VIDEO_SECONDS_MAX,
            description=(
                f"Combined seconds of the reference videos ({VIDEO_SECONDS_MIN:g}-{VIDEO_SECONDS_MAX:g}), "
                "for URLs that cannot be measured. Local files and readable URLs are measured. Omit for a "
                "range over the allowed 2-15 s."
            ),
        ),
    ] = None,
) -> CostEstimate:
    state = app_state(ctx)
    async with tool_errors():
        chosen_tier = tier or state.settings.default_tier
        is_reference = bool(image_urls or video_urls or audio_urls)
        if is_reference and (image_url or end_image_url):
            frame = "image_url" if image_url else "end_image_url"
            raise InputError(
                frame,
                f"{frame} belongs to generate_video and image_urls/video_urls/audio_urls to reference_video; "
                "no single call takes both. Price one tool's arguments at a time.",
            )
        request = GenerationRequest(
            tool="reference_video" if is_reference else "generate_video",
            prompt=prompt or "",
            tier=chosen_tier,
            resolution=resolution,
            duration=duration,
            aspect_ratio=aspect_ratio,
            generate_audio=generate_audio,
            image_url=image_url,
            end_image_url=end_image_url,
            image_urls=tuple(image_urls or ()),
            video_urls=tuple(video_urls or ()),
            audio_urls=tuple(audio_urls or ()),
            stated_video_seconds=input_video_seconds,
        )
        mode = request.mode
        quote = await state.generations.price(request)
        est = quote.total
        seconds = est.input_video_seconds
        open_ends = [
            name
            for name, is_open in (
                ("duration is auto (4-15 s)", duration == "auto"),
                ("aspect_ratio is auto (any of six sizes)", aspect_ratio == "auto"),
                ("reference video length unknown (2-15 s)", seconds[0] != seconds[1]),
            )
            if is_open
        ]
        note = ("A range because " + "; ".join(open_ends) + ".") if est.is_range else "An exact price."
        note += " Audio on or off costs the same."
        note += "".join(f" {text}" for text in quote.notes)  # e.g. a URL that could not be measured
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
