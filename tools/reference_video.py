"""`reference_video`: a prompt guided by up to 9 images, 3 videos and 3 audio clips."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from seedance_mcp.server.errors import SeedanceError
from seedance_mcp.server.generation import GenerationRequest, OxenOptions
from seedance_mcp.server.model_facts import (
    MAX_AUDIOS,
    MAX_IMAGES,
    MAX_VIDEOS,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
    Tier,
)
from seedance_mcp.server.state import AppState
from seedance_mcp.server.video_sources import StartFrame, last_frame_of
from seedance_mcp.tools.confirmation import SpendApproval, SpendConfirmation, confirm, consent_of
from seedance_mcp.tools.job_card import BOUND
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
from seedance_mcp.tools.waiting import answer_submitted

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
META = BOUND  # hosts with MCP Apps show the answer in the job card

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


def _request(
    state: AppState,
    prompt: str,
    image_urls: list[str] | None,
    video_urls: list[str] | None,
    audio_urls: list[str] | None,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    generate_audio: bool,
    seed: int | None,
    end_user_id: str | None,
    tier: Tier | None,
    num_generations: int,
    response_format: str | None,
    target_namespace: str | None,
) -> GenerationRequest:
    return GenerationRequest(
        tool=NAME,
        prompt=prompt,
        tier=tier or state.settings.default_tier,
        resolution=resolution,
        duration=duration,
        aspect_ratio=aspect_ratio,
        generate_audio=generate_audio,
        seed=seed,
        end_user_id=end_user_id,
        image_urls=tuple(image_urls or ()),
        video_urls=tuple(video_urls or ()),
        audio_urls=tuple(audio_urls or ()),
        oxen=OxenOptions(num_generations, response_format, target_namespace),
    )


async def confirm_reference_video(
    ctx: ToolContext,
    prompt: str,
    image_urls: list[str] | None,
    video_urls: list[str] | None,
    audio_urls: list[str] | None,
    continue_from: str | None,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    generate_audio: bool,
    seed: int | None,
    end_user_id: str | None,
    tier: Tier | None,
    num_generations: int,
    response_format: str | None,
    target_namespace: str | None,
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Resolver of the hidden approval: the request the tool will make, priced the same way."""
    state = app_state(ctx)
    try:
        start = await _start_frame(state, continue_from)
    except SeedanceError:  # the tool body refuses with the same error and its fix
        return SpendConfirmation.decided("over_limit")
    request = _request(
        state,
        prompt,
        _with_frame(image_urls, start),
        video_urls,
        audio_urls,
        resolution,
        duration,
        aspect_ratio,
        generate_audio,
        seed,
        end_user_id,
        tier,
        num_generations,
        response_format,
        target_namespace,
    )
    counts = ", ".join(
        f"{len(items)} {name}{'s' if len(items) > 1 else ''}"
        for name, items in (
            ("image", request.image_urls),
            ("video", request.video_urls),
            ("audio clip", request.audio_urls),
        )
        if items
    )
    return await confirm(ctx, request, f"reference-to-video ({counts or 'no references'})")


async def _start_frame(state: AppState, continue_from: str | None) -> StartFrame | None:
    if not continue_from:
        return None
    return await last_frame_of(continue_from, journal=state.jobs.journal, settings=state.settings)


def _with_frame(image_urls: list[str] | None, start: StartFrame | None) -> list[str] | None:
    """The reference images with a continued video's last frame after them."""
    return [*(image_urls or []), str(start.image)] if start else image_urls


async def reference_video(
    ctx: ToolContext,
    approval: Annotated[SpendApproval, Resolve(confirm_reference_video)],  # hidden; the user's OK to spend
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
        start = await _start_frame(state, continue_from)
        request = _request(
            state,
            prompt,
            _with_frame(image_urls, start),
            video_urls,
            audio_urls,
            resolution,
            duration,
            aspect_ratio,
            generate_audio,
            seed,
            end_user_id,
            tier,
            num_generations,
            response_format,
            target_namespace,
        )
        submitted = await state.generations.submit(request, consent_of(approval))
        wait = state.settings.wait_seconds if wait_seconds is None else wait_seconds
        answer = await answer_submitted(ctx, state, submitted, wait)
        if start is None:
            return answer
        return with_note(answer, f"@Image{len(request.image_urls)} is the {start.frame}")
