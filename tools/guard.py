"""The guard on the user's money: spending caps and confirmation, before anything is uploaded or submitted.

Every limit here is set by the user (environment), never by the assistant:

    SEEDANCE_MAX_COST_USD       refuse one request whose price (upper bound of a range) is above it
    SEEDANCE_DAILY_BUDGET_USD   refuse when the last 24 h of spend plus this request would pass it
    SEEDANCE_CONFIRM_ABOVE_USD  above it, ask the user (MCP elicitation) before spending
    SEEDANCE_CONFIRM_POLICY     where the host cannot ask: `refuse` (default) or `proceed`

Two halves, because a question must be asked before the tool body runs:

- `confirm_generate_video` / `confirm_reference_video` are resolvers, hidden parameters of the
  generating tools (`GenerateVideoApproval`, `ReferenceVideoApproval`). From the call's arguments
  they price the request exactly as the tool will, and either decide without asking (below the
  threshold; over a cap anyway; the host cannot ask) or return `Elicit(question, SpendConfirmation)`.
  The question is a pure function of the arguments and settings, because on protocol 2026-07-28 the
  resolver runs again when the client retries with the answer and must ask the same thing.
- `spending(...)` runs in the tool body, after the inputs are checked and before the upload: it
  applies the caps and the user's answer, and holds the request's price as "reserved" until the job
  is in the journal, so two calls at once cannot both fit under the same budget.

A refusal raises `BudgetError` with the numbers (price, cap, spent) and how to change them; nothing
has been uploaded or submitted at that point.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, PrivateAttr

from seedance_mcp.server import pricing
from seedance_mcp.server.errors import BudgetError, SeedanceError
from seedance_mcp.server.inputs import check_references, release
from seedance_mcp.server.jobs import JobManager
from seedance_mcp.server.model_facts import MAX_SECONDS, MIN_SECONDS, Mode, Tier
from seedance_mcp.server.spend import spent_last_24h
from seedance_mcp.server.state import AppState
from seedance_mcp.tools.results import ToolContext, app_state

# How the confirmation was settled. "user": asked and answered; the others were decided without asking.
Decision = Literal["user", "not_needed", "over_limit", "policy_proceed", "policy_refuse"]

PROMPT_SHOWN = 160  # characters of the prompt quoted in the question: enough to recognise it
NEARLY_SPENT = 0.8  # share of the daily budget past which results mention what is left


class SpendConfirmation(BaseModel):
    """The confirmation form: one tick box (elicitation forms are flat)."""

    confirm: bool = Field(
        title="Spend it",
        description="Tick to let the server submit this paid request; leave it unticked or decline to stop.",
    )
    # Not part of the form: set when the resolver settles the matter without asking.
    _decided_by: Decision = PrivateAttr(default="user")

    @classmethod
    def decided(cls, by: Decision) -> SpendConfirmation:
        answer = cls(confirm=by in ("not_needed", "policy_proceed"))
        answer._decided_by = by
        return answer

    @property
    def decided_by(self) -> Decision:
        return self._decided_by


SpendApproval = ElicitationResult[SpendConfirmation]


# --- the resolvers -------------------------------------------------------------------------------


async def confirm_generate_video(
    ctx: ToolContext,
    prompt: str,
    image_url: str | None,
    continue_from: str | None,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    generate_audio: bool,
    tier: Tier | None,
    num_generations: int,
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Resolver of `generate_video`'s hidden approval: priced as the tool prices it."""
    state = app_state(ctx)
    if state.settings.confirm_above_usd is None:
        return SpendConfirmation.decided("not_needed")
    chosen: Tier = tier or state.settings.default_tier
    image_url = image_url or continue_from  # continuing a shot is image-to-video from its last frame
    mode: Mode = "image-to-video" if image_url else "text-to-video"
    estimate = pricing.estimate(
        tier=chosen, resolution=resolution, duration=duration, aspect_ratio=aspect_ratio
    )
    estimate = await _priced(state, estimate, chosen, mode, resolution, generate_audio, num_generations)
    shown = "image-to-video from your start frame" if image_url else mode
    what = _what(chosen, shown, resolution, duration, aspect_ratio, generate_audio)
    return await _decide(ctx, state, estimate, what, prompt, num_generations)


async def confirm_reference_video(
    ctx: ToolContext,
    prompt: str,
    image_urls: list[str] | None,
    video_urls: list[str] | None,
    audio_urls: list[str] | None,
    resolution: str,
    duration: str,
    aspect_ratio: str,
    generate_audio: bool,
    tier: Tier | None,
    num_generations: int,
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Resolver of `reference_video`'s hidden approval; local videos measured as the tool does."""
    state = app_state(ctx)
    if state.settings.confirm_above_usd is None:
        return SpendConfirmation.decided("not_needed")
    chosen: Tier = tier or state.settings.default_tier
    video_seconds: float | tuple[float, float] = 0.0
    if video_urls:
        try:
            checked = await check_references(
                prompt,
                image_urls or [],
                video_urls,
                audio_urls or [],
                allowed_dirs=state.settings.allowed_dirs,
            )
        except SeedanceError:
            # The tool body raises the same error with its fix; asking the user first would be noise.
            return SpendConfirmation.decided("over_limit")
        release(checked)
        video_seconds = pricing.reference_video_seconds(checked.input_video_seconds)
    estimate = pricing.estimate(
        tier=chosen,
        resolution=resolution,
        duration=duration,
        aspect_ratio=aspect_ratio,
        input_video_seconds=video_seconds,
        has_video_input=bool(video_urls),
    )
    estimate = await _priced(
        state, estimate, chosen, "reference-to-video", resolution, generate_audio, num_generations
    )
    counts = ", ".join(
        f"{len(items)} {name}{'s' if len(items) > 1 else ''}"
        for name, items in (("image", image_urls), ("video", video_urls), ("audio clip", audio_urls))
        if items
    )
    mode = f"reference-to-video ({counts or 'no references'})"
    what = _what(chosen, mode, resolution, duration, aspect_ratio, generate_audio)
    return await _decide(ctx, state, estimate, what, prompt, num_generations)


async def _priced(
    state: AppState,
    estimate: pricing.Estimate,
    tier: Tier,
    mode: Mode,
    resolution: str,
    generate_audio: bool,
    count: int,
) -> pricing.Estimate:
    """The estimate the tool body will use: the provider's own price list where it has one, times count."""
    from seedance_mcp.tools.flow import provider_estimate  # the flow imports this module

    arguments = {"resolution": resolution, "generate_audio": generate_audio}
    estimate, _ = await provider_estimate(state, estimate, tier=tier, mode=mode, arguments=arguments)
    return scaled(estimate, count)


def scaled(estimate: pricing.Estimate, count: int) -> pricing.Estimate:
    """`count` jobs of `estimate` each, as one price (Oxen's num_generations)."""
    if count <= 1:
        return estimate
    return dataclasses.replace(
        estimate, min_usd=round(estimate.min_usd * count, 4), max_usd=round(estimate.max_usd * count, 4)
    )


GenerateVideoApproval = Annotated[SpendApproval, Resolve(confirm_generate_video)]
ReferenceVideoApproval = Annotated[SpendApproval, Resolve(confirm_reference_video)]


def host_can_ask(ctx: ToolContext) -> bool:
    """Whether a question can reach the user: form elicitation declared, and a way to send it."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (from before modes existed) means forms; url-only does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    if version is None:
        return False
    if is_version_at_least(version, "2026-07-28"):
        return True  # the question rides the tool result (input_required); no back-channel needed
    return bool(getattr(ctx.session, "can_send_request", True))


async def _decide(
    ctx: ToolContext, state: AppState, estimate: pricing.Estimate, what: str, prompt: str, count: int
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    settings = state.settings
    threshold = settings.confirm_above_usd
    if threshold is None or estimate.max_usd <= threshold:
        return SpendConfirmation.decided("not_needed")
    if await refusal(state, estimate) is not None:
        return SpendConfirmation.decided("over_limit")  # refused anyway: asking would waste the user's time
    if not host_can_ask(ctx):
        return SpendConfirmation.decided(
            "policy_proceed" if settings.confirm_policy == "proceed" else "policy_refuse"
        )
    return Elicit(
        question(estimate, what, prompt, threshold=threshold, simulated=settings.simulated, count=count),
        SpendConfirmation,
    )


def question(
    estimate: pricing.Estimate, what: str, prompt: str, *, threshold: float, simulated: bool, count: int = 1
) -> str:
    """The confirmation question: the same words for the same request and settings, every time."""
    videos = "one Seedance 2.0 video" if count <= 1 else f"{count} Seedance 2.0 videos (one job each)"
    shown = prompt if len(prompt) <= PROMPT_SHOWN else prompt[: PROMPT_SHOWN - 1].rstrip() + "…"
    lines = [
        f"Spend up to {usd(estimate.max_usd)} on {videos}?",
        f"What: {what}.",
        f'Prompt: "{shown}"',
        f"Price: {_price_phrase(estimate)}.",
        f"You asked to confirm any request above {usd(threshold)} (SEEDANCE_CONFIRM_ABOVE_USD).",
    ]
    if simulated:
        lines.append("This server runs on its offline simulator: nothing will be charged.")
    return "\n".join(lines)


def _what(tier: str, mode: str, resolution: str, duration: str, aspect_ratio: str, audio: bool) -> str:
    length = f"{MIN_SECONDS}–{MAX_SECONDS} s (auto)" if duration == "auto" else f"{duration} s"
    ratio = "aspect ratio auto" if aspect_ratio == "auto" else aspect_ratio
    sound = "with audio" if audio else "silent"
    return f"{tier}-tier {mode}, {resolution}, {ratio}, {length}, {sound}"


def _price_phrase(estimate: pricing.Estimate) -> str:
    if estimate.is_range:
        return (
            f"{usd(estimate.min_usd)} to {usd(estimate.max_usd)} from the published price; the limits count "
            "the upper bound"
        )
    return f"{usd(estimate.max_usd)} from the published price"


def usd(value: float) -> str:
    """Dollars as people write them, with the 4 decimals of an estimate only where cents would hide them."""
    return f"${value:,.2f}" if round(value, 2) == round(value, 6) else f"${value:,.4f}"


# --- the caps, in the tool body ------------------------------------------------------------------


class _Ledger:
    """Prices of requests between their check and their journal row, per job manager."""

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.reserved: dict[int, float] = {}


_ledgers: weakref.WeakKeyDictionary[JobManager, _Ledger] = weakref.WeakKeyDictionary()


def _ledger(jobs: JobManager) -> _Ledger:
    ledger = _ledgers.get(jobs)
    if ledger is None:
        ledger = _ledgers[jobs] = _Ledger()
    return ledger


async def refusal(state: AppState, estimate: pricing.Estimate, *, reserved: float = 0.0) -> str | None:
    """Why a request must be refused by the caps, or None when it fits."""
    settings = state.settings
    price = estimate.max_usd
    spent = await spent_last_24h(state.jobs.journal, simulated=settings.simulated) + reserved
    spent_note = f"Spent in the last 24 h: {usd(spent)}"
    if settings.daily_budget_usd is not None:
        spent_note += f" of the {usd(settings.daily_budget_usd)} daily budget"
    cap = settings.max_cost_usd
    if cap is not None and price > cap:
        return (
            f"Refused: this request could cost up to {usd(price)}, above the per-request cap of {usd(cap)} "
            f"(SEEDANCE_MAX_COST_USD). {spent_note}. Nothing was uploaded or submitted. "
            f"{_cheaper(estimate, cap)}Only the user can raise the cap, in the server's settings "
            "(SEEDANCE_MAX_COST_USD); the assistant cannot."
        )
    budget = settings.daily_budget_usd
    if budget is not None and spent + price > budget:
        left = max(0.0, budget - spent)
        return (
            f"Refused: this request could cost up to {usd(price)}, and {usd(spent)} has been spent in the "
            f"last 24 h; together that passes the daily budget of {usd(budget)} (SEEDANCE_DAILY_BUDGET_USD), "
            f"which has {usd(left)} left. Nothing was uploaded or submitted. {_cheaper(estimate, left)}"
            "Spend leaves the 24 h window as it ages (see the seedance://spend resource); only the user can "
            "raise the budget, in the server's settings (SEEDANCE_DAILY_BUDGET_USD)."
        )
    return None


@asynccontextmanager
async def spending(
    state: AppState, estimate: pricing.Estimate, approval: SpendApproval | None, *, count: int = 1
) -> AsyncIterator[list[str]]:
    """Check the caps and the user's answer, then hold the price as reserved while the block uploads and
    submits (until the job is in the journal). `count` jobs of `estimate` each (Oxen's num_generations).
    Yields notes for the result. Raises BudgetError."""
    settings = state.settings
    estimate = scaled(estimate, count)
    notes: list[str] = []
    consent = _consent(settings.confirm_above_usd, settings.confirm_policy, estimate, approval)
    ledger = _ledger(state.jobs)
    key = object()
    async with ledger.lock:
        reason = await refusal(state, estimate, reserved=sum(ledger.reserved.values()))
        if reason is not None:
            raise BudgetError(reason)
        if consent is not None:
            raise BudgetError(consent)
        spent = await spent_last_24h(state.jobs.journal, simulated=settings.simulated)
        ledger.reserved[id(key)] = estimate.max_usd
    threshold = settings.confirm_above_usd
    unasked = _decision(approval) in ("policy_proceed", None)
    if unasked and threshold is not None and estimate.max_usd > threshold:
        notes.append(
            f"Not confirmed by the user: this request ({usd(estimate.max_usd)}) is above "
            f"SEEDANCE_CONFIRM_ABOVE_USD ({usd(threshold)}), this host cannot ask, "
            "and SEEDANCE_CONFIRM_POLICY=proceed let it go ahead."
        )
    budget = settings.daily_budget_usd
    if budget is not None:
        after = spent + sum(ledger.reserved.values())
        if after >= NEARLY_SPENT * budget:
            notes.append(
                f"Daily budget nearly spent: {usd(after)} of {usd(budget)} in the last 24 h, "
                "this request included."
            )
    try:
        yield notes
    finally:
        # The journal row (written by submit) now counts this spend, or the submit never happened.
        ledger.reserved.pop(id(key), None)


def _decision(approval: SpendApproval | None) -> Decision | Literal["declined", "cancelled"] | None:
    if approval is None:
        return None
    if isinstance(approval, DeclinedElicitation):
        return "declined"
    if isinstance(approval, CancelledElicitation):
        return "cancelled"
    assert isinstance(approval, AcceptedElicitation)
    return approval.data.decided_by


def _consent(
    threshold: float | None, policy: str, estimate: pricing.Estimate, approval: SpendApproval | None
) -> str | None:
    """Why the user's answer (or the policy standing in for it) stops the request, or None."""
    if threshold is None or estimate.max_usd <= threshold:
        return None
    price = usd(estimate.max_usd)
    stopped = "Nothing was uploaded, submitted or charged."
    decision = _decision(approval)
    if decision in ("declined", "cancelled") or (
        decision == "user" and isinstance(approval, AcceptedElicitation) and not approval.data.confirm
    ):
        verb = "dismissed the question about" if decision == "cancelled" else "declined"
        hint = _cheaper(estimate, threshold)
        return (
            f"The user {verb} spending up to {price} on this video. {stopped} Do not retry unless the user "
            f"asks; a shorter or 480p draft costs less (estimate_cost prices it). {hint}"
        ).rstrip()
    if decision in ("user", "policy_proceed") or (decision is None and policy == "proceed"):
        return None
    if decision in ("not_needed", "over_limit"):
        # The resolver saw different limits or spend a moment ago and did not ask.
        return (
            f"This request could cost up to {price}, above {usd(threshold)} (SEEDANCE_CONFIRM_ABOVE_USD), "
            f"but the user was not asked because the limits changed during the call. {stopped} Call the tool "
            "again to ask the user."
        )
    # The host cannot ask (or the tool has no approval parameter), and the policy is to refuse.
    hint = _cheaper(estimate, threshold)
    return (
        f"Refused: this request could cost up to {price}, above {usd(threshold)} "
        "(SEEDANCE_CONFIRM_ABOVE_USD), so it needs the user's confirmation, and this host cannot ask "
        f"(it does not support MCP elicitation). {stopped} {hint}The user can raise "
        "SEEDANCE_CONFIRM_ABOVE_USD, or set SEEDANCE_CONFIRM_POLICY=proceed to go ahead without asking "
        f"where the host cannot ask (now: {policy})."
    )


def _cheaper(estimate: pricing.Estimate, limit: float) -> str:
    """A hint at the longest clip of the same kind that fits under `limit`, or ''."""
    video_in = estimate.input_video_seconds[1]
    top = estimate.output_seconds[1]
    per_second = estimate.max_usd / (video_in + top) if video_in + top else 0.0
    if per_second <= 0:
        return ""
    for seconds in range(top - 1, MIN_SECONDS - 1, -1):
        price = per_second * (video_in + seconds)
        if price <= limit:
            return f'With duration "{seconds}" it would cost about {usd(price)}, which fits. '
    if estimate.resolution != "480p":
        return "Even the shortest clip at this size does not fit; 480p costs less than half as much. "
    return ""


__all__ = [
    "GenerateVideoApproval",
    "ReferenceVideoApproval",
    "SpendApproval",
    "SpendConfirmation",
    "confirm_generate_video",
    "confirm_reference_video",
    "host_can_ask",
    "question",
    "refusal",
    "scaled",
    "spending",
    "usd",
]
