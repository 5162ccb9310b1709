"""What the user has spent: the rolling 24 hours the daily budget looks at, and a report by day and
provider for the `seedance://spend` resource and `list_jobs`.

Spend is the journal's estimate of every job that may have cost money (`Journal.spend_by_day`: all
jobs but those that failed or were cancelled before the provider had them), counted when the job is
created, at the upper bound of its price range. Simulated jobs are journaled under the provider
"simulator": they are reported, but never count against the budget of real runs, nor real runs
against a simulator's.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from seedance_mcp.server.config import Settings
from seedance_mcp.server.journal import Journal

DAY_SECONDS = 86_400.0
REPORT_DAYS = 30  # a month is what a bill covers
SIMULATOR = "simulator"
SPEND_URI = "seedance://spend"

NOTE = (
    "Estimates from the published token price, counted when a job is submitted, at the upper bound "
    "when duration or aspect ratio was auto. Jobs that failed or were cancelled before the provider "
    "accepted them cost nothing and are left out. The provider's dashboard has the exact bill. "
    "Simulated jobs cost nothing."
)


async def spent_last_24h(journal: Journal, *, simulated: bool, now: float | None = None) -> float:
    """What the daily budget counts: the last 24 h of spend on real providers, or on the simulator."""
    now = time.time() if now is None else now
    rows = await journal.spend_by_day(now - DAY_SECONDS)
    return round(sum(float(r["usd"]) for r in rows if (r["provider"] == SIMULATOR) == simulated), 6)


class SpendDay(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD.")
    provider: str = Field(description='"fal", "oxen", or "simulator" (nothing charged).')
    usd: float
    jobs: int


class SpendReport(BaseModel):
    """The spend resource's content."""

    since: str = Field(description="Start of the report (UTC, ISO 8601).")
    by_day: list[SpendDay] = Field(description="Oldest day first.")
    by_provider: dict[str, float] = Field(description="Totals of the report's days, per provider.")
    total_usd: float = Field(description="Total on real providers (simulated jobs excluded).")
    last_24h_usd: float = Field(description="What the daily budget counts now (for the provider in use).")
    daily_budget_usd: float | None = Field(description="SEEDANCE_DAILY_BUDGET_USD, or null when unset.")
    remaining_24h_usd: float | None = Field(description="Budget left in the rolling 24 h, or null.")
    max_cost_usd: float | None = Field(description="SEEDANCE_MAX_COST_USD, or null when unset.")
    confirm_above_usd: float | None = Field(description="SEEDANCE_CONFIRM_ABOVE_USD, or null when unset.")
    confirm_policy: str = Field(description="SEEDANCE_CONFIRM_POLICY: what happens when a host cannot ask.")
    provider: str = Field(description="The provider this server uses now.")
    note: str


async def spend_report(
    journal: Journal, settings: Settings, *, days: int = REPORT_DAYS, now: float | None = None
) -> SpendReport:
    now = time.time() if now is None else now
    # Whole UTC days, so the first day of the report is not a partial one.
    start = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    since = start.timestamp() - (days - 1) * DAY_SECONDS
    rows = await journal.spend_by_day(since)
    by_provider: dict[str, float] = {}
    for row in rows:
        by_provider[row["provider"]] = round(by_provider.get(row["provider"], 0.0) + row["usd"], 6)
    last_24h = await spent_last_24h(journal, simulated=settings.simulated, now=now)
    budget = settings.daily_budget_usd
    return SpendReport(
        since=datetime.fromtimestamp(since, timezone.utc).isoformat(),
        by_day=[SpendDay(**row) for row in rows],
        by_provider=by_provider,
        total_usd=round(sum(usd for name, usd in by_provider.items() if name != SIMULATOR), 6),
        last_24h_usd=last_24h,
        daily_budget_usd=budget,
        remaining_24h_usd=None if budget is None else round(max(0.0, budget - last_24h), 6),
        max_cost_usd=settings.max_cost_usd,
        confirm_above_usd=settings.confirm_above_usd,
        confirm_policy=settings.confirm_policy,
        provider=settings.provider,
        note=NOTE,
    )


__all__ = [
    "DAY_SECONDS",
    "REPORT_DAYS",
    "SPEND_URI",
    "SpendDay",
    "SpendReport",
    "spend_report",
    "spent_last_24h",
]
