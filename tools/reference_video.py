"""`reference_video`: a prompt guided by up to 9 images, 3 videos and 3 audio clips."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..server.catalogue.facts import (
    MAX_AUDIOS,
    MAX_IMAGES,
    MAX_VIDEOS,
    VIDEO_SECONDS_MAX,
    VIDEO_SECONDS_MIN,
    Tier,
)
from ..server.errors import SeedanceError
from ..server.generation.service import GenerationRequest, OxenOptions
from ..server.media.finished_videos import StartFrame, last_frame_of
from ..server.state import AppState
from .confirmation import SpendApproval, SpendConfirmation, confirm, consent_of
from .job_card import BOUND
from .params import (
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
from .results import ToolContext, VideoJobResult, app_state, tool_errors, with_note
from .waiting import answer_submitted

NAME = "reference_video"
TITLE = "Video from reference media (Seedance 2.0)"
DESCRIPTION = """Make a video guided by up to 9 images, 3 videos and 3 audio clips (URLs, data: URIs or \
local paths), named in the prompt in order as @Image1, @Video1, @Audio1..., e.g. "The character from \
@Image1 dances like @Video1 to @Audio1": consistent characters, motion transfer, editing or extending \
clips. `continue_from` adds a job's last frame as the last image. Costs money: about $0.24/s at 720p \
fast, 0.6x with reference videos but their seconds count: call estimate_cost first. Takes 1-5 min: \
waits up to `wait_seconds`, then returns a job_id for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
META = BOUND  # hosts with MCP Apps show the answer in the job card

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
