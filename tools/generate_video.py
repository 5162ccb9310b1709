"""`generate_video`: text-to-video, or image-to-video when a start frame is given."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from seedance_mcp.server import pricing
from seedance_mcp.server.errors import InputError
from seedance_mcp.server.inputs import CheckedInputs, check_frames
from seedance_mcp.server.model_facts import Mode
from seedance_mcp.server.video_sources import continue_from as last_frame_of
from seedance_mcp.tools.flow import generate, model_arguments, oxen_only
from seedance_mcp.tools.guard import GenerateVideoApproval
from seedance_mcp.tools.params import (
    AspectRatioParam,
    ContinueFromParam,
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
from seedance_mcp.tools.results import ToolContext, VideoJobResult, app_state, tool_errors, with_note

NAME = "generate_video"
TITLE = "Generate a video (Seedance 2.0)"
DESCRIPTION = """Generate a video with ByteDance Seedance 2.0 from a text prompt (text-to-video), or \
animate a still image when `image_url` is given (image-to-video; `end_image_url` optionally fixes the \
last frame). For the next shot of a film, pass `continue_from` with the previous job id: the new clip \
starts on that video's last frame; then join the shots with stitch_videos.

Costs money: about $0.24/s at 720p on the fast tier ($1.21 for 5 s); call estimate_cost first when the \
user cares about price, and draft with duration "5" before longer clips. Takes 1-5 minutes: the call \
waits up to `wait_seconds` streaming progress, then returns a job_id — call check_status with it to keep \
waiting. When done, the result has the video URL, the saved file path, a poster frame and a contact sheet \
to look at. Images may be https URLs, data: URIs, or local file paths (uploaded for you)."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

ImageUrlParam = Annotated[
    str | None,
    Field(
        description=(
            "Start frame for image-to-video: an https URL, a data: URI, or a local file path. "
            "JPEG, PNG, WebP, GIF or AVIF, at most 30 MB. Omit for text-to-video."
        )
    ),
]
EndImageUrlParam = Annotated[
    str | None,
    Field(description="Optional end frame (same formats as image_url); needs image_url."),
]


async def generate_video(
    ctx: ToolContext,
    approval: GenerateVideoApproval,  # hidden; the user's OK above SEEDANCE_CONFIRM_ABOVE_USD
    prompt: PromptParam,
    image_url: ImageUrlParam = None,
    end_image_url: EndImageUrlParam = None,
    continue_from: ContinueFromParam = None,
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
        start = None
        if continue_from:
            if image_url:
                raise InputError(
                    "continue_from",
                    "gives the start frame, and so does image_url; pass only one of them",
                )
            start = await last_frame_of(
                continue_from, field="continue_from", journal=state.jobs.journal, settings=state.settings
            )
            image_url = str(start.image)
        if end_image_url and not image_url:
            raise InputError(
                "end_image_url",
                "an end frame needs a start frame: also pass image_url, or drop end_image_url",
            )
        chosen_tier = tier or state.settings.default_tier
        mode: Mode = "image-to-video" if image_url else "text-to-video"
        checked = (
            await check_frames(
                prompt,
                image_url,
                end_image_url,
                allowed_dirs=start.allowed_dirs if start else state.settings.allowed_dirs,
            )
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
        answer = await generate(
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
        return with_note(answer, start.description) if start else answer
