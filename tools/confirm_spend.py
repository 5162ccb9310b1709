"""Spending confirmed by the person in the job card, for hosts that show MCP Apps but cannot ask.

A generating call above SEEDANCE_CONFIRM_ABOVE_USD in such a host is not submitted: `hold_for_card`
keeps the request in the journal and answers with the card's "awaiting your confirmation" state. The
card's Generate and Drop call `confirm_spend`, a tool only the card may call (visibility `app`): it
takes a one-time token that only the card holds (the result's `_meta`, which hosts give the view, not
the model), refuses clients without Apps, and settles the held request once for every process on the
journal, so two clicks, or two cards, submit it once. An unconfirmed request lapses, never paid.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..server.generation.service import GenerationRequest, Prepared
from ..server.generation.spending_guard import usd
from ..server.journal.api import HeldRequest
from .confirmation import SpendConfirmation
from .follow_job import card_answer
from .job_card import URI, refuse_without_apps
from .results import (
    SIMULATED_NOTE,
    ConfirmationOffer,
    ToolContext,
    VideoJobResult,
    app_state,
    tool_errors,
    with_note,
)

NAME = "confirm_spend"
TITLE = "Confirm spending (job card)"
DESCRIPTION = "For the job card only: the person's Generate or Drop on a paid request the card shows."
ANNOTATIONS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
META: dict[str, Any] = {"ui": {"resourceUri": URI, "visibility": ["app"]}}

OFFER_SECONDS = 600.0  # how long the card's offer stands; after it the request is never submitted
TOKEN_META = "seedance-mcp/confirmation"  # noqa: S105 (a _meta key, not a secret): holds the card's token
NOT_SPENT = "Nothing was submitted or charged."
HELD_PREFIX = "sc_"  # a held request's id, told apart from a job's ("sd_")


async def hold_for_card(
    ctx: ToolContext, prepared: Prepared, note: str | None, answer: SpendConfirmation
) -> CallToolResult:
    """Keep a prepared request for the person's answer in the card; the answer the model and the card
    get. Its media copies are let go: a confirmed request is prepared again, then submitted."""
    state = app_state(ctx)
    settings = state.settings
    request, quote = prepared.request, prepared.quote
    prepared.release()
    assert quote is not None  # an earlier call's job needs no confirmation
    total = quote.total
    token = secrets.token_urlsafe(24)
    now = time.time()
    held = HeldRequest(
        id=HELD_PREFIX + secrets.token_urlsafe(9),
        created_at=now,
        expires_at=now + OFFER_SECONDS,
        request={"generation": _stored(request), "what": answer.what, "note": note},
    )
    await state.jobs.journal.hold(held, _token_hash(token))
    threshold = settings.confirm_above_usd or 0.0
    until = _clock(held.expires_at)
    price = f"up to {usd(total.max_usd)}" if total.is_range else usd(total.max_usd)
    result = VideoJobResult(
        job_id=held.id,
        state="awaiting_confirmation",
        done=False,
        simulated=settings.simulated,
        provider=state.jobs.provider_label,
        endpoint="",
        mode=request.mode,
        tier=request.tier,
        elapsed_seconds=0.0,
        estimated_cost_usd=total.max_usd,
        cost_note=total.describe() + (" (simulated: nothing charged)" if settings.simulated else ""),
        notes=list(quote.notes),
        confirmation=ConfirmationOffer(
            what=answer.what,
            min_usd=total.min_usd,
            max_usd=total.max_usd,
            is_range=total.is_range,
            threshold_usd=threshold,
            expires_at=datetime.fromtimestamp(held.expires_at, timezone.utc).isoformat(timespec="seconds"),
            expires_in_seconds=OFFER_SECONDS,
        ),
        next_step=(
            "The user decides in the job card (Generate or Drop); you cannot confirm for them, and calling "
            "the tool again would only show another card. Tell the user the card is waiting for them. Once "
            "they press Generate, the card tells you the job id: follow it with check_status. Unconfirmed, "
            f"the request lapses at {until} UTC and is never paid."
        ),
    )
    lines = [
        f"Waiting for the user: this request costs {price}, above {usd(threshold)} "
        "(SEEDANCE_CONFIRM_ABOVE_USD), and the job card now asks them to Generate or Drop it. "
        f"{NOT_SPENT}",
        f"What: {answer.what}.",
        result.next_step,
    ]
    if settings.simulated:
        lines.insert(0, SIMULATED_NOTE)
    return CallToolResult(
        content=[TextContent(type="text", text="\n".join(lines))],
        structured_content=result.model_dump(mode="json"),
        _meta={TOKEN_META: {"token": token}},
    )


async def confirm_spend(
    ctx: ToolContext,
    token: Annotated[str, Field(min_length=1, description="The card's one-time token for the request.")],
    decision: Annotated[Literal["generate", "drop"], Field(description="The person's answer.")],
) -> CallToolResult:
    refuse_without_apps(
        ctx,
        NAME,
        "the person confirms spending with the card's Generate button; an assistant cannot confirm for "
        f"them. {NOT_SPENT}",
    )
    state = app_state(ctx)
    held, took = await state.jobs.journal.take_held(
        _token_hash(token), "generating" if decision == "generate" else "dropped", now=time.time()
    )
    if held is None:
        raise ToolError(
            "No request is waiting for this token: confirm_spend takes the one-time token only the job "
            f"card holds, so only the person, in the card, can confirm spending. {NOT_SPENT}"
        )
    if not took:
        return await _settled(held, decision, state)
    if decision == "drop":
        return _dropped(held, "The user dropped the request in the job card.")
    async with tool_errors():
        prepared = await state.generations.prepare(_restored(held.request["generation"]))
        submitted = await state.generations.submit(prepared, "yes")
        first = submitted.records[0]
        await state.jobs.journal.held_job(held.id, first.id)
        answered = await card_answer(first, state)
    note = held.request.get("note")
    return with_note(answered, note) if note else answered


async def _settled(held: HeldRequest, decision: str, state: Any) -> CallToolResult:
    """What a second click, or a second card, gets: the job the first one made, or why there is none."""
    if held.outcome is None:  # never taken: it lapsed
        raise ToolError(
            f"This request lapsed unconfirmed at {_clock(held.expires_at)} UTC (a card's offer stands "
            f"{OFFER_SECONDS / 60:.0f} minutes). {NOT_SPENT} Ask for the video again for a new card."
        )
    if held.outcome == "dropped":
        if decision == "drop":
            return _dropped(held, "The request was already dropped.")
        raise ToolError(f"The user dropped this request in the job card. {NOT_SPENT}")
    if held.job_id is None:
        raise ToolError(
            "This request was confirmed a moment ago and is being submitted, or its submit was refused "
            "(the first card says why); it is never submitted twice. list_jobs shows the job once it exists."
        )
    if decision == "drop":
        raise ToolError(
            f"The user already pressed Generate: job {held.job_id} is under way. cancel_job stops it while "
            "it is queued."
        )
    async with tool_errors():
        return await card_answer(await state.jobs.get(held.job_id), state)


def _dropped(held: HeldRequest, said: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=f"{said} {NOT_SPENT}")],
        structured_content={"held_id": held.id, "state": "dropped", "message": f"{said} {NOT_SPENT}"},
    )


def _stored(request: GenerationRequest) -> dict[str, Any]:
    """A request as the journal keeps it: its endpoint by name, its values as given."""
    entry = request.endpoint
    return {
        "tool": request.tool,
        "family": entry.family,
        "tier": entry.tier,
        "mode": entry.mode,
        "values": {k: list(v) if isinstance(v, tuple) else v for k, v in request.values.items()},
        "stated_video_seconds": request.stated_video_seconds,
    }


def _restored(data: dict[str, Any]) -> GenerationRequest:
    """The held request as the generating tool built it."""
    return GenerationRequest.of(
        data["tool"],
        family=data["family"],
        tier=data["tier"],
        mode=data["mode"],
        values=data["values"],
        stated_video_seconds=data["stated_video_seconds"],
    )


def _token_hash(token: str) -> str:
    """Only the token's hash is kept: the journal alone cannot confirm anything."""
    return hashlib.sha256(token.encode()).hexdigest()


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%H:%M")
