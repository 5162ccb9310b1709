"""`check_status`: where a job is, optionally waiting for it to finish."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from .confirm_spend import HELD_PREFIX
from .connections import PerConnection
from .job_card import BOUND
from .params import WaitSecondsParam
from .results import ToolContext, VideoJobResult, answer, app_state, tool_errors
from .waiting import wait

NAME = "check_status"
TITLE = "Check a video job"
DESCRIPTION = """A job's state by job_id: queued (position), running (logs), completed (video URL, saved \
file, poster, contact sheet), failed (error, fix) or cancelled. Waits up to `wait_seconds` (0: just \
look). Works for earlier sessions' jobs. Free."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
META = BOUND  # hosts with MCP Apps show the answer in the job card
PREVIEWS_SENT = (
    "The poster and contact sheet went with an earlier answer about this job; the saved file has the video."
)
_previews_sent: PerConnection[set[str]] = PerConnection(set)  # job ids whose images this host has


async def check_status(
    ctx: ToolContext,
    job_id: Annotated[str, Field(min_length=1, description="The job_id a generating tool returned.")],
    wait_seconds: WaitSecondsParam = None,
) -> Annotated[CallToolResult, VideoJobResult]:
    state = app_state(ctx)
    if job_id.startswith(HELD_PREFIX):
        raise ToolError(
            f"{job_id} is a request waiting for the user's Generate in the job card, not a job yet. When "
            "they press it, the card tells you the job id; list_jobs lists the job once it is made."
        )
    async with tool_errors():
        timeout = state.settings.wait_seconds if wait_seconds is None else wait_seconds
        record = await wait(ctx, state, job_id, timeout)
        answered = await answer(record, state)
    if record.state != "completed":
        return answered
    sent = _previews_sent.get(ctx.session)
    if sent is None or record.id not in sent:
        if sent is not None:
            sent.add(record.id)
        return answered
    # Sent to this host with an earlier answer: the images again would only fill the conversation.
    kept = [block for block in answered.content if not isinstance(block, ImageContent)]
    if len(kept) < len(answered.content):
        kept.append(TextContent(type="text", text=PREVIEWS_SENT))
    return answered.model_copy(update={"content": kept})
