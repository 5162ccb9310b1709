"""`generate_video`: text-to-video, or image-to-video when a start frame is given."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..server.catalogue.facts import Tier
from ..server.errors import InputError, SeedanceError
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

NAME = "generate_video"
TITLE = "Generate a video (Seedance 2.0)"
DESCRIPTION = """Make a video with Seedance 2.0 from a text prompt, or animate `image_url` (URL, data: \
URI or local path). Next shot of a film: `continue_from` the previous job id, then stitch_videos. Costs \
money: about $0.24/s at 720p fast ($1.21 for 5 s); use estimate_cost when price matters, draft with \
duration "5". Takes 1-5 min: waits up to `wait_seconds`, then returns a job_id for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
META = BOUND  # hosts with MCP Apps show the answer in the job card

ImageUrlParam = Annotated[
    str | None,
    Field(description=("Start frame: JPEG, PNG, WebP, GIF or AVIF, at most 30 MB.")),
]
EndImageUrlParam = Annotated[
    str | None,
    Field(description="End frame, as image_url; needs image_url."),
]


def _request(
    state: AppState,
    prompt: str,
    image_url: str | None,
    end_image_url: str | None,
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
        image_url=image_url,
        end_image_url=end_image_url,
        oxen=OxenOptions(num_generations, response_format, target_namespace),
    )


async def confirm_generate_video(
    ctx: ToolContext,
    prompt: str,
    image_url: str | None,
    end_image_url: str | None,
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
        start = await _start_frame(state, continue_from, image_url)
    except SeedanceError:  # the tool body refuses with the same error and its fix
        return SpendConfirmation.decided("over_limit")
    request = _request(
        state,
        prompt,
        str(start.image) if start else image_url,
        end_image_url,
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
    return await confirm(
        ctx, request, "image-to-video from your start frame" if request.image_url else request.mode
    )


async def _start_frame(
    state: AppState, continue_from: str | None, image_url: str | None
) -> StartFrame | None:
    """The start frame `continue_from` stands for, refused when image_url gives one too."""
    if not continue_from:
        return None
    if image_url:
        raise InputError(
            "continue_from", "gives the start frame, and so does image_url; pass only one of them"
        )
    return await last_frame_of(continue_from, journal=state.jobs.journal, settings=state.settings)


async def generate_video(
    ctx: ToolContext,
    approval: Annotated[SpendApproval, Resolve(confirm_generate_video)],  # hidden; the user's OK to spend
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
        start = await _start_frame(state, continue_from, image_url)
        request = _request(
            state,
            prompt,
            str(start.image) if start else image_url,
            end_image_url,
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
        return with_note(answer, start.description) if start else answer
