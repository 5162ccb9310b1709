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
from seedance_mcp.server.video_sources import continue_from as last_frame_of
from seedance_mcp.tools.flow import generate, model_arguments, oxen_only
from seedance_mcp.tools.guard import ReferenceVideoApproval
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

NAME = "reference_video"
TITLE = "Generate a video from reference images, videos and audio (Seedance 2.0)"
DESCRIPTION = """Generate a video guided by reference media: up to 9 images, 3 videos and 3 audio clips \
(12 files in all). Refer to them in the prompt as @Image1..@Image9, @Video1..@Video3, @Audio1..@Audio3 \
(numbered in the order given), e.g. "The character from @Image1 performs the dance from @Video1 to the \
beat of @Audio1". Use it for character or product consistency, motion transfer, editing a clip \
("replace the bottle in @Video1 with the jar from @Image1, keep all motion") or extending one. \
`continue_from` (a job id or local video) adds that video's last frame as the last reference image.

Media may be https URLs, data: URIs, or local file paths (checked and uploaded for you). Costs money: \
about $0.24/s at 720p fast; with reference videos the price is 0.6x but counts their seconds too — call \
estimate_cost first. Takes 1-5 minutes: waits up to `wait_seconds` with progress, then returns a job_id \
for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

ImageUrlsParam = Annotated[
    list[str] | None,
    Field(
        description=(
            "Reference images (@Image1, @Image2, ...): JPEG, PNG or WebP, at most 30 MB each, "
            f"up to {MAX_IMAGES}. https URLs, data: URIs or local paths."
        )
    ),
]
VideoUrlsParam = Annotated[
    list[str] | None,
    Field(
        description=(
            f"Reference videos (@Video1, ...): MP4 or MOV, up to {MAX_VIDEOS}, combined duration "
            f"{VIDEO_SECONDS_MIN:g}-{VIDEO_SECONDS_MAX:g} s, total under 50 MB, each between ~480p (640x640) "
            "and ~720p (834x1112) in pixels."
        )
    ),
]
AudioUrlsParam = Annotated[
    list[str] | None,
    Field(
        description=(
            f"Reference audio (@Audio1, ...): MP3 or WAV, up to {MAX_AUDIOS}, combined at most 15 s, "
            "at most 15 MB each. Needs at least one reference image or video."
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
        chosen_tier = tier or state.settings.default_tier
        start = None
        if continue_from:  # the last frame joins the reference images, after the ones given
            start = await last_frame_of(
                continue_from, field="continue_from", journal=state.jobs.journal, settings=state.settings
            )
            image_urls = [*(image_urls or []), str(start.image)]
        checked = await check_references(
            prompt,
            image_urls or [],
            video_urls or [],
            audio_urls or [],
            allowed_dirs=start.allowed_dirs if start else state.settings.allowed_dirs,
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
        answer = await generate(
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
        if start is None:
            return answer
        return with_note(answer, f"@Image{len(image_urls or [])} is the {start.frame}")
