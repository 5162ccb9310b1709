"""A generating call prepared once: the step both the confirmation question and the tool body read.

Each generating tool has a `prepare_*` resolver (the SDK runs it once a call, before the tool body, and
hands its result to every consumer): it turns the arguments into a `GenerationRequest`, decodes a
continued shot's last frame, and has the generation service check, probe, price and de-duplicate it
(`Generations.prepare`). The confirmation resolver asks about that quote; the tool body submits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp.types import CallToolResult

from ..server.generation.service import Prepared
from .confirm_spend import hold_for_card
from .confirmation import SpendApproval, consent_of, held_for_card
from .results import ToolContext, app_state, tool_errors, with_note
from .waiting import answer_submitted


@dataclass(frozen=True)
class PreparedCall:
    """A tool call made ready: the prepared generation, how to describe it, what the answer adds."""

    prepared: Prepared
    what: str  # "image-to-video from your start frame", ... (the confirmation question)
    note: str | None = None  # e.g. which image is the continued shot's last frame


async def submit_prepared(
    ctx: ToolContext, call: PreparedCall, approval: SpendApproval | None, wait_seconds: float | None
) -> CallToolResult:
    """The tool body of every generating tool: submit the prepared call, wait a while, answer."""
    if (in_card := held_for_card(approval)) is not None:  # the person answers in the job card
        return await hold_for_card(ctx, call.prepared, call.note, in_card)
    state = app_state(ctx)
    async with tool_errors():
        submitted = await state.generations.submit(call.prepared, consent_of(approval))
        wait = state.settings.wait_seconds if wait_seconds is None else wait_seconds
        answer = await answer_submitted(ctx, state, submitted, wait)
        return with_note(answer, call.note) if call.note else answer
