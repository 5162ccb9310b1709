"""The guard on the user's money: spending caps and the user's consent, before anything is uploaded.

Every limit here is set by the user (environment), never by the assistant:

    SEEDANCE_MAX_COST_USD       refuse one request whose price (upper bound of a range) is above it
    SEEDANCE_DAILY_BUDGET_USD   refuse when the last 24 h of spend plus this request would pass it
    SEEDANCE_CONFIRM_ABOVE_USD  above it, the user must have said yes (asked by the tools layer)
    SEEDANCE_CONFIRM_POLICY     where the host cannot ask: `refuse` (default) or `proceed`

`SpendingGuard.reserve` runs after the inputs are checked and before the upload: it applies the caps and
the consent, and holds the request's price as reserved in the journal until the job is in the journal,
so two calls at once, in this process or another on the same journal, cannot both fit under the same
budget (`JobJournal.reserve` checks and reserves in one transaction). Simulated runs cost nothing: no
cap or budget applies to them, and they are never counted as spend. A refusal raises `BudgetError`
with the numbers (price, cap, spent) and how to change them; nothing has been uploaded or submitted
at that point.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import anyio

from ..catalogue.facts import MIN_SECONDS
from ..catalogue.pricing import Estimate
from ..config import Settings
from ..errors import BudgetError
from ..journal.api import JobJournal
from ..journal.spend_report import DAY_SECONDS, spent_last_24h

# How the user's consent was settled. "yes"/"no"/"dismissed": asked and answered; "in_card": to be
# asked in the job card (the tools layer holds the request: it is never submitted with this); the rest
# were decided without asking (below the threshold, over a cap anyway, or the policy where hosts cannot ask).
Consent = Literal[
    "yes", "no", "dismissed", "in_card", "not_needed", "over_limit", "policy_proceed", "policy_refuse"
]

NEARLY_SPENT = 0.8  # share of the daily budget past which results mention what is left
# A reservation outlives its request only if the process dies mid-upload; then it lapses by itself.
RESERVATION_TTL_SECONDS = 900.0


def usd(value: float) -> str:
    """Dollars as people write them, with the 4 decimals of an estimate only where cents would hide them."""
    return f"${value:,.2f}" if round(value, 2) == round(value, 6) else f"${value:,.4f}"


class SpendingGuard:
    """The caps, checked against every process's spend and reservations on one journal."""

    def __init__(self, settings: Settings, journal: JobJournal, owner: str = "") -> None:
        self._settings = settings
        self._journal = journal
        self._owner = owner  # whose reservations they are (the job manager's lease owner)

    async def refusal(self, estimate: Estimate) -> str | None:
        """Why a request must be refused by the caps, or None when it fits (always, on the simulator)."""
        return await self._refusal(estimate, reserved=0.0)

    @asynccontextmanager
    async def reserve(self, estimate: Estimate, consent: Consent | None) -> AsyncIterator[list[str]]:
        """Check the caps and the consent, then hold the price as reserved while the block uploads and
        submits. `estimate` is the whole request's price (every generation). Yields notes for the result."""
        settings = self._settings
        notes: list[str] = []
        reason = await self._refusal(estimate, reserved=0.0)
        if reason is None:
            reason = _consent_refusal(settings, estimate, consent)
        if reason is not None:
            raise BudgetError(reason)
        held = None
        spent = 0.0
        if not settings.simulated:
            held = await self._journal.reserve(
                estimate.max_usd,
                owner=self._owner,
                budget_usd=settings.daily_budget_usd,
                since=time.time() - DAY_SECONDS,
                ttl_seconds=RESERVATION_TTL_SECONDS,
            )
            if not held.granted:
                reason = await self._refusal(estimate, reserved=held.reserved_usd)
                raise BudgetError(reason or "Refused: the daily budget (SEEDANCE_DAILY_BUDGET_USD) is spent.")
            spent = held.spent_usd + held.reserved_usd
        threshold = settings.confirm_above_usd
        if consent in ("policy_proceed", None) and threshold is not None and estimate.max_usd > threshold:
            notes.append(
                f"Not confirmed by the user: this request ({usd(estimate.max_usd)}) is above "
                f"SEEDANCE_CONFIRM_ABOVE_USD ({usd(threshold)}), this host cannot ask, "
                "and SEEDANCE_CONFIRM_POLICY=proceed let it go ahead."
            )
        budget = settings.daily_budget_usd
        if budget is not None and held is not None:
            after = spent + estimate.max_usd
            if after >= NEARLY_SPENT * budget:
                notes.append(
                    f"Daily budget nearly spent: {usd(after)} of {usd(budget)} in the last 24 h, "
                    "this request included."
                )
        try:
            yield notes
        finally:
            # The journal row (written by submit) now counts this spend, or the submit never happened.
            if held is not None and held.id is not None:
                with anyio.CancelScope(shield=True):
                    await self._journal.release(held.id)

    async def _refusal(self, estimate: Estimate, *, reserved: float) -> str | None:
        settings = self._settings
        if settings.simulated:
            return None  # simulated runs cost nothing: no cap or budget applies to them
        price = estimate.max_usd
        spent = await spent_last_24h(self._journal, simulated=settings.simulated) + reserved
        spent_note = f"Spent in the last 24 h: {usd(spent)}"
        if settings.daily_budget_usd is not None:
            spent_note += f" of the {usd(settings.daily_budget_usd)} daily budget"
        cap = settings.max_cost_usd
        if cap is not None and price > cap:
            return (
                f"Refused: this request could cost up to {usd(price)}, above the per-request cap of "
                f"{usd(cap)} (SEEDANCE_MAX_COST_USD). {spent_note}. Nothing was uploaded or submitted. "
                f"{_cheaper(estimate, cap)}Only the user can raise the cap, in the server's settings "
                "(SEEDANCE_MAX_COST_USD); the assistant cannot."
            )
        budget = settings.daily_budget_usd
        if budget is not None and spent + price > budget:
            left = max(0.0, budget - spent)
            return (
                f"Refused: this request could cost up to {usd(price)}, and {usd(spent)} has been spent in "
                f"the last 24 h; together that passes the daily budget of {usd(budget)} "
                f"(SEEDANCE_DAILY_BUDGET_USD), which has {usd(left)} left. Nothing was uploaded or "
                f"submitted. {_cheaper(estimate, left)}Spend leaves the 24 h window as it ages (see the "
                "seedance://spend resource); only the user can raise the budget, in the server's settings "
                "(SEEDANCE_DAILY_BUDGET_USD)."
            )
        return None


def _consent_refusal(settings: Settings, estimate: Estimate, consent: Consent | None) -> str | None:
    """Why the user's answer (or the policy standing in for it) stops the request, or None."""
    threshold = settings.confirm_above_usd
    if threshold is None or estimate.max_usd <= threshold:
        return None
    price = usd(estimate.max_usd)
    stopped = "Nothing was uploaded, submitted or charged."
    if consent in ("no", "dismissed"):
        verb = "dismissed the question about" if consent == "dismissed" else "declined"
        return (
            f"The user {verb} spending up to {price} on this video. {stopped} Do not retry unless the user "
            f"asks; a shorter or 480p draft costs less (estimate_cost prices it). "
            f"{_cheaper(estimate, threshold)}"
        ).rstrip()
    if consent in ("yes", "policy_proceed") or (consent is None and settings.confirm_policy == "proceed"):
        return None
    if consent in ("not_needed", "over_limit"):
        # Whoever decided saw different limits or spend a moment ago and did not ask.
        return (
            f"This request could cost up to {price}, above {usd(threshold)} (SEEDANCE_CONFIRM_ABOVE_USD), "
            f"but the user was not asked because the limits changed during the call. {stopped} Call the tool "
            "again to ask the user."
        )
    # The host cannot ask, and the policy is to refuse ("in_card" never comes here: it is held).
    return (
        f"Refused: this request could cost up to {price}, above {usd(threshold)} "
        "(SEEDANCE_CONFIRM_ABOVE_USD), so it needs the user's confirmation, and this host cannot ask "
        f"(it supports neither MCP elicitation nor MCP Apps). {stopped} {_cheaper(estimate, threshold)}To "
        "allow it, the user can raise SEEDANCE_CONFIRM_ABOVE_USD, set SEEDANCE_CONFIRM_POLICY=proceed to "
        f"go ahead without asking where the host cannot ask (now: {settings.confirm_policy}), or use a host "
        "that asks (elicitation) or shows MCP Apps, where the job card asks."
    )


def _cheaper(estimate: Estimate, limit: float) -> str:
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
