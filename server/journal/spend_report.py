"""What the user has spent: the rolling 24 hours the daily budget looks at, and a report by day and
provider for the `seedance://spend` resource and `list_jobs`.

One rule (the journal's, see `journal.queries`), counted when a job is created,
at the upper bound of its price range: a real job is *charged* once the provider has its request
id, *possibly charged* while its submit is uncertain, and free if it failed or was cancelled before
the provider had it. Possibly charged spend is shown apart, but the daily budget counts it too: the
user's money is not risked on a guess. Simulated jobs are never money: the report shows what they
would have cost, and they count toward no cap, budget or total.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from ..config import Settings
from .api import JobJournal, JobRecord, Spending

DAY_SECONDS = 86_400.0
REPORT_DAYS = 30  # a month is what a bill covers
SPEND_URI = "seedance://spend"

NOTE = (
    "Estimates from the published token price, counted when a job is submitted, at the upper bound "
    "when duration or aspect ratio was auto. Jobs that failed or were cancelled before the provider "
    "accepted them cost nothing and are left out. Possibly charged: submits whose answer was lost; "
    "the provider's dashboard tells, and has the exact bill. Simulated jobs cost nothing: they show "
    "what they would have cost and count toward no cap, budget or total."
)


def charged(record: JobRecord) -> bool:
    """Surely charged: a real job the provider accepted (it has a request id)."""
    return not record.simulated and record.request_id is not None


def possibly_charged(record: JobRecord) -> bool:
    """A real job whose submit may have been accepted unseen."""
    return not record.simulated and record.request_id is None and record.state in ("submitting", "uncertain")


async def spent_last_24h(journal: JobJournal, *, simulated: bool, now: float | None = None) -> float:
    """What the daily budget counts: the last 24 h of real spend, charged or possibly charged.

    Always 0 on the simulator: simulated runs never count toward a budget."""
    if simulated:
        return 0.0
    now = time.time() if now is None else now
    return _budget_counts(*await journal.spent_since(now - DAY_SECONDS), simulated=False)


def _budget_counts(certain: float, possible: float, *, simulated: bool) -> float:
    """The budget's one rule: real spend, charged or possibly; simulated runs never count."""
    return 0.0 if simulated else round(certain + possible, 6)


class SpendDay(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD.")
    provider: str = Field(description='"fal", "oxen", or "simulator" (nothing charged).')
    simulated: bool = Field(description="True: what simulated jobs would have cost; never money.")
    usd: float = Field(description="Charged (the provider accepted the job).")
    possible_usd: float = Field(description="Possibly charged (submit answer lost; see the dashboard).")
    jobs: int


class SpendReport(BaseModel):
    """The spend resource's content."""

    since: str = Field(description="Start of the report (UTC, ISO 8601).")
    by_day: list[SpendDay] = Field(description="Oldest day first.")
    by_provider: dict[str, float] = Field(description="Charged per real provider over the report's days.")
    total_usd: float = Field(description="Charged on real providers (simulated jobs excluded).")
    possibly_charged_usd: float = Field(
        description="Possibly charged on real providers, apart from the total."
    )
    simulated_usd: float = Field(description="What the simulated jobs would have cost; not money.")
    last_24h_usd: float = Field(
        description="What the daily budget counts now: real spend, charged or possibly (0 on the simulator)."
    )
    daily_budget_usd: float | None = Field(description="SEEDANCE_DAILY_BUDGET_USD, or null when unset.")
    remaining_24h_usd: float | None = Field(description="Budget left in the rolling 24 h, or null.")
    max_cost_usd: float | None = Field(description="SEEDANCE_MAX_COST_USD, or null when unset.")
    confirm_above_usd: float | None = Field(description="SEEDANCE_CONFIRM_ABOVE_USD, or null when unset.")
    confirm_policy: str = Field(description="SEEDANCE_CONFIRM_POLICY: what happens when a host cannot ask.")
    provider: str = Field(description="The provider this server uses now.")
    note: str


async def spend_report(journal: JobJournal, settings: Settings) -> SpendReport:
    """The report alone (the spend resource)."""
    return (await jobs_and_spend(journal, settings))[1]


async def jobs_and_spend(
    journal: JobJournal,
    settings: Settings,
    *,
    states: Collection[str] | None = None,
    limit: int = 0,
    now: float | None = None,
) -> tuple[list[JobRecord], SpendReport]:
    """Jobs newest first (`JobJournal.list`'s `states` and `limit`; none by default) and the spend
    report, from one snapshot in one journal trip (`list_jobs` answers with both)."""
    now = time.time() if now is None else now
    # Whole UTC days, so the first day of the report is not a partial one.
    start = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    since = start.timestamp() - (REPORT_DAYS - 1) * DAY_SECONDS
    records, spending = await journal.overview(
        states=states, limit=limit, days_since=since, budget_since=now - DAY_SECONDS
    )
    return records, _report(spending, settings, since)


def _report(spending: Spending, settings: Settings, since: float) -> SpendReport:
    rows = spending.by_day
    real = [row for row in rows if not row["simulated"]]
    by_provider: dict[str, float] = {}
    for row in real:
        by_provider[row["provider"]] = round(by_provider.get(row["provider"], 0.0) + row["usd"], 6)
    last_24h = _budget_counts(spending.certain, spending.possible, simulated=settings.simulated)
    budget = settings.daily_budget_usd
    return SpendReport(
        since=datetime.fromtimestamp(since, timezone.utc).isoformat(),
        by_day=[SpendDay(**row) for row in rows],
        by_provider=by_provider,
        total_usd=round(sum(by_provider.values()), 6),
        possibly_charged_usd=round(sum(row["possible_usd"] for row in real), 6),
        simulated_usd=round(sum(row["usd"] + row["possible_usd"] for row in rows if row["simulated"]), 6),
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
    "charged",
    "jobs_and_spend",
    "possibly_charged",
    "spend_report",
    "spent_last_24h",
]
