"""`reference_video`: a prompt guided by up to 9 images, 3 videos and 3 audio clips."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations

from ..server.catalogue.endpoints import default_tier
from ..server.generation.service import GenerationRequest
from ..server.media.finished_videos import last_frame_of
from .confirmation import SpendApproval, SpendConfirmation, confirm
from .job_card import BOUND
from .params import declare, generating_fields
from .preparing import PreparedCall, submit_prepared
from .results import ToolContext, VideoJobResult, app_state, tool_errors

NAME = "reference_video"
TITLE = "Video from reference media (Seedance 2.0)"
DESCRIPTION = """A video guided by up to 9 images, 3 videos, 3 audio clips (model "2.5": 12, 5, 5; \
URLs, data: URIs or paths), named in the prompt in order: @Image1, @Video1, @Audio1. `continue_from` \
adds a job's last frame as the last image. Costs money: ~$0.24/s at 720p fast, 0.6x with reference \
videos (their seconds count): call estimate_cost first. Takes 1-5 min: waits `wait_seconds`, then \
returns a job_id for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
META = BOUND  # hosts with MCP Apps show the answer in the job card
FIELDS = generating_fields(NAME)
KINDS = (("image_urls", "image"), ("video_urls", "video"), ("audio_urls", "audio clip"))


async def prepare_reference_video(ctx: ToolContext, **arguments: Any) -> PreparedCall:
    """The call made ready once (see tools/preparing.py); a continued shot's last frame is added after
    the reference images."""
    state = app_state(ctx)
    async with tool_errors():
        values = dict(arguments)
        start = None
        if arguments["continue_from"]:
            start = await last_frame_of(
                arguments["continue_from"], journal=state.jobs.journal, settings=state.settings
            )
            values["image_urls"] = [*(arguments["image_urls"] or []), str(start.image)]
        request = GenerationRequest.of(
            NAME,
            family=arguments["model"],
            tier=arguments["tier"] or default_tier(arguments["model"], state.settings.default_tier),
            mode="reference-to-video",
            values=values,
        )
        prepared = await state.generations.prepare(request)
    counts = ", ".join(
        f"{len(items)} {noun}{'s' if len(items) > 1 else ''}"
        for items, noun in ((request.media(name), noun) for name, noun in KINDS)
        if items
    )
    note = f"@Image{len(request.media('image_urls'))} is the {start.frame}" if start else None
    return PreparedCall(prepared, f"reference-to-video ({counts or 'no references'})", note)


declare(prepare_reference_video, FIELDS)


async def confirm_reference_video(
    ctx: ToolContext, call: Annotated[PreparedCall, Resolve(prepare_reference_video)]
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Resolver of the hidden approval: the prepared call's quote, asked about when it must be."""
    return await confirm(ctx, call.prepared, call.what)


async def reference_video(
    ctx: ToolContext,
    call: Annotated[PreparedCall, Resolve(prepare_reference_video)],  # hidden; the call made ready
    approval: Annotated[SpendApproval, Resolve(confirm_reference_video)],  # hidden; the user's OK to spend
    **arguments: Any,
) -> Annotated[CallToolResult, VideoJobResult]:
    return await submit_prepared(ctx, call, approval, arguments["wait_seconds"])


declare(reference_video, FIELDS)
