"""`follow_job`: the job card's own tool (visibility `app`), a job's state waiting briefly for news.

The card (`tools/job_card.py`) keeps following a job after the host's tool call returned by calling
this tool; hosts hide it from the model, and clients that did not negotiate MCP Apps are not shown it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from ..server.jobs.manager import SETTLED
from ..server.journal.api import JobRecord
from ..server.state import AppState
from .job_card import FOLLOW_META, FOLLOW_NAME, refuse_without_apps
from .results import ToolContext, VideoJobResult, answer, app_state, tool_errors

NAME = FOLLOW_NAME
TITLE = "Follow a video job (card)"
DESCRIPTION = "For the job card only: a job's state, waiting briefly for it to end."
ANNOTATIONS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
META = FOLLOW_META

MAX_SECONDS = 20.0  # short: the card polls again, and hosts end long calls
STEP_SECONDS = 1.0  # how often a follow call looks for news
TYPICAL_OF = 20  # recent finished jobs the card's "usually takes" is the median of


class CardRequest(BaseModel):
    """What the job was asked for, so the card can show it and ask for it again with a new seed."""

    tool: str
    prompt: str | None = None
    resolution: str | None = None
    duration: str | None = None
    again: dict[str, Any] = Field(description="Arguments for the same tool that repeat the job (minus seed).")


class JobCardResult(VideoJobResult):
    """`check_status`'s result plus the job's request."""

    # Inlined like VideoJobResult.video: some hosts do not resolve $ref in tool schemas.
    request: Annotated[
        CardRequest | None,
        WithJsonSchema({"anyOf": [CardRequest.model_json_schema(), {"type": "null"}]}),
    ] = None
    typical_seconds: float | None = Field(
        default=None, description="While the job runs: how long this server's recent jobs took (median)."
    )
    saved_as: str | None = Field(default=None, description="video_path as people write it (~ for home).")


async def follow_job(
    ctx: ToolContext,
    job_id: Annotated[str, Field(min_length=1, description="The job the card shows.")],
    wait_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=MAX_SECONDS,
            description="Wait up to this long for news.",
        ),
    ] = 5.0,
) -> Annotated[CallToolResult, JobCardResult]:
    refuse_without_apps(ctx, NAME)
    state = app_state(ctx)
    async with tool_errors():  # check_status's answer, but back as soon as the card has news
        record = await state.jobs.get(job_id)
        shown = _shown(record)
        deadline = anyio.current_time() + wait_seconds
        while record.state not in SETTLED and _shown(record) == shown and anyio.current_time() < deadline:
            step_end = min(deadline, anyio.current_time() + STEP_SECONDS)
            # Not flow.wait: a card that closes (its call cancelled) must not cancel the job.
            record = await state.jobs.wait(job_id, step_end - anyio.current_time())
            if record.state not in SETTLED:
                await anyio.sleep_until(step_end)  # back early only when nobody follows the job
        return await card_answer(record, state)


async def card_answer(record: JobRecord, state: AppState) -> CallToolResult:
    """`check_status`'s answer for the card, with what the job asked for."""
    answered = await answer(record, state)
    arguments = record.arguments
    again = {k: v for k, v in arguments.items() if k != "seed"} | {"tier": record.tier}
    request = CardRequest(
        tool=record.tool,
        prompt=arguments.get("prompt"),
        resolution=_text(arguments.get("resolution")),
        duration=_text(arguments.get("duration")),
        again=again,
    )
    structured = dict(answered.structured_content or {})
    structured["request"] = request.model_dump(mode="json")
    if record.state not in SETTLED:
        structured["typical_seconds"] = await typical_seconds(state, record.provider)
    if record.video_path:
        structured["saved_as"] = shown_path(Path(record.video_path))
    return CallToolResult(content=answered.content, structured_content=structured)


async def typical_seconds(state: AppState, provider: str) -> float | None:
    """The median time from request to video of this provider's last jobs, or None before any."""
    done = await state.jobs.journal.list(states=["completed"], limit=TYPICAL_OF)
    spans = sorted(r.finished_at - r.created_at for r in done if r.provider == provider and r.finished_at)
    return round(spans[len(spans) // 2], 1) if spans else None


def shown_path(path: Path) -> str:
    """`path` with the home folder written `~`, as the card shows it."""
    home = Path.home()
    return f"~{os.sep}{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _shown(record: JobRecord) -> tuple[Any, ...]:
    """What the card shows that the job itself changes."""
    return record.state, record.queue_position, record.logs[-1:]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
