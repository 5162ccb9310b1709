"""`generate_video`: text-to-video, or image-to-video when a start frame is given."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..server.catalogue.endpoints import default_tier
from ..server.errors import InputError
from ..server.generation.drafts import FIELD as FINISH
from ..server.generation.drafts import finish_request
from ..server.generation.service import GenerationRequest
from ..server.media.finished_videos import StartFrame, last_frame_of
from ..server.state import AppState
from ..server.tool_listing import PROVIDER_KEY
from .confirmation import SpendApproval, SpendConfirmation, confirm
from .job_card import BOUND
from .params import declare, generating_fields
from .preparing import PreparedCall, submit_prepared
from .results import ToolContext, VideoJobResult, app_state, tool_errors

NAME = "generate_video"
TITLE = "Generate a video (Seedance 2.0)"
DESCRIPTION = """A video from a text prompt, or animating `image_url` (URL, data: URI or path). A \
film's next shot: `continue_from` the last job id, then stitch_videos. Costs money: ~$0.24/s at 720p \
fast ($1.21 for 5 s); see estimate_cost. Drafts: tier "mini"; model "2.5" draft + \
finish_draft. 1080p: tier "standard"; over 15 s: model "2.5". Takes 1-5 min: waits `wait_seconds`, \
then returns a job_id for check_status."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
META = BOUND  # hosts with MCP Apps show the answer in the job card
FinishDraftParam = Annotated[
    str | None,
    Field(description="Draft's job id: its full take.", json_schema_extra={PROVIDER_KEY: "fal"}),
]
FIELDS = [*generating_fields(NAME), (FINISH, FinishDraftParam, None)]
# A finish's own arguments besides those its endpoint takes; any other given a value is refused, as the
# finish keeps the draft's (frames, duration, framing, seed, ...) and ignoring it would mislead.
FINISH_OWN = ("prompt", "model", "tier", "wait_seconds", FINISH)


async def prepare_generate_video(ctx: ToolContext, **arguments: Any) -> PreparedCall:
    """The call made ready once (see tools/preparing.py): its start frame, request, media and price."""
    state = app_state(ctx)
    if arguments[FINISH]:
        return await _prepare_finish(ctx, arguments)
    async with tool_errors():
        start = await _start_frame(state, arguments["continue_from"], arguments["image_url"])
        values = {**arguments, "image_url": str(start.image)} if start else arguments
        framed = bool(values.get("image_url"))
        request = GenerationRequest.of(
            NAME,
            family=arguments["model"],
            tier=arguments["tier"] or default_tier(arguments["model"], state.settings.default_tier),
            mode="image-to-video" if framed else "text-to-video",
            values=values,
        )
        prepared = await state.generations.prepare(request)
    what = "image-to-video from your start frame" if framed else request.mode
    return PreparedCall(prepared, what, start.description if start else None)


declare(prepare_generate_video, FIELDS)


async def _prepare_finish(ctx: ToolContext, arguments: dict[str, Any]) -> PreparedCall:
    """A draft's finish, prepared like any call once the draft and the arguments allow it."""
    state = app_state(ctx)
    job_id = arguments[FINISH].strip()
    async with tool_errors():
        draft = await state.jobs.journal.get(job_id)
        request = finish_request(NAME, draft, job_id, arguments, provider=state.jobs.provider_label)
        assert draft is not None  # finish_request refuses an unknown job
        taken = {p.name for p in request.endpoint.params}
        for name, _, default in FIELDS:
            if name not in taken and name not in FINISH_OWN and arguments[name] not in (None, default):
                raise InputError(name, f"a finish keeps its draft's {name}; drop {name}, or make a new draft")
        if arguments["prompt"].strip() != str(draft.arguments.get("prompt", "")).strip():
            raise InputError("prompt", f"a finish keeps its draft's prompt; pass {job_id}'s prompt unchanged")
        prepared = await state.generations.prepare(request)
    note = f"The full-size take of draft {job_id}: its prompt, seed, duration and framing."
    return PreparedCall(prepared, f"finish of draft {job_id}", note)


async def confirm_generate_video(
    ctx: ToolContext, call: Annotated[PreparedCall, Resolve(prepare_generate_video)]
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Resolver of the hidden approval: the prepared call's quote, asked about when it must be."""
    return await confirm(ctx, call.prepared, call.what)


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
    call: Annotated[PreparedCall, Resolve(prepare_generate_video)],  # hidden; the call made ready
    approval: Annotated[SpendApproval, Resolve(confirm_generate_video)],  # hidden; the user's OK to spend
    **arguments: Any,
) -> Annotated[CallToolResult, VideoJobResult]:
    return await submit_prepared(ctx, call, approval, arguments["wait_seconds"])


declare(generate_video, FIELDS)
