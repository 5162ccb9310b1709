"""`reference_video`: a prompt guided by up to 9 images, 3 videos and 3 audio clips."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from seedance_mcp.server import pricing
from seedance_mcp.server.inputs import check_references
from seedance_mcp.server.model_facts import (
    MAX_AUDIOS,
    MAX_IMAGES,
    MAX_VIDEOS,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
)
from seedance_mcp.tools.flow import generate, model_arguments, oxen_only
from seedance_mcp.tools.guard import ReferenceVideoApproval
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

NAME = "reference_video"
TITLE = "Video from reference media (Seedance 2.0)"
DESCRIPTION = """Make a video guided by up to 9 images, 3 videos and 3 audio clips, named in the prompt \
in the order given as @Image1, @Video1, @Audio1..., e.g. "The character from @Image1 dances like @Video1 \
to @Audio1". For consistent characters, motion transfer, editing or extending clips. Media: URLs, \
data: URIs or local paths. Costs money: about $0.24/s at 720p fast; reference videos make it \
0.6x but their seconds count, so call estimate_cost first. Takes 1-5 min: waits up to `wait_seconds`, \
then returns a job_id for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

ImageUrlsParam = Annotated[
    list[str] | None,
    Field(description=(f"@Image1...: up to {MAX_IMAGES} JPEG, PNG or WebP, at most 30 MB each.")),
]
VideoUrlsParam = Annotated[
    list[str] | None,
    Field(
        description=(
            f"@Video1...: up to {MAX_VIDEOS} MP4 or MOV, {VIDEO_SECONDS_MIN:g}-{VIDEO_SECONDS_MAX:g} s "
            "together, under 50 MB in all, each ~480p to ~720p."
        )
    ),
]
AudioUrlsParam = Annotated[
    list[str] | None,
    Field(
        description=(
            f"@Audio1...: up to {MAX_AUDIOS} MP3 or WAV, at most 15 s together, 15 MB each; "
            "needs a reference image or video."
        )
    ),
]


async def reference_video(
    ctx: ToolContext,
    approval: ReferenceVideoApproval,  # hidden; the user's OK above SEEDANCE_CONFIRM_ABOVE_USD
    prompt: PromptParam,
    image_urls: ImageUrlsParam = None,
    video_urls: VideoUrlsParam = None,
    audio_urls: AudioUrlsParam = None,
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
        chosen_tier = tier or state.settings.default_tier
        checked = await check_references(
            prompt,
            image_urls or [],
            video_urls or [],
            audio_urls or [],
            allowed_dirs=state.settings.allowed_dirs,
        )
        video_seconds = pricing.reference_video_seconds(checked.input_video_seconds) if video_urls else 0.0
        estimate = pricing.estimate(
            tier=chosen_tier,
            resolution=resolution,
            duration=duration,
            aspect_ratio=aspect_ratio,
            input_video_seconds=video_seconds,
            has_video_input=bool(video_urls),
        )
        arguments = model_arguments(
            prompt=prompt,
            image_urls=image_urls,
            video_urls=video_urls,
            audio_urls=audio_urls,
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
            mode="reference-to-video",
            tier=chosen_tier,
            arguments=arguments,
            checked=checked,
            estimate=estimate,
            wait_seconds=state.settings.wait_seconds if wait_seconds is None else wait_seconds,
            count=num_generations,
            approval=approval,
        )
