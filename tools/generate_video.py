"""`generate_video`: text-to-video, or image-to-video when a start frame is given."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from seedance_mcp.server import pricing
from seedance_mcp.server.errors import InputError
from seedance_mcp.server.inputs import CheckedInputs, check_frames
from seedance_mcp.server.model_facts import Mode
from seedance_mcp.tools.flow import generate, model_arguments, oxen_only
from seedance_mcp.tools.guard import GenerateVideoApproval
from seedance_mcp.tools.params import (
    AspectRatioParam,
    DurationParam,
    EndUserIdParam,
    GenerateAudioParam,
    NumGenerationsParam,
    PromptParam,
    ResolutionParam,
    ResponseFormatParam,
    SeedParam,
    TargetNamespaceParam,
    TierParam,
    WaitSecondsParam,
)
from seedance_mcp.tools.results import ToolContext, VideoJobResult, app_state, tool_errors

NAME = "generate_video"
TITLE = "Generate a video (Seedance 2.0)"
DESCRIPTION = """Make a video with Seedance 2.0 from a text prompt, or animate `image_url` (an https \
URL, data: URI or local path; `end_image_url` fixes the last frame). Costs money: about $0.24/s at 720p \
fast ($1.21 for 5 s); use estimate_cost when price matters, draft with duration "5". Takes 1-5 min: waits \
up to `wait_seconds` with progress, then returns a job_id for check_status. Done: video URL, saved file, \
poster and contact sheet."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

ImageUrlParam = Annotated[
    str | None,
    Field(
        description=(
            "Start frame (image-to-video): JPEG, PNG, WebP, GIF or AVIF, at most 30 MB. "
            "Omit for text-to-video."
        )
    ),
]
EndImageUrlParam = Annotated[
    str | None,
    Field(description="End frame, as image_url; needs image_url."),
]


async def generate_video(
    ctx: ToolContext,
    approval: GenerateVideoApproval,  # hidden; the user's OK above SEEDANCE_CONFIRM_ABOVE_USD
    prompt: PromptParam,
    image_url: ImageUrlParam = None,
    end_image_url: EndImageUrlParam = None,
    resolution: ResolutionParam = "720p",
    duration: DurationParam = "auto",
    aspect_ratio: AspectRatioParam = "auto",
    generate_audio: GenerateAudioParam = True,
    seed: SeedParam = None,
    end_user_id: EndUserIdParam = None,
    tier: TierParam = None,
    wait_seconds: WaitSecondsParam = None,
    num_generations: NumGenerationsParam = 1,
    response_format: ResponseFormatParam = None,
    target_namespace: TargetNamespaceParam = None,
) -> Annotated[CallToolResult, VideoJobResult]:
    state = app_state(ctx)
    async with tool_errors():
        oxen_arguments = oxen_only(
            state.provider_name,
            num_generations=num_generations,
            response_format=response_format,
            target_namespace=target_namespace,
        )
        if end_image_url and not image_url:
            raise InputError(
                "end_image_url",
                "an end frame needs a start frame: also pass image_url, or drop end_image_url",
            )
        chosen_tier = tier or state.settings.default_tier
        mode: Mode = "image-to-video" if image_url else "text-to-video"
        checked = (
            await check_frames(prompt, image_url, end_image_url, allowed_dirs=state.settings.allowed_dirs)
            if image_url
            else CheckedInputs(inputs=(), warnings=(), input_video_seconds=None)
        )
        estimate = pricing.estimate(
            tier=chosen_tier, resolution=resolution, duration=duration, aspect_ratio=aspect_ratio
        )
        arguments = model_arguments(
            prompt=prompt,
            image_url=image_url,
            end_image_url=end_image_url,
            resolution=resolution,
            duration=duration,
            aspect_ratio=aspect_ratio,
            generate_audio=generate_audio,
            seed=seed,
            end_user_id=end_user_id,
            **oxen_arguments,
        )
        return await generate(
            ctx,
            state,
            tool=NAME,
            mode=mode,
            tier=chosen_tier,
            arguments=arguments,
            checked=checked,
            estimate=estimate,
            wait_seconds=state.settings.wait_seconds if wait_seconds is None else wait_seconds,
            count=num_generations,
            approval=approval,
        )
